package proxy_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"

	"github.com/cocoon-desktop/cocoon-desktop/network"
	"github.com/cocoon-desktop/cocoon-desktop/network/proxy"
	"github.com/cocoon-desktop/cocoon-desktop/network/proxy/metering"
	"github.com/cocoon-desktop/cocoon-desktop/network/proxy/proxytest"
)

// weatherTool is a function tool as an app developer declares it.
func weatherTool() openai.ChatCompletionToolUnionParam {
	return openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
		Name:        "get_weather",
		Description: openai.String("The weather in a city"),
		Parameters: shared.FunctionParameters{
			"type":       "object",
			"properties": map[string]any{"city": map[string]any{"type": "string"}},
			"required":   []string{"city"},
		},
	})
}

// TestUnsupportedParametersRefused: every field or value the proxy does not
// carry is a 400 in OpenAI's shape naming it (param, unsupported_parameter),
// sent with the official client, and no job reaches a worker.
func TestUnsupportedParametersRefused(t *testing.T) {
	tp := startProxy(t, "", nil)
	w := tp.worker(t, proxytest.Options{Features: network.KnownFeatures})
	tests := []struct {
		name  string
		opts  []option.RequestOption
		edit  func(*openai.ChatCompletionNewParams)
		param string
	}{
		{"n > 1", nil, func(p *openai.ChatCompletionNewParams) { p.N = openai.Int(2) }, "n"},
		{"logit_bias", nil, func(p *openai.ChatCompletionNewParams) { p.LogitBias = map[string]int64{"42": 5} }, "logit_bias"},
		{"functions (deprecated)", []option.RequestOption{option.WithJSONSet("functions", []any{map[string]any{"name": "f"}})}, nil, "functions"},
		{"web_search_options", []option.RequestOption{option.WithJSONSet("web_search_options", map[string]any{})}, nil, "web_search_options"},
		{"modalities", nil, func(p *openai.ChatCompletionNewParams) { p.Modalities = []string{"text", "audio"} }, "modalities"},
		{"audio", []option.RequestOption{option.WithJSONSet("audio", map[string]any{"voice": "alloy", "format": "mp3"})}, nil, "audio"},
		{"store", nil, func(p *openai.ChatCompletionNewParams) { p.Store = openai.Bool(true) }, "store"},
		{"metadata", nil, func(p *openai.ChatCompletionNewParams) { p.Metadata = shared.Metadata{"a": "b"} }, "metadata"},
		{"service_tier", nil, func(p *openai.ChatCompletionNewParams) { p.ServiceTier = openai.ChatCompletionNewParamsServiceTierFlex }, "service_tier"},
		{"reasoning_effort", nil, func(p *openai.ChatCompletionNewParams) { p.ReasoningEffort = shared.ReasoningEffortLow }, "reasoning_effort"},
		{"unknown top-level field", []option.RequestOption{option.WithJSONSet("frobnicate", true)}, nil, "frobnicate"},
		{"parallel_tool_calls false", nil, func(p *openai.ChatCompletionNewParams) {
			p.Tools = []openai.ChatCompletionToolUnionParam{weatherTool()}
			p.ParallelToolCalls = openai.Bool(false)
		}, "parallel_tool_calls"},
		{"tool_choice required", nil, func(p *openai.ChatCompletionNewParams) {
			p.Tools = []openai.ChatCompletionToolUnionParam{weatherTool()}
			p.ToolChoice = openai.ChatCompletionToolChoiceOptionUnionParam{OfAuto: openai.String("required")}
		}, "tool_choice"},
		{"tool_choice naming a function", nil, func(p *openai.ChatCompletionNewParams) {
			p.Tools = []openai.ChatCompletionToolUnionParam{weatherTool()}
			p.ToolChoice = openai.ToolChoiceOptionFunctionToolChoice(openai.ChatCompletionNamedToolChoiceFunctionParam{Name: "get_weather"})
		}, "tool_choice"},
		{"strict tool", nil, func(p *openai.ChatCompletionNewParams) {
			p.Tools = []openai.ChatCompletionToolUnionParam{openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{Name: "f", Strict: openai.Bool(true)})}
		}, "tools[0].function.strict"},
		{"custom tool", nil, func(p *openai.ChatCompletionNewParams) {
			p.Tools = []openai.ChatCompletionToolUnionParam{openai.ChatCompletionCustomTool(openai.ChatCompletionCustomToolCustomParam{Name: "grammar"})}
		}, "tools[0].custom"},
		{"message name", nil, func(p *openai.ChatCompletionNewParams) {
			p.Messages = []openai.ChatCompletionMessageParamUnion{{OfUser: &openai.ChatCompletionUserMessageParam{
				Name: openai.String("alice"), Content: openai.ChatCompletionUserMessageParamContentUnion{OfString: openai.String("hi")}}}}
		}, "messages[0].name"},
		{"stream_options obfuscation", nil, func(p *openai.ChatCompletionNewParams) {
			p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeObfuscation: openai.Bool(true)}
		}, "stream_options.include_obfuscation"},
		{"response_format of another type", []option.RequestOption{option.WithJSONSet("response_format", map[string]any{"type": "grammar"})}, nil, "response_format.type"},
		{"prediction", nil, func(p *openai.ChatCompletionNewParams) {
			p.Prediction = openai.ChatCompletionPredictionContentParam{Content: openai.ChatCompletionPredictionContentContentUnionParam{OfString: openai.String("x")}}
		}, "prediction"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := chatParams()
			if tt.edit != nil {
				tt.edit(&p)
			}
			_, err := tp.client().Chat.Completions.New(testCtx(t), p, tt.opts...)
			var apiErr *openai.Error
			if !errors.As(err, &apiErr) {
				t.Fatalf("err = %v, want a 400", err)
			}
			if apiErr.StatusCode != http.StatusBadRequest || apiErr.Code != "unsupported_parameter" || apiErr.Param != tt.param ||
				apiErr.Type != "invalid_request_error" || apiErr.Message == "" {
				t.Errorf("got %d %s param %q type %s (%s), want 400 unsupported_parameter naming %q",
					apiErr.StatusCode, apiErr.Code, apiErr.Param, apiErr.Type, apiErr.Message, tt.param)
			}
		})
	}
	if n := len(w.Jobs()); n != 0 {
		t.Errorf("%d refused requests reached the worker", n)
	}
	// Every refused top-level field above is in the table as refused or
	// partly supported, and the table names no field twice.
	seen := map[string]bool{}
	for _, f := range proxy.ChatCompletionFields() {
		if seen[f.Name] {
			t.Errorf("field %s listed twice", f.Name)
		}
		seen[f.Name] = true
		if f.Note == "" || !slices.Contains([]string{proxy.SupportCarried, proxy.SupportPartly, proxy.SupportAccepted, proxy.SupportRefused}, f.Support) {
			t.Errorf("field %+v: unknown support or no note", f)
		}
	}
}

