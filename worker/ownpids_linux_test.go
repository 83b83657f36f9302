package worker

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/NVIDIA/go-nvml/pkg/nvml"

	"github.com/cocoon-desktop/cocoon-desktop/gpu/gputest"
	"github.com/cocoon-desktop/cocoon-desktop/idle"
)

// TestOwnOllamaTreeOnTheGPUIsOurs: every process of the managed Ollama (the
// guard, `ollama serve` and its runner) is ours, not "a game using the
// GPU": with all of them and a game on the GPU, serving pauses for the game
// alone.
func TestOwnOllamaTreeOnTheGPUIsOurs(t *testing.T) {
	card, c := servingWithFakeCard(t)

	tree := c.Runtime().Supervisor().PIDs()
	var runner bool
	for _, pid := range tree {
		cmd, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
		runner = runner || strings.Contains(string(cmd), "\x00runner\x00")
	}
	if len(tree) < 3 || !runner {
		t.Fatalf("Ollama's tree while serving = %v: want the guard, the server and a runner", tree)
	}
	own := c.ownPIDs()
	procs := []nvml.ProcessInfo{{Pid: 4242, UsedGpuMemory: 6 << 30}}
	for _, pid := range tree {
		if !own[uint32(pid)] {
			t.Errorf("pid %d of Ollama's tree %v is not among our own %v", pid, tree, own)
		}
		procs = append(procs, nvml.ProcessInfo{Pid: uint32(pid), UsedGpuMemory: 1 << 30})
	}
	card.Set(func(k *gputest.Card) { k.Processes = procs })
	waitFor(t, "paused for the game", func() bool {
		s := c.Status()
		return s.State == StatePaused && len(s.Reasons) > 0 && s.Reasons[0].Code == idle.CodeGPUInUse
	})
	if r := c.Status().Reasons[0].Text; !strings.Contains(r, "Cyberpunk2077.exe") || strings.Contains(r, "Program") {
		t.Fatalf("reason %q: want the game alone, none of our processes", r)
	}
}
