package proxy_test

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ollama/ollama/api"
	"github.com/openai/openai-go/v3"

	"github.com/cocoon-desktop/cocoon-desktop/internal/testollama"
	"github.com/cocoon-desktop/cocoon-desktop/internal/tinymodel"
	"github.com/cocoon-desktop/cocoon-desktop/network"
	"github.com/cocoon-desktop/cocoon-desktop/network/proxy"
	"github.com/cocoon-desktop/cocoon-desktop/network/proxy/metering"
	"github.com/cocoon-desktop/cocoon-desktop/network/proxy/proxytest"
	"github.com/cocoon-desktop/cocoon-desktop/receipt"
)

// The lying-worker suite, metering part: each liar earns at most what it
// honestly served (the proxy's own count plus the documented tolerance),
// the API key pays the same, and the proxy keeps working.

// chatMessages is chatParams' conversation as the proxy sends it to a worker.
var chatMessages = []metering.Message{{Role: "system", Content: "be brief"}, {Role: "user", Content: "hi"}}

// modelsDir writes the tiny model as the test proxies' model into an Ollama
// models directory and returns it with the counter built from it, which the
// tests use as the oracle (package metering checks it against Ollama).
func modelsDir(t *testing.T) (string, *metering.Counter) {
	t.Helper()
	dir := t.TempDir()
	if _, err := tinymodel.WriteModelsDir(dir, model, tinymodel.Options{Seed: 1}, tinymodel.Layout{}); err != nil {
		t.Fatal(err)
	}
	c, err := metering.Load(dir, model)
	if err != nil {
		t.Fatal(err)
	}
	return dir, c
}

func meteredProxy(t *testing.T, mod func(*proxy.Config)) (*testProxy, *metering.Counter) {
	t.Helper()
	dir, c := modelsDir(t)
	return startProxy(t, "", func(cfg *proxy.Config) {
		cfg.Metering.OllamaModels = []string{dir}
		if mod != nil {
			mod(cfg)
		}
	}), c
}

func count(t *testing.T, n int, err error) int64 {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	return int64(n)
}

// tolerated is the most the proxy bills of its own count n (the defaults).
func tolerated(n int64) int64 {
	return n + proxy.DefaultToleranceTokens + n*proxy.DefaultTolerancePercent/100
}

// uncountedPrompt is the byte bound of chatMessages for a model with no
// counter: 32 + Σ (role + content bytes + 16).
const uncountedPrompt = 32 + (6 + 8 + 16) + (4 + 2 + 16)

// checkBilled checks that the client was told, the API key charged and the
// worker credited (one receipt) exactly prompt and compl tokens of m.
func checkBilled(t *testing.T, tp *testProxy, w *proxytest.Worker, m string, u openai.CompletionUsage, prompt, compl int64) {
	t.Helper()
	price := tp.Config().Models[m]
	wantWorker, err := receipt.Amount(prompt, compl, price.PricePrompt, price.PriceCompletion, 1000, proxy.DefaultCommissionBPS)
	if err != nil {
		t.Fatal(err)
	}
	wantGross, _ := receipt.Amount(prompt, compl, price.PricePrompt, price.PriceCompletion, 1000, 0)
	if u.PromptTokens != prompt || u.CompletionTokens != compl {
		t.Errorf("the client was told %d + %d tokens, want %d + %d", u.PromptTokens, u.CompletionTokens, prompt, compl)
	}
	rs := checkReceipts(t, tp, w, 1)
	if r := rs[0].Receipt; r.PromptTokens != prompt || r.CompletionTokens != compl || r.Amount != wantWorker {
		t.Errorf("receipt for %d + %d tokens, %d nanoTON; want %d + %d, %d", r.PromptTokens, r.CompletionTokens, r.Amount, prompt, compl, wantWorker)
	}
	ku, err := tp.Store().Usage(context.Background(), proxy.KeyDigest(testKey))
	if err != nil {
		t.Fatal(err)
	}
	if ku.PromptTokens != prompt || ku.CompletionTokens != compl || ku.Cost != wantGross {
		t.Errorf("API key charged %d + %d tokens, %d nanoTON; want %d + %d, %d", ku.PromptTokens, ku.CompletionTokens, ku.Cost, prompt, compl, wantGross)
	}
}

