package worker

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/ton"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/xssnick/tonutils-go/address"

	"github.com/cocoon-desktop/cocoon-desktop/earnings"
	"github.com/cocoon-desktop/cocoon-desktop/gpu"
	"github.com/cocoon-desktop/cocoon-desktop/gpu/gputest"
	"github.com/cocoon-desktop/cocoon-desktop/internal/testollama"
	"github.com/cocoon-desktop/cocoon-desktop/internal/tinymodel"
	"github.com/cocoon-desktop/cocoon-desktop/internal/tonsandbox"
	"github.com/cocoon-desktop/cocoon-desktop/network"
	"github.com/cocoon-desktop/cocoon-desktop/network/proxy"
	"github.com/cocoon-desktop/cocoon-desktop/runtime/ollama"
)

const crashRounds = 20

// TestPayoutSurvivesAppCrashes kills the app (stops its core without
// letting it finish) at each point of a payout, crashRounds times each,
// restarts it on the same data dir, and checks that every payout id was paid
// exactly once on chain (the real wallet contract) and that the ledger, the
// proxy and the chain agree.
func TestPayoutSurvivesAppCrashes(t *testing.T) {
	if testollama.Binary() == "" {
		testollama.Skip(t)
	}
	sb := tonsandbox.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	ol := testollama.Start(t) // shared by every restart of the app
	gguf := t.TempDir() + "/tiny.gguf"
	if err := tinymodel.WriteFile(gguf, tinymodel.Options{Seed: 1}); err != nil {
		t.Fatal(err)
	}
	if err := tinymodel.Register(ctx, ol.Client(), TinyModel, gguf); err != nil {
		t.Fatal(err)
	}

	seed := sha256.Sum256([]byte("crash proxy wallet"))
	wkey := ed25519.NewKeyFromSeed(seed[:])
	wallet, err := ton.NewPayoutWalletFromKey(wkey, ton.Testnet)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sb.DeployWalletV5R1(ctx, wkey.Public().(ed25519.PublicKey), ton.Testnet, 100_000_000_000); err != nil {
		t.Fatal(err)
	}
	const apiKey = "sk-crash-test-0123456789"
	pcfg := proxy.DefaultConfig()
	pcfg.APIAddr, pcfg.WorkerAddr, pcfg.DataDir = "127.0.0.1:0", "127.0.0.1:0", t.TempDir()
	pcfg.Models = map[string]proxy.ModelPrice{"cocoon-tiny": {PricePrompt: 1_000, PriceCompletion: 4_000}}
	pcfg.APIKeys = []proxy.APIKey{{Key: apiKey, Name: "crash"}}
	pcfg.Payouts = &proxy.PayoutConfig{Network: ton.Testnet, Wallet: wallet, Chain: sb, MinPayout: 1_000, Fee: 100, ConfirmInterval: 50 * time.Millisecond}
	p, err := proxy.New(pcfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	pctx, stopProxy := context.WithCancel(ctx)
	defer stopProxy()
	go p.Run(pctx)

	dir := t.TempDir()
	type run struct {
		core *Core
		stop func()
	}
	start := func(mutate func(*Core)) run {
		c := New(Config{
			DataDir: dir, SeedTinyModel: true,
			Runtime: ollama.Config{AttachAddr: ol.Host(), NoManage: true},
			GPU:     gpu.NewDetector(gputest.Library(gputest.RTX4090())),
			Network: NetworkConfig{URL: p.WorkerURL(), ProxyKey: p.PublicKey()},
		})
		if mutate != nil {
			mutate(c)
		}
		cctx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- c.Run(cctx) }()
		return run{c, func() { stop(); <-done }}
	}

	// Earn enough for every round once.
	r := start(nil)
	if err := r.core.WaitModels(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r.core.StartNow(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "accepting", func() bool {
		st, _ := p.Status(ctx)
		return len(st.Workers) == 1 && st.Workers[0].State == network.Accepting
	})
	client := openai.NewClient(option.WithBaseURL("http://"+p.APIAddr()+"/v1/"), option.WithAPIKey(apiKey), option.WithMaxRetries(0))
	for i := 0; i < 4; i++ {
		if _, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model: "cocoon-tiny", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("earn")}, MaxTokens: openai.Int(200),
		}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "receipts", func() bool { return r.core.Status().Earnings.Balance.Jobs == 4 })
	waitFor(t, "the proxy's balance", func() bool { return r.core.Status().Earnings.Proxy != nil })
	r.stop()

	h := sha256.Sum256([]byte("crash owner"))
	owner := address.NewAddress(0, 0, h[:])
	owner.SetBounce(false)
	owner.SetTestnetOnly(true)
	const amount = 2_000

	killPoints := []struct {
		name   string
		mutate func(*Core, *atomic.Bool)
	}{
		{"after recording, before sending", func(c *Core, dead *atomic.Bool) {
			c.crashAfterRecord = func() bool { dead.Store(true); return true }
		}},
		{"after sending, before any answer is stored", func(c *Core, dead *atomic.Bool) {
			c.dropPayoutStatus = func(network.PayoutStatus) bool { dead.Store(true); return true }
		}},
		{"after the sent answer, before the confirmation is stored", func(c *Core, dead *atomic.Bool) {
			c.dropPayoutStatus = func(s network.PayoutStatus) bool {
				if s.State == network.PayoutConfirmed {
					dead.Store(true)
					return true
				}
				return false
			}
		}},
	}
	paid := int64(0)
	for _, kp := range killPoints {
		t.Run(kp.name, func(t *testing.T) {
			for round := 0; round < crashRounds; round++ {
				var dead atomic.Bool
				r := start(func(c *Core) { kp.mutate(c, &dead) })
				waitFor(t, "connected with the proxy's terms", func() bool {
					s := r.core.Status()
					return s.Network.Connected && s.Earnings.Proxy != nil
				})
				w, err := r.core.RequestPayout(ctx, amount, owner.String())
				if err != nil {
					t.Fatalf("round %d: pay out: %v", round, err)
				}
				waitFor(t, "the kill point", dead.Load)
				r.stop() // the app dies here

				r = start(nil) // and comes back on the same data dir
				waitFor(t, fmt.Sprintf("round %d: %s confirmed after the restart", round, w.ID), func() bool {
					for _, x := range r.core.Status().Earnings.Payouts {
						if x.ID == w.ID {
							return x.State == earnings.PayoutConfirmed
						}
					}
					return false
				})
				r.stop()
				paid += amount
			}
		})
	}

	// Exactly one transfer per payout: the owner holds rounds × (amount − fee).
	rounds := int64(len(killPoints) * crashRounds)
	got, _, err := sb.Balance(ctx, owner)
	if err != nil {
		t.Fatal(err)
	}
	// An uninitialised account pays a few nanoTON of storage fee per incoming message.
	want := rounds * (amount - 100)
	if int64(got) > want || int64(got) < want-rounds*50 {
		t.Fatalf("owner holds %d nanoTON after %d payouts, want ~%d (exactly one transfer each)", got, rounds, want)
	}
	r = start(nil)
	defer r.stop()
	waitFor(t, "the ledger", func() bool { return r.core.Status().Earnings.Proxy != nil })
	bal := r.core.Status().Earnings.Balance
	if bal.PaidOut != paid || bal.Pending != 0 {
		t.Fatalf("ledger paid out %d pending %d, want %d and 0", bal.PaidOut, bal.Pending, paid)
	}
	rec, _, err := p.Store().Worker(ctx, network.WorkerID(mustKey(t, dir)))
	if err != nil || rec.Paid != paid || rec.Pending != 0 {
		t.Fatalf("proxy record %+v (%v), want paid %d", rec, err, paid)
	}
	if rep, err := r.core.VerifyLedger(); err != nil || !rep.OK() {
		t.Fatalf("ledger does not verify after the crashes: %+v %v", rep, err)
	}
	t.Logf("%d payouts across %d app crashes: each paid once; ledger, proxy and chain agree", rounds, rounds)
}

func mustKey(t *testing.T, dir string) ed25519.PublicKey {
	k, err := network.LoadOrCreateKey(dir + "/keys/worker.key")
	if err != nil {
		t.Fatal(err)
	}
	return k.Public().(ed25519.PublicKey)
}
