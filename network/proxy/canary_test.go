package proxy_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"log/slog"
	"math/big"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/cocoon-desktop/cocoon-desktop/internal/modeldigest"

	"github.com/ollama/ollama/api"
	"github.com/openai/openai-go/v3"

	"github.com/cocoon-desktop/cocoon-desktop/internal/testollama"
	"github.com/cocoon-desktop/cocoon-desktop/internal/tinymodel"
	"github.com/cocoon-desktop/cocoon-desktop/network"
	"github.com/cocoon-desktop/cocoon-desktop/network/proxy"
	"github.com/cocoon-desktop/cocoon-desktop/network/proxy/proxytest"
	"github.com/cocoon-desktop/cocoon-desktop/receipt"
)

// logRecorder keeps every record the proxy logs (debug level included),
// so tests can read canary verdicts and check that no prompt is logged.
type logRecorder struct {
	mu      sync.Mutex
	records []loggedRecord
}

type loggedRecord struct {
	msg   string
	attrs map[string]string
	text  string // the message and every attribute, for privacy checks
}

type recordingHandler struct {
	rec   *logRecorder
	attrs []slog.Attr
}

func (h recordingHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h recordingHandler) Handle(_ context.Context, r slog.Record) error {
	lr := loggedRecord{msg: r.Message, attrs: map[string]string{}}
	var text strings.Builder
	text.WriteString(r.Message)
	add := func(a slog.Attr) bool {
		v := a.Value.String()
		lr.attrs[a.Key] = v
		text.WriteString(" " + a.Key + "=" + v)
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	lr.text = text.String()
	h.rec.mu.Lock()
	h.rec.records = append(h.rec.records, lr)
	h.rec.mu.Unlock()
	return nil
}

func (h recordingHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return recordingHandler{rec: h.rec, attrs: append(slices.Clone(h.attrs), as...)}
}

func (h recordingHandler) WithGroup(string) slog.Handler { return h }

// verdicts returns the evidence of the canary verdicts logged for a worker
// id (the log carries its first 16 hex digits), by outcome.
func (l *logRecorder) verdicts(workerID string) (passed, failed []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.records {
		if r.msg != "canary verdict" || r.attrs["worker"] != workerID[:16] {
			continue
		}
		if r.attrs["passed"] == "true" {
			passed = append(passed, r.attrs["evidence"])
		} else {
			failed = append(failed, r.attrs["evidence"])
		}
	}
	return
}

func (l *logRecorder) all() []loggedRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.records)
}

