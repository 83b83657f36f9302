package network

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// chatJob is a version 3 job using every part of the chat surface.
func chatJob() *Job {
	return &Job{JobID: "job-2", Model: "llama3.2:1b", Deadline: 1_764_000_060_000, MaxTokens: 256,
		Messages: []ChatMessage{
			{Role: "user", Content: "Weather in Paris?"},
			{Role: "assistant", ToolCalls: []ToolCall{{ID: "call_1", Type: "function", Function: ToolCallFunction{Name: "get_weather", Arguments: `{"city":"Paris"}`}}}},
			{Role: "tool", Content: `{"temp":21}`, ToolCallID: "call_1", ToolName: "get_weather"},
		},
		Options: SamplingOptions{Temperature: ptr(0.7), TopP: ptr(0.9), Seed: ptr(42), Stop: []string{"\n\n"},
			PresencePenalty: ptr(0.5), FrequencyPenalty: ptr(-0.5)},
		Format: json.RawMessage(`{"type":"object"}`),
		Tools: []Tool{{Type: "function", Function: ToolFunction{Name: "get_weather", Description: "The weather",
			Parameters: json.RawMessage(`{"type":"object","properties":{"city":{"type":"string"}}}`)}}},
		Logprobs: true, TopLogprobs: 2,
	}
}

// TestJobFeatures: a job needs exactly the features of the fields it uses;
// a plain job needs none (it goes to a version 2 worker too).
func TestJobFeatures(t *testing.T) {
	plain := validMessages()[TypeJob].(*Job)
	tests := []struct {
		name string
		edit func(*Job)
		want []string
	}{
		{"plain", func(*Job) {}, nil},
		{"format", func(j *Job) { j.Format = json.RawMessage(`"json"`) }, []string{FeatureFormat}},
		{"tools", func(j *Job) { j.Tools = chatJob().Tools }, []string{FeatureTools}},
		{"a tool message alone", func(j *Job) { j.Messages = chatJob().Messages }, []string{FeatureTools}},
		{"stop", func(j *Job) { j.Options.Stop = []string{"x"} }, []string{FeatureStop}},
		{"a penalty", func(j *Job) { j.Options.FrequencyPenalty = ptr(1.0) }, []string{FeaturePenalties}},
		{"logprobs", func(j *Job) { j.Logprobs = true }, []string{FeatureLogprobs}},
		{"everything", func(j *Job) { *j = *chatJob() }, KnownFeatures},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			j := *plain
			tc.edit(&j)
			if got := j.Features(); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("features %v, want %v", got, tc.want)
			}
			if !Supports(KnownFeatures, j.Features()) || (len(tc.want) > 0 && Supports(nil, j.Features())) {
				t.Error("Supports disagrees with Features")
			}
		})
	}
}

