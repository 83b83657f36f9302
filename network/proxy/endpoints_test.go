package proxy_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/cocoon-desktop/cocoon-desktop/network"
	"github.com/cocoon-desktop/cocoon-desktop/network/proxy"
	"github.com/cocoon-desktop/cocoon-desktop/network/proxy/proxytest"
	"github.com/cocoon-desktop/cocoon-desktop/receipt"
)

const pEmbed = 7 // nanoTON per embedded input token (tests' price_embedding)

var allFeatures = []string{network.FeatureCompletions, network.FeatureEmbeddings}

func withEmbedPrice(c *proxy.Config) {
	e := int64(pEmbed)
	p := c.Models[model]
	p.PriceEmbedding = &e
	c.Models[model] = p
}

// apiError is the error an openai-go call returned, or a failure.
func apiError(t *testing.T, err error) *openai.Error {
	t.Helper()
	var ae *openai.Error
	if !errors.As(err, &ae) {
		t.Fatalf("want an API error, got %v", err)
	}
	return ae
}

// do sends one raw API request and returns the response with its body read.
func do(t *testing.T, tp *testProxy, method, path, key string, body string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(testCtx(t), method, tp.url(path), strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// TestModelByID: GET /v1/models/{id} gives OpenAI's model object for a
// model a worker serves, and 404 model_not_found (openai-go's error
// carries the code) for an unknown model or a priced one nobody serves.
func TestModelByID(t *testing.T) {
	tp := startProxy(t, "", nil)
	tp.worker(t, proxytest.Options{})
	tests := []struct {
		name, id string
		found    bool
	}{
		{"served", model, true},
		{"unknown", "no-such-model", false},
		{"priced but no worker", "other", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := tp.client().Models.Get(testCtx(t), tc.id)
			if tc.found {
				if err != nil {
					t.Fatal(err)
				}
				if m.ID != tc.id || m.Object != "model" || m.OwnedBy != "cocoon" {
					t.Errorf("model = %+v", m)
				}
				return
			}
			ae := apiError(t, err)
			if ae.StatusCode != http.StatusNotFound || ae.Code != "model_not_found" || ae.Param != "model" {
				t.Errorf("error = %d %q param %q: want 404 model_not_found param model", ae.StatusCode, ae.Code, ae.Param)
			}
		})
	}
}

// TestJobKindsNeedTheirFeature: a worker that lists no features (one that
// predates completions and embeddings) gets plain chat jobs but never a
// completion or embedding job: those are 503 feature_unavailable saying why,
// with Retry-After; once a worker with the feature connects, they run there.
func TestJobKindsNeedTheirFeature(t *testing.T) {
	tp := startProxy(t, "", nil)
	old := tp.worker(t, proxytest.Options{})
	ctx := testCtx(t)
	if _, err := tp.client().Chat.Completions.New(ctx, chatParams()); err != nil {
		t.Fatalf("chat on the old worker: %v", err)
	}
	kinds := []struct {
		name, path, body, kind string
	}{
		{"completion", "/v1/completions", `{"model":"tiny","prompt":"Once upon","max_tokens":4}`, network.JobCompletion},
		{"embedding", "/v1/embeddings", `{"model":"tiny","input":["a","b"]}`, network.JobEmbedding},
	}
	for _, k := range kinds {
		t.Run(k.name+" refused", func(t *testing.T) {
			resp, body := do(t, tp, "POST", k.path, testKey, k.body, nil)
			if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" ||
				!strings.Contains(string(body), "feature_unavailable") || !strings.Contains(string(body), "older version") {
				t.Fatalf("%d Retry-After %q: %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
			}
		})
	}
	if jobs := old.Jobs(); len(jobs) != 1 || jobs[0].Kind != network.JobChat {
		t.Fatalf("the old worker got %d jobs (%+v): want only the chat job", len(jobs), jobs)
	}
	fresh := tp.worker(t, proxytest.Options{Features: allFeatures})
	for i, k := range kinds {
		t.Run(k.name+" on the new worker", func(t *testing.T) {
			resp, body := do(t, tp, "POST", k.path, testKey, k.body, nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%d: %s", resp.StatusCode, body)
			}
			jobs, err := fresh.WaitJobs(testCtx(t), i+1)
			if err != nil {
				t.Fatal(err)
			}
			if jobs[i].Kind != k.kind {
				t.Errorf("job kind %q, want %q", jobs[i].Kind, k.kind)
			}
		})
	}
	if n := len(old.Jobs()); n != 1 {
		t.Errorf("the old worker got %d jobs, want 1", n)
	}
}

// TestEmbeddings: vectors come back as the worker computed them (float and
// base64), for one input and a batch, billed per input token at the
// model's embedding price, and the worker gets a signed receipt with
// those factors for each request.
func TestEmbeddings(t *testing.T) {
	tp := startProxy(t, "", withEmbedPrice)
	vecs := [][]float32{{0.5, -1.25, 3e-7, 2}, {1, 0, -0.001, 1e20}}
	const claimPerInput = 3
	w := tp.worker(t, proxytest.Options{Features: allFeatures, Script: func(job network.Job) proxytest.Behavior {
		return proxytest.Behavior{Embeddings: vecs, Usage: network.Usage{PromptTokens: claimPerInput * len(job.Input)}}
	}})
	ctx := testCtx(t)
	var wantCost int64
	t.Run("float", func(t *testing.T) {
		tests := []struct {
			name  string
			input openai.EmbeddingNewParamsInputUnion
			n     int
		}{
			{"one string", openai.EmbeddingNewParamsInputUnion{OfString: openai.String("hello")}, 1},
			{"batch", openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"a", "b", "c"}}, 3},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				resp, err := tp.client().Embeddings.New(ctx, openai.EmbeddingNewParams{Model: model, Input: tc.input})
				if err != nil {
					t.Fatal(err)
				}
				if len(resp.Data) != tc.n {
					t.Fatalf("%d vectors for %d inputs", len(resp.Data), tc.n)
				}
				for i, d := range resp.Data {
					want := vecs[i%len(vecs)]
					if d.Index != int64(i) || len(d.Embedding) != len(want) {
						t.Fatalf("vector %d: index %d, %d dimensions", i, d.Index, len(d.Embedding))
					}
					for j := range want {
						if float32(d.Embedding[j]) != want[j] {
							t.Errorf("vector %d[%d] = %v, want %v", i, j, d.Embedding[j], want[j])
						}
					}
				}
				tokens := int64(claimPerInput * tc.n)
				if resp.Usage.PromptTokens != tokens || resp.Usage.TotalTokens != tokens {
					t.Errorf("usage %+v, want %d tokens", resp.Usage, tokens)
				}
				cost := costOf(t, resp.Usage.JSON.ExtraFields["total_cost"].Raw())
				if cost != tokens*pEmbed {
					t.Errorf("total_cost %d, want %d", cost, tokens*pEmbed)
				}
				wantCost += cost
			})
		}
	})
	t.Run("base64", func(t *testing.T) {
		resp, body := do(t, tp, "POST", "/v1/embeddings", testKey, `{"model":"tiny","input":["x","y"],"encoding_format":"base64"}`, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%d: %s", resp.StatusCode, body)
		}
		var out struct {
			Data []struct {
				Embedding string `json:"embedding"`
			} `json:"data"`
			Usage struct {
				TotalCost int64 `json:"total_cost"`
			} `json:"usage"`
		}
		if err := json.Unmarshal(body, &out); err != nil || len(out.Data) != 2 {
			t.Fatalf("%v: %s", err, body)
		}
		for i, d := range out.Data {
			raw, err := base64.StdEncoding.DecodeString(d.Embedding)
			if err != nil || len(raw) != 4*len(vecs[i]) {
				t.Fatalf("vector %d: %v, %d bytes", i, err, len(raw))
			}
			for j, want := range vecs[i] {
				if got := math.Float32frombits(binary.LittleEndian.Uint32(raw[4*j:])); got != want {
					t.Errorf("vector %d[%d] = %v, want %v", i, j, got, want)
				}
			}
		}
		wantCost += out.Usage.TotalCost
	})
	rs := checkReceipts(t, tp, w, 3)
	var gross int64
	for _, r := range rs {
		if r.Receipt.PricePrompt != pEmbed || r.Receipt.CompletionTokens != 0 {
			t.Errorf("receipt priced %d per prompt token with %d completion tokens: want %d, 0", r.Receipt.PricePrompt, r.Receipt.CompletionTokens, pEmbed)
		}
		g, _ := receipt.Amount(r.Receipt.PromptTokens, 0, pEmbed, 0, 1000, 0)
		gross += g
	}
	if gross != wantCost {
		t.Errorf("receipts' gross %d, the client was charged %d", gross, wantCost)
	}
}

