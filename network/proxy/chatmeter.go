package proxy

import (
	"fmt"
	"log/slog"

	"github.com/cocoon-desktop/cocoon-desktop/network"
	"github.com/cocoon-desktop/cocoon-desktop/network/proxy/metering"
)

// Metering of the chat surface: tool definitions and tool-call messages
// are part of the prompt as the model's chat template renders them, and the
// tool calls a worker answers with are completion, within the job's byte
// bound.

// meteringChat is a job's conversation and tools as the counter renders them.
func meteringChat(job *network.Job) ([]metering.Message, []metering.Tool) {
	msgs := make([]metering.Message, len(job.Messages))
	for i, m := range job.Messages {
		mm := metering.Message{Role: m.Role, Content: m.Content, ToolName: m.ToolName}
		for _, tc := range m.ToolCalls {
			mm.ToolCalls = append(mm.ToolCalls, metering.ToolCall{Name: tc.Function.Name, Arguments: tc.Function.Arguments})
		}
		msgs[i] = mm
	}
	var tools []metering.Tool
	for _, t := range job.Tools {
		tools = append(tools, metering.Tool{Name: t.Function.Name, Description: t.Function.Description, Parameters: t.Function.Parameters})
	}
	return msgs, tools
}

// chatSurfaceBytes bounds the prompt tokens of a job's tools and tool calls
// for a model without a counter: a token is at least a byte.
func chatSurfaceBytes(job *network.Job) int64 {
	var n int64
	for _, t := range job.Tools {
		n += int64(len(t.Function.Name)+len(t.Function.Description)+len(t.Function.Parameters)) + uncountedMessageTokens
	}
	for _, m := range job.Messages {
		n += int64(len(m.ToolName))
		for _, tc := range m.ToolCalls {
			n += int64(len(tc.Function.Name)+len(tc.Function.Arguments)) + uncountedMessageTokens
		}
	}
	return n
}

// completionText is what the proxy counts as the job's completion: the text
// relayed and the tool calls the worker answered with.
func (c *completion) completionText() string {
	if len(c.toolCalls) == 0 {
		return c.text.String()
	}
	calls := make([]metering.ToolCall, len(c.toolCalls))
	for i, tc := range c.toolCalls {
		calls[i] = metering.ToolCall{Name: tc.Function.Name, Arguments: tc.Function.Arguments}
	}
	return c.text.String() + metering.ToolCallsText(calls)
}

// takeToolCalls keeps the tool calls of a done for the answer, naming the
// unnamed ones. Calls that take the job past its byte bound are refused as
// an oversized stream is: the worker takes a strike and the client gets
// what was relayed, with finish_reason "length". It reports whether the
// job goes on to be completed.
func (p *Proxy) takeToolCalls(c *completion, a *attempt, d network.Done, log *slog.Logger) bool {
	if len(d.ToolCalls) == 0 {
		return true
	}
	if !c.offeredTools {
		// Ollama parses calls only of the tools it was given: these are
		// not the model's. The text is answered; the calls are not.
		log.Info("worker answered with tool calls to a job that offered no tools: dropped", "tool_calls", len(d.ToolCalls))
		return true
	}
	size := int64(c.text.Len())
	for _, tc := range d.ToolCalls {
		size += int64(len(tc.Function.Name) + len(tc.Function.Arguments))
	}
	if c.meter.maxBytes > 0 && size > c.meter.maxBytes {
		log.Info("tool calls over the job's byte bound", "bytes", size, "bound", c.meter.maxBytes)
		p.strike(a.w, a.jobID, "tool calls over the byte bound")
		p.settleRelayed(c, a, log, true)
		return false
	}
	c.toolCalls = make([]network.ToolCall, len(d.ToolCalls))
	for i, tc := range d.ToolCalls {
		if tc.ID == "" {
			tc.ID = newToolCallID()
		}
		c.toolCalls[i] = tc
	}
	return true
}

// setMaxLogprobs bounds the log probabilities an attempt may relay: none
// unless the job asked, then one per max_tokens token and maxBytes of them
// in all (each token carries up to 20 alternatives: far more bytes than
// its text).
func (a *attempt) setMaxLogprobs(job network.Job, maxBytes int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.maxLogprobs, a.maxLogprobBytes = 0, 0
	if job.Logprobs {
		a.maxLogprobs, a.maxLogprobBytes = int64(job.MaxTokens), maxBytes
	}
}

// boundLogprobsLocked counts a delta's log probabilities (a.mu held) and
// says why they are over the attempt's bound ("" when they are not).
func (a *attempt) boundLogprobsLocked(e event) string {
	lps := e.delta.Logprobs
	if len(lps) == 0 {
		return ""
	}
	a.logprobs += int64(len(lps))
	for _, lp := range lps {
		a.logprobBytes += logprobSize(lp.Token, lp.Bytes)
		for _, alt := range lp.TopLogprobs {
			a.logprobBytes += logprobSize(alt.Token, alt.Bytes)
		}
	}
	switch {
	case a.maxLogprobs == 0:
		return "log probabilities the job did not ask for"
	case a.logprobs > a.maxLogprobs:
		return fmt.Sprintf("more than %d tokens of log probabilities", a.maxLogprobs)
	case a.logprobBytes > a.maxLogprobBytes:
		return fmt.Sprintf("more than %d bytes of log probabilities", a.maxLogprobBytes)
	}
	return ""
}

// logprobSize is about what one entry costs in memory and in the answer.
func logprobSize(token string, bytes []int) int64 {
	return int64(len(token)+4*len(bytes)) + 32
}
