package worker

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/earnings"
	"github.com/cocoon-desktop/cocoon-desktop/gpu"
	"github.com/cocoon-desktop/cocoon-desktop/gpu/gputest"
	"github.com/cocoon-desktop/cocoon-desktop/internal/testollama"
	"github.com/cocoon-desktop/cocoon-desktop/network"
	"github.com/cocoon-desktop/cocoon-desktop/receipt"
	"github.com/cocoon-desktop/cocoon-desktop/runtime/ollama"
)

// TestRunReturnsFirstFatalError: a part that fails for good stops the whole
// core — Run returns its error without waiting for ctx, and the status says
// in words that the worker has stopped.
func TestRunReturnsFirstFatalError(t *testing.T) {
	okOllama := wedgedOllama(t) // answers version, tags and ps: enough to start
	tests := []struct {
		name string
		cfg  Config
		want error  // errors.Is
		says string // in Status.Fatal
	}{
		{"no Ollama to start", Config{Runtime: ollama.Config{NoAttach: true, Binary: "/nonexistent/ollama", Dir: t.TempDir()}},
			ollama.ErrOllamaNotFound, "model runtime"},
		{"attached Ollama never answers", Config{Runtime: ollama.Config{AttachAddr: "127.0.0.1:1", NoManage: true}},
			ollama.ErrOllamaUnreachable, "ollama not answering"},
		{"a network address that can never work", Config{
			DataDir: t.TempDir(), Runtime: ollama.Config{AttachAddr: okOllama.URL, NoManage: true},
			Network: NetworkConfig{URL: "ftp://proxy.example", ProxyKey: make([]byte, 32)},
		}, nil, "network client"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := New(tc.cfg)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			err := c.Run(ctx)
			if err == nil || ctx.Err() != nil {
				t.Fatalf("Run = %v (ctx %v), want it to stop on its own with an error", err, ctx.Err())
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("Run = %v, want %v", err, tc.want)
			}
			st := c.Status()
			if st.State != StateError || st.Fatal == "" || !strings.Contains(st.Fatal, tc.says) || st.Error != st.Fatal {
				t.Fatalf("status %s, error %q, fatal %q; want error state saying %q", st.State, st.Error, st.Fatal, tc.says)
			}
			// The error itself goes with its text, for the UI's owner words.
			if st.ErrorErr == nil || st.ErrorErr.Error() != st.Error || (tc.want != nil && !errors.Is(st.ErrorErr, tc.want)) {
				t.Fatalf("Status.ErrorErr = %v, want the error behind %q", st.ErrorErr, st.Error)
			}
		})
	}
}