// TestChatSurfaceCarriedToWorker: stop, response_format, tools, penalties,
// top_p and seed reach the worker's job as sent; user does not (it is the
// developer's end-user id), and tool_choice none sends no tools.
func TestChatSurfaceCarriedToWorker(t *testing.T) {
	tp := startProxy(t, "", nil)
	w := tp.worker(t, proxytest.Options{Features: network.KnownFeatures})
	schema := map[string]any{"type": "object", "properties": map[string]any{"n": map[string]any{"type": "integer"}}}
	tests := []struct {
		name  string
		edit  func(*openai.ChatCompletionNewParams)
		check func(t *testing.T, j network.Job)
	}{
		{"stop string", func(p *openai.ChatCompletionNewParams) {
			p.Stop = openai.ChatCompletionNewParamsStopUnion{OfString: openai.String("\n\n")}
		}, func(t *testing.T, j network.Job) {
			if !reflect.DeepEqual(j.Options.Stop, []string{"\n\n"}) {
				t.Errorf("stop %q", j.Options.Stop)
			}
		}},
		{"stop list", func(p *openai.ChatCompletionNewParams) {
			p.Stop = openai.ChatCompletionNewParamsStopUnion{OfStringArray: []string{"END", "###"}}
		}, func(t *testing.T, j network.Job) {
			if !reflect.DeepEqual(j.Options.Stop, []string{"END", "###"}) {
				t.Errorf("stop %q", j.Options.Stop)
			}
		}},
		{"penalties, top_p, seed", func(p *openai.ChatCompletionNewParams) {
			p.PresencePenalty, p.FrequencyPenalty = openai.Float(0.5), openai.Float(-1.25)
			p.TopP, p.Seed = openai.Float(0.3), openai.Int(1234)
		}, func(t *testing.T, j network.Job) {
			o := j.Options
			if o.PresencePenalty == nil || *o.PresencePenalty != 0.5 || o.FrequencyPenalty == nil || *o.FrequencyPenalty != -1.25 ||
				o.TopP == nil || *o.TopP != 0.3 || o.Seed == nil || *o.Seed != 1234 {
				t.Errorf("options %+v", o)
			}
		}},
		{"json_object", func(p *openai.ChatCompletionNewParams) {
			p.ResponseFormat = openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONObject: &shared.ResponseFormatJSONObjectParam{}}
		}, func(t *testing.T, j network.Job) {
			if string(j.Format) != `"json"` {
				t.Errorf("format %s", j.Format)
			}
		}},
		{"json_schema", func(p *openai.ChatCompletionNewParams) {
			p.ResponseFormat = openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONSchema: &shared.ResponseFormatJSONSchemaParam{
				JSONSchema: shared.ResponseFormatJSONSchemaJSONSchemaParam{Name: "n", Schema: schema, Strict: openai.Bool(true)}}}
		}, func(t *testing.T, j network.Job) {
			var got any
			want, _ := json.Marshal(schema)
			var wantV any
			_ = json.Unmarshal(want, &wantV)
			if json.Unmarshal(j.Format, &got) != nil || !reflect.DeepEqual(got, wantV) {
				t.Errorf("format %s, want the schema %s", j.Format, want)
			}
		}},
		{"text format and user", func(p *openai.ChatCompletionNewParams) {
			p.ResponseFormat = openai.ChatCompletionNewParamsResponseFormatUnion{OfText: &shared.ResponseFormatTextParam{}}
			p.User = openai.String("end-user-42")
		}, func(t *testing.T, j network.Job) {
			if len(j.Format) != 0 || len(j.Features()) != 0 {
				t.Errorf("a plain request became a job needing %v (format %s)", j.Features(), j.Format)
			}
			b, _ := json.Marshal(j)
			if strings.Contains(string(b), "end-user-42") {
				t.Errorf("user reached the worker: %s", b)
			}
		}},
		{"tools", func(p *openai.ChatCompletionNewParams) {
			p.Tools = []openai.ChatCompletionToolUnionParam{weatherTool()}
			p.ToolChoice = openai.ChatCompletionToolChoiceOptionUnionParam{OfAuto: openai.String("auto")}
			p.ParallelToolCalls = openai.Bool(true)
		}, func(t *testing.T, j network.Job) {
			if len(j.Tools) != 1 || j.Tools[0].Type != "function" || j.Tools[0].Function.Name != "get_weather" ||
				j.Tools[0].Function.Description != "The weather in a city" || !strings.Contains(string(j.Tools[0].Function.Parameters), `"city"`) {
				t.Errorf("tools %+v", j.Tools)
			}
		}},
		{"logprobs", func(p *openai.ChatCompletionNewParams) {
			p.Logprobs, p.TopLogprobs = openai.Bool(true), openai.Int(3)
		}, func(t *testing.T, j network.Job) {
			if !j.Logprobs || j.TopLogprobs != 3 {
				t.Errorf("logprobs %v top %d", j.Logprobs, j.TopLogprobs)
			}
		}},
		{"tool_choice none", func(p *openai.ChatCompletionNewParams) {
			p.Tools = []openai.ChatCompletionToolUnionParam{weatherTool()}
			p.ToolChoice = openai.ChatCompletionToolChoiceOptionUnionParam{OfAuto: openai.String("none")}
		}, func(t *testing.T, j network.Job) {
			if len(j.Tools) != 0 {
				t.Errorf("tool_choice none sent tools %+v", j.Tools)
			}
		}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := chatParams()
			tt.edit(&p)
			if _, err := tp.client().Chat.Completions.New(testCtx(t), p); err != nil {
				t.Fatal(err)
			}
			jobs, err := w.WaitJobs(testCtx(t), i+1)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, jobs[i])
		})
	}
}

