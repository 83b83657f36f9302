package proxy_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/xssnick/tonutils-go/address"

	"github.com/cocoon-desktop/cocoon-desktop/network"
	"github.com/cocoon-desktop/cocoon-desktop/network/proxy"
	"github.com/cocoon-desktop/cocoon-desktop/network/proxy/proxytest"
	"github.com/cocoon-desktop/cocoon-desktop/receipt"
)

const (
	testKey   = "sk-test-0123456789abcdef"
	model     = "tiny"
	pPrompt   = 100  // nanoTON per prompt token
	pComplete = 1000 // nanoTON per completion token
)

type testProxy struct {
	*proxy.Proxy
	dir    string
	cancel context.CancelFunc
	errc   chan error
}

func baseConfig(dir string) proxy.Config {
	cfg := proxy.DefaultConfig()
	cfg.APIAddr = "127.0.0.1:0"
	cfg.WorkerAddr = "127.0.0.1:0"
	cfg.DataDir = dir
	cfg.Models = map[string]proxy.ModelPrice{model: {PricePrompt: pPrompt, PriceCompletion: pComplete}, "other": {PricePrompt: 1, PriceCompletion: 1}}
	cfg.APIKeys = []proxy.APIKey{{Key: testKey, Name: "test app"}}
	cfg.JobTimeout = 10 * time.Second
	return cfg
}

// startProxy runs a proxy on ephemeral ports until the test ends.
func startProxy(t *testing.T, dir string, mod func(*proxy.Config)) *testProxy {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	cfg := baseConfig(dir)
	if mod != nil {
		mod(&cfg)
	}
	p, err := proxy.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tp := &testProxy{Proxy: p, dir: dir, cancel: cancel, errc: make(chan error, 1)}
	go func() { tp.errc <- p.Run(ctx) }()
	t.Cleanup(func() { tp.stop(t) })
	return tp
}

func (tp *testProxy) stop(t *testing.T) {
	if tp.cancel == nil {
		return
	}
	tp.cancel()
	tp.cancel = nil
	select {
	case err := <-tp.errc:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("Run did not return after cancel")
	}
}