// TestLyingWorkerCounts: a worker's claimed token counts are billed up to
// the proxy's own count plus the tolerance (with a counter) or the byte
// bound (without); honest counts are billed as claimed; every difference is
// recorded in the worker's trust record.
func TestLyingWorkerCounts(t *testing.T) {
	deltas := []string{"Hello", ", ", "world"}
	text := strings.Join(deltas, "")
	for _, tc := range []struct {
		name   string
		model  string
		stream bool
		// claim and want get the proxy's own counts (zero without a counter).
		claim         func(prompt, compl int64) network.Usage
		want          func(prompt, compl int64) (int64, int64)
		disagreements int64
	}{
		{"honest counts are billed as claimed", model, false,
			func(p, c int64) network.Usage { return network.Usage{PromptTokens: int(p), CompletionTokens: int(c)} },
			func(p, c int64) (int64, int64) { return p, c }, 0},
		{"1e12 prompt tokens for hi", model, false,
			func(p, c int64) network.Usage { return network.Usage{PromptTokens: 1e12, CompletionTokens: int(c)} },
			func(p, c int64) (int64, int64) { return tolerated(p), c }, 1},
		{"inflated completion", model, false,
			func(p, c int64) network.Usage { return network.Usage{PromptTokens: int(p), CompletionTokens: 900} },
			func(p, c int64) (int64, int64) { return p, tolerated(c) }, 1},
		{"inflated completion, streamed", model, true,
			func(p, c int64) network.Usage { return network.Usage{PromptTokens: int(p), CompletionTokens: 900} },
			func(p, c int64) (int64, int64) { return p, tolerated(c) }, 1},
		{"both inflated to the limit of int", model, false,
			func(p, c int64) network.Usage {
				return network.Usage{PromptTokens: math.MaxInt, CompletionTokens: math.MaxInt}
			},
			func(p, c int64) (int64, int64) { return tolerated(p), tolerated(c) }, 2},
		{"under-claims are billed as claimed", model, false,
			func(p, c int64) network.Usage { return network.Usage{PromptTokens: 1, CompletionTokens: 1} },
			func(p, c int64) (int64, int64) { return 1, 1 }, 2},
		{"1e12 prompt tokens, no counter", "other", false,
			func(p, c int64) network.Usage { return network.Usage{PromptTokens: 1e12, CompletionTokens: 3} },
			func(p, c int64) (int64, int64) { return tolerated(uncountedPrompt), 3 }, 1},
		{"inflated completion, no counter", "other", true,
			func(p, c int64) network.Usage { return network.Usage{PromptTokens: 12, CompletionTokens: 900} },
			func(p, c int64) (int64, int64) { return 12, tolerated(int64(len(text))) }, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tp, counter := meteredProxy(t, nil)
			var ownPrompt, ownCompl int64
			if tc.model == model {
				n, err := counter.Prompt(chatMessages)
				ownPrompt = count(t, n, err)
				n, err = counter.Text(text)
				ownCompl = count(t, n, err)
			}
			w := tp.worker(t, proxytest.Options{Models: proxytest.Models(model, "other"), Script: func(network.Job) proxytest.Behavior {
				return proxytest.Behavior{Deltas: deltas, Usage: tc.claim(ownPrompt, ownCompl)}
			}})
			p := chatParams()
			p.Model = tc.model
			p.MaxTokens = openai.Int(1000)
			usage, _, _ := chatAnswer(t, tp, p, tc.stream)
			wantPrompt, wantCompl := tc.want(ownPrompt, ownCompl)
			checkBilled(t, tp, w, tc.model, usage, wantPrompt, wantCompl)
			if d, _, _, _ := proxy.TrustCounts(tp.Proxy, w.ID()); d != tc.disagreements {
				t.Errorf("%d metering disagreements recorded, want %d", d, tc.disagreements)
			}
		})
	}
}