// startLoggedProxy is startProxy with a logger that records everything.
func startLoggedProxy(t *testing.T, mod func(*proxy.Config)) (*testProxy, *logRecorder) {
	t.Helper()
	dir := t.TempDir()
	cfg := baseConfig(dir)
	cfg.JobTimeout = 30 * time.Second
	if mod != nil {
		mod(&cfg)
	}
	rec := &logRecorder{}
	p, err := proxy.New(cfg, slog.New(recordingHandler{rec: rec}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tp := &testProxy{Proxy: p, dir: dir, cancel: cancel, errc: make(chan error, 1)}
	go func() { tp.errc <- p.Run(ctx) }()
	t.Cleanup(func() { tp.stop(t) })
	return tp, rec
}

// fastCanaries makes canaries come back to back (one at a time per worker),
// from the reference mod sets.
func fastCanaries(ref func(*proxy.CanaryConfig)) func(*proxy.Config) {
	return func(cfg *proxy.Config) {
		cc := proxy.DefaultCanaryConfig()
		cc.ShareBPS = 0
		cc.MinPerPeriod = 1000
		cc.Period = time.Second
		cc.MaxDelay = 0
		ref(&cc)
		cfg.Canary = &cc
	}
}

// waitVerdicts waits until the trust hooks have n canary verdicts for the
// worker, and returns how many passed and failed.
func waitVerdicts(t *testing.T, tp *testProxy, id string, n int64, within time.Duration) (passed, failed int64) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		_, _, passed, failed = proxy.TrustCounts(tp.Proxy, id)
		if passed+failed >= n {
			return passed, failed
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d canary verdicts after %v, want %d (passed %d, failed %d)", passed+failed, within, n, passed, failed)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitQuarantined waits until the worker is quarantined and returns its
// canary verdicts then.
func waitQuarantined(t *testing.T, tp *testProxy, id string, within time.Duration) (passed, failed int64) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ws, _ := workerStatus(t, tp, id)
		_, _, passed, failed = proxy.TrustCounts(tp.Proxy, id)
		if ws.Trust != nil && ws.Trust.Level == network.TrustQuarantined {
			return passed, failed
		}
		if time.Now().After(deadline) {
			t.Fatalf("not quarantined after %v: trust %+v (canaries passed %d, failed %d)", within, ws.Trust, passed, failed)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// tinyOllama starts a real Ollama serving a tiny model with weight seed
// under the name "tiny".
func tinyOllama(t testing.TB, seed uint64, env []string) *testollama.Server {
	t.Helper()
	gguf := filepath.Join(t.TempDir(), "tiny.gguf")
	if err := tinymodel.WriteFile(gguf, tinymodel.Options{Seed: seed}); err != nil {
		t.Fatal(err)
	}
	s := testollama.StartWith(t, testollama.Options{Env: env})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := tinymodel.Register(ctx, s.Client(), model, gguf); err != nil {
		t.Fatal(err)
	}
	return s
}

// listedModel is model's entry in s's /api/tags.
func listedModel(t testing.TB, s *testollama.Server) api.ListModelResponse {
	t.Helper()
	list, err := s.Client().List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range list.Models {
		if m.Name == model+":latest" {
			return m
		}
	}
	t.Fatalf("model %s not in %+v", model, list.Models)
	return api.ListModelResponse{}
}

// manifestDigest is the manifest digest of model in s (/api/tags).
func manifestDigest(t testing.TB, s *testollama.Server) string {
	t.Helper()
	return listedModel(t, s).Digest
}

// ollamaDigest is the weights digest of model in s (package modeldigest),
// as a worker reports it.
func ollamaDigest(t testing.TB, s *testollama.Server) string {
	t.Helper()
	name := listedModel(t, s).Name
	show, err := s.Client().Show(context.Background(), &api.ShowRequest{Model: name})
	if err != nil {
		t.Fatal(err)
	}
	d, ok := modeldigest.FromModelfile(show.Modelfile)
	if !ok {
		t.Fatalf("no weights digest in the Modelfile of %s", name)
	}
	return d
}

// forward is a worker script that runs each job on a real Ollama, as the
// real worker does (the job's options; extra adds runner options such as
// num_thread), and answers with alter(answer) when alter is set.
func forward(ol *api.Client, extra map[string]any, alter func(string) string) proxytest.Script {
	return forwardTimed(ol, extra, alter, nil)
}

// forwardTimed is forward that also reports each job's compute time in
// Ollama (prompt evaluation and generation, not its queue).
func forwardTimed(ol *api.Client, extra map[string]any, alter func(string) string, onDone func(network.Job, time.Duration)) proxytest.Script {
	return func(job network.Job) proxytest.Behavior {
		msgs := make([]api.Message, len(job.Messages))
		for i, m := range job.Messages {
			msgs[i] = api.Message{Role: m.Role, Content: m.Content}
		}
		opts := map[string]any{}
		if job.MaxTokens > 0 {
			opts["num_predict"] = job.MaxTokens
		}
		if o := job.Options; o.Temperature != nil {
			opts["temperature"] = *o.Temperature
		}
		if o := job.Options; o.TopP != nil {
			opts["top_p"] = *o.TopP
		}
		if o := job.Options; o.Seed != nil {
			opts["seed"] = *o.Seed
		}
		for k, v := range extra {
			opts[k] = v
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		stream := true
		var text strings.Builder
		var usage network.Usage
		reason := "stop"
		err := ol.Chat(ctx, &api.ChatRequest{Model: job.Model, Messages: msgs, Stream: &stream, Options: opts}, func(r api.ChatResponse) error {
			text.WriteString(r.Message.Content)
			if r.Done {
				usage = network.Usage{PromptTokens: r.PromptEvalCount, CompletionTokens: r.EvalCount}
				reason = r.DoneReason
				if onDone != nil {
					onDone(job, r.PromptEvalDuration+r.EvalDuration)
				}
			}
			return nil
		})
		if err != nil {
			return proxytest.Behavior{Failure: proxytest.FailBefore}
		}
		out := text.String()
		if alter != nil {
			out = alter(out)
		}
		return proxytest.Behavior{Deltas: pieces(out), Usage: usage, FinishReason: reason}
	}
}

// pieces splits s into deltas of at most 16 bytes at character boundaries.
func pieces(s string) []string {
	out := []string{}
	for len(s) > 0 {
		n := min(16, len(s))
		for n < len(s) && !utf8.RuneStart(s[n]) {
			n++
		}
		out = append(out, s[:n])
		s = s[n:]
	}
	return out
}

func randomText(s string) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz ,.ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, max(len(s), 8))
	for i := range b {
		n, _ := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		b[i] = alphabet[n.Int64()]
	}
	return string(b)
}

// canaryHonestRuns is how many canaries the honest worker must pass.
func canaryHonestRuns() int64 {
	if testing.Short() {
		return 40
	}
	return 300
}

// TestCanaryHonestWorker: an honest worker — a real Ollama with the same
// model, run with another batch size than the reference (prompts in
// batches of 7 tokens, against 512) — passes every canary,
// hundreds of them, so its false-positive rate is 0; and no prompt or
// answer reaches the proxy's log.
func TestCanaryHonestWorker(t *testing.T) {
	ref := tinyOllama(t, 1, nil)
	wol := tinyOllama(t, 1, nil)
	// The worker reports what its own Ollama says, as the real worker
	// does: the same weights in another models directory. Their manifest
	// digests differ (Ollama's create writes the blob's path into the
	// manifest); the weights digests, which pin canaries, do not.
	digest := ollamaDigest(t, wol)
	if refDigest := ollamaDigest(t, ref); refDigest != digest {
		t.Fatalf("the same weights in two Ollamas: weights digests %s and %s", refDigest, digest)
	}
	if rm, wm := manifestDigest(t, ref), manifestDigest(t, wol); rm == wm {
		t.Logf("note: the two manifests have one digest (%s); Ollama no longer puts the blob path in them", rm)
	}
	tp, logs := startLoggedProxy(t, fastCanaries(func(c *proxy.CanaryConfig) { c.ReferenceOllama = ref.Host() }))
	w := tp.worker(t, proxytest.Options{
		Models: []network.ModelInfo{{Name: model, Digest: digest, Size: 1 << 20, Loaded: true, FitsVRAM: true}},
		Script: forward(wol.Client(), map[string]any{"num_batch": 7}, nil),
	})
	n := canaryHonestRuns()
	start := time.Now()
	passed, failed := waitVerdicts(t, tp, w.ID(), n, time.Duration(n)*time.Second)
	took := time.Since(start)
	okEv, failEv := logs.verdicts(w.ID())
	exact := 0
	for _, e := range okEv {
		if strings.HasPrefix(e, "matched all") {
			exact++
		}
	}
	t.Logf("%d canaries in %v: %d passed (%d exact matches, %d at a near-tie), %d failed %v",
		passed+failed, took.Round(time.Millisecond), passed, exact, len(okEv)-exact, failed, failEv)
	if failed != 0 {
		t.Errorf("an honest worker failed %d of %d canaries: %v", failed, passed+failed, failEv)
	}
	// References are cached per corpus entry and digest: the reference
	// Ollama answered each prompt at most once.
	if calls := strings.Count(ref.Log(), `"/api/chat"`); calls > proxy.CorpusSize() {
		t.Errorf("the reference Ollama answered %d chats for %d corpus entries", calls, proxy.CorpusSize())
	}
	for _, r := range logs.all() {
		for i := range proxy.CorpusSize() {
			_, contents, _ := proxy.CorpusPrompt(i)
			for _, c := range contents {
				if len(c) > 12 && strings.Contains(r.text, c) {
					t.Fatalf("a prompt reached the proxy's log: %q", r.text)
				}
			}
		}
	}
}

// TestCanaryLiars: workers that return text their model did not produce
// fail canaries — each case's every verdict is a failure, with evidence.
func TestCanaryLiars(t *testing.T) {
	ref := tinyOllama(t, 1, nil)
	same := tinyOllama(t, 1, nil)
	other := tinyOllama(t, 2, nil) // a different model (other weights) under the same name
	digest := ollamaDigest(t, ref)
	cases := []struct {
		name   string
		ol     *testollama.Server
		alter  func(string) string
		reason string // words every failure's evidence holds
	}{
		{"random text", same, randomText, "diverged at token"},
		{"different model", other, nil, "diverged at token"},
		{"truncated answers", same, func(s string) string {
			n := len(s) / 2
			for n > 0 && !utf8.RuneStart(s[n]) {
				n--
			}
			return s[:n]
		}, "truncated"},
		{"answers padded past the reference", same, func(s string) string { return s + " and more" }, "bytes more than the reference"},
	}
	// 3: the trust record's default quarantine_after, in failure points; a
	// quarantined worker gets no more canaries. A liar that also claims
	// more tokens than it streamed (the truncated one) adds half a point
	// per such job, so it may be quarantined after 2 canaries.
	const verdicts = 3
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tp, logs := startLoggedProxy(t, fastCanaries(func(c *proxy.CanaryConfig) { c.ReferenceOllama = ref.Host() }))
			w := tp.worker(t, proxytest.Options{
				Models: []network.ModelInfo{{Name: model, Digest: digest, Size: 1 << 20, Loaded: true, FitsVRAM: true}},
				Script: forward(tc.ol.Client(), nil, tc.alter),
			})
			passed, failed := waitQuarantined(t, tp, w.ID(), 2*time.Minute)
			okEv, failEv := logs.verdicts(w.ID())
			t.Logf("passed %d %v, failed %d %v", passed, okEv, failed, failEv)
			if passed != 0 {
				t.Errorf("a liar passed %d of %d canaries: %v", passed, passed+failed, okEv)
			}
			for _, e := range failEv {
				if !strings.Contains(e, tc.reason) {
					t.Errorf("evidence %q does not say %q", e, tc.reason)
				}
			}
			// Quarantined within K (= verdicts) canaries, the evidence in
			// the admin status.
			if failed == 0 || failed > verdicts {
				t.Errorf("quarantined after %d failed canaries, want 1..%d", failed, verdicts)
			}
			_, st := workerStatus(t, tp, w.ID())
			if !slices.ContainsFunc(st.Quarantined, func(q proxy.TrustStatus) bool { return q.WorkerID == w.ID() }) {
				t.Errorf("the status's quarantined list %+v lacks the liar", st.Quarantined)
			}
		})
	}
}

