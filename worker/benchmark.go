package worker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/runtime/ollama"
)

// Benchmark limits: a quick check of what this machine does with the chosen
// model, short enough for the first-run wizard.
const (
	BenchmarkRuns      = 3
	BenchmarkTimeLimit = 30 * time.Second
	BenchmarkMaxTokens = 256
)

// benchmarkPrompt is the fixed prompt of every run: it asks for a long
// enough answer to measure generation, not the prompt.
const benchmarkPrompt = "Write a short story, about two hundred words long, about a lighthouse keeper who finds a message in a bottle."

// ErrBenchmarkBusy means the worker is sharing: a benchmark would compete
// with the network's jobs (and measure neither well).
var ErrBenchmarkBusy = errors.New("the worker is sharing; stop it to run a benchmark")

// BenchmarkResult is what Benchmark measured on the chosen model.
type BenchmarkResult struct {
	Model string
	Runs  int // runs that finished
	// Tokens is how many tokens the runs generated in all.
	Tokens int
	// TokensPerSec is the generation speed: generated tokens over the time
	// spent generating them, over all finished runs.
	TokensPerSec float64
	// FirstToken is the time to first token of the fastest finished run
	// (the model was loaded by then). FirstTokenCold is the first run's,
	// model load included.
	FirstToken     time.Duration
	FirstTokenCold time.Duration
	// Load is how long loading the model took (0: it was already loaded).
	Load time.Duration
	// Took is the benchmark's wall time.
	Took time.Duration
	// RunsOn, Backend, VRAMShare and Device say which device was measured:
	// where the model was loaded while the benchmark ran.
	RunsOn    string
	Backend   string
	VRAMShare float64
	Device    string
}

// MeasuredOn says in words which device a benchmark measured ("the GPU
// (NVIDIA GeForce RTX 4090, CUDA)", "the CPU").
func (b BenchmarkResult) MeasuredOn() string {
	switch b.RunsOn {
	case ollama.RunsOnGPU:
		var parts []string
		for _, p := range []string{b.Device, b.Backend} {
			if p != "" {
				parts = append(parts, p)
			}
		}
		s := "the GPU"
		if len(parts) > 0 {
			s += " (" + strings.Join(parts, ", ") + ")"
		}
		if b.VRAMShare > 0 && b.VRAMShare < 0.999 {
			s += fmt.Sprintf(", %.0f%% of the model in VRAM", 100*b.VRAMShare)
		}
		return s
	case ollama.RunsOnCPU:
		return "the CPU"
	}
	return "an unknown device"
}

// Benchmark runs the chosen model on the runtime with a short fixed prompt
// (BenchmarkMaxTokens tokens at most), up to BenchmarkRuns times or
// BenchmarkTimeLimit, whichever comes first, and reports the generation
// speed and the time to first token. Neither the prompt nor the output is
// logged. It refuses while the worker is sharing (ErrBenchmarkBusy); when it
// is stopped the model is unloaded again after, so its memory is free.
func (c *Core) Benchmark(ctx context.Context) (BenchmarkResult, error) {
	c.mu.Lock()
	model, state := c.model, c.state
	c.mu.Unlock()
	if model == "" {
		return BenchmarkResult{}, fmt.Errorf("worker: benchmark: %w: no model chosen, download one first", ollama.ErrModelNotFound)
	}
	if state.Started() {
		return BenchmarkResult{}, fmt.Errorf("worker: benchmark: %w", ErrBenchmarkBusy)
	}
	if _, err := c.rt.Client(); err != nil {
		return BenchmarkResult{}, fmt.Errorf("worker: benchmark: %w: %v", ErrNotReady, err)
	}
	start := time.Now()
	bctx, cancel := context.WithTimeout(ctx, BenchmarkTimeLimit)
	defer cancel()
	res := BenchmarkResult{Model: model}
	var evalTime time.Duration
	seed := 42
	temp := 0.7
	var lastErr error
	for i := 0; i < BenchmarkRuns; i++ {
		runStart := time.Now()
		var first time.Duration
		u, err := c.rt.Chat(bctx, ollama.Job{
			Model:       model,
			Messages:    []ollama.Message{{Role: "user", Content: benchmarkPrompt}},
			MaxTokens:   BenchmarkMaxTokens,
			Seed:        &seed,
			Temperature: &temp,
		}, func(string) error {
			if first == 0 {
				first = time.Since(runStart)
			}
			return nil
		})
		if err != nil {
			lastErr = err
			break
		}
		if first == 0 { // no text at all (the model stopped at once)
			first = time.Since(runStart)
		}
		res.Runs++
		res.Tokens += u.CompletionTokens
		evalTime += u.EvalDuration
		if i == 0 {
			res.FirstTokenCold = first
			res.Load = u.LoadDuration
		}
		if res.FirstToken == 0 || first < res.FirstToken {
			res.FirstToken = first
		}
		if i == 0 { // loaded now: note where it runs before it is unloaded
			c.notePlacement(bctx, model, &res)
		}
	}
	res.Took = time.Since(start)
	if evalTime > 0 {
		res.TokensPerSec = float64(res.Tokens) / evalTime.Seconds()
	}
	c.afterBenchmark(ctx, model)
	if res.Runs == 0 {
		if ctx.Err() != nil {
			return res, fmt.Errorf("worker: benchmark %s: %w", model, ctx.Err())
		}
		if bctx.Err() != nil {
			return res, fmt.Errorf("worker: benchmark %s: no run finished within %s", model, BenchmarkTimeLimit)
		}
		return res, fmt.Errorf("worker: benchmark %s: %w", model, lastErr)
	}
	c.log.Info("benchmark finished", "model", model, "measured_on", res.MeasuredOn(), "runs", res.Runs, "tokens", res.Tokens,
		"tokens_per_s", fmt.Sprintf("%.1f", res.TokensPerSec), "first_token", res.FirstToken.Round(time.Millisecond),
		"load", res.Load.Round(time.Millisecond), "took", res.Took.Round(time.Millisecond))
	c.mu.Lock()
	c.bench = &res // the Models list estimates earnings per hour from it
	c.mu.Unlock()
	c.bus.Publish(EventModels, nil)
	return res, nil
}

// afterBenchmark frees the model's memory again unless the worker started
// sharing meanwhile (then the control loop owns the model).
func (c *Core) afterBenchmark(ctx context.Context, model string) {
	c.mu.Lock()
	started := c.state.Started()
	c.mu.Unlock()
	if started {
		return
	}
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if _, err := c.rt.Unload(uctx, model); err != nil {
		c.log.Warn("could not unload the model after the benchmark", "model", model, "err", err)
	}
	c.kickRefresh()
}

// notePlacement records where model is loaded now in res.
func (c *Core) notePlacement(ctx context.Context, model string, res *BenchmarkResult) {
	loaded, err := c.rt.Loaded(ctx)
	if err != nil {
		return
	}
	rt := c.rt.Status()
	c.mu.Lock()
	p := placementOf(model, c.gpuSnap, rt, c.models, loaded)
	c.mu.Unlock()
	res.RunsOn, res.Backend, res.VRAMShare, res.Device = p.RunsOn, p.Backend, p.VRAMShare, p.Device
}
