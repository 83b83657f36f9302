package network

import (
	"os"
	"reflect"
	"regexp"
	"slices"
	"testing"
)

var jsonBlock = regexp.MustCompile("(?s)```json\n(.*?)```")

// docExamples returns the JSON examples of docs/protocol.md.
func docExamples(tb testing.TB) []string {
	tb.Helper()
	b, err := os.ReadFile("../docs/protocol.md")
	if err != nil {
		tb.Fatalf("docs/protocol.md: %v", err)
	}
	var out []string
	for _, m := range jsonBlock.FindAllSubmatch(b, -1) {
		out = append(out, string(m[1]))
	}
	return out
}

// TestDocExamplesDecode: every example in docs/protocol.md is a valid frame,
// and every message type has one.
func TestDocExamplesDecode(t *testing.T) {
	seen := map[string]bool{}
	for i, ex := range docExamples(t) {
		env, _, err := Decode([]byte(ex))
		if err != nil {
			t.Errorf("example %d does not decode: %v\n%s", i+1, err, ex)
			continue
		}
		seen[env.Type] = true
	}
	for typ := range knownTypes {
		if !seen[typ] {
			t.Errorf("docs/protocol.md has no example of %s", typ)
		}
	}
}

// TestDocExamplesCoverChatSurface: docs/protocol.md shows version 3's chat
// surface: a job needing every feature, a delta with log probabilities, a
// done with tool calls, a register announcing every feature, each in a
// version 3 envelope.
func TestDocExamplesCoverChatSurface(t *testing.T) {
	var job, done, reg, delta bool
	for _, ex := range docExamples(t) {
		env, payload, err := Decode([]byte(ex))
		if err != nil || env.V != ProtocolVersion {
			continue
		}
		switch m := payload.(type) {
		case *Job:
			job = job || reflect.DeepEqual(m.Features(), KnownFeatures)
		case *Delta:
			delta = delta || len(m.Logprobs) > 0
		case *Done:
			done = done || (len(m.ToolCalls) > 0 && m.FinishReason == FinishToolCalls)
		case *Register:
			reg = reg || reflect.DeepEqual(registeredKnown(m.Features), KnownFeatures)
		}
	}
	if !job || !done || !reg || !delta {
		t.Errorf("docs/protocol.md lacks a version 3 example: job with every feature %v, done with tool calls %v, register with every feature %v, delta with logprobs %v", job, done, reg, delta)
	}
}

func registeredKnown(fs []string) []string {
	var out []string
	for _, f := range KnownFeatures {
		if slices.Contains(fs, f) {
			out = append(out, f)
		}
	}
	return out
}
