package network

import (
	"math"
	"unicode/utf8"
)

// Job kinds beyond chat (Job.Kind). A chat job leaves Kind empty, so its
// frame is the same as before kinds existed.
const (
	JobChat       = ""           // Messages → chat completion (deltas, done)
	JobCompletion = "completion" // Prompt, raw → text completion (deltas, done)
	JobEmbedding  = "embedding"  // Input → one embedding message per input, then done
)

// Features a worker lists in Register.Features. A job of a kind beyond
// chat needs its feature; the proxy never sends it to a worker without it
// (an older worker, which would refuse the job's unknown fields).
const (
	FeatureCompletions = "completions" // runs JobCompletion
	FeatureEmbeddings  = "embeddings"  // runs JobEmbedding
)

// FeatureOf is the feature a job kind needs ("" for chat).
func FeatureOf(kind string) string {
	switch kind {
	case JobCompletion:
		return FeatureCompletions
	case JobEmbedding:
		return FeatureEmbeddings
	}
	return ""
}

// Limits of the job kinds (Register.Features has its own in chat.go).
const (
	// MaxEmbedInputs is the most texts one embedding job carries
	// (OpenAI's own limit per request).
	MaxEmbedInputs = 2048
	// MaxEmbeddingDims bounds one vector: above the widest models'
	// hidden size (16384), so any real model fits.
	MaxEmbeddingDims = 16384
)

// TypeEmbedding carries one input's vector (worker → proxy).
const TypeEmbedding = "embedding"

// Embedding is the vector of the job's Input[Index] (worker → proxy). A
// worker sends them in input order, Index 0, 1, …, then done with
// usage.prompt_tokens the tokens of all inputs.
type Embedding struct {
	JobID     string    `json:"job_id"`
	Index     int       `json:"index"`
	Embedding []float32 `json:"embedding"`
}

// Validate checks an embedding message's limits.
func (m *Embedding) Validate() error {
	if err := checkJobID(m.JobID); err != nil {
		return err
	}
	if m.Index < 0 || m.Index >= MaxEmbedInputs {
		return protoErr(CodeBadMessage, "", "index %d out of range 0..%d", m.Index, MaxEmbedInputs-1)
	}
	if len(m.Embedding) == 0 {
		return protoErr(CodeBadMessage, "", "embedding is empty")
	}
	if len(m.Embedding) > MaxEmbeddingDims {
		return protoErr(CodeTooLarge, "", "embedding has %d dimensions, limit %d", len(m.Embedding), MaxEmbeddingDims)
	}
	for _, f := range m.Embedding {
		if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
			return protoErr(CodeBadMessage, "", "embedding holds a value that is not a finite number")
		}
	}
	return nil
}

// validateKind checks the fields of a job of a kind beyond chat: each kind
// carries its own input and no messages.
func (m *Job) validateKind() error {
	if len(m.Messages) > 0 {
		return protoErr(CodeBadMessage, "", "a %s job carries no messages", truncate(m.Kind, 32))
	}
	switch m.Kind {
	case JobCompletion:
		if len(m.Input) > 0 {
			return protoErr(CodeBadMessage, "", "a completion job carries no input")
		}
		if m.Prompt == "" { // Ollama answers an empty prompt by only loading the model
			return protoErr(CodeBadMessage, "", "prompt is required")
		}
		if !utf8.ValidString(m.Prompt) {
			return protoErr(CodeBadMessage, "", "prompt is not valid UTF-8")
		}
	case JobEmbedding:
		if m.Prompt != "" {
			return protoErr(CodeBadMessage, "", "an embedding job carries no prompt")
		}
		if len(m.Input) == 0 {
			return protoErr(CodeBadMessage, "", "input is required")
		}
		if len(m.Input) > MaxEmbedInputs {
			return protoErr(CodeTooLarge, "", "%d inputs, limit %d", len(m.Input), MaxEmbedInputs)
		}
		for _, s := range m.Input {
			if s == "" {
				return protoErr(CodeBadMessage, "", "an input is empty")
			}
			if !utf8.ValidString(s) {
				return protoErr(CodeBadMessage, "", "an input is not valid UTF-8")
			}
		}
	default:
		return protoErr(CodeBadMessage, "", "unknown job kind %q", truncate(m.Kind, 32))
	}
	return nil
}

// HasFeature reports whether the register lists feature f.
func (r *Register) HasFeature(f string) bool {
	for _, g := range r.Features {
		if g == f {
			return true
		}
	}
	return false
}
