package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ollama/ollama/api"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"

	"github.com/cocoon-desktop/cocoon-desktop/gpu"
	"github.com/cocoon-desktop/cocoon-desktop/gpu/gputest"
	"github.com/cocoon-desktop/cocoon-desktop/internal/testollama"
	"github.com/cocoon-desktop/cocoon-desktop/network"
	"github.com/cocoon-desktop/cocoon-desktop/runtime/ollama"
)

// ollamaFront sits between the worker and the real Ollama: it records every
// /api/chat request Ollama receives and, while a script is set, answers
// /api/chat itself in Ollama's streaming format (a stand-in model endpoint,
// for what a tiny random model cannot do, such as choosing a tool).
type ollamaFront struct {
	srv *httptest.Server

	mu     sync.Mutex
	chats  []api.ChatRequest
	script func(api.ChatRequest) []api.ChatResponse // nil: pass to Ollama
	// logprobs are those of Ollama's last /api/chat answer.
	logprobs []api.Logprob
}

// teeChat is the front's ResponseWriter for Ollama's /api/chat answers: it
// passes them on and reads their log probabilities.
type teeChat struct {
	http.ResponseWriter
	buf bytes.Buffer
	f   *ollamaFront
}

func (w *teeChat) Write(b []byte) (int, error) {
	w.buf.Write(b)
	for {
		line, err := w.buf.ReadBytes('\n')
		if err != nil {
			w.buf.Write(line) // an incomplete line: wait for the rest
			break
		}
		var r api.ChatResponse
		if json.Unmarshal(line, &r) == nil {
			w.f.mu.Lock()
			w.f.logprobs = append(w.f.logprobs, r.Logprobs...)
			w.f.mu.Unlock()
		}
	}
	return w.ResponseWriter.Write(b)
}

func (w *teeChat) Flush() { w.ResponseWriter.(http.Flusher).Flush() }

func startOllamaFront(t *testing.T, target string) *ollamaFront {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	f := &ollamaFront{}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.FlushInterval = -1 // stream as Ollama streams
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/chat" {
			body, _ := io.ReadAll(r.Body)
			var req api.ChatRequest
			if err := json.Unmarshal(body, &req); err != nil {
				t.Errorf("front: /api/chat body: %v", err)
			}
			f.mu.Lock()
			f.chats = append(f.chats, req)
			script := f.script
			f.mu.Unlock()
			if script != nil {
				w.Header().Set("Content-Type", "application/x-ndjson")
				for _, resp := range script(req) {
					b, _ := json.Marshal(resp)
					_, _ = w.Write(append(b, '\n'))
					w.(http.Flusher).Flush()
				}
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.ContentLength = int64(len(body))
			f.mu.Lock()
			f.logprobs = nil
			f.mu.Unlock()
			w = &teeChat{ResponseWriter: w, f: f}
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *ollamaFront) setScript(s func(api.ChatRequest) []api.ChatResponse) {
	f.mu.Lock()
	f.script = s
	f.mu.Unlock()
}

// lastChat is the last /api/chat request Ollama (or the stand-in) received.
func (f *ollamaFront) lastChat(t *testing.T) api.ChatRequest {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.chats) == 0 {
		t.Fatal("no /api/chat request reached Ollama")
	}
	return f.chats[len(f.chats)-1]
}

// chatSurfaceNetwork is the real proxy, a real worker core and the real
// Ollama (with the tiny model) behind a recording front, and an official
// OpenAI client of the proxy.
func chatSurfaceNetwork(t *testing.T) (*ollamaFront, openai.Client, context.Context) {
	t.Helper()
	if testollama.Binary() == "" {
		testollama.Skip(t)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	ol, p, apiKey := startNetworkOnTiny(t, ctx)
	front := startOllamaFront(t, ol.Host())
	c := New(Config{
		DataDir: t.TempDir(), SeedTinyModel: true,
		Runtime: ollama.Config{AttachAddr: front.srv.URL, NoManage: true},
		GPU:     gpu.NewDetector(gputest.Library(gputest.RTX4090())),
		Network: NetworkConfig{URL: p.WorkerURL(), ProxyKey: p.PublicKey()},
	})
	cctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- c.Run(cctx) }()
	t.Cleanup(func() { stop(); <-done })
	if err := c.WaitModels(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.StartNow(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the worker accepting with its features", func() bool {
		st, _ := p.Status(ctx)
		return len(st.Workers) == 1 && st.Workers[0].State == network.Accepting
	})
	client := openai.NewClient(option.WithBaseURL("http://"+p.APIAddr()+"/v1/"), option.WithAPIKey(apiKey), option.WithMaxRetries(0))
	return front, client, ctx
}

