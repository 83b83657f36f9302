package ollama_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/internal/testollama"
	"github.com/cocoon-desktop/cocoon-desktop/internal/tinymodel"
	"github.com/cocoon-desktop/cocoon-desktop/runtime/ollama"
)

const tiny = "cocoon-tiny:latest"

// startManaged runs a Runtime that supervises its own real Ollama in a temp dir.
func startManaged(t *testing.T, mutate func(*ollama.Config)) *ollama.Runtime {
	t.Helper()
	bin := testollama.Binary()
	if bin == "" {
		testollama.Skip(t)
	}
	cfg := ollama.Config{NoAttach: true, Binary: bin, Dir: t.TempDir()}
	if mutate != nil {
		mutate(&cfg)
	}
	rt := ollama.New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rt.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run() returned %v after cancel, want nil", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("Run() did not return within 20 s of cancel")
		}
	})
	wctx, wcancel := context.WithTimeout(ctx, 60*time.Second)
	defer wcancel()
	if err := rt.WaitReady(wctx); err != nil {
		t.Fatalf("managed ollama not ready: %v", err)
	}
	return rt
}

func registerTiny(t *testing.T, rt *ollama.Runtime, name string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tiny.gguf")
	if err := tinymodel.WriteFile(path, tinymodel.Options{Seed: 7}); err != nil {
		t.Fatal(err)
	}
	c, err := rt.Client()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := tinymodel.Register(ctx, c, name, path); err != nil {
		t.Fatalf("register tiny model: %v", err)
	}
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestManagedOllamaLifecycle(t *testing.T) {
	const gb = 1_000_000_000
	free := atomic.Uint64{}
	free.Store(8 * gb)
	rt := startManaged(t, func(c *ollama.Config) {
		c.VRAMReserve = 1 * gb
		c.FreeVRAM = func() (uint64, bool) { return free.Load(), true }
	})
	st := rt.Status()
	if !st.Reachable || st.Mode != ollama.ModeManaged || st.Version != ollama.OllamaVersion || st.PID == 0 {
		t.Fatalf("status = %+v, want reachable managed %s with a pid", st, ollama.OllamaVersion)
	}
	if !strings.HasPrefix(st.Address, "http://127.0.0.1:") {
		t.Fatalf("managed ollama must listen on loopback only, got %q", st.Address)
	}
	registerTiny(t, rt, tiny)
	ctx := ctxT(t, 2*time.Minute)

	models, err := rt.ListModels(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(models) != 1 || models[0].Name != tiny || models[0].Size < 100_000 || !models[0].FitsVRAM || models[0].Loaded {
		t.Fatalf("models = %+v, want the tiny model, fitting, not loaded", models)
	}
	// The weights digest is the GGUF blob's, whatever the models directory.
	gguf := filepath.Join(t.TempDir(), "same.gguf")
	if err := tinymodel.WriteFile(gguf, tinymodel.Options{Seed: 7}); err != nil {
		t.Fatal(err)
	}
	if want, err := tinymodel.FileDigest(gguf); err != nil || models[0].WeightsDigest != want {
		t.Errorf("weights digest %q, want the GGUF's %q (%v)", models[0].WeightsDigest, want, err)
	}
	free.Store(1 * gb) // everything free is the owner's reserve now
	models, _ = rt.ListModels(ctx)
	if models[0].FitsVRAM || models[0].FitNote == "" {
		t.Fatalf("with no VRAM above the reserve the model must not fit: %+v", models[0])
	}

	if err := rt.Load(ctx, tiny); err != nil {
		t.Fatal(err)
	}
	loaded, err := rt.Loaded(ctx)
	if err != nil || len(loaded) != 1 || loaded[0].Name != tiny {
		t.Fatalf("loaded = %+v, %v; want the tiny model", loaded, err)
	}
	took, err := rt.Unload(ctx, tiny)
	if err != nil {
		t.Fatal(err)
	}
	if loaded, _ := rt.Loaded(ctx); len(loaded) != 0 {
		t.Fatalf("after Unload still loaded: %+v", loaded)
	}
	t.Logf("unload took %v", took)

	if err := rt.Delete(ctx, tiny); err != nil {
		t.Fatal(err)
	}
	if models, _ := rt.ListModels(ctx); len(models) != 0 {
		t.Fatalf("after Delete: %+v", models)
	}
}

func TestChat(t *testing.T) {
	rt := startManaged(t, nil)
	registerTiny(t, rt, tiny)
	msgs := []ollama.Message{{Role: "user", Content: "Say something about GPUs."}}

	t.Run("streams tokens and reports usage", func(t *testing.T) {
		var deltas int
		var text strings.Builder
		seed := 42
		usage, err := rt.Chat(ctxT(t, time.Minute), ollama.Job{Model: tiny, Messages: msgs, MaxTokens: 48, Seed: &seed},
			func(s string) error { deltas++; text.WriteString(s); return nil })
		if err != nil {
			t.Fatal(err)
		}
		if deltas == 0 || text.Len() == 0 {
			t.Fatal("no streamed text")
		}
		if usage.PromptTokens <= 0 || usage.CompletionTokens <= 0 || usage.CompletionTokens > 48 || usage.EvalDuration <= 0 {
			t.Fatalf("usage = %+v", usage)
		}
		t.Logf("%d deltas, usage %+v (%.0f tok/s)", deltas, usage, float64(usage.CompletionTokens)/usage.EvalDuration.Seconds())
	})

	t.Run("cancelled through ctx", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var deltas int
		_, err := rt.Chat(ctx, ollama.Job{Model: tiny, Messages: msgs, MaxTokens: 100_000},
			func(string) error {
				deltas++
				if deltas == 3 {
					cancel()
				}
				return nil
			})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		if deltas > 1000 {
			t.Fatalf("generation went on after cancel: %d deltas", deltas)
		}
	})

	t.Run("unknown model", func(t *testing.T) {
		_, err := rt.Chat(ctxT(t, time.Minute), ollama.Job{Model: "no-such-model", Messages: msgs}, nil)
		if !errors.Is(err, ollama.ErrModelNotFound) {
			t.Fatalf("err = %v, want ErrModelNotFound", err)
		}
		if err := rt.Delete(ctxT(t, time.Minute), "no-such-model"); !errors.Is(err, ollama.ErrModelNotFound) {
			t.Fatalf("Delete err = %v, want ErrModelNotFound", err)
		}
		if err := rt.Load(ctxT(t, time.Minute), "no-such-model"); !errors.Is(err, ollama.ErrModelNotFound) {
			t.Fatalf("Load err = %v, want ErrModelNotFound", err)
		}
	})
}

func TestSupervisorRestartsKilledOllama(t *testing.T) {
	rt := startManaged(t, func(c *ollama.Config) {})
	registerTiny(t, rt, tiny)
	before := rt.Status()
	ctx := ctxT(t, 2*time.Minute)

	// Kill Ollama in the middle of a job: the job fails with an error, never hangs.
	chatErr := make(chan error, 1)
	started := make(chan struct{})
	go func() {
		var once bool
		_, err := rt.Chat(ctx, ollama.Job{Model: tiny, Messages: []ollama.Message{{Role: "user", Content: "go"}}, MaxTokens: 1_000_000},
			func(string) error {
				if !once {
					once = true
					close(started)
				}
				return nil
			})
		chatErr <- err
	}()
	select {
	case <-started:
	case <-ctx.Done():
		t.Fatal("chat never streamed")
	}
	if err := syscall.Kill(-before.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-chatErr:
		if err == nil || errors.Is(err, context.Canceled) {
			t.Fatalf("chat on a killed Ollama returned %v, want a failure", err)
		}
		t.Logf("chat error after kill: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("chat hung after Ollama was killed")
	}

	deadline := time.Now().Add(60 * time.Second)
	for {
		st := rt.Status()
		if st.Reachable && st.PID != 0 && st.PID != before.PID && st.Restarts >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ollama not restarted: %+v", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The restarted server has the same store: the model is still there and serves.
	if _, err := rt.Chat(ctx, ollama.Job{Model: tiny, Messages: []ollama.Message{{Role: "user", Content: "again"}}, MaxTokens: 8}, nil); err != nil {
		t.Fatalf("chat after restart: %v", err)
	}
}

func TestStopsManagedOllamaOnCancel(t *testing.T) {
	bin := testollama.Binary()
	if bin == "" {
		testollama.Skip(t)
	}
	rt := ollama.New(ollama.Config{NoAttach: true, Binary: bin, Dir: t.TempDir()})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rt.Run(ctx) }()
	if err := rt.WaitReady(ctxT(t, time.Minute)); err != nil {
		t.Fatal(err)
	}
	pid := rt.Status().PID
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run() = %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return")
	}
	if err := syscall.Kill(pid, 0); err == nil {
		t.Fatalf("ollama pid %d still alive after stop", pid)
	}
}

func TestAttachesToRunningOllama(t *testing.T) {
	srv := testollama.Start(t)
	rt := ollama.New(ollama.Config{AttachAddr: srv.Host(), NoManage: true})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go rt.Run(ctx)
	if err := rt.WaitReady(ctxT(t, 30*time.Second)); err != nil {
		t.Fatal(err)
	}
	st := rt.Status()
	if !st.Reachable || st.Mode != ollama.ModeAttached || st.Address != srv.Host() || st.PID != 0 {
		t.Fatalf("status = %+v, want attached to %s", st, srv.Host())
	}
	if _, err := rt.ListModels(ctx); err != nil {
		t.Fatal(err)
	}
}
