package proxy

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/cocoon-desktop/cocoon-desktop/network"
)

// The chat surface of POST /v1/chat/completions: what the proxy carries to
// the worker (and Ollama), and the refusal, out loud, of everything else.
// A request that asks for JSON or a tool call must not get plain text back
// with status 200, so a field or value the proxy does not carry is a 400
// with OpenAI's error shape naming it (code unsupported_parameter).

// How the proxy treats a request field (ChatField.Support).
const (
	// SupportCarried: the field reaches the model (through the worker and
	// Ollama) with OpenAI's meaning.
	SupportCarried = "carried"
	// SupportPartly: some values are carried; the others are refused
	// (ChatField.Note says which).
	SupportPartly = "partly"
	// SupportAccepted: the field is checked and used by the proxy itself,
	// not sent to the worker.
	SupportAccepted = "accepted"
	// SupportRefused: any value but null is a 400 unsupported_parameter.
	SupportRefused = "refused"
)

// ChatField is one top-level field of a chat completion request and what
// the proxy does with it. Any field not in ChatCompletionFields is refused
// like a SupportRefused one.
type ChatField struct {
	Name    string `json:"name"`
	Support string `json:"support"`
	Note    string `json:"note"`
}

var chatFields = []ChatField{
	{"model", SupportCarried, "required; a model this proxy prices"},
	{"messages", SupportCarried, "roles system, developer (as system), user, assistant (with tool_calls), tool (with tool_call_id); content a string or text parts; name is refused"},
	{"stream", SupportCarried, "server-sent events as OpenAI sends them, tool calls as delta.tool_calls"},
	{"stream_options", SupportPartly, "include_usage; other options are refused"},
	{"max_tokens", SupportCarried, "1..1048576; default the proxy's default_max_tokens"},
	{"max_completion_tokens", SupportCarried, "as max_tokens, which it overrides"},
	{"temperature", SupportCarried, "0..2"},
	{"top_p", SupportCarried, "0..1"},
	{"seed", SupportCarried, "Ollama's seed"},
	{"stop", SupportCarried, "a string or up to 4 strings; the text ends before the first"},
	{"presence_penalty", SupportCarried, "-2..2, Ollama's presence_penalty"},
	{"frequency_penalty", SupportCarried, "-2..2, Ollama's frequency_penalty"},
	{"response_format", SupportPartly, "text, json_object (Ollama's format \"json\"), json_schema (its schema becomes Ollama's format)"},
	{"tools", SupportPartly, "function tools; strict: true is refused (Ollama does not constrain arguments)"},
	{"tool_choice", SupportPartly, "auto, none; required and a named function are refused (Ollama cannot force a call)"},
	{"parallel_tool_calls", SupportPartly, "true only (Ollama may return several calls)"},
	{"n", SupportPartly, "1 only"},
	{"user", SupportAccepted, "the developer's end-user id: in the proxy's log, never sent to a worker"},
	{PriceCapField, SupportAccepted, "Cocoon's price cap (pricecap.go)"},
	{"logprobs", SupportCarried, "Ollama's log probabilities of the output tokens, as OpenAI's choice.logprobs.content"},
	{"top_logprobs", SupportCarried, "0..20 alternatives per token; needs logprobs"},
	{"logit_bias", SupportRefused, "Ollama has no logit bias"},
	{"audio", SupportRefused, "text models only"},
	{"modalities", SupportRefused, "text models only"},
	{"prediction", SupportRefused, "no predicted outputs"},
	{"reasoning_effort", SupportRefused, "not carried"},
	{"service_tier", SupportRefused, "one tier"},
	{"store", SupportRefused, "the proxy stores no completions"},
	{"metadata", SupportRefused, "the proxy stores no completions"},
	{"web_search_options", SupportRefused, "no web search"},
	{"functions", SupportRefused, "deprecated: use tools"},
	{"function_call", SupportRefused, "deprecated: use tool_choice"},
	{"verbosity", SupportRefused, "not carried"},
	{"prompt_cache_key", SupportRefused, "not carried"},
	{"safety_identifier", SupportRefused, "not carried; use user"},
}