func costOf(t *testing.T, raw string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		t.Fatalf("total_cost %q: %v", raw, err)
	}
	return n
}

// TestEmbeddingWorkerMisbehaves: vectors out of order, of changing width,
// or a done before every vector fail the job (502 after the retries), and
// nothing is billed.
func TestEmbeddingWorkerMisbehaves(t *testing.T) {
	tests := []struct {
		name string
		send func(w *proxytest.Worker, job network.Job)
	}{
		{"out of order", func(w *proxytest.Worker, job network.Job) {
			_ = w.Send(network.TypeEmbedding, &network.Embedding{JobID: job.JobID, Index: 1, Embedding: []float32{1}})
		}},
		{"width changes", func(w *proxytest.Worker, job network.Job) {
			_ = w.Send(network.TypeEmbedding, &network.Embedding{JobID: job.JobID, Index: 0, Embedding: []float32{1, 2}})
			_ = w.Send(network.TypeEmbedding, &network.Embedding{JobID: job.JobID, Index: 1, Embedding: []float32{1}})
		}},
		{"done too early", func(w *proxytest.Worker, job network.Job) {
			_ = w.Send(network.TypeEmbedding, &network.Embedding{JobID: job.JobID, Index: 0, Embedding: []float32{1}})
			_ = w.Send(network.TypeDone, &network.Done{JobID: job.JobID, Usage: network.Usage{PromptTokens: 2}, FinishReason: "stop"})
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tp := startProxy(t, "", nil)
			var mu sync.Mutex
			var ws []*proxytest.Worker
			w := tp.worker(t, proxytest.Options{Features: allFeatures, Script: func(job network.Job) proxytest.Behavior {
				mu.Lock()
				self := ws[0]
				mu.Unlock()
				tc.send(self, job)
				return proxytest.Behavior{Failure: proxytest.Hang}
			}})
			mu.Lock()
			ws = append(ws, w)
			mu.Unlock()
			resp, body := do(t, tp, "POST", "/v1/embeddings", testKey, `{"model":"tiny","input":["a","b"]}`, nil)
			if resp.StatusCode != http.StatusBadGateway || !strings.Contains(string(body), "worker_failed") {
				t.Fatalf("%d: %s", resp.StatusCode, body)
			}
			if u, err := tp.Store().Usage(context.Background(), proxy.KeyDigest(testKey)); err != nil || u.Requests != 0 {
				t.Errorf("usage %+v (%v): nothing may be billed", u, err)
			}
		})
	}
}

