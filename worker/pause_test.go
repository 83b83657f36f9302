//go:build linux

package worker

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"

	"github.com/cocoon-desktop/cocoon-desktop/gpu"
	"github.com/cocoon-desktop/cocoon-desktop/gpu/gputest"
	"github.com/cocoon-desktop/cocoon-desktop/idle"
	"github.com/cocoon-desktop/cocoon-desktop/internal/testx"
)

// TestOwnerReturnsUnderXvfb runs the worker over a real X server: it starts
// serving after a second without input, and when the pointer moves
// (xdotool) it pauses and unloads the model from the real Ollama.
func TestOwnerReturnsUnderXvfb(t *testing.T) {
	display := testx.StartXvfb(t)
	x, err := idle.NewX11(display)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	cfg := idle.DefaultConfig()
	cfg.IdleAfter = time.Second
	c := startCore(t, func(c *Config) { c.Idle, c.InputIdle, c.FullScreen = cfg, x, x })
	ctx := testCtx(t)
	if err := c.WaitModels(ctx); err != nil {
		t.Fatal(err)
	}
	testx.Xdotool(t, display, "mousemove", "--sync", "10", "10")
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	st := c.Status()
	if st.State != StateWaiting || len(st.Reasons) == 0 || st.Reasons[0].Code != idle.CodeOwnerActive {
		t.Fatalf("right after Start with fresh input: %s %+v, want waiting_for_idle because the owner is active", st.State, st.Reasons)
	}
	waitFor(t, "serving with the model loaded", func() bool {
		s := c.Status()
		return s.State == StateServing && len(s.Loaded) == 1
	})

	moved := time.Now()
	testx.Xdotool(t, display, "mousemove", "--sync", "300", "200")
	waitFor(t, "paused because the owner is back", func() bool {
		s := c.Status()
		return s.State == StatePaused && len(s.Reasons) > 0 && s.Reasons[0].Code == idle.CodeOwnerActive && s.LastPause != nil
	})
	seen := time.Since(moved)
	loaded, err := c.Runtime().Loaded(ctx)
	if err != nil || len(loaded) != 0 {
		t.Fatalf("after the pause Ollama still holds %+v (%v)", loaded, err)
	}
	p := c.Status().LastPause
	t.Logf("pointer moved → paused and VRAM freed in %v (pause took %v, unload %v)", seen, p.Took, p.Unload)
}

// TestGamePausesServing: a game appearing on the GPU pauses serving at once,
// while our own Ollama on the GPU does not count.
func TestGamePausesServing(t *testing.T) {
	card, c := servingWithFakeCard(t)
	card.Set(func(k *gputest.Card) {
		k.Processes = []nvml.ProcessInfo{{Pid: 4242, UsedGpuMemory: 6 << 30}}
	})
	waitFor(t, "paused for the game", func() bool {
		s := c.Status()
		return s.State == StatePaused && len(s.Reasons) > 0 && s.Reasons[0].Code == idle.CodeGPUInUse && s.LastPause != nil
	})
	if r := c.Status().Reasons[0].Text; !strings.Contains(r, "Cyberpunk2077.exe") {
		t.Fatalf("reason %q does not name the game", r)
	}
	if loaded, _ := c.Runtime().Loaded(context.Background()); len(loaded) != 0 {
		t.Fatalf("model still loaded while the game runs: %+v", loaded)
	}
}

// servingWithFakeCard starts a core on a fake RTX 4090 (pid 4242 named as a
// game, for tests that put one on the card) and waits until it serves.
func servingWithFakeCard(t *testing.T) (*gputest.Card, *Core) {
	t.Helper()
	card := gputest.RTX4090()
	c := startCore(t, func(c *Config) {
		c.GPU = gpu.NewDetector(gputest.Library(card), gpu.WithProcessName(func(pid uint32) string {
			if pid == 4242 {
				return "Cyberpunk2077.exe"
			}
			return ""
		}))
	})
	ctx := testCtx(t)
	if err := c.WaitModels(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "serving", func() bool { return c.Status().State == StateServing })
	return card, c
}
