package network

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// EmbedHandler is a JobHandler that also runs embedding jobs (JobEmbedding).
// A worker whose handler is one lists FeatureEmbeddings in its register.
type EmbedHandler interface {
	// RunEmbed embeds job.Input, calling emit once per input in order with
	// its index and vector, and returns the usage (PromptTokens: the
	// tokens of all inputs). It must return soon after ctx ends.
	RunEmbed(ctx context.Context, job Job, emit func(index int, vector []float32) error) (Usage, error)
}

// runEmbedJob runs one embedding job: an embedding message per input, then
// done (or job_error). release frees the slot before the final message, as
// in runJob.
func (c *Client) runEmbedJob(ctx context.Context, s *session, job *Job, release func()) {
	start := time.Now()
	c.log.Info("network: embedding job started", "job_id", job.JobID, "model", job.Model, "inputs", len(job.Input))
	c.emit(ClientEvent{Kind: EventJobStarted, JobID: job.JobID, Model: job.Model})
	fail := func(code, msg string) {
		release()
		c.log.Info("network: job failed", "job_id", job.JobID, "model", job.Model, "code", code, "took", time.Since(start).Round(time.Millisecond))
		if s.ctx.Err() == nil {
			s.send(TypeJobError, &JobError{JobID: job.JobID, Code: code, Message: truncate(strings.ToValidUTF8(msg, "?"), MaxReasonLength-8)})
		}
		c.emit(ClientEvent{Kind: EventJobFailed, JobID: job.JobID, Model: job.Model, Code: code, Reason: msg, Duration: time.Since(start)})
	}
	h, ok := c.cfg.Handler.(EmbedHandler)
	if !ok {
		fail(CodeRuntime, "this worker does not run embedding jobs")
		return
	}
	next := 0
	usage, err := h.RunEmbed(ctx, *job, func(index int, vector []float32) error {
		if index != next || index >= len(job.Input) {
			return fmt.Errorf("network: embedding %d out of order (want %d of %d)", index, next, len(job.Input))
		}
		if err := s.send(TypeEmbedding, &Embedding{JobID: job.JobID, Index: index, Embedding: vector}); err != nil {
			return err
		}
		next++
		return nil
	})
	if err == nil && next != len(job.Input) {
		err = fmt.Errorf("network: the runtime returned %d embeddings for %d inputs", next, len(job.Input))
	}
	if ctx.Err() != nil {
		fail(CodeCancelled, "job ended: "+context.Cause(ctx).Error())
		return
	}
	if err != nil {
		c.log.Warn("network: embedding handler failed", "job_id", job.JobID, "err", err)
		if errors.Is(err, ErrUnknownModel) {
			fail(CodeUnknownModel, "model "+job.Model+" is not available on this worker")
		} else {
			fail(CodeRuntime, "model runtime failed: "+err.Error())
		}
		return
	}
	done := &Done{JobID: job.JobID, Usage: usage, FinishReason: "stop"}
	if err := done.Validate(); err != nil {
		fail(CodeRuntime, "invalid usage from the model runtime")
		return
	}
	release()
	if err := s.send(TypeDone, done); err != nil {
		c.emit(ClientEvent{Kind: EventJobFailed, JobID: job.JobID, Model: job.Model, Code: CodeCancelled, Reason: "done not sent: " + err.Error(), Duration: time.Since(start)})
		return
	}
	c.log.Info("network: embedding job done", "job_id", job.JobID, "model", job.Model, "prompt_tokens", usage.PromptTokens,
		"inputs", len(job.Input), "took", time.Since(start).Round(time.Millisecond))
	c.emit(ClientEvent{Kind: EventJobFinished, JobID: job.JobID, Model: job.Model, Usage: usage, Duration: time.Since(start)})
}