func (tp *testProxy) worker(t *testing.T, opts proxytest.Options) *proxytest.Worker {
	t.Helper()
	if opts.Models == nil {
		opts.Models = proxytest.Models(model)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	w, err := proxytest.Dial(ctx, tp.WorkerURL(), tp.PublicKey(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		select {
		case <-w.Done():
		default:
			w.Close()
		}
	})
	return w
}

func (tp *testProxy) client() *openai.Client {
	c := openai.NewClient(option.WithBaseURL("http://"+tp.APIAddr()+"/v1/"), option.WithAPIKey(testKey), option.WithMaxRetries(0))
	return &c
}

func (tp *testProxy) url(path string) string { return "http://" + tp.APIAddr() + path }

func chatParams() openai.ChatCompletionNewParams {
	return openai.ChatCompletionNewParams{
		Model:    model,
		Messages: []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("be brief"), openai.UserMessage("hi")},
	}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func amount(prompt, completion int64) (worker, gross int64) {
	worker, _ = receipt.Amount(prompt, completion, pPrompt, pComplete, 1000, proxy.DefaultCommissionBPS)
	gross, _ = receipt.Amount(prompt, completion, pPrompt, pComplete, 1000, 0)
	return
}

func totalCost(t *testing.T, u openai.CompletionUsage) int64 {
	t.Helper()
	f, ok := u.JSON.ExtraFields["total_cost"]
	if !ok {
		t.Fatalf("usage has no total_cost: %s", u.RawJSON())
	}
	var v int64
	if err := json.Unmarshal([]byte(f.Raw()), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func checkReceipts(t *testing.T, tp *testProxy, w *proxytest.Worker, n int) []receipt.Signed {
	t.Helper()
	rs, err := w.WaitReceipts(testCtx(t), n)
	if err != nil {
		t.Fatalf("waiting for %d receipts: %v (got %d)", n, err, len(rs))
	}
	if errs := w.ReceiptErrors(); len(errs) > 0 {
		t.Fatalf("receipts do not verify: %v", errs)
	}
	var sum int64
	for i, r := range rs {
		if err := r.Verify(tp.PublicKey()); err != nil {
			t.Errorf("receipt %d: %v", i, err)
		}
		sum += r.Receipt.Amount // receipts may arrive out of seq order under concurrency: sum them all
	}
	rec, ok, err := tp.Store().Worker(context.Background(), w.ID())
	if err != nil || !ok {
		t.Fatalf("store worker: %v %v", ok, err)
	}
	if rec.Cumulative != sum || rec.LastSeq != int64(len(rs)) {
		t.Errorf("store cumulative %d seq %d, receipts sum %d count %d", rec.Cumulative, rec.LastSeq, sum, len(rs))
	}
	var maxCum int64
	for _, r := range rs {
		maxCum = max(maxCum, r.Receipt.Cumulative)
	}
	if maxCum != rec.Cumulative {
		t.Errorf("highest receipt cumulative %d, store %d", maxCum, rec.Cumulative)
	}
	return rs
}

func TestChatCompletion(t *testing.T) {
	tp := startProxy(t, "", nil)
	w := tp.worker(t, proxytest.Options{Script: func(network.Job) proxytest.Behavior {
		return proxytest.Behavior{Deltas: []string{"Hello", ", ", "world"}, Usage: network.Usage{PromptTokens: 12, CompletionTokens: 3}}
	}})
	c := tp.client()
	wantWorker, wantGross := amount(12, 3)

	t.Run("non-stream", func(t *testing.T) {
		resp, err := c.Chat.Completions.New(testCtx(t), chatParams())
		if err != nil {
			t.Fatal(err)
		}
		if got := resp.Choices[0].Message.Content; got != "Hello, world" {
			t.Errorf("content %q", got)
		}
		if resp.Object != "chat.completion" || resp.Model != model || resp.Choices[0].FinishReason != "stop" {
			t.Errorf("response %s", resp.RawJSON())
		}
		if resp.Usage.PromptTokens != 12 || resp.Usage.CompletionTokens != 3 || resp.Usage.TotalTokens != 15 {
			t.Errorf("usage %s", resp.Usage.RawJSON())
		}
		if got := totalCost(t, resp.Usage); got != wantGross {
			t.Errorf("total_cost %d, want %d", got, wantGross)
		}
		rs := checkReceipts(t, tp, w, 1)
		if rs[0].Receipt.Amount != wantWorker || rs[0].Receipt.Model != model || rs[0].Receipt.WorkerID != w.ID() {
			t.Errorf("receipt %+v", rs[0].Receipt)
		}
		jobs := w.Jobs()
		if len(jobs[0].Messages) != 2 || jobs[0].Messages[1].Content != "hi" || jobs[0].Deadline == 0 {
			t.Errorf("job %+v", jobs[0])
		}
	})

	t.Run("stream with usage", func(t *testing.T) {
		p := chatParams()
		p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
		s := c.Chat.Completions.NewStreaming(testCtx(t), p)
		var text strings.Builder
		var usage *openai.CompletionUsage
		chunks := 0
		for s.Next() {
			ch := s.Current()
			chunks++
			if ch.Object != "chat.completion.chunk" {
				t.Errorf("chunk object %q", ch.Object)
			}
			for _, choice := range ch.Choices {
				text.WriteString(choice.Delta.Content)
			}
			if ch.JSON.Usage.Valid() && ch.Usage.TotalTokens > 0 {
				u := ch.Usage
				usage = &u
			}
		}
		if err := s.Err(); err != nil {
			t.Fatal(err)
		}
		if text.String() != "Hello, world" {
			t.Errorf("text %q", text.String())
		}
		if usage == nil || usage.PromptTokens != 12 || usage.CompletionTokens != 3 {
			t.Fatalf("usage %+v", usage)
		}
		if got := totalCost(t, *usage); got != wantGross {
			t.Errorf("total_cost %d, want %d", got, wantGross)
		}
		checkReceipts(t, tp, w, 2)
	})

	t.Run("stream without usage", func(t *testing.T) {
		s := c.Chat.Completions.NewStreaming(testCtx(t), chatParams())
		var acc openai.ChatCompletionAccumulator
		for s.Next() {
			acc.AddChunk(s.Current())
			if s.Current().JSON.Usage.Valid() && s.Current().Usage.TotalTokens != 0 {
				t.Error("usage chunk without include_usage")
			}
		}
		if err := s.Err(); err != nil {
			t.Fatal(err)
		}
		if acc.Choices[0].Message.Content != "Hello, world" {
			t.Errorf("text %q", acc.Choices[0].Message.Content)
		}
		checkReceipts(t, tp, w, 3)
	})

	t.Run("models and usage accounting", func(t *testing.T) {
		page, err := c.Models.List(testCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Data) != 1 || page.Data[0].ID != model {
			t.Errorf("models %+v", page.Data)
		}
		u, err := tp.Store().Usage(context.Background(), proxy.KeyDigest(testKey))
		if err != nil || u.Requests != 3 || u.Cost != 3*wantGross || u.PromptTokens != 36 || u.Name != "test app" {
			t.Errorf("usage %+v %v", u, err)
		}
		tot, _ := tp.Store().Totals(context.Background())
		if tot.Jobs != 3 || tot.PaidToWorkers != 3*wantWorker || tot.Commission != 3*(wantGross-wantWorker) {
			t.Errorf("totals %+v", tot)
		}
	})
}

func TestModelsListsOnlyServableModels(t *testing.T) {
	tp := startProxy(t, "", nil)
	c := tp.client()
	list := func() []string {
		page, err := c.Models.List(testCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, m := range page.Data {
			ids = append(ids, m.ID)
		}
		return ids
	}
	if got := list(); len(got) != 0 {
		t.Errorf("no workers: models %v", got)
	}
	w := tp.worker(t, proxytest.Options{Models: proxytest.Models(model, "unpriced")})
	if got := list(); len(got) != 1 || got[0] != model {
		t.Errorf("models %v, want [%s]", got, model)
	}
	if err := w.SetAvailability(testCtx(t), network.Paused); err != nil {
		t.Fatal(err)
	}
	if got := list(); len(got) != 0 {
		t.Errorf("paused worker: models %v", got)
	}
}

func TestRouting(t *testing.T) {
	tests := []struct {
		name string
		// a and b are connected in that order (a is older).
		a, b   proxytest.Options
		busyOn string // "a": a job keeps a busy first
		want   string // which worker takes the (next) request
	}{
		{name: "idle tie goes to the older connection", want: "a"},
		{name: "load: busy worker is avoided", busyOn: "a", want: "b"},
		{name: "model loaded wins a tie", a: proxytest.Options{Models: []network.ModelInfo{{Name: model, Loaded: false}}}, want: "b"},
		{name: "only the worker with the model", a: proxytest.Options{Models: proxytest.Models("other")}, want: "b"},
		{name: "paused worker is skipped", a: proxytest.Options{State: network.Paused}, want: "b"},
		{name: "worker at max concurrency is skipped", a: proxytest.Options{MaxConcurrent: 1}, busyOn: "a", want: "b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tp := startProxy(t, "", nil)
			gate := make(chan struct{})
			defer close(gate)
			var busySent bool
			script := func(job network.Job) proxytest.Behavior {
				if job.Messages[len(job.Messages)-1].Content == "busy" {
					return proxytest.Behavior{Gate: gate}
				}
				return proxytest.Behavior{}
			}
			tt.a.Script, tt.b.Script = script, script
			wa := tp.worker(t, tt.a)
			wb := tp.worker(t, tt.b)
			c := tp.client()
			if tt.busyOn != "" {
				// Only a can take the first job: b pauses until it is placed.
				if err := wb.SetAvailability(testCtx(t), network.Paused); err != nil {
					t.Fatal(err)
				}
				busyCtx, cancelBusy := context.WithCancel(context.Background())
				defer cancelBusy()
				p := chatParams()
				p.Messages = []openai.ChatCompletionMessageParamUnion{openai.UserMessage("busy")}
				go c.Chat.Completions.New(busyCtx, p)
				if _, err := wa.WaitJobs(testCtx(t), 1); err != nil {
					t.Fatal(err)
				}
				if err := wb.SetAvailability(testCtx(t), network.Accepting); err != nil {
					t.Fatal(err)
				}
				busySent = true
			}
			if _, err := c.Chat.Completions.New(testCtx(t), chatParams()); err != nil {
				t.Fatal(err)
			}
			winner := wa
			if tt.want == "b" {
				winner = wb
			}
			if _, err := winner.WaitReceipts(testCtx(t), 1); err != nil {
				t.Fatalf("worker %s got no receipt: %v", tt.want, err)
			}
			other := wb
			if winner == wb {
				other = wa
			}
			wantOtherJobs := 0
			if busySent && other == wa {
				wantOtherJobs = 1
			}
			if n := len(other.Jobs()); n != wantOtherJobs {
				t.Errorf("the other worker got %d jobs, want %d", n, wantOtherJobs)
			}
		})
	}
}

func TestRetryOnAnotherWorkerBeforeFirstToken(t *testing.T) {
	tests := []struct {
		name    string
		failing proxytest.Behavior
	}{
		{"job_error before first delta", proxytest.Behavior{Failure: proxytest.FailBefore}},
		{"busy before first delta", proxytest.Behavior{Failure: proxytest.FailBefore, Code: network.CodeBusy}},
		{"disconnect before first delta", proxytest.Behavior{Failure: proxytest.Disconnect, After: 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tp := startProxy(t, "", nil)
			bad := tp.worker(t, proxytest.Options{Script: func(network.Job) proxytest.Behavior { return tt.failing }})
			good := tp.worker(t, proxytest.Options{})
			p := chatParams()
			for _, stream := range []bool{false, true} {
				if stream && tt.failing.Failure == proxytest.Disconnect {
					break // the bad worker is gone after the first request
				}
				var text string
				if stream {
					cl := tp.client()
					s := cl.Chat.Completions.NewStreaming(testCtx(t), p)
					var acc openai.ChatCompletionAccumulator
					for s.Next() {
						acc.AddChunk(s.Current())
					}
					if err := s.Err(); err != nil {
						t.Fatal(err)
					}
					text = acc.Choices[0].Message.Content
				} else {
					cl := tp.client()
					resp, err := cl.Chat.Completions.New(testCtx(t), p)
					if err != nil {
						t.Fatal(err)
					}
					text = resp.Choices[0].Message.Content
				}
				if text != "Hello, world" {
					t.Errorf("text %q", text)
				}
			}
			if len(bad.Jobs()) == 0 {
				t.Error("the failing worker was not tried first")
			}
			if n := len(bad.Receipts()); n != 0 {
				t.Errorf("the failing worker got %d receipts", n)
			}
			if len(good.Jobs()) == 0 {
				t.Fatal("the good worker got no job")
			}
			checkReceipts(t, tp, good, len(good.Jobs()))
		})
	}
}

func TestAllWorkersFailBeforeFirstToken(t *testing.T) {
	tp := startProxy(t, "", nil)
	tp.worker(t, proxytest.Options{Script: func(network.Job) proxytest.Behavior { return proxytest.Behavior{Failure: proxytest.FailBefore} }})
	_, err := tp.client().Chat.Completions.New(testCtx(t), chatParams())
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusBadGateway {
		t.Fatalf("err = %v, want 502", err)
	}
}

func TestWorkerFailsMidStream(t *testing.T) {
	tests := []struct {
		name     string
		behavior proxytest.Behavior
	}{
		{"disconnect after 2 deltas", proxytest.Behavior{Failure: proxytest.Disconnect, After: 2}},
		{"job_error after 2 deltas", proxytest.Behavior{Failure: proxytest.FailAfter, After: 2}},
	}
	for _, tt := range tests {
		for _, stream := range []bool{true, false} {
			name := tt.name + map[bool]string{true: "/stream", false: "/non-stream"}[stream]
			t.Run(name, func(t *testing.T) {
				tp := startProxy(t, "", nil)
				w := tp.worker(t, proxytest.Options{Script: func(network.Job) proxytest.Behavior { return tt.behavior }})
				// A second worker must NOT be used: output has already been relayed.
				spare := tp.worker(t, proxytest.Options{})
				c := tp.client()
				if stream {
					s := c.Chat.Completions.NewStreaming(testCtx(t), chatParams())
					var text strings.Builder
					for s.Next() {
						for _, ch := range s.Current().Choices {
							text.WriteString(ch.Delta.Content)
						}
					}
					err := s.Err()
					if err == nil || !strings.Contains(err.Error(), "worker") {
						t.Fatalf("stream error = %v, want a worker failure", err)
					}
					if text.String() != "Hello, " {
						t.Errorf("relayed %q before the failure", text.String())
					}
				} else {
					_, err := c.Chat.Completions.New(testCtx(t), chatParams())
					var apiErr *openai.Error
					if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusBadGateway || apiErr.Code != "worker_failed" {
						t.Fatalf("err = %v, want 502 worker_failed", err)
					}
				}
				if len(spare.Jobs()) != 0 {
					t.Error("retried on another worker after output was relayed")
				}
				if err := spare.Sync(testCtx(t)); err != nil {
					t.Fatal(err)
				}
				if n := len(w.Receipts()); n != 0 {
					t.Errorf("failed job got %d receipts", n)
				}
				if tot, _ := tp.Store().Totals(context.Background()); tot.Jobs != 0 {
					t.Errorf("failed job credited: %+v", tot)
				}
			})
		}
	}
}

func TestClientCancelSendsCancelToWorker(t *testing.T) {
	tp := startProxy(t, "", nil)
	w := tp.worker(t, proxytest.Options{Script: func(network.Job) proxytest.Behavior {
		return proxytest.Behavior{Failure: proxytest.Hang, After: 1}
	}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := tp.client().Chat.Completions.NewStreaming(ctx, chatParams())
	gotText := false
	for s.Next() {
		for _, ch := range s.Current().Choices {
			if ch.Delta.Content != "" {
				gotText = true
			}
		}
		if gotText {
			cancel() // the app developer goes away mid-stream
		}
	}
	if !gotText {
		t.Fatalf("no text before cancel: %v", s.Err())
	}
	cs, err := w.WaitCancels(testCtx(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	if cs[0].JobID != w.Jobs()[0].JobID {
		t.Errorf("cancel for %s, job was %s", cs[0].JobID, w.Jobs()[0].JobID)
	}
	// The client got one piece of text: it pays for it and the worker is
	// credited (without a token counter for the model: one token a piece,
	// no prompt tokens; TestClientLeavingPaysForWhatItGot has the rest).
	rs, err := w.WaitReceipts(testCtx(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	if r := rs[0].Receipt; r.JobID != cs[0].JobID || r.PromptTokens != 0 || r.CompletionTokens != 1 {
		t.Errorf("receipt %+v, want job %s credited 0 + 1 tokens", r, cs[0].JobID)
	}
	// The slot is free again: a new job is routed to the same worker.
	waitNoRunning(t, tp)
}

func waitNoRunning(t *testing.T, tp *testProxy) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, err := tp.Status(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if st.JobsRunning == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("jobs still running: %+v", st)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestDeadlineCancelsAnd504(t *testing.T) {
	tp := startProxy(t, "", func(c *proxy.Config) { c.JobTimeout = 150 * time.Millisecond })
	w := tp.worker(t, proxytest.Options{Script: func(network.Job) proxytest.Behavior { return proxytest.Behavior{Failure: proxytest.Hang} }})
	_, err := tp.client().Chat.Completions.New(testCtx(t), chatParams())
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusGatewayTimeout {
		t.Fatalf("err = %v, want 504", err)
	}
	if _, err := w.WaitCancels(testCtx(t), 1); err != nil {
		t.Fatal(err)
	}
	waitNoRunning(t, tp)
}

func TestConcurrentRequestsAcrossTwoWorkers(t *testing.T) {
	tp := startProxy(t, "", nil)
	w1 := tp.worker(t, proxytest.Options{MaxConcurrent: 10})
	w2 := tp.worker(t, proxytest.Options{MaxConcurrent: 10})
	c := tp.client()
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%2 == 0 {
				resp, err := c.Chat.Completions.New(testCtx(t), chatParams())
				if err == nil && resp.Choices[0].Message.Content != "Hello, world" {
					err = errors.New("wrong text " + resp.Choices[0].Message.Content)
				}
				errs <- err
				return
			}
			s := c.Chat.Completions.NewStreaming(testCtx(t), chatParams())
			for s.Next() {
			}
			errs <- s.Err()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	n1, n2 := len(w1.Jobs()), len(w2.Jobs())
	if n1+n2 != n {
		t.Errorf("jobs %d + %d, want %d", n1, n2, n)
	}
	checkReceipts(t, tp, w1, n1)
	checkReceipts(t, tp, w2, n2)
	tot, _ := tp.Store().Totals(context.Background())
	wa, _ := amount(10, 3)
	if tot.Jobs != n || tot.PaidToWorkers != n*wa {
		t.Errorf("totals %+v", tot)
	}
}

func TestNoWorker503(t *testing.T) {
	tp := startProxy(t, "", nil)
	_, err := tp.client().Chat.Completions.New(testCtx(t), chatParams())
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusServiceUnavailable || apiErr.Code != "no_worker_available" {
		t.Fatalf("err = %v, want 503 no_worker_available", err)
	}
	// A worker without the model does not help.
	tp.worker(t, proxytest.Options{Models: proxytest.Models("other")})
	_, err = tp.client().Chat.Completions.New(testCtx(t), chatParams())
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("err = %v, want 503", err)
	}
}

func TestBadRequests(t *testing.T) {
	tp := startProxy(t, "", func(c *proxy.Config) {
		c.APIKeys = append(c.APIKeys, proxy.APIKey{KeySHA256: proxy.KeyDigest("sk-limited-0123456789"), Name: "limited", RateLimitPerMin: 1})
	})
	tp.worker(t, proxytest.Options{})
	good := `{"model":"tiny","messages":[{"role":"user","content":"hi"}]}`
	tests := []struct {
		name, method, path, key, body string
		status                        int
		code                          string
	}{
		{"no key", "POST", "/v1/chat/completions", "", good, 401, "missing_api_key"},
		{"bad key", "POST", "/v1/chat/completions", "sk-wrong-0123456789abcdef", good, 401, "invalid_api_key"},
		{"unknown model", "POST", "/v1/chat/completions", testKey, `{"model":"gpt-9","messages":[{"role":"user","content":"hi"}]}`, 404, "model_not_found"},
		{"malformed JSON", "POST", "/v1/chat/completions", testKey, `{"model":`, 400, "invalid_json"},
		{"missing model", "POST", "/v1/chat/completions", testKey, `{"messages":[{"role":"user","content":"hi"}]}`, 400, "invalid_value"},
		{"missing messages", "POST", "/v1/chat/completions", testKey, `{"model":"tiny"}`, 400, "invalid_value"},
		{"bad role", "POST", "/v1/chat/completions", testKey, `{"model":"tiny","messages":[{"role":"tool","content":"x"}]}`, 400, "invalid_value"},
		{"bad temperature", "POST", "/v1/chat/completions", testKey, `{"model":"tiny","temperature":3,"messages":[{"role":"user","content":"hi"}]}`, 400, "invalid_value"},
		{"n=2", "POST", "/v1/chat/completions", testKey, `{"model":"tiny","n":2,"messages":[{"role":"user","content":"hi"}]}`, 400, "unsupported_parameter"},
		{"image part", "POST", "/v1/chat/completions", testKey, `{"model":"tiny","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]}`, 400, "invalid_value"},
		{"oversized body", "POST", "/v1/chat/completions", testKey, `{"model":"tiny","messages":[{"role":"user","content":"` + strings.Repeat("a", 2<<20) + `"}]}`, 413, "request_too_large"},
		{"wrong method", "GET", "/v1/chat/completions", testKey, "", 405, "method_not_allowed"},
		{"unknown path", "GET", "/v1/nope", testKey, "", 404, "not_found"},
		{"rate limit: first passes", "POST", "/v1/chat/completions", "sk-limited-0123456789", good, 200, ""},
		{"rate limit: second is 429", "POST", "/v1/chat/completions", "sk-limited-0123456789", good, 429, "rate_limit_exceeded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(testCtx(t), tt.method, tp.url(tt.path), strings.NewReader(tt.body))
			if tt.key != "" {
				req.Header.Set("Authorization", "Bearer "+tt.key)
			}
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			if tt.code == "" {
				return
			}
			var e struct {
				Error struct {
					Message string  `json:"message"`
					Type    string  `json:"type"`
					Param   *string `json:"param"`
					Code    string  `json:"code"`
				} `json:"error"`
			}
			if err := json.Unmarshal(body, &e); err != nil {
				t.Fatalf("not OpenAI's error shape: %s", body)
			}
			if e.Error.Code != tt.code || e.Error.Message == "" || e.Error.Type == "" {
				t.Errorf("error %+v, want code %s", e.Error, tt.code)
			}
			if !bytes.Contains(body, []byte(`"param"`)) {
				t.Errorf("error has no param field: %s", body)
			}
		})
	}
}

func TestReplayedDoneIsNotCreditedTwice(t *testing.T) {
	tp := startProxy(t, "", nil)
	w := tp.worker(t, proxytest.Options{Script: func(network.Job) proxytest.Behavior { return proxytest.Behavior{ReplayDone: true} }})
	if _, err := tp.client().Chat.Completions.New(testCtx(t), chatParams()); err != nil {
		t.Fatal(err)
	}
	// The replay is a late message of an ended job: dropped quietly (the
	// proxy reads a worker's frames in order, so after the pong it was read).
	if err := w.Sync(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if errs := w.Errors(); len(errs) != 0 {
		t.Errorf("a replayed done drew protocol errors: %+v", errs)
	}
	// A done for a job that never ran here is still an error.
	if err := w.Send(network.TypeDone, &network.Done{JobID: "never-sent", FinishReason: "stop"}); err != nil {
		t.Fatal(err)
	}
	errs, err := w.WaitErrors(testCtx(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	if errs[0].Code != network.CodeBadMessage || !strings.Contains(errs[0].Message, "no running job") {
		t.Errorf("error %+v", errs[0])
	}
	checkReceipts(t, tp, w, 1)
	if n := len(w.Receipts()); n != 1 {
		t.Errorf("%d receipts", n)
	}
	if tot, _ := tp.Store().Totals(context.Background()); tot.Jobs != 1 {
		t.Errorf("totals %+v", tot)
	}
}

func TestRestartKeepsTotals(t *testing.T) {
	dir := t.TempDir()
	key, _ := proxytest.NewKey()
	tp := startProxy(t, dir, nil)
	pub := tp.PublicKey()
	w := tp.worker(t, proxytest.Options{Key: key})
	for range 2 {
		if _, err := tp.client().Chat.Completions.New(testCtx(t), chatParams()); err != nil {
			t.Fatal(err)
		}
	}
	before := checkReceipts(t, tp, w, 2)
	// A second instance on the same data_dir fails fast.
	if _, err := proxy.New(baseConfig(dir), nil); !errors.Is(err, proxy.ErrStoreLocked) {
		t.Fatalf("second instance: %v, want ErrStoreLocked", err)
	}
	tp.stop(t)
	select {
	case <-w.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("worker not disconnected at shutdown")
	}
	if byes := w.Byes(); len(byes) == 0 {
		t.Error("no bye at shutdown")
	}

	tp2 := startProxy(t, dir, nil)
	if !tp2.PublicKey().Equal(pub) {
		t.Fatal("proxy key changed across restarts")
	}
	w2 := tp2.worker(t, proxytest.Options{Key: key})
	if _, err := tp2.client().Chat.Completions.New(testCtx(t), chatParams()); err != nil {
		t.Fatal(err)
	}
	rs, err := w2.WaitReceipts(testCtx(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	r := rs[0].Receipt
	prev := before[len(before)-1].Receipt
	if r.Seq != 3 || r.Cumulative != prev.Cumulative+r.Amount {
		t.Errorf("after restart: seq %d cumulative %d, want 3 and %d", r.Seq, r.Cumulative, prev.Cumulative+r.Amount)
	}
	if err := rs[0].Verify(pub); err != nil {
		t.Error(err)
	}
	if tot, _ := tp2.Store().Totals(context.Background()); tot.Jobs != 3 {
		t.Errorf("totals %+v", tot)
	}
}

// rawConn dials the worker endpoint without the handshake.
func rawConn(t *testing.T, tp *testProxy) *websocket.Conn {
	t.Helper()
	c, err := proxytest.DialConn(testCtx(t), tp.WorkerURL(), tp.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

// expectError reads frames until an error message; it fails on a timeout.
func expectError(t *testing.T, c *websocket.Conn, code string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		env, payload, err := proxytest.Read(ctx, c)
		if err != nil {
			t.Fatalf("waiting for error %s: %v", code, err)
		}
		if env.Type == network.TypeError {
			if em := payload.(*network.ErrorMsg); em.Code != code {
				t.Fatalf("error %+v, want code %s", em, code)
			}
			return
		}
	}
}

// expectClosed reads until the connection ends and returns its close error.
func expectClosed(t *testing.T, c *websocket.Conn) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		if _, _, err := c.Read(ctx); err != nil {
			if ctx.Err() != nil {
				t.Fatal("connection not closed")
			}
			return err
		}
	}
}

func TestMalformedWorkerFrames(t *testing.T) {
	tp := startProxy(t, "", nil)
	healthy := tp.worker(t, proxytest.Options{})
	hello := func(v int) []byte {
		b, _ := json.Marshal(map[string]any{"v": v, "type": "hello", "data": map[string]any{
			"worker_key": make([]byte, 32), "client_nonce": make([]byte, 32)}})
		return b
	}
	tests := []struct {
		name      string
		handshake bool   // authenticate first
		frame     []byte // nil: custom
		custom    func(t *testing.T, c *websocket.Conn)
		wantCode  string
		wantClose bool
	}{
		{name: "garbage after auth", handshake: true, frame: []byte("\x00garbage{"), wantCode: network.CodeBadMessage},
		{name: "unknown type after auth", handshake: true, frame: []byte(`{"v":2,"type":"teleport"}`), wantCode: network.CodeBadMessage},
		{name: "unknown field", handshake: true, frame: []byte(`{"v":2,"type":"ping","data":{"t":1,"x":2}}`), wantCode: network.CodeBadMessage},
		{name: "delta before register", handshake: true, frame: []byte(`{"v":2,"type":"delta","data":{"job_id":"j","seq":0,"text":"x"}}`), wantCode: network.CodeNotRegistered},
		{name: "wrong version after auth", handshake: true, frame: []byte(`{"v":1,"type":"ping","data":{"t":1}}`), wantCode: network.CodeUnsupportedVersion},
		{name: "server message from worker", handshake: true, frame: []byte(`{"v":2,"type":"welcome","data":{"worker_id":"x","heartbeat_ms":1,"server_time":1}}`), wantCode: network.CodeBadMessage},
		{name: "garbage instead of hello", frame: []byte("not json"), wantCode: network.CodeBadMessage, wantClose: true},
		{name: "wrong version hello", frame: hello(network.ProtocolVersion + 1), wantCode: network.CodeUnsupportedVersion, wantClose: true},
		{name: "oversized frame", handshake: true, frame: bytes.Repeat([]byte("x"), network.MaxMessageSize+1), wantClose: true},
		{name: "bad auth signature", custom: func(t *testing.T, c *websocket.Conn) {
			key, _ := proxytest.NewKey()
			b, _ := network.Encode(network.TypeHello, "", &network.Hello{WorkerKey: key.Public().(ed25519.PublicKey), ClientNonce: make([]byte, 32)})
			if err := c.Write(testCtx(t), websocket.MessageText, b); err != nil {
				t.Fatal(err)
			}
			if env, _, err := proxytest.Read(testCtx(t), c); err != nil || env.Type != network.TypeChallenge {
				t.Fatalf("challenge: %v %v", env.Type, err)
			}
			b, _ = network.Encode(network.TypeAuth, "", &network.Auth{WorkerSig: make([]byte, 64)})
			if err := c.Write(testCtx(t), websocket.MessageText, b); err != nil {
				t.Fatal(err)
			}
		}, wantCode: network.CodeAuthFailed, wantClose: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := rawConn(t, tp)
			if tt.handshake {
				key, _ := proxytest.NewKey()
				if _, err := proxytest.Handshake(testCtx(t), c, key, tp.PublicKey(), "test"); err != nil {
					t.Fatal(err)
				}
			}
			if tt.custom != nil {
				tt.custom(t, c)
			} else if err := c.Write(testCtx(t), websocket.MessageText, tt.frame); err != nil {
				t.Fatal(err)
			}
			if tt.wantCode != "" {
				expectError(t, c, tt.wantCode)
			}
			if tt.wantClose {
				err := expectClosed(t, c)
				st := websocket.CloseStatus(err)
				if st != websocket.StatusPolicyViolation && st != websocket.StatusMessageTooBig {
					t.Errorf("closed with %v (%v), want a policy or too-big close", st, err)
				}
			} else {
				// The connection survives the bad frame.
				b, _ := network.Encode(network.TypePing, "", &network.Ping{T: 7})
				if err := c.Write(testCtx(t), websocket.MessageText, b); err != nil {
					t.Fatal(err)
				}
				for {
					env, _, err := proxytest.Read(testCtx(t), c)
					if err != nil {
						t.Fatalf("connection lost after a bad frame: %v", err)
					}
					if env.Type == network.TypePong {
						break
					}
				}
			}
			// The proxy still serves others.
			if _, err := tp.client().Chat.Completions.New(testCtx(t), chatParams()); err != nil {
				t.Fatalf("proxy no longer serves: %v", err)
			}
		})
	}
	_ = healthy
}

func TestSilentWorkerIsDropped(t *testing.T) {
	tp := startProxy(t, "", func(c *proxy.Config) { c.Heartbeat = 20 * time.Millisecond })
	c := rawConn(t, tp)
	key, _ := proxytest.NewKey()
	wl, err := proxytest.Handshake(testCtx(t), c, key, tp.PublicKey(), "silent")
	if err != nil {
		t.Fatal(err)
	}
	if wl.HeartbeatMS != 20 {
		t.Errorf("heartbeat_ms %d", wl.HeartbeatMS)
	}
	// Read pings but never answer: the proxy drops us after 3 heartbeats.
	err = expectClosed(t, c)
	if st := websocket.CloseStatus(err); st != websocket.StatusPolicyViolation {
		t.Errorf("close %v (%v)", st, err)
	}
	// A worker that answers pings stays.
	w := tp.worker(t, proxytest.Options{})
	select {
	case <-w.Done():
		t.Fatalf("a live worker was dropped: %v", w.Err())
	case <-time.After(100 * time.Millisecond):
	}
}

const testAdminKey = "admin-test-0123456789abcdef"

// getStatus reads GET /v1/status with the admin key.
func getStatus(t *testing.T, tp *testProxy) proxy.Status {
	t.Helper()
	req, _ := http.NewRequestWithContext(testCtx(t), http.MethodGet, tp.url("/v1/status"), nil)
	req.Header.Set("Authorization", "Bearer "+testAdminKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status: HTTP %d %s", resp.StatusCode, b)
	}
	var st proxy.Status
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

func TestStatusAndHealth(t *testing.T) {
	tp := startProxy(t, "", func(c *proxy.Config) { c.AdminKey = testAdminKey })
	w := tp.worker(t, proxytest.Options{GPU: network.GPUInfo{Name: "RTX 4090", Count: 1}})
	if _, err := tp.client().Chat.Completions.New(testCtx(t), chatParams()); err != nil {
		t.Fatal(err)
	}
	checkReceipts(t, tp, w, 1)
	st := getStatus(t, tp)
	if len(st.Workers) != 1 || st.Workers[0].ID != w.ID() || st.Workers[0].GPU.Name != "RTX 4090" ||
		st.Workers[0].State != network.Accepting || st.Workers[0].CoefficientMilli != 1000 || st.Workers[0].JobsDone != 1 {
		t.Errorf("workers %+v", st.Workers)
	}
	wa, wg := amount(10, 3)
	if st.Totals.Jobs != 1 || st.Totals.PaidToWorkers != wa || st.Totals.Commission != wg-wa || st.JobsRunning != 0 {
		t.Errorf("totals %+v running %d", st.Totals, st.JobsRunning)
	}
	hr, err := http.Get(tp.url("/healthz"))
	if err != nil || hr.StatusCode != 200 {
		t.Fatalf("healthz %v %v", hr, err)
	}
	hr.Body.Close()
}

func TestWorkerTLSPinsProxyKey(t *testing.T) {
	tp := startProxy(t, "", nil)
	if !strings.HasPrefix(tp.WorkerURL(), "wss://127.0.0.1:") || !strings.HasSuffix(tp.WorkerURL(), "/v1/worker") {
		t.Errorf("worker URL %s", tp.WorkerURL())
	}
	other, _ := proxytest.NewKey()
	if _, err := proxytest.DialConn(testCtx(t), tp.WorkerURL(), other.Public().(ed25519.PublicKey)); err == nil {
		t.Fatal("dial with a wrong pinned key succeeded")
	}
	c := rawConn(t, tp) // right pin: succeeds
	c.CloseNow()
}

func TestPayoutAddressValidated(t *testing.T) {
	tp := startProxy(t, "", nil)
	c := rawConn(t, tp)
	key, id := proxytest.NewKey()
	if _, err := proxytest.Handshake(testCtx(t), c, key, tp.PublicKey(), ""); err != nil {
		t.Fatal(err)
	}
	b, _ := network.Encode(network.TypeRegister, "r1", &network.Register{Models: proxytest.Models(model), CoefficientMilli: 1000, MaxConcurrent: 1, PayoutAddress: "not-an-address"})
	if err := c.Write(testCtx(t), websocket.MessageText, b); err != nil {
		t.Fatal(err)
	}
	expectError(t, c, network.CodeBadMessage)
	addr := address.NewAddress(0, 0, bytes.Repeat([]byte{7}, 32)).Bounce(false).String()
	if err := proxy.CheckTONAddress(addr); err != nil {
		t.Fatalf("valid address %s rejected: %v", addr, err)
	}
	if err := proxy.CheckTONAddress("0:" + strings.Repeat("07", 32)); err != nil {
		t.Errorf("raw address rejected: %v", err)
	}
	w := tp.worker(t, proxytest.Options{PayoutAddress: addr})
	// Identities that never earned have no record (they cost no disk write).
	for _, wid := range []string{w.ID(), id} {
		if rec, ok, err := tp.Store().Worker(context.Background(), wid); err != nil || ok {
			t.Errorf("worker %s that never earned has a record %+v (%v)", wid[:8], rec, err)
		}
	}
	// Once it earned, its next register stores its payout address.
	if _, err := tp.client().Chat.Completions.New(testCtx(t), chatParams()); err != nil {
		t.Fatal(err)
	}
	checkReceipts(t, tp, w, 1)
	if err := w.Send(network.TypeRegister, &network.Register{Models: proxytest.Models(model), CoefficientMilli: 1000, MaxConcurrent: 4, PayoutAddress: addr}); err != nil {
		t.Fatal(err)
	}
	if err := w.Sync(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	rec, ok, err := tp.Store().Worker(context.Background(), w.ID())
	if err != nil || !ok || rec.PayoutAddress != addr {
		t.Errorf("worker record %+v %v %v", rec, ok, err)
	}
}

// TestQueuesWhileWorkersAreBusy: a request for a model whose workers are all
// at max concurrency waits for a slot instead of failing with 503.
func TestQueuesWhileWorkersAreBusy(t *testing.T) {
	tp := startProxy(t, "", nil)
	gate := make(chan struct{})
	tp.worker(t, proxytest.Options{MaxConcurrent: 1, Script: func(network.Job) proxytest.Behavior {
		return proxytest.Behavior{Gate: gate}
	}})
	ctx := testCtx(t)
	results := make(chan error, 2)
	for i := 0; i < 2; i++ {
		go func() {
			_, err := tp.client().Chat.Completions.New(ctx, chatParams())
			results <- err
		}()
	}
	// Both requests are in: one runs, one waits in the queue (neither fails).
	select {
	case err := <-results:
		t.Fatalf("a request ended while the only worker was busy: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	close(gate)
	for i := 0; i < 2; i++ {
		if err := <-results; err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
}

// TestClientLeavingMidStreamKeepsTheWorker: an app developer drops a stream;
// the worker's tokens already on the wire arrive after the proxy forgot the
// job. They are dropped quietly: no protocol error, the worker stays
// connected and serves the next request. (Before, each late token was a
// strike and the worker was dropped after 32, failing other clients' jobs.)
func TestClientLeavingMidStreamKeepsTheWorker(t *testing.T) {
	tp := startProxy(t, "", nil)
	pieces := make([]string, 60)
	for i := range pieces {
		pieces[i] = "tok "
	}
	first := true
	var mu sync.Mutex
	w := tp.worker(t, proxytest.Options{Script: func(network.Job) proxytest.Behavior {
		mu.Lock()
		defer mu.Unlock()
		if first {
			first = false
			return proxytest.Behavior{Deltas: pieces, DeltaDelay: 2 * time.Millisecond, LateAfterCancel: true}
		}
		return proxytest.Behavior{}
	}})
	ctx, cancel := context.WithCancel(testCtx(t))
	stream := tp.client().Chat.Completions.NewStreaming(ctx, chatParams())
	if !stream.Next() {
		t.Fatalf("no first chunk: %v", stream.Err())
	}
	cancel() // the app developer goes away after the first token
	stream.Close()
	if err := w.WaitFinished(testCtx(t), 1); err != nil { // every late token sent
		t.Fatal(err)
	}
	if err := w.Sync(testCtx(t)); err != nil { // ... and read by the proxy
		t.Fatalf("the worker was dropped: %v", err)
	}
	if errs := w.Errors(); len(errs) != 0 {
		t.Fatalf("late tokens drew %d protocol errors, first %+v", len(errs), errs[0])
	}
	if len(w.Cancels()) != 1 {
		t.Fatalf("cancels %+v, want the proxy to cancel the job once", w.Cancels())
	}
	if _, err := tp.client().Chat.Completions.New(testCtx(t), chatParams()); err != nil {
		t.Fatalf("the next request failed: %v", err)
	}
}

// TestReceiptsSentAgain: a worker that lost receipts (a crash or a full disk
// between signing and storing) asks for their seqs and gets the very same
// signed receipts again, in seq order; seqs never signed are simply absent.
func TestReceiptsSentAgain(t *testing.T) {
	tp := startProxy(t, "", nil)
	w := tp.worker(t, proxytest.Options{})
	for range 5 {
		if _, err := tp.client().Chat.Completions.New(testCtx(t), chatParams()); err != nil {
			t.Fatal(err)
		}
	}
	first := checkReceipts(t, tp, w, 5)
	req := network.ReceiptsRequest{Ranges: []network.SeqRange{{First: 2, Last: 3}, {First: 5, Last: 9}}}
	if err := w.Send(network.TypeReceiptsRequest, &req); err != nil {
		t.Fatal(err)
	}
	all, err := w.WaitReceipts(testCtx(t), 8)
	if err != nil {
		t.Fatalf("waiting for the receipts again: %v (got %d)", err, len(all))
	}
	if err := w.Sync(testCtx(t)); err != nil { // nothing more comes after the answer
		t.Fatal(err)
	}
	again := w.Receipts()[5:]
	if len(again) != 3 {
		t.Fatalf("%d receipts sent again, want seqs 2, 3 and 5", len(again))
	}
	for i, want := range []int64{2, 3, 5} {
		got := again[i]
		orig := first[want-1]
		if got.Receipt != orig.Receipt || !bytes.Equal(got.Signature, orig.Signature) {
			t.Errorf("seq %d sent again as %+v, want the original %+v", want, got.Receipt, orig.Receipt)
		}
	}
	if errs := w.Errors(); len(errs) != 0 {
		t.Errorf("errors: %+v", errs)
	}
}
