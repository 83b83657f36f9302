package network

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"slices"
)

// The chat surface of protocol version 3: tools, tool calls, output formats,
// stop strings and penalties (docs/protocol.md, "job"). Each needs a
// feature (Job.Features) that the worker announces in Register.Features.

// Limits of the chat surface.
const (
	MaxTools         = 128       // tools in one job
	MaxToolCalls     = 128       // tool calls in one message or done
	MaxToolName      = 64        // OpenAI's limit for a function name
	MaxToolCallID    = 128       // a tool call's id
	MaxToolSchema    = 64 << 10  // a tool's parameters, or a job's format, in bytes
	MaxToolArguments = 256 << 10 // one call's arguments, in bytes
	MaxToolDesc      = 4 << 10   // a tool's description
	MaxStopStrings   = 4         // OpenAI's limit
	MaxStopLength    = 256       // bytes of one stop string
	MaxFeatures      = 32        // names in Register.Features
	MaxTopLogprobs   = 20        // alternatives per token (Ollama's and OpenAI's limit)
	// MaxDeltaLogprobs bounds the tokens of one delta, and MaxLogprobToken
	// a token's text and bytes, so that a delta with its text stays under
	// MaxMessageSize: 32 × 21 entries × (64 bytes escaped ×6 + 64 bytes as
	// numbers ×4 + keys) ≈ 0.5 MiB.
	MaxDeltaLogprobs  = 32
	MaxLogprobToken   = 64
	MaxFeatureName    = 32
	minPenalty        = -2.0
	maxPenalty        = 2.0
	ToolTypeFunction  = "function"
	FinishToolCalls   = "tool_calls"
	formatJSONLiteral = `"json"`
)

// Tool is a function the model may call.
type Tool struct {
	Type     string       `json:"type"` // "function"
	Function ToolFunction `json:"function"`
}

// ToolFunction describes a callable function; Parameters is its JSON schema
// (an object), passed to the model's chat template as given.
type ToolFunction struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
}

// ToolCall is one call the model made, or an assistant message's earlier
// call. Arguments is a JSON object as text, as OpenAI carries it.
type ToolCall struct {
	ID       string           `json:"id,omitempty"`
	Type     string           `json:"type"` // "function"
	Function ToolCallFunction `json:"function"`
}

// ToolCallFunction is the called function and its arguments.
type ToolCallFunction struct {
	Name      string `json:"name"`
	Arguments string `json:"arguments"` // a JSON object
}

// TokenLogprob is one generated token's log probability (OpenAI's and
// Ollama's shape), with its most likely alternatives.
type TokenLogprob struct {
	Token       string       `json:"token"`
	Logprob     float64      `json:"logprob"`
	Bytes       []int        `json:"bytes,omitempty"`
	TopLogprobs []TopLogprob `json:"top_logprobs,omitempty"`
}

// TopLogprob is an alternative token at one position.
type TopLogprob struct {
	Token   string  `json:"token"`
	Logprob float64 `json:"logprob"`
	Bytes   []int   `json:"bytes,omitempty"`
}

