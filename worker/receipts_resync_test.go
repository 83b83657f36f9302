package worker

import (
	"context"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/cocoon-desktop/cocoon-desktop/gpu"
	"github.com/cocoon-desktop/cocoon-desktop/gpu/gputest"
	"github.com/cocoon-desktop/cocoon-desktop/internal/testollama"
	"github.com/cocoon-desktop/cocoon-desktop/internal/tinymodel"
	"github.com/cocoon-desktop/cocoon-desktop/network"
	"github.com/cocoon-desktop/cocoon-desktop/network/proxy"
	"github.com/cocoon-desktop/cocoon-desktop/receipt"
	"github.com/cocoon-desktop/cocoon-desktop/runtime/ollama"
)

// TestLostReceiptsFetchedOnReconnect: receipts the app lost between the
// proxy signing them and the ledger storing them (a crash, a full disk) are
// asked for again on the next connect, so the per-job history agrees with
// the signed balance to the nanoTON.
func TestLostReceiptsFetchedOnReconnect(t *testing.T) {
	if testollama.Binary() == "" {
		testollama.Skip(t)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	ol, p, apiKey := startNetworkOnTiny(t, ctx)

	dir := t.TempDir()
	start := func(lose func(receipt.Signed) bool) (*Core, func()) {
		c := New(Config{
			DataDir: dir, SeedTinyModel: true,
			Runtime: ollama.Config{AttachAddr: ol.Host(), NoManage: true},
			GPU:     gpu.NewDetector(gputest.Library(gputest.RTX4090())),
			Network: NetworkConfig{URL: p.WorkerURL(), ProxyKey: p.PublicKey()},
		})
		c.loseReceipt = lose
		cctx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- c.Run(cctx) }()
		return c, func() { stop(); <-done }
	}

	// Seqs 2 and 3 are lost; 1 and 4 are stored (the ledger records the gap).
	c, stop := start(func(r receipt.Signed) bool { return r.Receipt.Seq == 2 || r.Receipt.Seq == 3 })
	serveJobs(t, ctx, c, p, apiKey, 4, 50)
	waitFor(t, "receipts 1 and 4", func() bool { return c.Status().Earnings.Balance.LastSeq == 4 })
	before := c.Status().Earnings.Balance
	if before.Jobs != 2 || before.Credited >= before.Earned {
		t.Fatalf("before: %+v, want 2 receipts stored and the lost ones missing from Credited", before)
	}
	stop()

	// The next start asks for them again and fills the gap.
	c, stop = start(nil)
	defer stop()
	waitFor(t, "the lost receipts", func() bool { return c.Status().Earnings.Balance.Jobs == 4 })
	after := c.Status().Earnings.Balance
	if after.Credited != after.Earned || after.Earned != before.Earned {
		t.Fatalf("after: credited %d, earned %d (before %d): the per-job rows must sum to the signed total", after.Credited, after.Earned, before.Earned)
	}
	tot, err := p.Store().Totals(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if tot.PaidToWorkers != after.Earned {
		t.Fatalf("proxy signed %d nanoTON in all, the ledger has %d", tot.PaidToWorkers, after.Earned)
	}
	if rep, err := c.VerifyLedger(); err != nil || !rep.OK() {
		t.Fatalf("verify: %+v %v", rep, err)
	}
}

// startNetworkOnTiny starts a real Ollama holding the tiny model and a
// proxy that prices it, for tests that run a worker core against both; it
// returns the proxy's API key. Both stop when the test ends.
func startNetworkOnTiny(t *testing.T, ctx context.Context) (*testollama.Server, *proxy.Proxy, string) {
	t.Helper()
	ol := testollama.Start(t)
	gguf := t.TempDir() + "/tiny.gguf"
	if err := tinymodel.WriteFile(gguf, tinymodel.Options{Seed: 1}); err != nil {
		t.Fatal(err)
	}
	if err := tinymodel.Register(ctx, ol.Client(), TinyModel, gguf); err != nil {
		t.Fatal(err)
	}
	const apiKey = "worker-test-api-key"
	pcfg := proxy.DefaultConfig()
	pcfg.APIAddr, pcfg.WorkerAddr, pcfg.DataDir = "127.0.0.1:0", "127.0.0.1:0", t.TempDir()
	pcfg.Models = map[string]proxy.ModelPrice{"cocoon-tiny": {PricePrompt: 1_000, PriceCompletion: 4_000}}
	pcfg.APIKeys = []proxy.APIKey{{Key: apiKey, Name: "worker-test"}}
	p, err := proxy.New(pcfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	pctx, stopProxy := context.WithCancel(ctx)
	proxyDone := make(chan error, 1)
	go func() { proxyDone <- p.Run(pctx) }()
	t.Cleanup(func() { stopProxy(); <-proxyDone })
	return ol, p, apiKey
}

// serveJobs has core c serve n chat jobs of up to maxTokens through proxy
// p, once it is accepting.
func serveJobs(t *testing.T, ctx context.Context, c *Core, p *proxy.Proxy, apiKey string, n, maxTokens int64) {
	t.Helper()
	if err := c.WaitModels(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.StartNow(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "accepting", func() bool {
		st, _ := p.Status(ctx)
		return len(st.Workers) == 1 && st.Workers[0].State == network.Accepting
	})
	client := openai.NewClient(option.WithBaseURL("http://"+p.APIAddr()+"/v1/"), option.WithAPIKey(apiKey), option.WithMaxRetries(0))
	for range n {
		if _, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model: "cocoon-tiny", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("earn")}, MaxTokens: openai.Int(maxTokens),
		}); err != nil {
			t.Fatal(err)
		}
	}
}