// ChatCompletionFields lists every top-level request field of POST
// /v1/chat/completions the proxy knows, with what it does with it (for
// docs/api.md and its test). Any other field is refused.
func ChatCompletionFields() []ChatField { return slices.Clone(chatFields) }

func chatField(name string) (ChatField, bool) {
	for _, f := range chatFields {
		if f.Name == name {
			return f, true
		}
	}
	return ChatField{}, false
}

// unsupported is a badRequest for a field or value the proxy does not carry.
func unsupported(param, format string, args ...any) error {
	return &badRequest{param: param, msg: fmt.Sprintf(format, args...), unsupported: true}
}

func (e *badRequest) errCode() string {
	if e.unsupported {
		return "unsupported_parameter"
	}
	return "invalid_value"
}

// Nested objects and the keys they may have (the others are refused).
var (
	messageKeys      = []string{"role", "content", "tool_calls", "tool_call_id", "refusal"}
	toolCallKeys     = []string{"id", "type", "function"}
	toolCallFuncKeys = []string{"name", "arguments"}
	toolKeys         = []string{"type", "function"}
	toolFuncKeys     = []string{"name", "description", "parameters", "strict"}
	formatKeys       = []string{"type", "json_schema"}
	schemaKeys       = []string{"name", "description", "schema", "strict"}
	streamOptKeys    = []string{"include_usage"}
)