// heapPeak samples the heap's live and not yet swept objects until stop is
// called (runtime/metrics, which does not stop the world as ReadMemStats
// does) and returns the value at the start and the highest seen.
func heapPeak() (stop func() (base, peak uint64)) {
	runtime.GC()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() uint64 {
		metrics.Read(sample)
		return sample[0].Value.Uint64()
	}
	base := read()
	peak := base
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				peak = max(peak, read())
			}
		}
	}()
	return func() (uint64, uint64) {
		close(done)
		wg.Wait()
		return base, peak
	}
}

// TestOversizedStream: a worker that streams past max_tokens' byte bound
// (and ignores the cancel: 32 MiB in all in the first case) is cancelled at
// the bound; the client gets the text within it with finish_reason
// "length", billed for what it got; the worker takes a strike; the proxy's
// heap stays flat.
func TestOversizedStream(t *testing.T) {
	const piece = "0123456789abcdef" // 4 of them fill max_tokens 1 × 64 bytes
	big := strings.Repeat("x", 64<<10)
	for _, tc := range []struct {
		name   string
		model  string
		stream bool
		repeat int // times the worker sends 4 pieces and 64 KiB
	}{
		{"streamed, 32 MiB", model, true, 512},
		{"not streamed", model, false, 4},
		{"no counter, streamed", "other", true, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tp, counter := meteredProxy(t, nil)
			w := tp.worker(t, proxytest.Options{Models: proxytest.Models(model, "other"), Script: func(network.Job) proxytest.Behavior {
				return proxytest.Behavior{Deltas: []string{piece, piece, piece, piece, big}, Repeat: tc.repeat, LateAfterCancel: true,
					Usage: network.Usage{PromptTokens: 12, CompletionTokens: 1}}
			}})
			p := chatParams()
			p.Model = tc.model
			p.MaxTokens = openai.Int(1)
			stop := heapPeak()
			usage, content, finish := chatAnswer(t, tp, p, tc.stream)
			st := time.Now()
			wctx, wcancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer wcancel()
			if err := w.WaitFinished(wctx, 1); err != nil { // everything sent
				t.Fatal(err)
			}
			if err := w.Sync(testCtx(t)); err != nil { // ... and read by the proxy
				t.Fatalf("the worker was dropped: %v", err)
			}
			base, peak := stop()
			streamed := float64(tc.repeat*(4*len(piece)+len(big))) / (1 << 20)
			t.Logf("heap %.1f MiB before, peak %.1f MiB while the worker streamed %.0f MiB in %v",
				float64(base)/(1<<20), float64(peak)/(1<<20), streamed, time.Since(st))
			if tc.repeat >= 512 && peak-base > 24<<20 {
				t.Errorf("the heap grew by %.0f MiB while the worker streamed %.0f MiB", float64(peak-base)/(1<<20), streamed)
			}
			if content != strings.Repeat(piece, 4) || finish != "length" {
				t.Errorf("the client got %d bytes, finish_reason %q; want the 64 within the bound and \"length\"", len(content), finish)
			}
			if len(w.Cancels()) != 1 {
				t.Errorf("cancels %d, want 1", len(w.Cancels()))
			}
			var wantPrompt int64 // no counter: no prompt tokens are billed of a job the proxy cut
			if tc.model == model {
				n, err := counter.Prompt(chatMessages)
				wantPrompt = count(t, n, err)
			}
			checkBilled(t, tp, w, tc.model, usage, wantPrompt, 1)
			if _, strikes, _, _ := proxy.TrustCounts(tp.Proxy, w.ID()); strikes != 1 {
				t.Errorf("%d strikes, want 1", strikes)
			}
		})
	}
}