// TestToolCallRoundTrip: a worker's tool calls reach the client in
// OpenAI's shape, streamed (delta.tool_calls with index, id, type, name and
// arguments) and not, with finish_reason tool_calls; the follow-up with the
// assistant's calls and the tool's result reaches the worker with the
// result tied to its call and tool.
func TestToolCallRoundTrip(t *testing.T) {
	tp := startProxy(t, "", nil)
	calls := []network.ToolCall{
		{ID: "call_1", Type: "function", Function: network.ToolCallFunction{Name: "get_weather", Arguments: `{"city":"Paris"}`}},
		{Type: "function", Function: network.ToolCallFunction{Name: "get_weather", Arguments: `{"city":"Oslo"}`}}, // unnamed: the proxy names it
	}
	w := tp.worker(t, proxytest.Options{Features: network.KnownFeatures, Script: func(j network.Job) proxytest.Behavior {
		if len(j.Tools) > 0 && j.Messages[len(j.Messages)-1].Role == "user" {
			return proxytest.Behavior{Deltas: []string{}, ToolCalls: calls, Usage: network.Usage{PromptTokens: 30, CompletionTokens: 20}}
		}
		return proxytest.Behavior{}
	}})
	p := chatParams()
	p.Tools = []openai.ChatCompletionToolUnionParam{weatherTool()}

	check := func(t *testing.T, got []openai.ChatCompletionMessageToolCallUnion, finish string) {
		t.Helper()
		if finish != "tool_calls" || len(got) != 2 {
			t.Fatalf("finish %q, %d calls: want tool_calls, 2", finish, len(got))
		}
		for i, c := range got {
			if c.Type != "function" || c.Function.Name != "get_weather" || c.Function.Arguments != calls[i].Function.Arguments || c.ID == "" {
				t.Errorf("call %d: %+v", i, c)
			}
		}
		if got[0].ID != "call_1" || !strings.HasPrefix(got[1].ID, "call_") || got[1].ID == got[0].ID {
			t.Errorf("ids %q %q", got[0].ID, got[1].ID)
		}
	}
	resp, err := tp.client().Chat.Completions.New(testCtx(t), p)
	if err != nil {
		t.Fatal(err)
	}
	check(t, resp.Choices[0].Message.ToolCalls, resp.Choices[0].FinishReason)
	if raw := resp.Choices[0].Message.JSON.Content.Raw(); raw != "null" {
		t.Errorf("content %s, want null beside tool calls (as OpenAI's)", raw)
	}

	s := tp.client().Chat.Completions.NewStreaming(testCtx(t), p)
	var acc openai.ChatCompletionAccumulator
	sawIndex := false
	for s.Next() {
		ch := s.Current()
		acc.AddChunk(ch)
		for _, c := range ch.Choices {
			for _, tc := range c.Delta.ToolCalls {
				sawIndex = sawIndex || tc.JSON.Index.Valid()
			}
		}
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	if !sawIndex {
		t.Error("streamed tool calls carry no index")
	}
	check(t, acc.Choices[0].Message.ToolCalls, acc.Choices[0].FinishReason)

	// The follow-up: the assistant's calls and the tool's results.
	follow := p
	follow.Messages = append(slices.Clone(p.Messages), resp.Choices[0].Message.ToParam(),
		openai.ToolMessage(`{"temp":21}`, resp.Choices[0].Message.ToolCalls[1].ID))
	if _, err := tp.client().Chat.Completions.New(testCtx(t), follow); err != nil {
		t.Fatal(err)
	}
	jobs, err := w.WaitJobs(testCtx(t), 3)
	if err != nil {
		t.Fatal(err)
	}
	msgs := jobs[2].Messages
	asst, tool := msgs[len(msgs)-2], msgs[len(msgs)-1]
	if asst.Role != "assistant" || len(asst.ToolCalls) != 2 || asst.ToolCalls[1].Function.Arguments != `{"city":"Oslo"}` {
		t.Errorf("assistant message %+v", asst)
	}
	if tool.Role != "tool" || tool.Content != `{"temp":21}` || tool.ToolCallID != resp.Choices[0].Message.ToolCalls[1].ID || tool.ToolName != "get_weather" {
		t.Errorf("tool message %+v", tool)
	}

	// A tool result for a call nobody made is the client's error.
	bad := p
	bad.Messages = append(slices.Clone(p.Messages), openai.ToolMessage("x", "call_nobody"))
	_, err = tp.client().Chat.Completions.New(testCtx(t), bad)
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || apiErr.Param != "messages[2].tool_call_id" {
		t.Errorf("err %v, want 400 naming messages[2].tool_call_id", err)
	}
}

// TestToolCallsMetered: tool calls are completion the proxy counts (a
// worker's claim is capped at the proxy's count of the calls' text plus the
// tolerance, not of the empty text), and calls past the job's byte bound
// are refused like an oversized stream: the client gets finish_reason
// length with what was relayed, and the worker a strike.
func TestToolCallsMetered(t *testing.T) {
	tp := startProxy(t, "", nil)
	args := `{"city":"` + strings.Repeat("x", 300) + `"}`
	calls := []network.ToolCall{{ID: "c1", Type: "function", Function: network.ToolCallFunction{Name: "get_weather", Arguments: args}}}
	w := tp.worker(t, proxytest.Options{Features: network.KnownFeatures, Script: func(j network.Job) proxytest.Behavior {
		return proxytest.Behavior{Deltas: []string{}, ToolCalls: calls, Usage: network.Usage{PromptTokens: 10, CompletionTokens: 100_000}}
	}})
	p := chatParams()
	p.Tools = []openai.ChatCompletionToolUnionParam{weatherTool()}
	p.MaxTokens = openai.Int(100) // bound: 100 × 64 bytes, above the call
	resp, err := tp.client().Chat.Completions.New(testCtx(t), p)
	if err != nil {
		t.Fatal(err)
	}
	n := int64(len(metering.ToolCallsText([]metering.ToolCall{{Name: "get_weather", Arguments: args}})))
	want := min(n+proxy.DefaultToleranceTokens+n*proxy.DefaultTolerancePercent/100, 100)
	if resp.Usage.CompletionTokens != want {
		t.Errorf("billed %d completion tokens, want %d (the calls' %d bytes, tolerance, max_tokens)", resp.Usage.CompletionTokens, want, n)
	}

	p.MaxTokens = openai.Int(2) // bound: 128 bytes, under the call
	resp, err = tp.client().Chat.Completions.New(testCtx(t), p)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Choices[0].FinishReason != "length" || len(resp.Choices[0].Message.ToolCalls) != 0 || resp.Usage.CompletionTokens != 0 {
		t.Errorf("oversized calls: finish %q, %d calls, %d tokens: want length, none, 0",
			resp.Choices[0].FinishReason, len(resp.Choices[0].Message.ToolCalls), resp.Usage.CompletionTokens)
	}
	if _, strikes, _, _ := proxy.TrustCounts(tp.Proxy, w.ID()); strikes != 1 {
		t.Errorf("%d strikes, want 1 for the oversized calls", strikes)
	}
}

// TestOldWorkerGetsOnlyPlainJobs: a protocol version 2 worker (no features,
// whatever it claims) is answered in version 2 and sent plain jobs only; a
// job that needs a feature is a clear 503 while no worker can run it, and
// goes to a version 3 worker that announced it.
func TestOldWorkerGetsOnlyPlainJobs(t *testing.T) {
	tp := startProxy(t, "", nil)
	old := tp.worker(t, proxytest.Options{Version: 2, Features: network.KnownFeatures})
	if _, err := tp.client().Chat.Completions.New(testCtx(t), chatParams()); err != nil {
		t.Fatalf("plain job to the old worker: %v", err)
	}
	if _, err := old.WaitReceipts(testCtx(t), 1); err != nil {
		t.Fatal(err)
	}
	if n := old.OtherVersionFrames(); n != 0 {
		t.Errorf("the proxy sent the version 2 worker %d frames in another version", n)
	}
	feature := map[string]func(*openai.ChatCompletionNewParams){
		"tools": func(p *openai.ChatCompletionNewParams) {
			p.Tools = []openai.ChatCompletionToolUnionParam{weatherTool()}
		},
		"format": func(p *openai.ChatCompletionNewParams) {
			p.ResponseFormat = openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONObject: &shared.ResponseFormatJSONObjectParam{}}
		},
		"stop": func(p *openai.ChatCompletionNewParams) {
			p.Stop = openai.ChatCompletionNewParamsStopUnion{OfString: openai.String("x")}
		},
		"penalties": func(p *openai.ChatCompletionNewParams) { p.PresencePenalty = openai.Float(1) },
		"logprobs":  func(p *openai.ChatCompletionNewParams) { p.Logprobs = openai.Bool(true) },
	}
	for name, edit := range feature {
		p := chatParams()
		edit(&p)
		_, err := tp.client().Chat.Completions.New(testCtx(t), p)
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusServiceUnavailable || apiErr.Code != "feature_unavailable" ||
			!strings.Contains(apiErr.Message, name) {
			t.Errorf("%s job with only an old worker: err %v, want 503 feature_unavailable naming %s", name, err, name)
		}
	}
	if n := len(old.Jobs()); n != 1 {
		t.Errorf("the old worker got %d jobs, want only the plain one", n)
	}
	current := tp.worker(t, proxytest.Options{Features: network.KnownFeatures})
	for name, edit := range feature {
		p := chatParams()
		edit(&p)
		if _, err := tp.client().Chat.Completions.New(testCtx(t), p); err != nil {
			t.Errorf("%s job with a version 3 worker: %v", name, err)
		}
	}
	if n, m := len(old.Jobs()), len(current.Jobs()); n != 1 || m != len(feature) {
		t.Errorf("old worker %d jobs, current %d: want 1 and %d", n, m, len(feature))
	}
}