// TestCompletions: the legacy text completion, streamed and not: the
// prompt reaches the worker as a completion job with max_tokens, the text
// comes back in OpenAI's text_completion shape with usage, and it is billed.
func TestCompletions(t *testing.T) {
	tp := startProxy(t, "", nil)
	w := tp.worker(t, proxytest.Options{Features: allFeatures, Script: func(job network.Job) proxytest.Behavior {
		return proxytest.Behavior{Deltas: []string{" there", " was"}, Usage: network.Usage{PromptTokens: 3, CompletionTokens: 2}, FinishReason: "length"}
	}})
	ctx := testCtx(t)
	params := openai.CompletionNewParams{
		Model:     model,
		Prompt:    openai.CompletionNewParamsPromptUnion{OfString: openai.String("Once upon a time")},
		MaxTokens: openai.Int(2),
	}
	resp, err := tp.client().Completions.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	_, wantGross := amount(3, 2)
	if resp.Object != "text_completion" || len(resp.Choices) != 1 || resp.Choices[0].Text != " there was" ||
		resp.Choices[0].FinishReason != "length" || resp.Usage.PromptTokens != 3 || resp.Usage.CompletionTokens != 2 ||
		costOf(t, resp.Usage.JSON.ExtraFields["total_cost"].Raw()) != wantGross {
		t.Fatalf("completion = %s", resp.RawJSON())
	}
	params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	s := tp.client().Completions.NewStreaming(ctx, params)
	var text strings.Builder
	var usage openai.CompletionUsage
	chunks, finish := 0, ""
	for s.Next() {
		c := s.Current()
		chunks++
		for _, ch := range c.Choices {
			text.WriteString(ch.Text)
			if ch.FinishReason != "" {
				finish = string(ch.FinishReason)
			}
		}
		if c.Usage.TotalTokens > 0 {
			usage = c.Usage
		}
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	if text.String() != " there was" || finish != "length" || usage.PromptTokens != 3 || usage.CompletionTokens != 2 || chunks < 3 {
		t.Errorf("stream: %d chunks, text %q, finish %q, usage %+v", chunks, text.String(), finish, usage)
	}
	jobs := w.Jobs()
	if len(jobs) != 2 || jobs[0].Kind != network.JobCompletion || jobs[0].Prompt != "Once upon a time" || jobs[0].MaxTokens != 2 || len(jobs[0].Messages) != 0 {
		t.Errorf("jobs = %+v", jobs)
	}
	checkReceipts(t, tp, w, 2)
}

// TestUnsupportedParameters: a field the proxy does not carry is a 400
// unsupported_parameter naming it, never dropped silently; a bad value is
// a 400 invalid_value naming it; null counts as absent.
func TestUnsupportedParameters(t *testing.T) {
	tp := startProxy(t, "", nil)
	tp.worker(t, proxytest.Options{Features: allFeatures})
	tests := []struct {
		name, path, body, code, param string
	}{
		{"completion echo", "/v1/completions", `{"model":"tiny","prompt":"a","echo":true}`, proxy.CodeUnsupportedParameter, "echo"},
		{"completion suffix", "/v1/completions", `{"model":"tiny","prompt":"a","suffix":"z"}`, proxy.CodeUnsupportedParameter, "suffix"},
		{"completion logprobs", "/v1/completions", `{"model":"tiny","prompt":"a","logprobs":2}`, proxy.CodeUnsupportedParameter, "logprobs"},
		{"completion best_of", "/v1/completions", `{"model":"tiny","prompt":"a","best_of":2}`, proxy.CodeUnsupportedParameter, "best_of"},
		{"completion unknown", "/v1/completions", `{"model":"tiny","prompt":"a","frobnicate":1}`, proxy.CodeUnsupportedParameter, "frobnicate"},
		{"completion two prompts", "/v1/completions", `{"model":"tiny","prompt":["a","b"]}`, "invalid_value", "prompt"},
		{"completion token prompt", "/v1/completions", `{"model":"tiny","prompt":[1,2]}`, "invalid_value", "prompt"},
		{"completion empty prompt", "/v1/completions", `{"model":"tiny","prompt":""}`, "invalid_value", "prompt"},
		{"completion n", "/v1/completions", `{"model":"tiny","prompt":"a","n":2}`, "invalid_value", "n"},
		{"embedding dimensions", "/v1/embeddings", `{"model":"tiny","input":"a","dimensions":8}`, proxy.CodeUnsupportedParameter, "dimensions"},
		{"embedding format", "/v1/embeddings", `{"model":"tiny","input":"a","encoding_format":"int8"}`, "invalid_value", "encoding_format"},
		{"embedding tokens", "/v1/embeddings", `{"model":"tiny","input":[[1,2]]}`, "invalid_value", "input"},
		{"embedding empty input", "/v1/embeddings", `{"model":"tiny","input":["a",""]}`, "invalid_value", "input"},
		{"embedding no input", "/v1/embeddings", `{"model":"tiny"}`, "invalid_value", "input"},
		{"usage query", "/v1/usage?day=1", ``, proxy.CodeUnsupportedParameter, "day"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			method := "POST"
			if strings.HasPrefix(tc.path, "/v1/usage") {
				method = "GET"
			}
			resp, body := do(t, tp, method, tc.path, testKey, tc.body, nil)
			var e struct {
				Error struct {
					Code, Param, Type string
				} `json:"error"`
			}
			if err := json.Unmarshal(body, &e); err != nil {
				t.Fatalf("%v: %s", err, body)
			}
			if resp.StatusCode != http.StatusBadRequest || e.Error.Code != tc.code || e.Error.Param != tc.param || e.Error.Type != "invalid_request_error" {
				t.Errorf("%d %+v: want 400 %s param %s", resp.StatusCode, e.Error, tc.code, tc.param)
			}
		})
	}
	resp, body := do(t, tp, "POST", "/v1/completions", testKey, `{"model":"tiny","prompt":"a","echo":null,"suffix":null}`, nil)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("null fields: %d %s", resp.StatusCode, body)
	}
}

