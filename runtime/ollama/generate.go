package ollama

import (
	"context"
	"fmt"

	"github.com/ollama/ollama/api"
)

// samplingOptions are Ollama's options for a job's sampling settings.
func samplingOptions(job Job) map[string]any {
	opts := map[string]any{}
	if job.MaxTokens > 0 {
		opts["num_predict"] = job.MaxTokens
	}
	if job.Temperature != nil {
		opts["temperature"] = *job.Temperature
	}
	if job.TopP != nil {
		opts["top_p"] = *job.TopP
	}
	if job.Seed != nil {
		opts["seed"] = *job.Seed
	}
	return opts
}

// Generate continues prompt as raw text (Ollama's /api/generate with raw:
// no chat template, the model sees exactly the prompt after its BOS), with
// job's sampling settings (job.Messages is not used), streaming each piece
// of text to onDelta. It is what an OpenAI legacy completion asks for.
func (r *Runtime) Generate(ctx context.Context, job Job, prompt string, onDelta func(string) error) (Usage, error) {
	c, err := r.Client()
	if err != nil {
		return Usage{}, err
	}
	stream := true
	req := &api.GenerateRequest{Model: job.Model, Prompt: prompt, Raw: true, Stream: &stream,
		Options: samplingOptions(job), KeepAlive: &api.Duration{Duration: KeepLoaded}}
	var usage Usage
	var final bool
	err = c.Generate(ctx, req, func(resp api.GenerateResponse) error {
		if resp.Response != "" && onDelta != nil {
			if err := onDelta(resp.Response); err != nil {
				return err
			}
		}
		if resp.Done {
			final = true
			usage = doneUsage(resp.Metrics, resp.DoneReason)
		}
		return nil
	})
	return usage, r.streamEnd(ctx, "generate "+job.Model, err, final)
}

// Embedding is the result of Embed: one vector per input, in input order,
// and the tokens Ollama read for all inputs.
type Embedding struct {
	Vectors      [][]float32
	PromptTokens int
}

// Embed embeds each input with model (Ollama's /api/embed, which works on
// generative models too: their last hidden state, pooled and normalised).
// An input longer than the model's context is an error, not cut short, so
// a vector never silently stands for part of its text.
func (r *Runtime) Embed(ctx context.Context, model string, input []string) (Embedding, error) {
	c, err := r.Client()
	if err != nil {
		return Embedding{}, err
	}
	truncate := false
	resp, err := c.Embed(ctx, &api.EmbedRequest{Model: model, Input: input, Truncate: &truncate,
		KeepAlive: &api.Duration{Duration: KeepLoaded}})
	if err != nil {
		if ctx.Err() != nil {
			return Embedding{}, fmt.Errorf("runtime: embed %s: %w", model, ctx.Err())
		}
		return Embedding{}, r.wrap("embed "+model, err)
	}
	if len(resp.Embeddings) != len(input) {
		return Embedding{}, fmt.Errorf("runtime: embed %s: %d vectors for %d inputs", model, len(resp.Embeddings), len(input))
	}
	return Embedding{Vectors: resp.Embeddings, PromptTokens: resp.PromptEvalCount}, nil
}

// doneUsage is a finished stream's usage from its final message.
func doneUsage(m api.Metrics, reason string) Usage {
	return Usage{
		PromptTokens: m.PromptEvalCount, CompletionTokens: m.EvalCount,
		LoadDuration: m.LoadDuration, PromptDuration: m.PromptEvalDuration,
		EvalDuration: m.EvalDuration, TotalDuration: m.TotalDuration,
		DoneReason: reason,
	}
}

// streamEnd is how a streamed call (op: "chat model", "generate model")
// ended: cancelled before its final message, Ollama's error in the
// runtime's words, or a stream that stopped without its final message.
func (r *Runtime) streamEnd(ctx context.Context, op string, err error, final bool) error {
	if ctx.Err() != nil && !final {
		return fmt.Errorf("runtime: %s: %w", op, ctx.Err())
	}
	if err != nil {
		return r.wrap(op, err)
	}
	if !final {
		return fmt.Errorf("runtime: %s: %w: stream ended without a final message", op, ErrOllamaUnreachable)
	}
	return nil
}