// checkChatFields refuses every field of the request, at the top level and
// in the nested objects the proxy reads, that it does not carry. A known
// field set to null counts as absent. Values are checked by toJob.
func checkChatFields(body []byte) error {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return bad("", "the request body must be a JSON object")
	}
	for _, name := range sortedKeys(top) {
		f, known := chatField(name)
		if !known {
			return unsupported(name, "unknown parameter: %s is not carried by this proxy", truncateStr(name, 64))
		}
		if f.Support == SupportRefused && !isNull(top[name]) {
			return unsupported(name, "%s is not supported: %s", name, f.Note)
		}
	}
	if err := checkKeys(top["stream_options"], "stream_options", streamOptKeys); err != nil {
		return err
	}
	if err := checkKeys(top["response_format"], "response_format", formatKeys); err != nil {
		return err
	}
	var rf map[string]json.RawMessage
	if json.Unmarshal(top["response_format"], &rf) == nil {
		if err := checkKeys(rf["json_schema"], "response_format.json_schema", schemaKeys); err != nil {
			return err
		}
	}
	var msgs []json.RawMessage
	_ = json.Unmarshal(top["messages"], &msgs) // its shape is toJob's to check
	for i, raw := range msgs {
		param := fmt.Sprintf("messages[%d]", i)
		var m map[string]json.RawMessage
		if json.Unmarshal(raw, &m) != nil {
			continue
		}
		if v, ok := m["name"]; ok && !isNull(v) {
			return unsupported(param+".name", "%s.name is not supported: Ollama's chat templates have no participant names", param)
		}
		delete(m, "name")
		if v, ok := m["refusal"]; ok && !isNull(v) && string(bytes.TrimSpace(v)) != `""` {
			return unsupported(param+".refusal", "%s.refusal is not supported", param)
		}
		if err := checkObjectKeys(m, param, messageKeys); err != nil {
			return err
		}
		var calls []json.RawMessage
		_ = json.Unmarshal(m["tool_calls"], &calls)
		for j, c := range calls {
			cp := fmt.Sprintf("%s.tool_calls[%d]", param, j)
			if err := checkKeys(c, cp, toolCallKeys); err != nil {
				return err
			}
			var cm map[string]json.RawMessage
			if json.Unmarshal(c, &cm) == nil {
				if err := checkKeys(cm["function"], cp+".function", toolCallFuncKeys); err != nil {
					return err
				}
			}
		}
	}
	var tools []json.RawMessage
	_ = json.Unmarshal(top["tools"], &tools)
	for i, t := range tools {
		tp := fmt.Sprintf("tools[%d]", i)
		if err := checkKeys(t, tp, toolKeys); err != nil {
			return err
		}
		var tm map[string]json.RawMessage
		if json.Unmarshal(t, &tm) == nil {
			if err := checkKeys(tm["function"], tp+".function", toolFuncKeys); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkKeys refuses the keys of a JSON object outside allowed (raw that is
// absent, null or not an object is left to the value checks).
func checkKeys(raw json.RawMessage, param string, allowed []string) error {
	var m map[string]json.RawMessage
	if len(raw) == 0 || json.Unmarshal(raw, &m) != nil {
		return nil
	}
	return checkObjectKeys(m, param, allowed)
}

func checkObjectKeys(m map[string]json.RawMessage, param string, allowed []string) error {
	for _, k := range sortedKeys(m) {
		if !slices.Contains(allowed, k) && !isNull(m[k]) {
			return unsupported(param+"."+truncateStr(k, 64), "%s.%s is not supported by this proxy", param, truncateStr(k, 64))
		}
	}
	return nil
}

func sortedKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func isNull(raw json.RawMessage) bool {
	return string(bytes.TrimSpace(raw)) == "null"
}

// chatSurface are the request fields of the chat surface beyond a plain chat.
type chatSurface struct {
	Stop              json.RawMessage   `json:"stop"`
	ResponseFormat    *responseFormatIn `json:"response_format"`
	Tools             []toolIn          `json:"tools"`
	ToolChoice        json.RawMessage   `json:"tool_choice"`
	ParallelToolCalls *bool             `json:"parallel_tool_calls"`
	PresencePenalty   *float64          `json:"presence_penalty"`
	FrequencyPenalty  *float64          `json:"frequency_penalty"`
	Logprobs          *bool             `json:"logprobs"`
	TopLogprobs       *int              `json:"top_logprobs"`
	User              *string           `json:"user"`
}

type responseFormatIn struct {
	Type       string `json:"type"`
	JSONSchema *struct {
		Name   string          `json:"name"`
		Schema json.RawMessage `json:"schema"`
		Strict *bool           `json:"strict"`
	} `json:"json_schema"`
}

type toolIn struct {
	Type     string `json:"type"`
	Function struct {
		Name        string          `json:"name"`
		Description string          `json:"description"`
		Parameters  json.RawMessage `json:"parameters"`
		Strict      *bool           `json:"strict"`
	} `json:"function"`
}

type toolCallIn struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

// chatMessageSurface are a message's tool-call fields.
type chatMessageSurface struct {
	ToolCalls  []toolCallIn `json:"tool_calls"`
	ToolCallID *string      `json:"tool_call_id"`
}

// toWire adds message i's tool-call fields to cm; earlier are the messages
// before it, where a tool message's call must be.
func (m *chatMessageIn) toWire(i int, cm *network.ChatMessage, earlier []network.ChatMessage) error {
	param := fmt.Sprintf("messages[%d]", i)
	if len(m.ToolCalls) > 0 && cm.Role != "assistant" {
		return bad(param+".tool_calls", "only assistant messages have tool_calls")
	}
	if len(m.ToolCalls) > network.MaxToolCalls {
		return bad(param+".tool_calls", "at most %d tool calls", network.MaxToolCalls)
	}
	for j, tc := range m.ToolCalls {
		cp := fmt.Sprintf("%s.tool_calls[%d]", param, j)
		if tc.Type != network.ToolTypeFunction {
			return unsupported(cp+".type", "only function tool calls are supported, not %q", truncateStr(tc.Type, 32))
		}
		if tc.ID == "" || len(tc.ID) > network.MaxToolCallID {
			return bad(cp+".id", "%s.id must be 1..%d bytes", cp, network.MaxToolCallID)
		}
		if err := checkFunctionName(cp+".function.name", tc.Function.Name); err != nil {
			return err
		}
		if !network.IsJSONObject(tc.Function.Arguments) {
			return bad(cp+".function.arguments", "%s.function.arguments must be a JSON object in a string", cp)
		}
		cm.ToolCalls = append(cm.ToolCalls, network.ToolCall{ID: tc.ID, Type: network.ToolTypeFunction,
			Function: network.ToolCallFunction{Name: tc.Function.Name, Arguments: tc.Function.Arguments}})
	}
	switch {
	case cm.Role == "tool":
		if m.ToolCallID == nil || *m.ToolCallID == "" {
			return bad(param+".tool_call_id", "a tool message needs the tool_call_id it answers")
		}
		cm.ToolCallID = *m.ToolCallID
		// Ollama's templates name the tool a result is from; OpenAI's
		// message names the call: find it, last first (as Ollama does).
		for k := len(earlier) - 1; k >= 0 && cm.ToolName == ""; k-- {
			for _, c := range earlier[k].ToolCalls {
				if c.ID == cm.ToolCallID {
					cm.ToolName = c.Function.Name
				}
			}
		}
		if cm.ToolName == "" {
			return bad(param+".tool_call_id", "tool_call_id %q answers no tool call of an earlier assistant message", truncateStr(cm.ToolCallID, 64))
		}
	case m.ToolCallID != nil:
		return bad(param+".tool_call_id", "only tool messages have a tool_call_id")
	}
	return nil
}

func checkFunctionName(param, name string) error {
	if name == "" || len(name) > network.MaxToolName {
		return bad(param, "%s must be 1..%d characters", param, network.MaxToolName)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return bad(param, "%s may hold only letters, digits, _ and -", param)
		}
	}
	return nil
}

// toJob checks the chat surface's values and puts them in the job.
func (s *chatSurface) toJob(job *network.Job) error {
	if len(s.Stop) > 0 && !isNull(s.Stop) {
		stop, err := parseStop(s.Stop)
		if err != nil {
			return err
		}
		job.Options.Stop = stop
	}
	for _, p := range []struct {
		name string
		v    *float64
		dst  **float64
	}{{"presence_penalty", s.PresencePenalty, &job.Options.PresencePenalty}, {"frequency_penalty", s.FrequencyPenalty, &job.Options.FrequencyPenalty}} {
		if p.v == nil {
			continue
		}
		if math.IsNaN(*p.v) || *p.v < -2 || *p.v > 2 {
			return bad(p.name, "%s must be -2..2", p.name)
		}
		*p.dst = p.v
	}
	if s.Logprobs != nil && *s.Logprobs {
		job.Logprobs = true
	}
	if s.TopLogprobs != nil {
		if *s.TopLogprobs < 0 || *s.TopLogprobs > network.MaxTopLogprobs {
			return bad("top_logprobs", "top_logprobs must be 0..%d", network.MaxTopLogprobs)
		}
		if *s.TopLogprobs > 0 && !job.Logprobs {
			return bad("top_logprobs", "top_logprobs needs logprobs: true")
		}
		job.TopLogprobs = *s.TopLogprobs
	}
	if rf := s.ResponseFormat; rf != nil {
		switch rf.Type {
		case "text":
		case "json_object":
			job.Format = json.RawMessage(`"json"`)
		case "json_schema":
			if rf.JSONSchema == nil || len(rf.JSONSchema.Schema) == 0 || isNull(rf.JSONSchema.Schema) {
				return bad("response_format.json_schema.schema", "response_format json_schema needs json_schema.schema")
			}
			if err := jsonObject("response_format.json_schema.schema", rf.JSONSchema.Schema, network.MaxToolSchema); err != nil {
				return err
			}
			job.Format = rf.JSONSchema.Schema
		default:
			return unsupported("response_format.type", "response_format type %q is not supported (text, json_object, json_schema)", truncateStr(rf.Type, 32))
		}
	}
	if len(s.Tools) > network.MaxTools {
		return bad("tools", "at most %d tools", network.MaxTools)
	}
	for i, t := range s.Tools {
		tp := fmt.Sprintf("tools[%d]", i)
		if t.Type != network.ToolTypeFunction {
			return unsupported(tp+".type", "only function tools are supported, not %q", truncateStr(t.Type, 32))
		}
		if t.Function.Strict != nil && *t.Function.Strict {
			return unsupported(tp+".function.strict", "strict tools are not supported: Ollama does not constrain tool arguments to the schema")
		}
		if err := checkFunctionName(tp+".function.name", t.Function.Name); err != nil {
			return err
		}
		if len(t.Function.Description) > network.MaxToolDesc {
			return bad(tp+".function.description", "at most %d bytes", network.MaxToolDesc)
		}
		tool := network.Tool{Type: network.ToolTypeFunction, Function: network.ToolFunction{Name: t.Function.Name, Description: t.Function.Description}}
		if len(t.Function.Parameters) > 0 && !isNull(t.Function.Parameters) {
			if err := jsonObject(tp+".function.parameters", t.Function.Parameters, network.MaxToolSchema); err != nil {
				return err
			}
			tool.Function.Parameters = t.Function.Parameters
		}
		job.Tools = append(job.Tools, tool)
	}
	if s.ParallelToolCalls != nil && !*s.ParallelToolCalls {
		return unsupported("parallel_tool_calls", "parallel_tool_calls false is not supported: Ollama may answer with several calls")
	}
	if len(s.ToolChoice) > 0 && !isNull(s.ToolChoice) {
		var choice string
		if json.Unmarshal(s.ToolChoice, &choice) != nil {
			return unsupported("tool_choice", "tool_choice naming a function is not supported: Ollama cannot force a call (auto, none)")
		}
		switch choice {
		case "auto":
		case "none":
			job.Tools = nil // the model gets no tools, so it calls none
		case "required":
			return unsupported("tool_choice", "tool_choice required is not supported: Ollama cannot force a call (auto, none)")
		default:
			return bad("tool_choice", "tool_choice must be auto or none")
		}
	}
	// The job as the worker gets it must pass the codec: check it now, so
	// a bad request is the client's 400, not a failed send.
	check := *job
	check.JobID, check.Deadline = "check", 1
	check.Format = bytes.Clone(job.Format)
	check.Tools = slices.Clone(job.Tools)
	if err := check.Validate(); err != nil {
		var pe *network.ProtocolError
		msg := err.Error()
		if errors.As(err, &pe) {
			msg = pe.Message
		}
		return bad("", "the request cannot be carried: %s", msg)
	}
	return nil
}

// parseStop reads OpenAI's stop: a string or an array of up to 4 strings.
func parseStop(raw json.RawMessage) ([]string, error) {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		if one == "" || len(one) > network.MaxStopLength {
			return nil, bad("stop", "a stop string must be 1..%d bytes", network.MaxStopLength)
		}
		return []string{one}, nil
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, bad("stop", "stop must be a string or an array of strings")
	}
	if len(list) > network.MaxStopStrings {
		return nil, bad("stop", "at most %d stop strings", network.MaxStopStrings)
	}
	for _, s := range list {
		if s == "" || len(s) > network.MaxStopLength {
			return nil, bad("stop", "each stop string must be 1..%d bytes", network.MaxStopLength)
		}
	}
	return list, nil
}

// jsonObject checks that raw is a JSON object of at most max bytes.
func jsonObject(param string, raw json.RawMessage, max int) error {
	if len(raw) > max {
		return bad(param, "%s is over %d bytes", param, max)
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil || m == nil {
		return bad(param, "%s must be a JSON object", param)
	}
	return nil
}

// newToolCallID names a tool call the worker left unnamed, as OpenAI does.
func newToolCallID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return "call_" + hex.EncodeToString(b)
}
