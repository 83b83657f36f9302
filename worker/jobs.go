package worker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ollama/ollama/api"

	"github.com/cocoon-desktop/cocoon-desktop/network"
	"github.com/cocoon-desktop/cocoon-desktop/runtime/ollama"
)

// JobStats counts the jobs this session ran. No prompt or output is kept.
type JobStats struct {
	Running      int     `json:"running"`
	Completed    int     `json:"completed"`
	Failed       int     `json:"failed"`
	Tokens       int64   `json:"tokens"` // completion tokens served
	LastModel    string  `json:"last_model,omitempty"`
	LastTokensPS float64 `json:"last_tokens_per_s,omitempty"`
}

// JobEvent is the Data of an EventJob.
type JobEvent struct {
	JobID        string
	Model        string
	Phase        string // started, finished, failed
	Tokens       int
	TokensPerSec float64
	Error        string
}

// networkName is how a local model is offered on the network: Ollama's
// implicit ":latest" tag is dropped ("cocoon-tiny:latest" → "cocoon-tiny").
func networkName(local string) string { return strings.TrimSuffix(local, ":latest") }

// localName maps a network model name back to the local one.
func (c *Core) localName(name string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range c.models {
		if m.Name == name || networkName(m.Name) == name {
			return m.Name, true
		}
	}
	return "", false
}

// RunJob implements network.JobHandler: it runs one job on the model
// runtime. The prompt and the output only pass through memory.
func (c *Core) RunJob(ctx context.Context, job network.Job, emit func(string) error) (network.Usage, string, error) {
	res, err := c.RunJobResult(ctx, job, func(o network.JobOutput) error { return emit(o.Text) })
	return res.Usage, res.FinishReason, err
}

// RunJobResult implements network.ResultJobHandler: RunJob that also
// answers with the tool calls the model made (chat.go).
func (c *Core) RunJobResult(ctx context.Context, job network.Job, emit func(network.JobOutput) error) (network.JobResult, error) {
	local, ok := c.localName(job.Model)
	if !ok {
		return network.JobResult{}, fmt.Errorf("worker: job %s: %w: %s", job.JobID, network.ErrUnknownModel, job.Model)
	}
	oj, err := runtimeJob(local, job)
	if err != nil {
		return network.JobResult{}, fmt.Errorf("worker: job %s: %w", job.JobID, err)
	}
	var calls []network.ToolCall
	oj.OnToolCall = func(tc api.ToolCall) error {
		calls = append(calls, wireToolCall(tc))
		return nil
	}
	c.jobChange(JobEvent{JobID: job.JobID, Model: job.Model, Phase: "started"}, +1)
	start, wattsAtStart := time.Now(), c.gpuWatts()
	jctx, watch := c.watchJob(ctx)
	// Log probabilities go out with the next text (or at the end): a token
	// of broken UTF-8 has them before Ollama has text for it.
	var lps []network.TokenLogprob
	oj.OnLogprobs = func(l []api.Logprob) error {
		lps = append(lps, wireLogprobs(l)...)
		return nil
	}
	u, err := c.rt.Chat(jctx, oj, func(s string) error {
		watch.progress()
		out := network.JobOutput{Text: s, Logprobs: lps}
		lps = nil
		return emit(out)
	})
	if err == nil && len(lps) > 0 {
		err = emit(network.JobOutput{Logprobs: lps})
	}
	if stalled := watch.stop(); stalled > 0 && ctx.Err() == nil {
		err = fmt.Errorf("worker: job %s: %w: no token for %s", job.JobID, ErrRuntimeStalled, stalled.Round(time.Millisecond))
		c.runtimeStalled(err)
	}
	if err != nil {
		c.jobChange(JobEvent{JobID: job.JobID, Model: job.Model, Phase: "failed", Error: err.Error()}, -1)
		if errors.Is(err, ollama.ErrModelNotFound) {
			err = fmt.Errorf("%w: %v", network.ErrUnknownModel, err)
		}
		return network.JobResult{}, err
	}
	// Energy for net earnings: the GPU's draw over the job (mean of the
	// samples at its start and end, 1 Hz telemetry) × its duration.
	if w := (wattsAtStart + c.gpuWatts()) / 2; w > 0 {
		c.mu.Lock()
		if c.energy == nil {
			c.energy = map[string]float64{}
		}
		c.energy[job.JobID] = w * time.Since(start).Seconds()
		c.mu.Unlock()
	}
	tps := 0.0
	if u.EvalDuration > 0 {
		tps = float64(u.CompletionTokens) / u.EvalDuration.Seconds()
	}
	c.jobChange(JobEvent{JobID: job.JobID, Model: job.Model, Phase: "finished", Tokens: u.CompletionTokens, TokensPerSec: tps}, -1)
	c.log.Info("job finished", "job", job.JobID, "model", job.Model, "prompt_tokens", u.PromptTokens,
		"completion_tokens", u.CompletionTokens, "tokens_per_s", int(tps), "took", time.Since(start).Round(time.Millisecond))
	reason := u.DoneReason
	if reason == "" {
		reason = "stop"
	}
	if len(calls) > 0 && reason == "stop" {
		reason = network.FinishToolCalls // as OpenAI says it; Ollama says stop
	}
	return network.JobResult{Usage: network.Usage{
		PromptTokens: u.PromptTokens, CompletionTokens: u.CompletionTokens,
		EvalMS: u.EvalDuration.Milliseconds(), TotalMS: u.TotalDuration.Milliseconds(),
	}, FinishReason: reason, ToolCalls: calls}, nil
}