// jsonPrefix reports whether s is JSON, or the start of JSON cut short.
func jsonPrefix(s string) bool {
	dec := json.NewDecoder(strings.NewReader(s))
	for {
		_, err := dec.Token()
		switch {
		case err == io.EOF:
			return strings.TrimSpace(s) != ""
		case err == io.ErrUnexpectedEOF:
			return true
		case err != nil:
			return false
		}
	}
}

func tinyParams(prompt string) openai.ChatCompletionNewParams {
	return openai.ChatCompletionNewParams{Model: "cocoon-tiny", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(prompt)},
		MaxTokens: openai.Int(300), Seed: openai.Int(11), Temperature: openai.Float(0)}
}

// TestChatSurfaceEndToEnd runs the chat surface through the official
// OpenAI client, the real proxy, a real worker core and the real Ollama:
// JSON mode and a JSON schema reach Ollama as its format and the
// constrained output parses; penalties, top_p, seed and stop reach its
// options; stop ends the text before the stop string; Ollama's log
// probabilities come back, the same streamed and not; and a tool call
// round trip with a stand-in model endpoint (the tiny model cannot choose a
// tool) is relayed in OpenAI's shape, streamed and not, with the tool's
// result reaching the model on the follow-up.
func TestChatSurfaceEndToEnd(t *testing.T) {
	front, client, ctx := chatSurfaceNetwork(t)

	t.Run("json schema", func(t *testing.T) {
		schema := map[string]any{"type": "object", "properties": map[string]any{"ok": map[string]any{"type": "boolean"}}, "required": []string{"ok"}}
		p := tinyParams("Answer in JSON.")
		p.ResponseFormat = openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONSchema: &shared.ResponseFormatJSONSchemaParam{
			JSONSchema: shared.ResponseFormatJSONSchemaJSONSchemaParam{Name: "answer", Schema: schema}}}
		resp, err := client.Chat.Completions.New(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]any
		if err := json.Unmarshal(front.lastChat(t).Format, &got); err != nil || got["required"] == nil {
			t.Fatalf("Ollama's format %s, want the schema", front.lastChat(t).Format)
		}
		var out struct {
			OK *bool `json:"ok"`
		}
		text := resp.Choices[0].Message.Content
		if err := json.Unmarshal([]byte(text), &out); err != nil || out.OK == nil {
			t.Errorf("constrained output %q (finish %s) does not parse as the schema: %v", text, resp.Choices[0].FinishReason, err)
		}
	})

	t.Run("json object", func(t *testing.T) {
		free, err := client.Chat.Completions.New(ctx, tinyParams("Answer in JSON."))
		if err != nil {
			t.Fatal(err)
		}
		if jsonPrefix(free.Choices[0].Message.Content) {
			t.Fatalf("the unconstrained answer is JSON already (%q): the check below would prove nothing", free.Choices[0].Message.Content)
		}
		p := tinyParams("Answer in JSON.")
		p.ResponseFormat = openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONObject: &shared.ResponseFormatJSONObjectParam{}}
		resp, err := client.Chat.Completions.New(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if f := string(front.lastChat(t).Format); f != `"json"` {
			t.Fatalf("Ollama's format %s, want \"json\"", f)
		}
		// The random model writes one long JSON string until max_tokens:
		// the output must parse as far as it goes (all of it when it ended).
		text := resp.Choices[0].Message.Content
		if finish := resp.Choices[0].FinishReason; !strings.HasPrefix(strings.TrimSpace(text), "{") || !jsonPrefix(text) ||
			(finish == "stop" && !json.Valid([]byte(text))) {
			t.Errorf("JSON mode output (finish %s) does not parse: %q", finish, text)
		}
		t.Logf("JSON mode: %d bytes, finish %s", len(text), resp.Choices[0].FinishReason)
	})

	t.Run("sampling options", func(t *testing.T) {
		p := tinyParams("hi")
		p.PresencePenalty, p.FrequencyPenalty, p.TopP, p.Seed = openai.Float(0.25), openai.Float(0.75), openai.Float(0.5), openai.Int(4242)
		p.Stop = openai.ChatCompletionNewParamsStopUnion{OfStringArray: []string{"zzq", "qqz"}}
		if _, err := client.Chat.Completions.New(ctx, p); err != nil {
			t.Fatal(err)
		}
		o := front.lastChat(t).Options
		want := map[string]any{"presence_penalty": 0.25, "frequency_penalty": 0.75, "top_p": 0.5, "seed": float64(4242)}
		for k, v := range want {
			if fmt.Sprint(o[k]) != fmt.Sprint(v) {
				t.Errorf("Ollama's option %s = %v, want %v", k, o[k], v)
			}
		}
		if fmt.Sprint(o["stop"]) != "[zzq qqz]" {
			t.Errorf("Ollama's stop = %v", o["stop"])
		}
	})

	t.Run("stop ends the text", func(t *testing.T) {
		free, err := client.Chat.Completions.New(ctx, tinyParams("Tell me a story."))
		if err != nil {
			t.Fatal(err)
		}
		text := free.Choices[0].Message.Content
		// A stop string from the middle of the unconstrained answer: the
		// same seed at temperature 0 gives the same text up to it.
		stop, at := "", -1
		for i := len(text) / 3; i+3 <= len(text); i++ {
			if s := text[i : i+3]; strings.TrimSpace(s) == s && !strings.ContainsRune(s, '\uFFFD') && json.Valid([]byte(fmt.Sprintf("%q", s))) {
				if j := strings.Index(text, s); j > 0 {
					stop, at = s, j
					break
				}
			}
		}
		if stop == "" {
			t.Fatalf("no stop string found in %q", text)
		}
		p := tinyParams("Tell me a story.")
		p.Stop = openai.ChatCompletionNewParamsStopUnion{OfString: openai.String(stop)}
		stopped, err := client.Chat.Completions.New(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		got := stopped.Choices[0].Message.Content
		if strings.Contains(got, stop) || got != text[:at] || stopped.Choices[0].FinishReason != "stop" {
			t.Errorf("with stop %q: %q (finish %s), want the free text before it: %q", stop, got, stopped.Choices[0].FinishReason, text[:at])
		}
		t.Logf("free answer %d bytes; stop %q at byte %d", len(text), stop, at)
	})

	t.Run("logprobs", func(t *testing.T) {
		p := tinyParams("hi")
		p.MaxTokens = openai.Int(40)
		p.Logprobs, p.TopLogprobs = openai.Bool(true), openai.Int(3)
		resp, err := client.Chat.Completions.New(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if req := front.lastChat(t); !req.Logprobs || req.TopLogprobs != 3 {
			t.Fatalf("Ollama received logprobs %v top %d", req.Logprobs, req.TopLogprobs)
		}
		// What Ollama answered, token by token (it leaves out the tokens
		// of broken UTF-8 the random model makes: fewer than 40).
		got := resp.Choices[0].Logprobs.Content
		front.mu.Lock()
		want := front.logprobs
		front.mu.Unlock()
		if len(got) != len(want) || len(got) == 0 {
			t.Fatalf("%d logprobs, Ollama answered %d", len(got), len(want))
		}
		for i, lp := range got {
			w := want[i]
			if lp.Token != w.Token || lp.Logprob != w.Logprob || len(lp.TopLogprobs) != 3 || len(w.TopLogprobs) != 3 ||
				lp.TopLogprobs[2].Token != w.TopLogprobs[2].Token || lp.TopLogprobs[2].Logprob != w.TopLogprobs[2].Logprob {
				t.Fatalf("token %d: %+v, Ollama %+v", i, lp, w)
			}
		}
		t.Logf("%d logprobs for %d tokens", len(got), resp.Usage.CompletionTokens)
		// Streamed, the same greedy answer has the same log probabilities.
		s := client.Chat.Completions.NewStreaming(ctx, p)
		var streamed []openai.ChatCompletionTokenLogprob
		for s.Next() {
			for _, c := range s.Current().Choices {
				streamed = append(streamed, c.Logprobs.Content...)
			}
		}
		if err := s.Err(); err != nil {
			t.Fatal(err)
		}
		if len(streamed) != len(got) {
			t.Fatalf("streamed %d logprobs, not streamed %d", len(streamed), len(got))
		}
		for i := range got {
			if streamed[i].Token != got[i].Token || streamed[i].Logprob != got[i].Logprob {
				t.Errorf("token %d: streamed %q %v, not streamed %q %v", i, streamed[i].Token, streamed[i].Logprob, got[i].Token, got[i].Logprob)
			}
		}
	})

	t.Run("tool call round trip", func(t *testing.T) {
		args := api.NewToolCallFunctionArguments()
		args.Set("city", "Paris")
		front.setScript(func(req api.ChatRequest) []api.ChatResponse {
			last := req.Messages[len(req.Messages)-1]
			if last.Role == "tool" {
				return []api.ChatResponse{
					{Message: api.Message{Role: "assistant", Content: "It is 21 degrees."}},
					{Done: true, DoneReason: "stop", Metrics: api.Metrics{PromptEvalCount: 40, EvalCount: 6}},
				}
			}
			return []api.ChatResponse{
				{Message: api.Message{Role: "assistant", ToolCalls: []api.ToolCall{{ID: "call_paris", Function: api.ToolCallFunction{Name: "get_weather", Arguments: args}}}}},
				{Done: true, DoneReason: "stop", Metrics: api.Metrics{PromptEvalCount: 30, EvalCount: 12}},
			}
		})
		defer front.setScript(nil)
		p := tinyParams("Weather in Paris?")
		p.Tools = []openai.ChatCompletionToolUnionParam{openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
			Name: "get_weather", Description: openai.String("The weather in a city"),
			Parameters: shared.FunctionParameters{"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}, "required": []string{"city"}},
		})}
		resp, err := client.Chat.Completions.New(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		sent := front.lastChat(t)
		if len(sent.Tools) != 1 || sent.Tools[0].Function.Name != "get_weather" || sent.Tools[0].Function.Parameters.Properties.Len() != 1 {
			t.Fatalf("tools Ollama received: %v", sent.Tools)
		}
		checkCall := func(calls []openai.ChatCompletionMessageToolCallUnion, finish string) {
			t.Helper()
			if finish != "tool_calls" || len(calls) != 1 || calls[0].ID != "call_paris" || calls[0].Type != "function" ||
				calls[0].Function.Name != "get_weather" || calls[0].Function.Arguments != `{"city":"Paris"}` {
				t.Errorf("finish %s, calls %+v", finish, calls)
			}
		}
		checkCall(resp.Choices[0].Message.ToolCalls, resp.Choices[0].FinishReason)

		s := client.Chat.Completions.NewStreaming(ctx, p)
		var acc openai.ChatCompletionAccumulator
		for s.Next() {
			acc.AddChunk(s.Current())
		}
		if err := s.Err(); err != nil {
			t.Fatal(err)
		}
		checkCall(acc.Choices[0].Message.ToolCalls, acc.Choices[0].FinishReason)

		p.Messages = append(p.Messages, resp.Choices[0].Message.ToParam(), openai.ToolMessage(`{"temp":21}`, "call_paris"))
		answer, err := client.Chat.Completions.New(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if got := answer.Choices[0].Message.Content; got != "It is 21 degrees." {
			t.Errorf("answer after the tool: %q", got)
		}
		msgs := front.lastChat(t).Messages
		asst, tool := msgs[len(msgs)-2], msgs[len(msgs)-1]
		if asst.Role != "assistant" || len(asst.ToolCalls) != 1 || asst.ToolCalls[0].Function.Name != "get_weather" ||
			asst.ToolCalls[0].Function.Arguments.String() != `{"city":"Paris"}` {
			t.Errorf("assistant message Ollama received: %+v", asst)
		}
		if tool.Role != "tool" || tool.Content != `{"temp":21}` || tool.ToolName != "get_weather" || tool.ToolCallID != "call_paris" {
			t.Errorf("tool message Ollama received: %+v", tool)
		}
	})
}
