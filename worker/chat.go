package worker

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/ollama/ollama/api"

	"github.com/cocoon-desktop/cocoon-desktop/network"
	"github.com/cocoon-desktop/cocoon-desktop/runtime/ollama"
)

// The chat surface (protocol version 3): a job's tools, tool-call messages,
// format, stop strings and penalties become Ollama's, and the tool calls the
// model makes go back in done.

// workerFeatures is what this worker announces in register: Ollama
// v0.17.4 runs every feature of the protocol's chat surface.
func workerFeatures() []string {
	return append([]string(nil), network.KnownFeatures...)
}

// runtimeJob builds the runtime's job for model local from a network job.
// The codec has checked the job (JSON schemas and arguments are objects).
func runtimeJob(local string, job network.Job) (ollama.Job, error) {
	oj := ollama.Job{
		Model: local, MaxTokens: job.MaxTokens,
		Temperature: job.Options.Temperature, TopP: job.Options.TopP, Seed: job.Options.Seed,
		Stop: job.Options.Stop, PresencePenalty: job.Options.PresencePenalty, FrequencyPenalty: job.Options.FrequencyPenalty,
		Format: job.Format, Logprobs: job.Logprobs, TopLogprobs: job.TopLogprobs,
	}
	oj.Messages = make([]ollama.Message, len(job.Messages))
	for i, m := range job.Messages {
		om := ollama.Message{Role: m.Role, Content: m.Content, ToolName: m.ToolName, ToolCallID: m.ToolCallID}
		for j, tc := range m.ToolCalls {
			call := api.ToolCall{ID: tc.ID, Function: api.ToolCallFunction{Index: j, Name: tc.Function.Name}}
			if err := json.Unmarshal([]byte(tc.Function.Arguments), &call.Function.Arguments); err != nil {
				return ollama.Job{}, fmt.Errorf("tool call %s: arguments: %w", tc.Function.Name, err)
			}
			om.ToolCalls = append(om.ToolCalls, call)
		}
		oj.Messages[i] = om
	}
	for _, t := range job.Tools {
		tool := api.Tool{Type: t.Type, Function: api.ToolFunction{Name: t.Function.Name, Description: t.Function.Description}}
		if len(t.Function.Parameters) > 0 {
			if err := json.Unmarshal(t.Function.Parameters, &tool.Function.Parameters); err != nil {
				return ollama.Job{}, fmt.Errorf("tool %s: parameters: %w", t.Function.Name, err)
			}
		}
		oj.Tools = append(oj.Tools, tool)
	}
	return oj, nil
}

// wireToolCall is a call the model made, as done carries it.
func wireToolCall(tc api.ToolCall) network.ToolCall {
	return network.ToolCall{
		ID:       tc.ID,
		Type:     network.ToolTypeFunction,
		Function: network.ToolCallFunction{Name: tc.Function.Name, Arguments: tc.Function.Arguments.String()},
	}
}

// wireLogprobs are Ollama's log probabilities as deltas carry them (a
// token's text and bytes cut to the protocol's bound).
func wireLogprobs(l []api.Logprob) []network.TokenLogprob {
	out := make([]network.TokenLogprob, len(l))
	for i, lp := range l {
		t := network.TokenLogprob{Token: cutToken(lp.Token), Logprob: min(lp.Logprob, 0), Bytes: cutBytes(lp.Bytes)}
		for _, alt := range lp.TopLogprobs {
			t.TopLogprobs = append(t.TopLogprobs, network.TopLogprob{Token: cutToken(alt.Token), Logprob: min(alt.Logprob, 0), Bytes: cutBytes(alt.Bytes)})
		}
		if len(t.TopLogprobs) > network.MaxTopLogprobs {
			t.TopLogprobs = t.TopLogprobs[:network.MaxTopLogprobs]
		}
		out[i] = t
	}
	return out
}

func cutToken(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	for len(s) > network.MaxLogprobToken {
		_, n := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-n]
	}
	return s
}

func cutBytes(b []int) []int {
	if len(b) > network.MaxLogprobToken {
		return b[:network.MaxLogprobToken]
	}
	return b
}