// TestCanaryDigestPinning: with canaries on, a worker whose digest for a
// model differs from the reference's is not routed that model — no client
// job, no canary — until it registers the pinned digest.
func TestCanaryDigestPinning(t *testing.T) {
	ref := tinyOllama(t, 1, nil)
	wol := tinyOllama(t, 1, nil)
	digest := ollamaDigest(t, ref)
	tp, _ := startLoggedProxy(t, fastCanaries(func(c *proxy.CanaryConfig) { c.ReferenceOllama = ref.Host() }))
	pinned := []network.ModelInfo{{Name: model, Digest: digest, Size: 1 << 20, Loaded: true, FitsVRAM: true}}
	good := tp.worker(t, proxytest.Options{Models: pinned, Script: forward(wol.Client(), nil, nil)})
	waitVerdicts(t, tp, good.ID(), 1, time.Minute) // the pins are in place
	if err := good.SetAvailability(testCtx(t), network.Paused); err != nil {
		t.Fatal(err)
	}
	other := []network.ModelInfo{{Name: model, Digest: "sha256:" + strings.Repeat("ab", 32), Size: 1 << 20, Loaded: true, FitsVRAM: true}}
	odd := tp.worker(t, proxytest.Options{Models: other, Script: forward(wol.Client(), nil, nil)})
	_, err := tp.client().Chat.Completions.New(testCtx(t), chatParams())
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 503 {
		t.Fatalf("request with only a worker of another digest: %v, want 503", err)
	}
	if n := len(odd.Jobs()); n != 0 {
		t.Fatalf("the worker with another digest got %d jobs", n)
	}
	// Registering the pinned digest lists it again.
	if err := odd.Send(network.TypeRegister, &network.Register{Models: pinned, CoefficientMilli: 1000, MaxConcurrent: 4}); err != nil {
		t.Fatal(err)
	}
	if err := odd.Sync(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := tp.client().Chat.Completions.New(testCtx(t), chatParams()); err != nil {
		t.Fatalf("request once the digest matches: %v", err)
	}
	waitVerdicts(t, tp, odd.ID(), 1, time.Minute)
}

// trustedScript answers deterministically from the conversation, like a
// greedy model would; lie changes the answer.
func trustedScript(lie func(string) string) proxytest.Script {
	return func(job network.Job) proxytest.Behavior {
		last := job.Messages[len(job.Messages)-1].Content
		out := "You said " + strings.ToUpper(last[:min(len(last), 12)]) + " and I agree."
		if lie != nil {
			out = lie(out)
		}
		return proxytest.Behavior{Deltas: pieces(out), Usage: network.Usage{PromptTokens: 20, CompletionTokens: 7}}
	}
}

var tinyDigest = []network.ModelInfo{{Name: model, Digest: "sha256:" + strings.Repeat("0f", 32), Size: 1 << 20, Loaded: true, FitsVRAM: true}}

// TestCanaryTrustedWorkerReference: with no reference Ollama, a worker the
// operator marks trusted answers each canary first; another worker must
// match that answer exactly. The trusted worker gets no verdicts.
func TestCanaryTrustedWorkerReference(t *testing.T) {
	trustedKey, trustedID := proxytest.NewKey()
	cases := []struct {
		name string
		lie  func(string) string
		pass bool
	}{
		{"same answer", nil, true},
		{"another answer", func(s string) string { return strings.Replace(s, "agree", "disagree", 1) }, false},
		{"truncated", func(s string) string { return s[:5] }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tp, _ := startLoggedProxy(t, fastCanaries(func(c *proxy.CanaryConfig) { c.TrustedWorkers = []string{trustedID} }))
			tw := tp.worker(t, proxytest.Options{Key: trustedKey, Models: tinyDigest, Script: trustedScript(nil)})
			w := tp.worker(t, proxytest.Options{Models: tinyDigest, Script: trustedScript(tc.lie)})
			passed, failed := waitVerdicts(t, tp, w.ID(), 3, time.Minute) // 3: the default quarantine_after
			if tc.pass && failed != 0 || !tc.pass && passed != 0 {
				t.Errorf("passed %d, failed %d; want all to pass: %v", passed, failed, tc.pass)
			}
			if _, _, p, f := proxy.TrustCounts(tp.Proxy, tw.ID()); p+f != 0 {
				t.Errorf("the trusted worker got %d verdicts", p+f)
			}
		})
	}
}