// TestLogprobsRelayed: a worker's log probabilities reach the client as
// OpenAI's choice.logprobs.content, streamed and not, only when asked for;
// a worker that sends them unasked, or more of them than max_tokens, is cut
// off like an oversized stream and takes a strike.
func TestLogprobsRelayed(t *testing.T) {
	tp := startProxy(t, "", nil)
	lp := func(tok string, p float64) network.TokenLogprob {
		return network.TokenLogprob{Token: tok, Logprob: p, Bytes: []int{int(tok[0])},
			TopLogprobs: []network.TopLogprob{{Token: tok, Logprob: p}, {Token: "x", Logprob: -9}}}
	}
	lps := [][]network.TokenLogprob{{lp("Hello", -0.5)}, {lp(",", -0.25), lp(" ", -0.125)}, {lp("world", -1)}}
	unasked := false
	w := tp.worker(t, proxytest.Options{Features: network.KnownFeatures, Script: func(j network.Job) proxytest.Behavior {
		if j.Logprobs || unasked {
			return proxytest.Behavior{Deltas: []string{"Hello", ", ", "world"}, Logprobs: lps}
		}
		return proxytest.Behavior{}
	}})
	flat := append(append(append([]network.TokenLogprob{}, lps[0]...), lps[1]...), lps[2]...)
	check := func(t *testing.T, got []openai.ChatCompletionTokenLogprob) {
		t.Helper()
		if len(got) != len(flat) {
			t.Fatalf("%d logprobs, want %d", len(got), len(flat))
		}
		for i, g := range got {
			if g.Token != flat[i].Token || g.Logprob != flat[i].Logprob || len(g.TopLogprobs) != 2 || g.TopLogprobs[1].Logprob != -9 ||
				len(g.Bytes) != 1 || g.Bytes[0] != int64(flat[i].Token[0]) {
				t.Errorf("logprob %d: %+v, want %+v", i, g, flat[i])
			}
		}
	}
	p := chatParams()
	p.Logprobs, p.TopLogprobs = openai.Bool(true), openai.Int(2)
	resp, err := tp.client().Chat.Completions.New(testCtx(t), p)
	if err != nil {
		t.Fatal(err)
	}
	check(t, resp.Choices[0].Logprobs.Content)

	s := tp.client().Chat.Completions.NewStreaming(testCtx(t), p)
	var streamed []openai.ChatCompletionTokenLogprob
	for s.Next() {
		for _, c := range s.Current().Choices {
			streamed = append(streamed, c.Logprobs.Content...)
		}
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	check(t, streamed)

	plain, err := tp.client().Chat.Completions.New(testCtx(t), chatParams())
	if err != nil {
		t.Fatal(err)
	}
	if raw := plain.Choices[0].JSON.Logprobs.Raw(); raw != "null" {
		t.Errorf("logprobs %s in an answer that did not ask for them", raw)
	}

	p.MaxTokens = openai.Int(2) // three tokens of logprobs: one too many
	resp, err = tp.client().Chat.Completions.New(testCtx(t), p)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Choices[0].FinishReason != "length" {
		t.Errorf("logprobs past max_tokens: finish %q, want length", resp.Choices[0].FinishReason)
	}
	unasked = true
	resp, err = tp.client().Chat.Completions.New(testCtx(t), chatParams())
	if err != nil {
		t.Fatal(err)
	}
	if resp.Choices[0].FinishReason != "length" || resp.Choices[0].JSON.Logprobs.Raw() != "null" {
		t.Errorf("unasked logprobs: finish %q, logprobs %s", resp.Choices[0].FinishReason, resp.Choices[0].JSON.Logprobs.Raw())
	}
	if _, strikes, _, _ := proxy.TrustCounts(tp.Proxy, w.ID()); strikes != 2 {
		t.Errorf("%d strikes, want 2 (too many logprobs, unasked logprobs)", strikes)
	}
}