// syncBuffer is a log sink the proxy writes from many goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRequestID: every answer, errors included, carries X-Request-Id: the
// client's own when it is usable, else one the proxy made; the proxy's log
// lines of the request (its access line and the job's) carry it.
func TestRequestID(t *testing.T) {
	logs := &syncBuffer{}
	cfg := baseConfig(t.TempDir())
	p, err := proxy.New(cfg, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tp := &testProxy{Proxy: p, cancel: cancel, errc: make(chan error, 1)}
	go func() { tp.errc <- p.Run(ctx) }()
	t.Cleanup(func() { tp.stop(t) })
	tp.worker(t, proxytest.Options{})
	chat := `{"model":"tiny","messages":[{"role":"user","content":"hi"}]}`
	tests := []struct {
		name, path, key, body, given string
		status                       int
		echoed                       bool
	}{
		{"given, chat", "/v1/chat/completions", testKey, chat, "trace-0af7651916cd43dd8448eb211c80319c", 200, true},
		{"generated, chat", "/v1/chat/completions", testKey, chat, "", 200, false},
		{"given, 401", "/v1/chat/completions", "", chat, "client:req/42", 401, true},
		{"given, 404", "/v1/nothing", testKey, "", "abc", 404, true},
		{"given, 400", "/v1/chat/completions", testKey, `{"model":"tiny"}`, "A-b_c.d+e=", 400, true},
		{"unusable: a space", "/v1/models", testKey, "", "has space", 405, false},
		{"unusable: too long", "/v1/chat/completions", testKey, chat, strings.Repeat("x", proxy.MaxRequestIDLength+1), 200, false},
		{"longest usable", "/v1/chat/completions", testKey, chat, strings.Repeat("y", proxy.MaxRequestIDLength), 200, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hdr := map[string]string{}
			if tc.given != "" {
				hdr[proxy.RequestIDHeader] = tc.given
			}
			resp, body := do(t, tp, "POST", tc.path, tc.key, tc.body, hdr)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			id := resp.Header.Get(proxy.RequestIDHeader)
			switch {
			case tc.echoed && id != tc.given:
				t.Fatalf("request id %q, want the given %q", id, tc.given)
			case !tc.echoed && (!strings.HasPrefix(id, "req_") || len(id) != 36):
				t.Fatalf("request id %q: want a generated req_<32 hex>", id)
			}
			// The access line is written once the handler returned: wait for it.
			if !waitLog(logs, "api request", id) {
				t.Errorf("no access log line carries request_id=%s:\n%s", id, logs.String())
			}
			if tc.status == 200 && !waitLog(logs, "job done", id) {
				t.Errorf("the job's log line does not carry request_id=%s", id)
			}
		})
	}
}