// TestCanaryLooksLikeClientJob: a canary reaches the worker in the shape
// of a client job — the same fields, id form, deadline and sampling
// options — and client jobs carry explicit sampling options.
func TestCanaryLooksLikeClientJob(t *testing.T) {
	trustedKey, trustedID := proxytest.NewKey()
	tp, _ := startLoggedProxy(t, func(cfg *proxy.Config) {
		fastCanaries(func(c *proxy.CanaryConfig) { c.TrustedWorkers = []string{trustedID} })(cfg)
		cfg.Canary.MinPerPeriod = 0
		cfg.Canary.ShareBPS = 10000 // every client job is followed by a canary
	})
	tp.worker(t, proxytest.Options{Key: trustedKey, Models: tinyDigest, Script: trustedScript(nil), State: network.Paused})
	w := tp.worker(t, proxytest.Options{Models: tinyDigest, Script: trustedScript(nil)})

	// A client job without sampling options gets Ollama's defaults and a
	// seed. (It sets max_tokens: one without gets the metering part's
	// default max_tokens, until which its missing field is a tell.)
	cp := chatParams()
	cp.MaxTokens = openai.Int(64)
	if _, err := tp.client().Chat.Completions.New(testCtx(t), cp); err != nil {
		t.Fatal(err)
	}
	jobs, err := w.WaitJobs(testCtx(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	client := jobs[0]
	if o := client.Options; o.Temperature == nil || *o.Temperature != 0.8 || o.TopP == nil || *o.TopP != 0.9 || o.Seed == nil {
		t.Fatalf("client job options %+v, want temperature 0.8, top_p 0.9 and a seed", o)
	}
	// The trusted worker is paused: the canary that follows has no
	// reference. Let it answer; the canary then goes to w.
	tw := tp.worker(t, proxytest.Options{Key: trustedKey, Models: tinyDigest, Script: trustedScript(nil)})
	waitVerdicts(t, tp, w.ID(), 1, time.Minute)
	var canary network.Job
	for _, j := range w.Jobs() {
		if j.JobID != client.JobID {
			canary = j
		}
	}
	if canary.JobID == "" {
		t.Fatal("no canary job reached the worker")
	}
	if *canary.Options.Temperature != 0 || canary.Options.TopP == nil || canary.Options.Seed == nil {
		t.Errorf("canary options %+v, want temperature 0, top_p and a seed", canary.Options)
	}
	idForm := regexp.MustCompile(`^job-[0-9a-f]{32}$`)
	keys := func(j network.Job) []string {
		b, _ := json.Marshal(j)
		var m map[string]json.RawMessage
		_ = json.Unmarshal(b, &m)
		var ks []string
		for k := range m {
			ks = append(ks, k)
		}
		var om map[string]json.RawMessage
		_ = json.Unmarshal(m["options"], &om)
		for k := range om {
			ks = append(ks, "options."+k)
		}
		slices.Sort(ks)
		return ks
	}
	for _, j := range []network.Job{client, canary} {
		if !idForm.MatchString(j.JobID) {
			t.Errorf("job id %q is not of the form job-<32 hex>", j.JobID)
		}
		if left := time.Until(time.UnixMilli(j.Deadline)); left < 25*time.Second || left > 30*time.Second {
			t.Errorf("job %s deadline in %v, want about the job timeout (30s)", j.JobID, left)
		}
	}
	if a, b := keys(client), keys(canary); !slices.Equal(a, b) {
		t.Errorf("client job fields %v, canary fields %v", a, b)
	}

	// A client's own options are kept.
	p := chatParams()
	p.Temperature, p.TopP, p.Seed = openai.Float(0.3), openai.Float(0.5), openai.Int(7)
	if _, err := tp.client().Chat.Completions.New(testCtx(t), p); err != nil {
		t.Fatal(err)
	}
	var all []network.Job
	deadline := time.Now().Add(10 * time.Second)
	for len(all) == 0 || !slices.ContainsFunc(all, func(j network.Job) bool { return j.Options.Seed != nil && *j.Options.Seed == 7 }) {
		if time.Now().After(deadline) {
			t.Fatal("the client job with seed 7 reached no worker")
		}
		time.Sleep(10 * time.Millisecond)
		all = append(w.Jobs(), tw.Jobs()...) // either may take it
	}
	var mine *network.Job
	for i, j := range all {
		if j.Options.Seed != nil && *j.Options.Seed == 7 {
			mine = &all[i]
		}
	}
	if mine == nil || *mine.Options.Temperature != 0.3 || *mine.Options.TopP != 0.5 {
		t.Errorf("client options not kept: %+v", all)
	}
}

// TestCanaryPaidLikeAJob: canaries are credited at the normal rate through
// the same path (signed receipts), under the usage key "canary", never a
// client's.
func TestCanaryPaidLikeAJob(t *testing.T) {
	trustedKey, trustedID := proxytest.NewKey()
	tp, _ := startLoggedProxy(t, fastCanaries(func(c *proxy.CanaryConfig) { c.TrustedWorkers = []string{trustedID} }))
	tp.worker(t, proxytest.Options{Key: trustedKey, Models: tinyDigest, Script: trustedScript(nil)})
	w := tp.worker(t, proxytest.Options{Models: tinyDigest, Script: trustedScript(nil), CoefficientMilli: 1500})
	if _, err := tp.client().Chat.Completions.New(testCtx(t), chatParams()); err != nil {
		t.Fatal(err)
	}
	passed, _ := waitVerdicts(t, tp, w.ID(), 3, time.Minute)
	rs, err := w.WaitReceipts(testCtx(t), int(passed))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		want, _ := receipt.Amount(20, 7, pPrompt, pComplete, 1500, proxy.DefaultCommissionBPS)
		if err := r.Verify(tp.PublicKey()); err != nil || r.Receipt.Amount != want || r.Receipt.CoefficientMilli != 1500 {
			t.Errorf("receipt %+v (%v), want amount %d at coefficient 1500", r.Receipt, err, want)
		}
	}
	u, err := tp.Store().Usage(context.Background(), proxy.KeyDigest(testKey))
	if err != nil || u.Requests != 1 {
		t.Errorf("client usage %+v %v, want exactly its one request", u, err)
	}
	cu, err := tp.Store().Usage(context.Background(), proxy.CanaryKeyDigest)
	if err != nil || cu.Requests < passed {
		t.Errorf("canary usage %+v %v, want at least %d requests", cu, err, passed)
	}
}
