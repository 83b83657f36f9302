package worker

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"

	"github.com/cocoon-desktop/cocoon-desktop/gpu"
	"github.com/cocoon-desktop/cocoon-desktop/gpu/gputest"
	"github.com/cocoon-desktop/cocoon-desktop/internal/testollama"
	"github.com/cocoon-desktop/cocoon-desktop/runtime/ollama"
)

// startCore runs a Core over a real managed Ollama and a fake RTX 4090.
func startCore(t *testing.T, mutate func(*Config)) *Core {
	t.Helper()
	bin := testollama.Binary()
	if bin == "" {
		testollama.Skip(t)
	}
	cfg := Config{
		DataDir:         t.TempDir(),
		SeedTinyModel:   true,
		Runtime:         ollama.Config{NoAttach: true, Binary: bin},
		GPU:             gpu.NewDetector(gputest.Library(gputest.RTX4090())),
		GPUInterval:     20 * time.Millisecond,
		RefreshInterval: 100 * time.Millisecond,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	c := New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run() = %v after cancel", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("Run() did not return after cancel")
		}
	})
	return c
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func TestCoreServesTheTinyModel(t *testing.T) {
	c := startCore(t, nil)
	events, unsubscribe := c.Subscribe(256)
	defer unsubscribe()
	ctx := testCtx(t)
	if err := c.WaitModels(ctx); err != nil {
		t.Fatal(err)
	}
	st := c.Status()
	if st.State != StateStopped || st.Model != TinyModel || len(st.Models) != 1 || !st.Models[0].FitsVRAM {
		t.Fatalf("status after start = %+v, want stopped, serving the seeded tiny model that fits 24 GiB", st)
	}
	if st.GPU.State != gpu.StateOK || st.GPU.Devices[0].Name != "NVIDIA GeForce RTX 4090" {
		t.Fatalf("gpu = %+v", st.GPU)
	}
	if !st.Ollama.Reachable || st.Ollama.Mode != ollama.ModeManaged {
		t.Fatalf("ollama = %+v", st.Ollama)
	}

	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the model to show as loaded", func() bool {
		s := c.Status()
		return s.State == StateServing && len(s.Loaded) == 1 && s.Loaded[0].Name == TinyModel
	})
	took, err := c.StopTimed(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if loaded, _ := c.Runtime().Loaded(ctx); len(loaded) != 0 {
		t.Fatalf("Stop left the model loaded: %+v", loaded)
	}
	st = c.Status()
	if st.State != StateStopped || took <= 0 || st.LastPause == nil || st.LastPause.Unload <= 0 {
		t.Fatalf("after Stop: state %s, stop took %v, last pause %+v", st.State, took, st.LastPause)
	}

	seen := map[EventType]bool{}
	for len(events) > 0 {
		seen[(<-events).Type] = true
	}
	for _, want := range []EventType{EventState, EventOllama, EventModels} {
		if !seen[want] {
			t.Errorf("no %s event published (saw %v)", want, seen)
		}
	}
}

func TestGPUEventsOnlyOnChange(t *testing.T) {
	card := gputest.RTX4090()
	c := New(Config{
		DataDir: t.TempDir(), GPU: gpu.NewDetector(gputest.Library(card)), GPUInterval: 5 * time.Millisecond,
		Runtime: ollama.Config{AttachAddr: wedgedOllama(t).URL, NoManage: true},
	})
	events, unsubscribe := c.Subscribe(64)
	defer unsubscribe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	defer func() { cancel(); <-done }()
	from := card.Reads()
	waitFor(t, "20 samples of an unchanged card", func() bool { return card.Reads() >= from+20 })
	for len(events) > 0 {
		if ev := <-events; ev.Type == EventGPU {
			t.Fatal("an unchanged card published a GPU event")
		}
	}
	card.Set(func(c *gputest.Card) {
		c.TempC = 71
		c.Processes = []nvml.ProcessInfo{{Pid: 4242, UsedGpuMemory: 6 << 30}}
	})
	deadline := time.After(10 * time.Second)
	for {
		select {
		case ev := <-events:
			if ev.Type == EventGPU {
				snap := ev.Data.(gpu.Snapshot)
				if snap.Devices[0].TemperatureC != 71 || len(snap.Devices[0].Processes) != 1 {
					t.Fatalf("gpu event carries %+v", snap.Devices[0])
				}
				return
			}
		case <-deadline:
			t.Fatal("no GPU event after the card changed")
		}
	}
}