// TestOverflowAttemptLeavesLaterJobsWorking: totals pushed past int64 (by
// jobs recorded straight in the store, and by a worker claiming the largest
// counts) saturate instead of failing; later jobs work, also after the
// proxy restarts on the same data dir.
func TestOverflowAttemptLeavesLaterJobsWorking(t *testing.T) {
	dir := t.TempDir()
	st, err := proxy.OpenBoltStore(dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	huge := func(id, worker string) proxy.JobRecord {
		const price, tokens = 1_000_000_000_000, 9_000_000 // 9e18 nanoTON gross
		j := proxy.JobRecord{JobID: id, WorkerID: worker, Model: model, PromptTokens: tokens, PricePrompt: price,
			CoefficientMilli: 1000, CommissionBPS: proxy.DefaultCommissionBPS, KeyDigest: proxy.KeyDigest(testKey), KeyName: "test app", Time: time.Now()}
		j.Amount, _ = receipt.Amount(tokens, 0, price, 0, 1000, proxy.DefaultCommissionBPS)
		j.Gross, _ = receipt.Amount(tokens, 0, price, 0, 1000, 0)
		return j
	}
	sign := func(r receipt.Receipt) receipt.Signed { return receipt.Signed{Receipt: r} }
	for _, j := range []proxy.JobRecord{huge("huge-1", "w-a"), huge("huge-2", "w-b")} {
		if _, _, err := st.RecordJob(context.Background(), j, sign); err != nil {
			t.Fatalf("recording %s: %v", j.JobID, err)
		}
	}
	tot, err := st.Totals(context.Background())
	if err != nil || tot.Charged != math.MaxInt64 || tot.Jobs != 2 {
		t.Fatalf("totals %+v (%v): want Charged saturated at MaxInt64 after 2 jobs", tot, err)
	}
	// Money stays checked: a worker's cumulative total past int64 fails
	// that one credit and changes nothing.
	if _, _, err := st.RecordJob(context.Background(), huge("huge-3", "w-a"), sign); err == nil {
		t.Error("a credit past int64 of the worker's cumulative total was recorded")
	}
	if again, _ := st.Totals(context.Background()); again != tot {
		t.Errorf("totals changed by a refused credit: %+v, was %+v", again, tot)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	for _, round := range []string{"first start", "after a restart"} {
		t.Run(round, func(t *testing.T) {
			tp := startProxy(t, dir, nil)
			liar := tp.worker(t, proxytest.Options{Script: func(network.Job) proxytest.Behavior {
				return proxytest.Behavior{Usage: network.Usage{PromptTokens: math.MaxInt, CompletionTokens: math.MaxInt}}
			}})
			if _, err := tp.client().Chat.Completions.New(testCtx(t), chatParams()); err != nil {
				t.Fatalf("the liar's job: %v", err)
			}
			liar.Close()
			w := tp.worker(t, proxytest.Options{})
			resp, err := tp.client().Chat.Completions.New(testCtx(t), chatParams())
			if err != nil {
				t.Fatalf("a later job: %v", err)
			}
			if resp.Usage.CompletionTokens != 3 {
				t.Errorf("usage %+v", resp.Usage)
			}
			checkReceipts(t, tp, w, 1)
			tp.stop(t)
		})
	}
}

// TestClientLeavingPaysForWhatItGot: an app developer that reads a few
// chunks of a stream and goes away pays for the prompt and the text it got
// (the proxy's own count), and the worker is credited for them with a
// signed receipt; without a counter, one token per piece of text and no
// prompt tokens (a lower bound).
func TestClientLeavingPaysForWhatItGot(t *testing.T) {
	deltas := []string{"Hello", ", ", "world", "!"}
	text := strings.Join(deltas, "")
	for _, tc := range []struct {
		name  string
		model string
	}{
		{"counted", model},
		{"no counter", "other"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tp, counter := meteredProxy(t, nil)
			w := tp.worker(t, proxytest.Options{Models: proxytest.Models(model, "other"), Script: func(network.Job) proxytest.Behavior {
				return proxytest.Behavior{Deltas: deltas, Failure: proxytest.Hang, After: len(deltas)}
			}})
			ctx, cancel := context.WithCancel(testCtx(t))
			defer cancel()
			p := chatParams()
			p.Model = tc.model
			s := tp.client().Chat.Completions.NewStreaming(ctx, p)
			var got strings.Builder
			for got.String() != text && s.Next() {
				for _, ch := range s.Current().Choices {
					got.WriteString(ch.Delta.Content)
				}
			}
			cancel() // it has what it wanted and leaves
			s.Close()
			if got.String() != text {
				t.Fatalf("the client got %q before leaving: %v", got.String(), s.Err())
			}
			if _, err := w.WaitCancels(testCtx(t), 1); err != nil {
				t.Fatal(err)
			}
			wantPrompt, wantCompl := int64(0), int64(len(deltas))
			if tc.model == model {
				n, err := counter.Prompt(chatMessages)
				wantPrompt = count(t, n, err)
				n, err = counter.Text(text)
				wantCompl = count(t, n, err)
			}
			checkBilled(t, tp, w, tc.model, openai.CompletionUsage{PromptTokens: wantPrompt, CompletionTokens: wantCompl}, wantPrompt, wantCompl)
		})
	}
}

// TestDefaultMaxTokens: a request without max_tokens gets the configured
// default, and the worker is told; one with max_tokens keeps it.
func TestDefaultMaxTokens(t *testing.T) {
	tp := startProxy(t, "", func(c *proxy.Config) { c.Metering.DefaultMaxTokens = 77 })
	w := tp.worker(t, proxytest.Options{})
	for _, tc := range []struct {
		name string
		max  int64
		want int
	}{
		{"none set", 0, 77},
		{"set", 5, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := chatParams()
			if tc.max > 0 {
				p.MaxTokens = openai.Int(tc.max)
			}
			n := len(w.Jobs())
			if _, err := tp.client().Chat.Completions.New(testCtx(t), p); err != nil {
				t.Fatal(err)
			}
			if got := w.Jobs()[n].MaxTokens; got != tc.want {
				t.Errorf("the worker was sent max_tokens %d, want %d", got, tc.want)
			}
		})
	}
}

