package cli

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/ton"

	"github.com/openai/openai-go/v3"
	"github.com/xssnick/tonutils-go/address"

	"github.com/cocoon-desktop/cocoon-desktop/earnings"
	"github.com/cocoon-desktop/cocoon-desktop/gpu"
	"github.com/cocoon-desktop/cocoon-desktop/gpu/gputest"
	"github.com/cocoon-desktop/cocoon-desktop/internal/testollama"
	"github.com/cocoon-desktop/cocoon-desktop/internal/tonsandbox"
	"github.com/cocoon-desktop/cocoon-desktop/network/proxy"
	"github.com/cocoon-desktop/cocoon-desktop/runtime/ollama"
	"github.com/cocoon-desktop/cocoon-desktop/worker"
)

// TestPayoutEndToEnd: OpenAI requests → the worker earns → a payout
// from the app's core → the proxy's payout runs in the real wallet contract
// (@ton/sandbox) → the ledger shows it confirmed and the balance reduced by
// exactly that amount; the owner's wallet received amount − fee.
func TestPayoutEndToEnd(t *testing.T) {
	needOllama(t)
	sb := tonsandbox.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// The proxy's hot wallet, deployed and funded in the sandbox.
	seed := sha256.Sum256([]byte("e2e proxy wallet"))
	wkey := ed25519.NewKeyFromSeed(seed[:])
	wallet, err := ton.NewPayoutWalletFromKey(wkey, ton.Testnet)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sb.DeployWalletV5R1(ctx, wkey.Public().(ed25519.PublicKey), ton.Testnet, 50_000_000_000); err != nil {
		t.Fatal(err)
	}
	const fee = 1_000
	e := startE2EProxyWith(t, func(c *proxy.Config) {
		c.Payouts = &proxy.PayoutConfig{Network: ton.Testnet, Wallet: wallet, Chain: sb,
			MinPayout: 5_000, Fee: fee, ConfirmInterval: 50 * time.Millisecond}
	})

	// The app's core, in this process, serving through the proxy.
	dir := t.TempDir()
	core := worker.New(worker.Config{
		DataDir: dir, SeedTinyModel: true,
		Runtime: ollama.Config{NoAttach: true, Binary: testollama.Binary()},
		GPU:     gpu.NewDetector(gputest.Library(gputest.RTX4090())),
		Network: worker.NetworkConfig{URL: e.p.WorkerURL(), ProxyKey: e.p.PublicKey()},
	})
	cctx, stopCore := context.WithCancel(context.Background())
	coreDone := make(chan error, 1)
	go func() { coreDone <- core.Run(cctx) }()
	defer func() { stopCore(); <-coreDone }()
	if err := core.WaitModels(ctx); err != nil {
		t.Fatal(err)
	}
	if err := core.StartNow(ctx); err != nil {
		t.Fatal(err)
	}
	waitCond(t, "the proxy offers the worker's model", func() bool {
		st, _ := e.p.Status(ctx)
		return len(st.Workers) == 1 && st.Workers[0].State == "accepting"
	})

	client := e.client()
	for i := 0; i < 3; i++ {
		if _, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model: "cocoon-tiny", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("earn")}, MaxTokens: openai.Int(64),
		}); err != nil {
			t.Fatal(err)
		}
	}
	waitCond(t, "three receipts in the ledger", func() bool { return core.Status().Earnings.Balance.Jobs == 3 })
	before := core.Status().Earnings.Balance
	if before.Available <= 5_000 || before.Earned != before.Available {
		t.Fatalf("balance before = %+v", before)
	}

	// The owner's (never used) testnet wallet, as Tonkeeper shows it: non-bounceable.
	h := sha256.Sum256([]byte("owner"))
	owner := address.NewAddress(0, 0, h[:])
	owner.SetBounce(false)
	owner.SetTestnetOnly(true)
	amount := before.Available
	w, err := core.RequestPayout(ctx, amount, owner.String())
	if err != nil {
		t.Fatalf("pay out: %v", err)
	}
	waitCond(t, "the payout confirmed", func() bool {
		ws := core.Status().Earnings.Payouts
		return len(ws) == 1 && ws[0].State == earnings.PayoutConfirmed
	})
	after := core.Status().Earnings
	got := after.Payouts[0]
	if got.ID != w.ID || got.TxHash == "" || got.MsgHash == "" {
		t.Fatalf("payout = %+v", got)
	}
	if after.Balance.Available != before.Available-amount || after.Balance.PaidOut != amount || after.Balance.Pending != 0 {
		t.Fatalf("balance after = %+v, before %+v, amount %d", after.Balance, before, amount)
	}
	received, _, err := sb.Balance(ctx, owner)
	if err != nil {
		t.Fatal(err)
	}
	if int64(received) != amount-fee {
		t.Fatalf("the owner's wallet holds %d nanoTON, want %d (amount − fee)", received, amount-fee)
	}
	if after.Mismatch != "" {
		t.Fatalf("ledger and proxy disagree after the payout: %s", after.Mismatch)
	}
	// The proxy's books agree: paid equals the amount.
	rec, _, err := e.p.Store().Worker(ctx, workerID(t, dir))
	if err != nil || rec.Paid != amount || rec.Pending != 0 {
		t.Fatalf("proxy record %+v (%v)", rec, err)
	}
}

func waitCond(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