// TestChatSurfaceValidate: the codec's limits on the version 3 fields.
func TestChatSurfaceValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Job)
		code string // "" valid
	}{
		{"every field", func(*Job) {}, ""},
		{"format json", func(j *Job) { j.Format = json.RawMessage(` "json" `) }, ""},
		{"format another string", func(j *Job) { j.Format = json.RawMessage(`"yaml"`) }, CodeBadMessage},
		{"format an array", func(j *Job) { j.Format = json.RawMessage(`[1]`) }, CodeBadMessage},
		{"format null", func(j *Job) { j.Format = json.RawMessage(`null`) }, CodeBadMessage},
		{"format too large", func(j *Job) {
			j.Format = json.RawMessage(`{"d":"` + strings.Repeat("a", MaxToolSchema) + `"}`)
		}, CodeTooLarge},
		{"tool of another type", func(j *Job) { j.Tools[0].Type = "custom" }, CodeBadMessage},
		{"tool name with a space", func(j *Job) { j.Tools[0].Function.Name = "get weather" }, CodeBadMessage},
		{"tool parameters not an object", func(j *Job) { j.Tools[0].Function.Parameters = json.RawMessage(`"x"`) }, CodeBadMessage},
		{"too many tools", func(j *Job) { j.Tools = make([]Tool, MaxTools+1) }, CodeTooLarge},
		{"arguments not an object", func(j *Job) { j.Messages[1].ToolCalls[0].Function.Arguments = `[1]` }, CodeBadMessage},
		{"tool calls on a user message", func(j *Job) { j.Messages[0].ToolCalls = j.Messages[1].ToolCalls }, CodeBadMessage},
		{"unknown role", func(j *Job) { j.Messages[2].Role = "function" }, CodeBadMessage},
		{"five stop strings", func(j *Job) { j.Options.Stop = []string{"a", "b", "c", "d", "e"} }, CodeBadMessage},
		{"empty stop string", func(j *Job) { j.Options.Stop = []string{""} }, CodeBadMessage},
		{"penalty out of range", func(j *Job) { j.Options.PresencePenalty = ptr(2.5) }, CodeBadMessage},
		{"top_logprobs without logprobs", func(j *Job) { j.Logprobs = false }, CodeBadMessage},
		{"21 top_logprobs", func(j *Job) { j.TopLogprobs = 21 }, CodeBadMessage},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			j := chatJob()
			tc.edit(j)
			err := j.Validate()
			var pe *ProtocolError
			switch {
			case tc.code == "" && err != nil:
				t.Fatalf("valid job refused: %v", err)
			case tc.code != "" && (!errors.As(err, &pe) || pe.Code != tc.code):
				t.Fatalf("err = %v, want code %s", err, tc.code)
			}
		})
	}
	// A delta's log probabilities are bounded.
	lp := TokenLogprob{Token: "a", Logprob: -1, Bytes: []int{97}, TopLogprobs: []TopLogprob{{Token: "b", Logprob: -2}}}
	for _, tc := range []struct {
		name string
		edit func(*Delta)
		code string
	}{
		{"valid", func(*Delta) {}, ""},
		{"positive logprob", func(d *Delta) { d.Logprobs[0].Logprob = 0.5 }, CodeBadMessage},
		{"byte out of range", func(d *Delta) { d.Logprobs[0].Bytes = []int{256} }, CodeBadMessage},
		{"too many in a delta", func(d *Delta) {
			for range MaxDeltaLogprobs {
				d.Logprobs = append(d.Logprobs, lp)
			}
		}, CodeTooLarge},
		{"too many alternatives", func(d *Delta) { d.Logprobs[0].TopLogprobs = make([]TopLogprob, MaxTopLogprobs+1) }, CodeTooLarge},
		{"long token", func(d *Delta) { d.Logprobs[0].Token = strings.Repeat("a", MaxLogprobToken+1) }, CodeTooLarge},
	} {
		t.Run("delta "+tc.name, func(t *testing.T) {
			d := &Delta{JobID: "j", Text: "a", Logprobs: []TokenLogprob{lp}}
			d.Logprobs[0].TopLogprobs = append([]TopLogprob(nil), lp.TopLogprobs...)
			tc.edit(d)
			err := d.Validate()
			var pe *ProtocolError
			if tc.code == "" && err != nil || tc.code != "" && (!errors.As(err, &pe) || pe.Code != tc.code) {
				t.Fatalf("err = %v, want %q", err, tc.code)
			}
		})
	}
	// Done's tool calls are checked the same way.
	d := &Done{JobID: "j", FinishReason: FinishToolCalls, ToolCalls: []ToolCall{{Type: "function", Function: ToolCallFunction{Name: "f", Arguments: "{"}}}}
	if err := d.Validate(); err == nil {
		t.Error("done with broken arguments accepted")
	}
}

// TestVersionTwoFrames: a version 2 peer's frames decode, and the proxy's
// answers to it are in version 2.
func TestVersionTwoFrames(t *testing.T) {
	for typ, p := range validMessages() {
		b, err := EncodeVersion(MinProtocolVersion, typ, "m1", p)
		if err != nil {
			t.Fatalf("encode %s in version 2: %v", typ, err)
		}
		env, _, err := Decode(b)
		if err != nil || env.V != MinProtocolVersion {
			t.Errorf("%s in version 2: v=%d, %v", typ, env.V, err)
		}
	}
	if _, err := EncodeVersion(1, TypePing, "", &Ping{}); err == nil {
		t.Error("encoded in version 1")
	}
}

// chatSurfaceFrames are fuzz seeds of the version 3 messages.
func chatSurfaceFrames(tb testing.TB) [][]byte {
	tb.Helper()
	var out [][]byte
	for typ, p := range map[string]Validator{
		TypeJob:      chatJob(),
		TypeDone:     &Done{JobID: "job-2", FinishReason: FinishToolCalls, ToolCalls: chatJob().Messages[1].ToolCalls},
		TypeRegister: &Register{CoefficientMilli: 1000, MaxConcurrent: 1, Features: KnownFeatures},
		TypeDelta: &Delta{JobID: "job-2", Text: "Hi", Logprobs: []TokenLogprob{{Token: "Hi", Logprob: -0.5, Bytes: []int{72, 105},
			TopLogprobs: []TopLogprob{{Token: "Hi", Logprob: -0.5}, {Token: "Ho", Logprob: -2}}}}},
	} {
		b, err := Encode(typ, "c1", p)
		if err != nil {
			tb.Fatalf("encode %s: %v", typ, err)
		}
		out = append(out, b)
	}
	return out
}
