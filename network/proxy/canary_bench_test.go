package proxy_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"

	"github.com/cocoon-desktop/cocoon-desktop/internal/testollama"

	"github.com/cocoon-desktop/cocoon-desktop/network"
	"github.com/cocoon-desktop/cocoon-desktop/network/proxy"
	"github.com/cocoon-desktop/cocoon-desktop/network/proxy/proxytest"
)

// workerClock adds up the compute time a worker's Ollama spends on jobs,
// canaries apart (the benchmark's clients never ask for temperature 0;
// canaries do). Compute, not wall time: a canary that waits in Ollama's
// queue behind a client job costs the worker nothing meanwhile.
type workerClock struct {
	mu                sync.Mutex
	client, canary    time.Duration
	clients, canaries int
}

func (c *workerClock) add(job network.Job, d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if *job.Options.Temperature == 0 {
		c.canary += d
		c.canaries++
	} else {
		c.client += d
		c.clients++
	}
}

// BenchmarkCanaryOverhead: client jobs (the corpus's prompts and
// max_tokens, at Ollama's default temperature) through the proxy to an
// honest worker on a real Ollama, with canaries at the default share
// (DefaultCanaryShareBPS; the per-period minimum adds
// DefaultCanaryMinPerPeriod per hour on top, whatever the traffic). It
// reports the canaries' share of the worker's busy time, measured and as
// the share × (mean canary time / mean client job time).
func BenchmarkCanaryOverhead(b *testing.B) {
	ref := tinyOllama(b, 1, nil)
	wol := tinyOllama(b, 1, nil)
	digest := ollamaDigest(b, ref)
	var clock workerClock
	tp := startBenchProxy(b, func(cfg *proxy.Config) {
		cc := proxy.DefaultCanaryConfig()
		cc.ReferenceOllama = ref.Host()
		cc.MaxDelay = 0 // due at once, so the run's canaries finish within it
		cfg.Canary = &cc
		cfg.JobTimeout = time.Minute
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	w, err := proxytest.Dial(ctx, tp.WorkerURL(), tp.PublicKey(), proxytest.Options{
		Models: []network.ModelInfo{{Name: model, Digest: digest, Size: 1 << 20, Loaded: true, FitsVRAM: true}},
		Script: forwardTimed(wol.Client(), nil, nil, clock.add),
	})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	c := tp.client()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		roles, contents, maxTokens := proxy.CorpusPrompt(i % proxy.CorpusSize())
		p := openai.ChatCompletionNewParams{Model: model, MaxTokens: openai.Int(int64(maxTokens))}
		for j, r := range roles {
			switch r {
			case "system":
				p.Messages = append(p.Messages, openai.SystemMessage(contents[j]))
			case "user":
				p.Messages = append(p.Messages, openai.UserMessage(contents[j]))
			default:
				p.Messages = append(p.Messages, openai.AssistantMessage(contents[j]))
			}
		}
		rctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		_, err := c.Chat.Completions.New(rctx, p)
		cancel()
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	// Let the canaries owed for the last jobs run.
	_, _, passed, failed := proxy.TrustCounts(tp.Proxy, w.ID())
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && w.Running() > 0; {
		time.Sleep(10 * time.Millisecond)
	}
	_, _, passed, failed = proxy.TrustCounts(tp.Proxy, w.ID())
	clock.mu.Lock()
	defer clock.mu.Unlock()
	if failed != 0 {
		b.Fatalf("an honest worker failed %d canaries", failed)
	}
	if clock.clients == 0 {
		b.Fatal("no client job measured")
	}
	busy := clock.client + clock.canary
	b.ReportMetric(100*float64(clock.canary)/float64(busy), "canary-%")
	b.ReportMetric(float64(clock.canaries), "canaries")
	b.ReportMetric(float64(passed), "passed")
	meanClient := float64(clock.client.Microseconds()) / 1000 / float64(clock.clients)
	b.ReportMetric(meanClient, "client-ms")
	if clock.canaries > 0 {
		meanCanary := float64(clock.canary.Microseconds()) / 1000 / float64(clock.canaries)
		b.ReportMetric(meanCanary, "canary-ms")
		b.ReportMetric(float64(proxy.DefaultCanaryShareBPS)/100*meanCanary/meanClient, "expected-%")
	}
}

// startBenchProxy runs a proxy for a benchmark (startProxy takes a *testing.T).
func startBenchProxy(b *testing.B, mod func(*proxy.Config)) *testProxy {
	b.Helper()
	dir := b.TempDir()
	cfg := baseConfig(dir)
	mod(&cfg)
	p, err := proxy.New(cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tp := &testProxy{Proxy: p, dir: dir, cancel: cancel, errc: make(chan error, 1)}
	go func() { tp.errc <- p.Run(ctx) }()
	b.Cleanup(func() {
		cancel()
		if err := <-tp.errc; err != nil {
			b.Errorf("Run: %v", err)
		}
	})
	return tp
}

// BenchmarkCanaryAcrossBackends measures the comparison's tolerance
// between machines that differ in float arithmetic: the reference on
// Ollama's CPU backend, the honest worker on its Vulkan backend (Mesa's
// software device where there is no GPU). b.N canaries; it reports the
// share that matched exactly, passed at a near-tie, and failed (false
// positives), and logs every failure's evidence.
func BenchmarkCanaryAcrossBackends(b *testing.B) {
	testollama.VulkanLibrary(b, testollama.Binary())
	ref := tinyOllama(b, 1, nil)
	wol := tinyOllama(b, 1, testollama.VulkanTestEnv())
	digest := ollamaDigest(b, ref)
	rec := &logRecorder{}
	dir := b.TempDir()
	cfg := baseConfig(dir)
	cfg.JobTimeout = 5 * time.Minute
	fastCanaries(func(c *proxy.CanaryConfig) { c.ReferenceOllama = ref.Host() })(&cfg)
	p, err := proxy.New(cfg, slog.New(recordingHandler{rec: rec}))
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- p.Run(ctx) }()
	defer func() { cancel(); <-errc }()
	dctx, dcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer dcancel()
	w, err := proxytest.Dial(dctx, p.WorkerURL(), p.PublicKey(), proxytest.Options{
		Models: []network.ModelInfo{{Name: model, Digest: digest, Size: 1 << 20, Loaded: true, FitsVRAM: true}},
		Script: forward(wol.Client(), nil, nil),
	})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	b.ResetTimer()
	for deadline := time.Now().Add(time.Duration(b.N) * time.Minute); ; time.Sleep(50 * time.Millisecond) {
		_, _, passed, failed := proxy.TrustCounts(p, w.ID())
		if passed+failed >= int64(b.N) {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d canaries", passed+failed, b.N)
		}
	}
	b.StopTimer()
	okEv, failEv := rec.verdicts(w.ID())
	exact := 0
	for _, e := range okEv {
		if strings.HasPrefix(e, "matched all") {
			exact++
		}
	}
	n := float64(len(okEv) + len(failEv))
	b.ReportMetric(100*float64(exact)/n, "exact-%")
	b.ReportMetric(100*float64(len(okEv)-exact)/n, "near-tie-%")
	b.ReportMetric(100*float64(len(failEv))/n, "failed-%")
	for _, e := range okEv {
		if !strings.HasPrefix(e, "matched all") {
			b.Logf("passed: %s", e)
		}
	}
	for _, e := range failEv {
		b.Logf("failed: %s", e)
	}
}