// waitLog waits (5 s at most) for a log line with msg and request_id=id
// (slog quotes an id holding '=').
func waitLog(logs *syncBuffer, msg, id string) bool {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		for _, line := range strings.Split(logs.String(), "\n") {
			if strings.Contains(line, "msg=\""+msg+"\"") &&
				(strings.Contains(line, "request_id="+id+" ") || strings.Contains(line, "request_id="+strconv.Quote(id)+" ")) {
				return true
			}
		}
	}
	return false
}

// TestRateLimitHeaders: a rate-limited key's answers report OpenAI's
// x-ratelimit-*-requests headers counting down; past the limit the 429
// says when to retry (Retry-After), as does a 503 when no worker serves.
func TestRateLimitHeaders(t *testing.T) {
	tp := startProxy(t, "", func(c *proxy.Config) { c.APIKeys[0].RateLimitPerMin = 2 })
	tp.worker(t, proxytest.Options{})
	for i, wantRemaining := range []string{"1", "0"} {
		resp, body := do(t, tp, "GET", "/v1/models", testKey, "", nil)
		if resp.StatusCode != 200 {
			t.Fatalf("request %d: %d %s", i, resp.StatusCode, body)
		}
		h := resp.Header
		if h.Get("X-Ratelimit-Limit-Requests") != "2" || h.Get("X-Ratelimit-Remaining-Requests") != wantRemaining {
			t.Errorf("request %d: limit %q remaining %q, want 2, %s", i, h.Get("X-Ratelimit-Limit-Requests"), h.Get("X-Ratelimit-Remaining-Requests"), wantRemaining)
		}
		if d, err := time.ParseDuration(h.Get("X-Ratelimit-Reset-Requests")); err != nil || d <= 0 || d > time.Minute {
			t.Errorf("request %d: reset %q (%v): want a duration within a minute", i, h.Get("X-Ratelimit-Reset-Requests"), err)
		}
	}
	resp, body := do(t, tp, "GET", "/v1/models", testKey, "", nil)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("X-Ratelimit-Remaining-Requests") != "0" {
		t.Fatalf("third request: %d remaining %q: %s", resp.StatusCode, resp.Header.Get("X-Ratelimit-Remaining-Requests"), body)
	}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || s < 1 || s > 60 {
		t.Errorf("429 Retry-After %q: want 1..60 seconds", resp.Header.Get("Retry-After"))
	}

	// A 503 (no worker for a priced model) says when to retry too; an
	// unlimited key gets no rate-limit headers.
	tp2 := startProxy(t, "", nil)
	resp, body = do(t, tp2, "POST", "/v1/chat/completions", testKey, `{"model":"other","messages":[{"role":"user","content":"hi"}]}`, nil)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "1" {
		t.Errorf("503: %d Retry-After %q: %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if h := resp.Header.Get("X-Ratelimit-Limit-Requests"); h != "" {
		t.Errorf("an unlimited key got x-ratelimit-limit-requests %q", h)
	}
}

// TestUsagePerKey: GET /v1/usage answers each key with its own usage only,
// by day and model; its sums are what the key was charged in each answer
// and what the receipts record.
func TestUsagePerKey(t *testing.T) {
	const otherKey = "sk-other-0123456789abcdef"
	tp := startProxy(t, "", func(c *proxy.Config) {
		withEmbedPrice(c)
		c.APIKeys = append(c.APIKeys, proxy.APIKey{Key: otherKey, Name: "other app"})
	})
	w := tp.worker(t, proxytest.Options{Features: allFeatures})
	ctx := testCtx(t)
	type sums struct{ requests, prompt, completion, cost int64 }
	charged := map[string]*sums{testKey: {}, otherKey: {}}
	for key, chats := range map[string]int{testKey: 2, otherKey: 1} {
		c := openai.NewClient(option.WithBaseURL("http://"+tp.APIAddr()+"/v1/"), option.WithAPIKey(key), option.WithMaxRetries(0))
		s := charged[key]
		for i := 0; i < chats; i++ {
			resp, err := c.Chat.Completions.New(ctx, chatParams())
			if err != nil {
				t.Fatal(err)
			}
			s.requests++
			s.prompt += resp.Usage.PromptTokens
			s.completion += resp.Usage.CompletionTokens
			s.cost += totalCost(t, resp.Usage)
		}
		if key == testKey {
			resp, err := c.Embeddings.New(ctx, openai.EmbeddingNewParams{Model: model, Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String("x")}})
			if err != nil {
				t.Fatal(err)
			}
			s.requests++
			s.prompt += resp.Usage.PromptTokens
			s.cost += costOf(t, resp.Usage.JSON.ExtraFields["total_cost"].Raw())
		}
	}
	rs := checkReceipts(t, tp, w, 4)
	var rPrompt, rCompletion int64
	for _, r := range rs {
		rPrompt += r.Receipt.PromptTokens
		rCompletion += r.Receipt.CompletionTokens
	}
	if all := charged[testKey].prompt + charged[otherKey].prompt; all != rPrompt {
		t.Errorf("receipts hold %d prompt tokens, the keys were charged %d", rPrompt, all)
	}
	today := time.Now().UTC().Format(proxy.DayLayout)
	for key, want := range charged {
		resp, body := do(t, tp, "GET", "/v1/usage?from="+today+"&to="+today, key, "", nil)
		if resp.StatusCode != 200 {
			t.Fatalf("%d: %s", resp.StatusCode, body)
		}
		var out struct {
			Key   string             `json:"key"`
			Data  []proxy.DailyUsage `json:"data"`
			Total proxy.DailyUsage   `json:"total"`
		}
		if err := json.Unmarshal(body, &out); err != nil {
			t.Fatal(err)
		}
		got := sums{out.Total.Requests, out.Total.PromptTokens, out.Total.CompletionTokens, out.Total.Cost}
		if got != *want {
			t.Errorf("key %s: usage %+v, charged %+v", out.Key, got, *want)
		}
		if len(out.Data) != 1 || out.Data[0].Date != today || out.Data[0].Model != model {
			t.Errorf("key %s: days %+v: want one row for %s, %s", out.Key, out.Data, today, model)
		}
	}
	// Another day's range is empty; a bad range is a 400 naming the field.
	resp, body := do(t, tp, "GET", "/v1/usage?from=2020-01-01&to=2020-01-31", testKey, "", nil)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"data":[]`) {
		t.Errorf("old range: %d %s", resp.StatusCode, body)
	}
	for q, param := range map[string]string{"from=2026-13-01": "from", "to=yesterday": "to",
		"from=2026-02-01&to=2026-01-01": "to", "from=2020-01-01&to=2026-01-01": "from"} {
		resp, body := do(t, tp, "GET", "/v1/usage?"+q, testKey, "", nil)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), `"code":"invalid_value"`) ||
			!strings.Contains(string(body), `"param":"`+param+`"`) {
			t.Errorf("%s: %d %s: want 400 invalid_value naming %s", q, resp.StatusCode, body, param)
		}
	}
}