// TestDamagedLedgerRebuiltFromProxy: on a damaged ledger the core serves
// nothing and waits; RebuildLedger keeps the damaged file aside, makes a new
// ledger and fetches every receipt back from the proxy, so its balance and
// its per-job rows agree with the proxy's signed total to the nanoTON.
func TestDamagedLedgerRebuiltFromProxy(t *testing.T) {
	if testollama.Binary() == "" {
		testollama.Skip(t)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	ol, p, apiKey := startNetworkOnTiny(t, ctx)

	dir := t.TempDir()
	start := func() (*Core, chan error, func()) {
		c := New(Config{
			DataDir: dir, SeedTinyModel: true, OfferLedgerRebuild: true,
			Runtime: ollama.Config{AttachAddr: ol.Host(), NoManage: true},
			GPU:     gpu.NewDetector(gputest.Library(gputest.RTX4090())),
			Network: NetworkConfig{URL: p.WorkerURL(), ProxyKey: p.PublicKey()},
		})
		cctx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- c.Run(cctx) }()
		return c, done, stop
	}
	c, done, stop := start()
	const jobs = 5
	serveJobs(t, ctx, c, p, apiKey, jobs, 20)
	waitFor(t, "5 receipts", func() bool { return c.Status().Earnings.Balance.Jobs == jobs })
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	path := filepath.Join(dir, LedgerFile)
	if err := os.WriteFile(path, []byte(strings.Repeat("not a ledger ", 2000)), 0o600); err != nil {
		t.Fatal(err)
	}
	c, done, stop = start()
	defer func() { stop(); <-done }()
	waitFor(t, "the damaged-ledger status", func() bool { return c.Status().LedgerDamaged != "" })
	st := c.Status()
	if st.State != StateError || !strings.Contains(st.LedgerDamaged, "damaged") || st.Fatal != "" {
		t.Fatalf("status %s %q (fatal %q), want an error saying the ledger is damaged", st.State, st.LedgerDamaged, st.Fatal)
	}
	if err := c.StartNow(ctx); err == nil {
		t.Fatal("the core agreed to serve on a damaged ledger")
	}
	if pst, _ := p.Status(ctx); len(pst.Workers) != 0 {
		t.Fatalf("the worker connected to the network on a damaged ledger: %+v", pst.Workers)
	}

	aside, err := c.RebuildLedger(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(aside); err != nil || !strings.HasPrefix(string(data), "not a ledger") {
		t.Fatalf("the damaged file was not kept at %s: %v", aside, err)
	}
	if _, err := c.RebuildLedger(ctx); !errors.Is(err, ErrLedgerNotDamaged) {
		t.Fatalf("a second rebuild = %v, want ErrLedgerNotDamaged", err)
	}
	waitFor(t, "the receipts back from the proxy", func() bool {
		b := c.Status().Earnings.Balance
		return b.Jobs == jobs && b.Credited == b.Earned
	})
	tot, err := p.Store().Totals(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if b := c.Status().Earnings.Balance; b.Earned != tot.PaidToWorkers || b.Earned == 0 {
		t.Fatalf("rebuilt ledger earned %d, the proxy signed %d", b.Earned, tot.PaidToWorkers)
	}
	if rep, err := c.VerifyLedger(); err != nil || !rep.OK() {
		t.Fatalf("verify: %+v %v", rep, err)
	}
	waitFor(t, "the rebuild marker cleared", func() bool { return !rebuilding(dir) })
}

// TestRebuildRecordsEarlierPayouts: once the rebuilt ledger has every
// receipt, the proxy's paid total becomes one confirmed payout, so the
// available balance is right again; before that, nothing is recorded.
func TestRebuildRecordsEarlierPayouts(t *testing.T) {
	dir := t.TempDir()
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := New(Config{DataDir: dir, Network: NetworkConfig{ProxyKey: pub}})
	if c.openErr != nil {
		t.Fatal(c.openErr)
	}
	l := c.led()
	defer l.Close()
	var rs []receipt.Signed
	for seq := int64(1); seq <= 3; seq++ {
		rs = append(rs, receipt.Sign(priv, receipt.Receipt{
			JobID: fmt.Sprintf("job-%d", seq), WorkerID: "w1", Model: "cocoon-tiny",
			PromptTokens: 10, PricePrompt: 1000, CoefficientMilli: 1000,
			Amount: 10_000, Cumulative: seq * 10_000, Seq: seq, Time: time.Now().UnixMilli(),
		}))
	}
	for _, r := range rs[:2] {
		if _, err := l.Credit(r); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := SetAsideLedger(dir); err != nil { // only for the marker
		t.Fatal(err)
	}
	c.rebuildPending.Store(true)
	proxyView := network.Balance{Cumulative: rs[2].Receipt.Cumulative, LastSeq: 3, Paid: rs[1].Receipt.Cumulative}
	c.finishRebuild(proxyView)
	if ws, _ := l.Payouts(0); len(ws) != 0 {
		t.Fatalf("payouts recorded before the receipts were back: %+v", ws)
	}
	if _, err := l.Credit(rs[2]); err != nil {
		t.Fatal(err)
	}
	c.finishRebuild(proxyView)
	c.finishRebuild(proxyView) // twice: recorded once
	b, err := l.Balance()
	if err != nil {
		t.Fatal(err)
	}
	if b.PaidOut != proxyView.Paid || b.Available != b.Earned-proxyView.Paid {
		t.Fatalf("balance %+v, want %d paid out before the rebuild", b, proxyView.Paid)
	}
	if rebuilding(dir) {
		t.Fatal("the rebuild marker is still there")
	}
	if w, err := l.Payout(earlierPayoutsID); err != nil || w.State != earnings.PayoutConfirmed {
		t.Fatalf("earlier payouts: %+v %v", w, err)
	}
}