// checkLogprobs checks a delta's log probabilities.
func checkLogprobs(lps []TokenLogprob) error {
	if len(lps) > MaxDeltaLogprobs {
		return protoErr(CodeTooLarge, "", "%d logprobs in a delta, limit %d", len(lps), MaxDeltaLogprobs)
	}
	for _, lp := range lps {
		if err := checkLogprob(lp.Token, lp.Logprob, lp.Bytes); err != nil {
			return err
		}
		if len(lp.TopLogprobs) > MaxTopLogprobs {
			return protoErr(CodeTooLarge, "", "%d top logprobs, limit %d", len(lp.TopLogprobs), MaxTopLogprobs)
		}
		for _, alt := range lp.TopLogprobs {
			if err := checkLogprob(alt.Token, alt.Logprob, alt.Bytes); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkLogprob(token string, logprob float64, bytes []int) error {
	if err := checkText("logprob token", token, MaxLogprobToken); err != nil {
		return err
	}
	if math.IsNaN(logprob) || logprob > 0 {
		return protoErr(CodeBadMessage, "", "logprob %v is not a log probability (≤ 0)", logprob)
	}
	if len(bytes) > MaxLogprobToken {
		return protoErr(CodeTooLarge, "", "a token of %d bytes, limit %d", len(bytes), MaxLogprobToken)
	}
	for _, b := range bytes {
		if b < 0 || b > 255 {
			return protoErr(CodeBadMessage, "", "token byte %d out of range 0..255", b)
		}
	}
	return nil
}

// Features lists what the job needs beyond a plain chat (the Feature
// constants, in KnownFeatures order); a job that needs none runs on any
// worker, a version 2 one included.
func (m *Job) Features() []string {
	var out []string
	if len(m.Format) > 0 {
		out = append(out, FeatureFormat)
	}
	tools := len(m.Tools) > 0
	for _, cm := range m.Messages {
		if cm.Role == "tool" || len(cm.ToolCalls) > 0 || cm.ToolCallID != "" || cm.ToolName != "" {
			tools = true
		}
	}
	if tools {
		out = append(out, FeatureTools)
	}
	if len(m.Options.Stop) > 0 {
		out = append(out, FeatureStop)
	}
	if m.Options.PresencePenalty != nil || m.Options.FrequencyPenalty != nil {
		out = append(out, FeaturePenalties)
	}
	if m.Logprobs || m.TopLogprobs != 0 {
		out = append(out, FeatureLogprobs)
	}
	return out
}

// Supports reports whether a worker that announced features can run a job
// that needs needs.
func Supports(features, needs []string) bool {
	for _, n := range needs {
		if !slices.Contains(features, n) {
			return false
		}
	}
	return true
}

// validateChatSurface checks the version 3 fields of a job.
func (m *Job) validateChatSurface() error {
	if len(m.Format) > 0 {
		c, err := compactJSON("format", m.Format, MaxToolSchema)
		if err != nil {
			return err
		}
		if !bytes.Equal(c, []byte(formatJSONLiteral)) && c[0] != '{' {
			return protoErr(CodeBadMessage, "", `format must be "json" or a JSON schema object`)
		}
		m.Format = c
	}
	if len(m.Tools) > MaxTools {
		return protoErr(CodeTooLarge, "", "%d tools, limit %d", len(m.Tools), MaxTools)
	}
	for i := range m.Tools {
		t := &m.Tools[i]
		if t.Type != ToolTypeFunction {
			return protoErr(CodeBadMessage, "", "tool type %q is not function", truncate(t.Type, 32))
		}
		if err := checkToolName(t.Function.Name); err != nil {
			return err
		}
		if err := checkText("tool description", t.Function.Description, MaxToolDesc); err != nil {
			return err
		}
		if len(t.Function.Parameters) > 0 {
			c, err := compactJSON("tool parameters", t.Function.Parameters, MaxToolSchema)
			if err != nil {
				return err
			}
			if c[0] != '{' {
				return protoErr(CodeBadMessage, "", "tool %s: parameters must be a JSON schema object", t.Function.Name)
			}
			t.Function.Parameters = c
		}
	}
	for _, cm := range m.Messages {
		if len(cm.ToolCalls) > 0 && cm.Role != "assistant" {
			return protoErr(CodeBadMessage, "", "tool_calls on a %s message", truncate(cm.Role, 32))
		}
		if err := checkToolCalls(cm.ToolCalls); err != nil {
			return err
		}
		if err := checkText("tool_call_id", cm.ToolCallID, MaxToolCallID); err != nil {
			return err
		}
		if cm.ToolName != "" {
			if err := checkToolName(cm.ToolName); err != nil {
				return err
			}
		}
	}
	if m.TopLogprobs < 0 || m.TopLogprobs > MaxTopLogprobs || (m.TopLogprobs > 0 && !m.Logprobs) {
		return protoErr(CodeBadMessage, "", "top_logprobs %d: must be 0..%d, and needs logprobs", m.TopLogprobs, MaxTopLogprobs)
	}
	o := m.Options
	if len(o.Stop) > MaxStopStrings {
		return protoErr(CodeBadMessage, "", "%d stop strings, limit %d", len(o.Stop), MaxStopStrings)
	}
	for _, s := range o.Stop {
		if s == "" {
			return protoErr(CodeBadMessage, "", "a stop string is empty")
		}
		if err := checkText("stop", s, MaxStopLength); err != nil {
			return err
		}
	}
	for _, p := range []struct {
		name string
		v    *float64
	}{{"presence_penalty", o.PresencePenalty}, {"frequency_penalty", o.FrequencyPenalty}} {
		if p.v != nil && (math.IsNaN(*p.v) || *p.v < minPenalty || *p.v > maxPenalty) {
			return protoErr(CodeBadMessage, "", "%s %v out of range -2..2", p.name, *p.v)
		}
	}
	return nil
}

// checkToolCalls checks calls of a message or a done.
func checkToolCalls(calls []ToolCall) error {
	if len(calls) > MaxToolCalls {
		return protoErr(CodeTooLarge, "", "%d tool calls, limit %d", len(calls), MaxToolCalls)
	}
	for _, c := range calls {
		if c.Type != ToolTypeFunction {
			return protoErr(CodeBadMessage, "", "tool call type %q is not function", truncate(c.Type, 32))
		}
		if err := checkText("tool call id", c.ID, MaxToolCallID); err != nil {
			return err
		}
		if err := checkToolName(c.Function.Name); err != nil {
			return err
		}
		if err := checkText("tool call arguments", c.Function.Arguments, MaxToolArguments); err != nil {
			return err
		}
		if !IsJSONObject(c.Function.Arguments) {
			return protoErr(CodeBadMessage, "", "tool call %s: arguments must be a JSON object", c.Function.Name)
		}
	}
	return nil
}

// IsJSONObject reports whether s is one JSON object (OpenAI's tool-call
// arguments; Ollama takes only an object).
func IsJSONObject(s string) bool {
	var v map[string]json.RawMessage
	return json.Unmarshal([]byte(s), &v) == nil && v != nil
}

// checkToolName allows OpenAI's function names: 1..64 of a-z, A-Z, 0-9, _ and -.
func checkToolName(name string) error {
	if name == "" || len(name) > MaxToolName {
		return protoErr(CodeBadMessage, "", "a tool name must be 1..%d bytes", MaxToolName)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return protoErr(CodeBadMessage, "", "tool name %q may hold only letters, digits, _ and -", truncate(name, 64))
		}
	}
	return nil
}

// compactJSON checks that raw is one JSON value of at most max bytes and
// returns it compacted, so a frame re-encodes to the same bytes.
func compactJSON(field string, raw json.RawMessage, max int) ([]byte, error) {
	if len(raw) > max {
		return nil, protoErr(CodeTooLarge, "", "%s is %d bytes, limit %d", field, len(raw), max)
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil || b.Len() == 0 || b.String() == "null" {
		return nil, protoErr(CodeBadMessage, "", "%s is not a JSON value", field)
	}
	return b.Bytes(), nil
}

// validateFeatures checks Register.Features.
func validateFeatures(fs []string) error {
	if len(fs) > MaxFeatures {
		return protoErr(CodeTooLarge, "", "%d features, limit %d", len(fs), MaxFeatures)
	}
	for _, f := range fs {
		if f == "" {
			return protoErr(CodeBadMessage, "", "a feature name is empty")
		}
		if err := checkText("feature", f, MaxFeatureName); err != nil {
			return err
		}
	}
	return nil
}

// JobResult is how a job ended, for a handler that answers with more than
// text.
type JobResult struct {
	Usage        Usage
	FinishReason string
	ToolCalls    []ToolCall // sent in done (FeatureTools)
}

// JobOutput is a piece of a job's output: text, and the log
// probabilities of the tokens generated with it (FeatureLogprobs).
type JobOutput struct {
	Text     string
	Logprobs []TokenLogprob
}

// ResultJobHandler is a JobHandler that can also answer with tool calls
// and log probabilities; the Client calls RunJobResult instead of RunJob
// when its handler has it.
type ResultJobHandler interface {
	RunJobResult(ctx context.Context, job Job, emit func(JobOutput) error) (JobResult, error)
}