// TestMeteringModelAppearsLater: a model missing from the models directory
// at start is bounded by bytes until it appears, then counted.
func TestMeteringModelAppearsLater(t *testing.T) {
	dir := t.TempDir()
	tp := startProxy(t, "", func(c *proxy.Config) { c.Metering.OllamaModels = []string{dir} })
	w := tp.worker(t, proxytest.Options{Script: func(network.Job) proxytest.Behavior {
		return proxytest.Behavior{Usage: network.Usage{PromptTokens: 1e6, CompletionTokens: 3}}
	}})
	ask := func() int64 {
		resp, err := tp.client().Chat.Completions.New(testCtx(t), chatParams())
		if err != nil {
			t.Fatal(err)
		}
		return resp.Usage.PromptTokens
	}
	if got := ask(); got != tolerated(uncountedPrompt) {
		t.Errorf("before the model is there: billed %d prompt tokens, want the byte bound %d", got, tolerated(uncountedPrompt))
	}
	if _, err := tinymodel.WriteModelsDir(dir, model, tinymodel.Options{Seed: 1}, tinymodel.Layout{}); err != nil {
		t.Fatal(err)
	}
	c, err := metering.Load(dir, model)
	if err != nil {
		t.Fatal(err)
	}
	n, err := c.Prompt(chatMessages)
	if got := ask(); got != tolerated(count(t, n, err)) {
		t.Errorf("once it is there: billed %d prompt tokens, want %d", got, tolerated(int64(n)))
	}
	checkReceipts(t, tp, w, 2)
}

// TestMeteringRefusesUncountableModel: a priced model whose file the proxy
// cannot count is an error at start naming it.
func TestMeteringRefusesUncountableModel(t *testing.T) {
	dir := t.TempDir()
	if _, err := tinymodel.WriteModelsDir(dir, model, tinymodel.Options{Seed: 1}, tinymodel.Layout{Template: "{{ .Messages "}); err != nil {
		t.Fatal(err)
	}
	cfg := baseConfig(t.TempDir())
	cfg.Metering.OllamaModels = []string{dir}
	p, err := proxy.New(cfg, nil)
	if err == nil {
		p.Close()
		t.Fatal("the proxy started with a model it cannot count")
	}
	if !errors.Is(err, metering.ErrBadModel) || !strings.Contains(err.Error(), "model "+model) {
		t.Errorf("error %q: want metering.ErrBadModel naming %s", err, model)
	}
}

