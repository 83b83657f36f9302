package worker

import (
	"context"
	"testing"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"

	"github.com/cocoon-desktop/cocoon-desktop/gpu"
	"github.com/cocoon-desktop/cocoon-desktop/gpu/gputest"
)

// TestConfirmVRAMFreed: after an unload the pause waits until NVML no longer
// sees an Ollama process holding VRAM, and says so when it never goes.
func TestConfirmVRAMFreed(t *testing.T) {
	const runnerPID = 4242
	names := gpu.WithProcessName(func(pid uint32) string {
		if pid == runnerPID {
			return "/usr/local/bin/ollama"
		}
		return "game.exe"
	})
	withRunner := func() *gputest.Card {
		card := gputest.RTX4090()
		card.Processes = []nvml.ProcessInfo{{Pid: runnerPID, UsedGpuMemory: 2 << 30}, {Pid: 7, UsedGpuMemory: 1 << 30}}
		return card
	}
	ctx := context.Background()

	t.Run("freed", func(t *testing.T) {
		card := withRunner()
		c := New(Config{GPU: gpu.NewDetector(gputest.Library(card), names)})
		exited := make(chan struct{})
		go func() { // the runner exits; the game stays
			defer close(exited)
			card.Set(func(c *gputest.Card) { c.Processes = c.Processes[1:] })
		}()
		checked, released, left := c.confirmVRAMFreed(ctx, time.Minute)
		<-exited
		if !checked || !released || left != 0 {
			t.Fatalf("checked %v released %v left %d", checked, released, left)
		}
	})
	t.Run("never freed", func(t *testing.T) {
		c := New(Config{GPU: gpu.NewDetector(gputest.Library(withRunner()), names)})
		checked, released, left := c.confirmVRAMFreed(ctx, 100*time.Millisecond)
		if !checked || released || left != 2<<30 {
			t.Fatalf("checked %v released %v left %d; want the runner's 2 GiB reported", checked, released, left)
		}
	})
	t.Run("no gpu", func(t *testing.T) {
		c := New(Config{GPU: gpu.NewDetector(gputest.NoDriver())})
		if checked, _, _ := c.confirmVRAMFreed(ctx, time.Minute); checked {
			t.Fatal("checked without a GPU")
		}
	})
}