func TestCoreCommandsRejectBadInput(t *testing.T) {
	c := startCore(t, nil)
	ctx := testCtx(t)
	if err := c.WaitModels(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.SetModel("no-such-model"); !errors.Is(err, ollama.ErrModelNotFound) {
		t.Fatalf("SetModel(unknown) = %v, want ErrModelNotFound", err)
	}
	if c.Status().Model != TinyModel {
		t.Fatal("a rejected SetModel changed the served model")
	}
	if err := c.PullModel(ctx, "  "); err == nil {
		t.Fatal("PullModel(blank) must fail")
	}
	if err := c.DeleteModel(ctx, "no-such-model"); !errors.Is(err, ollama.ErrModelNotFound) {
		t.Fatalf("DeleteModel(unknown) = %v, want ErrModelNotFound", err)
	}
	// Deleting the served (and last) model while serving stops sharing: no
	// ghost model, and not stuck in a state whose only button is Stop.
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "serving", func() bool { return c.Status().State == StateServing })
	if err := c.DeleteModel(ctx, TinyModel); err != nil {
		t.Fatal(err)
	}
	st := c.Status()
	if st.Model != "" || len(st.Models) != 0 || st.State != StateStopped {
		t.Fatalf("after deleting the served model: %+v", st)
	}
	if err := c.Start(ctx); !errors.Is(err, ErrNoModel) || !errors.Is(err, ollama.ErrModelNotFound) {
		t.Fatalf("Start without a model = %v, want ErrNoModel", err)
	}
	if st := c.Status().State; st != StateStopped {
		t.Fatalf("a Start without a model left the state %q, want stopped", st)
	}
	// The built-in model comes back without a download, is chosen, and serves.
	if err := c.RestoreBuiltInModel(ctx); err != nil {
		t.Fatal(err)
	}
	if st := c.Status(); st.Model != TinyModel || !hasModel(st.Models, TinyModel) {
		t.Fatalf("after restoring the built-in model: model %q, models %v", st.Model, st.Models)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "serving again", func() bool { return c.Status().State == StateServing })
}

// TestCoreWithoutOllama: with no Ollama to attach to or start, Run stops
// on its own with ErrOllamaNotFound (the window stays and shows why), and
// the status says what is missing.
func TestCoreWithoutOllama(t *testing.T) {
	c := New(Config{
		DataDir: t.TempDir(),
		Runtime: ollama.Config{NoAttach: true, Binary: "/nonexistent/ollama"},
		GPU:     gpu.NewDetector(gputest.NoDriver()),
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Run(ctx); !errors.Is(err, ollama.ErrOllamaNotFound) || ctx.Err() != nil {
		t.Fatalf("Run() = %v (ctx %v), want ErrOllamaNotFound on its own", err, ctx.Err())
	}
	if !strings.Contains(c.Status().Ollama.Error, "ollama not found") {
		t.Fatalf("ollama error = %q", c.Status().Ollama.Error)
	}
	if err := c.Start(ctx); err == nil {
		t.Fatal("Start() succeeded on a stopped core")
	}
	st := c.Status()
	if st.State != StateError || !strings.Contains(st.Fatal, "ollama not found") || st.GPU.State != gpu.StateNoDriver {
		t.Fatalf("status = %+v", st)
	}
}

func TestIsLoopbackRegistry(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"llama3.2:1b", false},
		{"library/llama3.2", false},
		{"registry.ollama.ai/library/llama3.2", false},
		{"127.0.0.1:5000/library/tiny:latest", true},
		{"localhost:5000/library/tiny", true},
		{"[::1]:5000/library/tiny", true},
		{"10.0.0.5:5000/library/tiny", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := isLoopbackRegistry(tc.name); got != tc.want {
				t.Fatalf("isLoopbackRegistry(%q) = %v, want %v", tc.name, got, tc.want)
			}
		})
	}
}

func TestBusNeverBlocks(t *testing.T) {
	b := NewBus()
	slow, cancelSlow := b.Subscribe(1)
	fast, cancelFast := b.Subscribe(10)
	for i := 0; i < 5; i++ {
		b.Publish(EventGPU, i) // must not block on the full slow subscriber
	}
	if len(slow) != 1 || len(fast) != 5 {
		t.Fatalf("slow got %d, fast got %d", len(slow), len(fast))
	}
	cancelSlow()
	cancelSlow() // idempotent
	b.Publish(EventState, nil)
	if len(fast) != 6 {
		t.Fatalf("fast got %d after unsubscribe of slow", len(fast))
	}
	cancelFast()
	if _, ok := <-slow; !ok {
		t.Fatal("buffered event lost on cancel")
	}
}