// TestHonestWorkerBilledInFull: a worker that answers with the real Ollama
// (the tiny model) and reports Ollama's own counts is billed exactly what
// it claimed on every job, streamed or not, for max_tokens from 1 to 256:
// the tolerance covers the honest difference between Ollama's count and
// the proxy's (TestHonestDisagreement in package metering measures it).
func TestHonestWorkerBilledInFull(t *testing.T) {
	ol := testollama.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	gguf := filepath.Join(t.TempDir(), "tiny.gguf")
	if err := tinymodel.WriteFile(gguf, tinymodel.Options{Seed: 1}); err != nil {
		t.Fatal(err)
	}
	if err := tinymodel.Register(ctx, ol.Client(), model, gguf); err != nil {
		t.Fatal(err)
	}
	tp := startProxy(t, "", func(c *proxy.Config) {
		c.Metering.OllamaModels = []string{ol.ModelsDir()}
		c.JobTimeout = time.Minute
	})
	var mu sync.Mutex
	var claims []network.Usage // in job order: one job at a time
	w := tp.worker(t, proxytest.Options{MaxConcurrent: 1, Script: func(job network.Job) proxytest.Behavior {
		msgs := make([]api.Message, len(job.Messages))
		for i, m := range job.Messages {
			msgs[i] = api.Message{Role: m.Role, Content: m.Content}
		}
		stream := true
		deltas := []string{} // not nil: nil means proxytest's default text
		var final api.ChatResponse
		err := ol.Client().Chat(ctx, &api.ChatRequest{Model: model, Messages: msgs, Stream: &stream,
			Options: map[string]any{"num_predict": job.MaxTokens, "seed": 7}}, func(r api.ChatResponse) error {
			if r.Message.Content != "" {
				deltas = append(deltas, r.Message.Content)
			}
			if r.Done {
				final = r
			}
			return nil
		})
		if err != nil {
			t.Errorf("ollama: %v", err)
			return proxytest.Behavior{Failure: proxytest.FailBefore}
		}
		u := network.Usage{PromptTokens: final.PromptEvalCount, CompletionTokens: final.EvalCount}
		mu.Lock()
		claims = append(claims, u)
		mu.Unlock()
		return proxytest.Behavior{Deltas: deltas, Usage: u, FinishReason: final.DoneReason}
	}})
	prompts := []string{"hi", "Tell me about the world.", "ünïcödé ☃ and <s> tokens", "a b c d e f g"}
	maxes := []int64{1, 2, 4, 8, 16, 32, 64, 128, 256}
	jobs := 36
	for i := 0; i < jobs; i++ {
		p := openai.ChatCompletionNewParams{
			Model:     model,
			Messages:  []openai.ChatCompletionMessageParamUnion{openai.UserMessage(prompts[i%len(prompts)])},
			MaxTokens: openai.Int(maxes[i%len(maxes)]),
		}
		var usage openai.CompletionUsage
		if i%2 == 1 {
			p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
			s := tp.client().Chat.Completions.NewStreaming(ctx, p)
			var acc openai.ChatCompletionAccumulator
			for s.Next() {
				acc.AddChunk(s.Current())
			}
			if err := s.Err(); err != nil {
				t.Fatal(err)
			}
			usage = acc.Usage
		} else {
			resp, err := tp.client().Chat.Completions.New(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			usage = resp.Usage
		}
		mu.Lock()
		claim := claims[i]
		mu.Unlock()
		if usage.PromptTokens != int64(claim.PromptTokens) || usage.CompletionTokens != int64(claim.CompletionTokens) {
			t.Errorf("job %d (max_tokens %d): billed %d + %d tokens, the honest worker served %d + %d",
				i, maxes[i%len(maxes)], usage.PromptTokens, usage.CompletionTokens, claim.PromptTokens, claim.CompletionTokens)
		}
	}
	checkReceipts(t, tp, w, jobs)
	d, strikes, _, _ := proxy.TrustCounts(tp.Proxy, w.ID())
	if strikes != 0 {
		t.Errorf("the honest worker took %d strikes", strikes)
	}
	t.Logf("%d jobs billed in full; %d counts differed from the proxy's within the tolerance", jobs, d)
}