func (c *Core) jobChange(ev JobEvent, delta int) {
	c.mu.Lock()
	c.jobs.Running += delta
	switch ev.Phase {
	case "finished":
		c.jobs.Completed++
		c.jobs.Tokens += int64(ev.Tokens)
		c.jobs.LastModel, c.jobs.LastTokensPS = ev.Model, ev.TokensPerSec
	case "failed":
		c.jobs.Failed++
	}
	c.mu.Unlock()
	c.bus.Publish(EventJob, ev)
}

// gpuWatts is the primary GPU's power draw now (0 without a GPU).
func (c *Core) gpuWatts() float64 {
	if d, ok := c.currentGPU().Primary(); ok {
		return d.PowerW
	}
	return 0
}

// takeEnergy returns (and forgets) the joules a finished job used.
func (c *Core) takeEnergy(jobID string) float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	j := c.energy[jobID]
	delete(c.energy, jobID)
	return j
}

// ErrRuntimeStalled: the model runtime answered but stopped producing tokens
// for a running job; the job fails and the runtime is restarted.
var ErrRuntimeStalled = errors.New("the model runtime stopped producing tokens")

// Defaults of Config.StallTimeout and Config.FirstTokenTimeout.
const (
	DefaultStallTimeout      = 30 * time.Second
	DefaultFirstTokenTimeout = 3 * time.Minute
)

// jobWatch is a running job's watchdog: it cancels the job when no token
// arrives within the bound (FirstTokenTimeout before the first one).
type jobWatch struct {
	last    atomic.Int64 // unix ns of the last token (or of the start)
	got     atomic.Bool  // a token arrived
	stalled atomic.Int64 // how long it went without one, when it fired
	done    chan struct{}
	wg      sync.WaitGroup
}

// watchJob starts a job's watchdog; the job must call stop when it ends.
func (c *Core) watchJob(ctx context.Context) (context.Context, *jobWatch) {
	jctx, cancel := context.WithCancel(ctx)
	w := &jobWatch{done: make(chan struct{})}
	w.last.Store(time.Now().UnixNano())
	stall, first := c.cfg.StallTimeout, c.cfg.FirstTokenTimeout
	tick := min(stall, first) / 4
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		defer cancel()
		t := time.NewTicker(tick)
		defer t.Stop()
		for {
			select {
			case <-w.done:
				return
			case <-t.C:
				bound := first
				if w.got.Load() {
					bound = stall
				}
				if since := time.Since(time.Unix(0, w.last.Load())); since > bound {
					w.stalled.Store(int64(since))
					return // cancels the job
				}
			}
		}
	}()
	return jctx, w
}

func (w *jobWatch) progress() {
	w.last.Store(time.Now().UnixNano())
	w.got.Store(true)
}

// stop ends the watchdog; it says how long the job went without a token
// when the watchdog cancelled it (0: it did not).
func (w *jobWatch) stop() time.Duration {
	close(w.done)
	w.wg.Wait()
	return time.Duration(w.stalled.Load())
}

// runtimeStalled takes the worker off the network while a wedged model
// runtime is restarted (the managed one; the owner's own Ollama is theirs to
// restart, and the owner is told). runtimeChanged puts it back once a fresh
// runtime answers.
func (c *Core) runtimeStalled(cause error) {
	if !c.restarting.CompareAndSwap(false, true) {
		return // one restart at a time
	}
	c.log.Error("model runtime wedged", "err", cause)
	if c.cl() != nil {
		c.cl().SetAvailability(network.Availability{State: network.Paused, Reason: "model runtime restarting"})
	}
	if err := c.rt.Restart(cause.Error()); err != nil {
		c.restarting.Store(false)
		c.bus.Publish(EventError, "Ollama stopped producing tokens and Cocoon cannot restart it ("+err.Error()+"); restart Ollama")
		if c.cl() != nil && c.Status().State == StateServing {
			c.cl().SetAvailability(network.Availability{State: network.Accepting})
		}
		return
	}
	c.bus.Publish(EventError, "Ollama stopped producing tokens; Cocoon is restarting it")
}
