package worker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/network"
	"github.com/cocoon-desktop/cocoon-desktop/runtime/ollama"
)

// runCompletion runs a legacy text completion job: the prompt continued as
// raw text (no chat template). The prompt and output only pass through
// memory.
func (c *Core) runCompletion(ctx context.Context, local string, job network.Job, emit func(string) error) (ollama.Usage, error) {
	jctx, watch := c.watchJob(ctx)
	u, err := c.rt.Generate(jctx, ollama.Job{
		Model: local, MaxTokens: job.MaxTokens,
		Temperature: job.Options.Temperature, TopP: job.Options.TopP, Seed: job.Options.Seed,
	}, job.Prompt, func(s string) error { watch.progress(); return emit(s) })
	if stalled := watch.stop(); stalled > 0 && ctx.Err() == nil {
		err = fmt.Errorf("worker: job %s: %w: no token for %s", job.JobID, ErrRuntimeStalled, stalled.Round(time.Millisecond))
		c.runtimeStalled(err)
	}
	return u, err
}

// RunEmbed implements network.EmbedHandler: it embeds the job's inputs on
// the model runtime and emits each vector in order. No input is kept.
func (c *Core) RunEmbed(ctx context.Context, job network.Job, emit func(int, []float32) error) (network.Usage, error) {
	local, ok := c.localName(job.Model)
	if !ok {
		return network.Usage{}, fmt.Errorf("worker: job %s: %w: %s", job.JobID, network.ErrUnknownModel, job.Model)
	}
	c.jobChange(JobEvent{JobID: job.JobID, Model: job.Model, Phase: "started"}, +1)
	start := time.Now()
	e, err := c.rt.Embed(ctx, local, job.Input)
	for i := 0; err == nil && i < len(e.Vectors); i++ {
		err = emit(i, e.Vectors[i])
	}
	if err != nil {
		c.jobChange(JobEvent{JobID: job.JobID, Model: job.Model, Phase: "failed", Error: err.Error()}, -1)
		if errors.Is(err, ollama.ErrModelNotFound) {
			err = fmt.Errorf("%w: %v", network.ErrUnknownModel, err)
		}
		return network.Usage{}, err
	}
	c.jobChange(JobEvent{JobID: job.JobID, Model: job.Model, Phase: "finished"}, -1)
	took := time.Since(start)
	c.log.Info("embedding job finished", "job", job.JobID, "model", job.Model, "inputs", len(job.Input),
		"prompt_tokens", e.PromptTokens, "took", took.Round(time.Millisecond))
	return network.Usage{PromptTokens: e.PromptTokens, TotalMS: took.Milliseconds()}, nil
}
