package worker

import (
	"context"
	"errors"
	"testing"
	"time"
)

// The benchmark runs the built-in tiny model on a real Ollama, reports a
// speed and a time to first token, and frees the model's memory after.
func TestBenchmarkTinyModel(t *testing.T) {
	c := startCore(t, nil)
	ctx := testCtx(t)
	if err := c.WaitModels(ctx); err != nil {
		t.Fatal(err)
	}
	res, err := c.Benchmark(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Model != TinyModel || res.Runs < 1 || res.Runs > BenchmarkRuns || res.Tokens < 1 ||
		res.TokensPerSec <= 0 || res.FirstToken <= 0 || res.FirstTokenCold < res.FirstToken ||
		res.Took <= 0 || res.Took > BenchmarkTimeLimit+30*time.Second {
		t.Fatalf("Benchmark() = %+v", res)
	}
	if b := c.Status().Benchmark; b == nil || *b != res {
		t.Errorf("Status().Benchmark = %+v, want the result (the Models list estimates from it)", b)
	}
	if res.Tokens > res.Runs*BenchmarkMaxTokens {
		t.Errorf("%d tokens in %d runs: more than %d a run", res.Tokens, res.Runs, BenchmarkMaxTokens)
	}
	t.Logf("tiny model: %d runs, %d tokens, %.0f tokens/s, first token %v (cold %v), took %v",
		res.Runs, res.Tokens, res.TokensPerSec, res.FirstToken, res.FirstTokenCold, res.Took)
	if loaded, err := c.Runtime().Loaded(ctx); err != nil || len(loaded) != 0 {
		t.Errorf("after the benchmark of a stopped worker: loaded %+v, %v; want none", loaded, err)
	}

	// While sharing it refuses: it would compete with the network's jobs.
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Benchmark(ctx); !errors.Is(err, ErrBenchmarkBusy) {
		t.Fatalf("Benchmark while sharing = %v, want ErrBenchmarkBusy", err)
	}
	if err := c.Stop(ctx); err != nil {
		t.Fatal(err)
	}

	// A cancelled context stops it.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.Benchmark(cctx); err == nil {
		t.Fatal("Benchmark with a cancelled context succeeded")
	}
}
