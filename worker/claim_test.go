package worker

import (
	"context"
	"crypto/sha256"
	"errors"
	"sync"
	"testing"
	"time"

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
	"github.com/cocoon-desktop/cocoon-desktop/ton"
	"github.com/cocoon-desktop/cocoon-desktop/ton/escrow"
	"github.com/cocoon-desktop/cocoon-desktop/ton/escrow/escrowtest"
)

// settleEnv is a real proxy whose escrow is the real contract in the TON
// sandbox, real Ollama with the tiny model, and a data dir for the app's
// core: the whole settlement path with nothing faked but the liteservers.
type settleEnv struct {
	t      *testing.T
	ctx    context.Context
	sb     *tonsandbox.Sandbox
	escrow *escrowtest.Escrow
	ol     *testollama.Server
	proxy  *proxy.Proxy
	pdir   string
	pcfg   proxy.Config
	stopP  func()
	owner  *address.Address
	dir    string
	client openai.Client
}

const settleAPIKey = "sk-settle-test-0123456789"

func newSettleEnv(t *testing.T, timeout time.Duration) *settleEnv {
	t.Helper()
	if testollama.Binary() == "" {
		testollama.Skip(t)
	}
	sb := tonsandbox.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	ol := testollama.Start(t)
	gguf := t.TempDir() + "/tiny.gguf"
	if err := tinymodel.WriteFile(gguf, tinymodel.Options{Seed: 1}); err != nil {
		t.Fatal(err)
	}
	if err := tinymodel.Register(ctx, ol.Client(), TinyModel, gguf); err != nil {
		t.Fatal(err)
	}
	e := &settleEnv{t: t, ctx: ctx, sb: sb, ol: ol, pdir: t.TempDir(), dir: t.TempDir()}
	key, err := proxy.LoadOrCreateIdentity(e.pdir)
	if err != nil {
		t.Fatal(err)
	}
	if e.escrow, err = escrowtest.Deploy(ctx, sb, key, time.Hour, escrow.DefaultClaimFee, 100_000_000_000); err != nil {
		t.Fatal(err)
	}
	ea := address.NewAddress(0, 0, e.escrow.Addr.Data())
	ea.SetTestnetOnly(true)
	e.pcfg = proxy.DefaultConfig()
	e.pcfg.APIAddr, e.pcfg.WorkerAddr, e.pcfg.DataDir = "127.0.0.1:0", "127.0.0.1:0", e.pdir
	// Prices that make a job worth a good share of a TON, well above the claim fee.
	e.pcfg.Models = map[string]proxy.ModelPrice{"cocoon-tiny": {PricePrompt: 1_000_000, PriceCompletion: 4_000_000}}
	e.pcfg.APIKeys = []proxy.APIKey{{Key: settleAPIKey, Name: "settle"}}
	e.pcfg.Escrow = &proxy.EscrowConfig{Network: ton.Testnet, Address: ea.String()}
	h := sha256.Sum256([]byte("settle owner"))
	e.owner = address.NewAddress(0, 0, h[:])
	e.owner.SetBounce(false)
	e.owner.SetTestnetOnly(true)
	e.startProxy()
	return e
}

// startProxy (re)starts the proxy on its data dir, at new ports.
func (e *settleEnv) startProxy() {
	t := e.t
	p, err := proxy.New(e.pcfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	pctx, stop := context.WithCancel(e.ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(pctx) }()
	e.proxy = p
	var once sync.Once
	e.stopP = func() { once.Do(func() { stop(); <-done }) }
	t.Cleanup(e.stopP)
	e.client = openai.NewClient(option.WithBaseURL("http://"+p.APIAddr()+"/v1/"), option.WithAPIKey(settleAPIKey), option.WithMaxRetries(0))
}

type settleRun struct {
	core *Core
	stop func()
}

// start runs the app's core on the env's data dir (mutate runs before Run).
func (e *settleEnv) start(mutate func(*Core)) settleRun {
	c := New(Config{
		DataDir: e.dir, SeedTinyModel: true,
		Runtime:            ollama.Config{AttachAddr: e.ol.Host(), NoManage: true},
		GPU:                gpu.NewDetector(gputest.Library(gputest.RTX4090())),
		Network:            NetworkConfig{URL: e.proxy.WorkerURL(), ProxyKey: e.proxy.PublicKey()},
		PayoutAddress:      e.owner.String(),
		Settlement:         e.sb,
		ClaimCheckInterval: time.Hour, // the loop runs at start; the tests drive the rest
	})
	if err := c.SetAutoClaim(-1); err != nil { // the tests claim by hand unless they say otherwise
		e.t.Fatal(err)
	}
	if mutate != nil {
		mutate(c)
	}
	cctx, stop := context.WithCancel(e.ctx)
	done := make(chan error, 1)
	go func() { done <- c.Run(cctx) }()
	return settleRun{c, func() { stop(); <-done }}
}

// earn serves n OpenAI requests through the proxy and waits until the
// ledger holds a voucher for the receipts' whole total.
func (e *settleEnv) earn(r settleRun, n int) earnings.Voucher {
	t := e.t
	if err := r.core.WaitModels(e.ctx); err != nil {
		t.Fatal(err)
	}
	if err := r.core.StartNow(e.ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "accepting", func() bool {
		st, _ := e.proxy.Status(e.ctx)
		return len(st.Workers) == 1 && st.Workers[0].State == network.Accepting
	})
	before := r.core.Status().Earnings.Balance.Jobs
	for i := 0; i < n; i++ {
		if _, err := e.client.Chat.Completions.New(e.ctx, openai.ChatCompletionNewParams{
			Model: "cocoon-tiny", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("earn")}, MaxTokens: openai.Int(40),
		}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "receipts", func() bool { return r.core.Status().Earnings.Balance.Jobs == before+int64(n) })
	earned := r.core.Status().Earnings.Balance.Earned
	var v earnings.Voucher
	waitFor(t, "the voucher for the receipts' total", func() bool {
		st, err := r.core.Settlement()
		if err == nil && st.Voucher != nil {
			v = *st.Voucher
		}
		return v.Cumulative == earned
	})
	return v
}

func (e *settleEnv) ownerBalance() int64 {
	got, _, err := e.sb.Balance(e.ctx, e.owner)
	if err != nil {
		e.t.Fatal(err)
	}
	return int64(got)
}

// near: an uninitialised account pays a few nanoTON of storage per incoming message.
func near(got, want int64) bool { return got <= want && got >= want-100 }

// TestClaimEndToEnd: OpenAI requests through the proxy → receipts and
// vouchers in the ledger → Claim builds the external message and sends it
// to the escrow contract (the sandbox's TVM) → the owner's address holds
// the amount minus the claim fee → the ledger shows it confirmed, once.
// Then the same with the proxy stopped: the claim still pays.
func TestClaimEndToEnd(t *testing.T) {
	e := newSettleEnv(t, 6*time.Minute)
	r := e.start(nil)
	defer func() { r.stop() }()
	v := e.earn(r, 3)
	if v.Payout != e.owner.String() || v.Held != 0 || v.ClaimFee != escrow.DefaultClaimFee {
		t.Fatalf("voucher %+v", v)
	}

	cl, err := r.core.Claim(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	fee := int64(escrow.DefaultClaimFee)
	if cl.State != earnings.ClaimConfirmed || cl.Amount != v.Cumulative || cl.Received() != v.Cumulative-fee || cl.MsgHash == "" {
		t.Fatalf("claim %+v, want confirmed with %d", cl, v.Cumulative)
	}
	if got := e.ownerBalance(); !near(got, v.Cumulative-fee) {
		t.Fatalf("owner holds %d nanoTON, want %d", got, v.Cumulative-fee)
	}
	// Again: nothing to claim, nothing paid, nothing recorded.
	if _, err := r.core.Claim(e.ctx); !errors.Is(err, earnings.ErrNothingToClaim) {
		t.Fatalf("second claim: %v, want ErrNothingToClaim", err)
	}
	// The same message sent again (a retry after a crash) pays nothing.
	if err := r.core.ResumeClaims(e.ctx); err != nil {
		t.Fatal(err)
	}
	if got := e.ownerBalance(); !near(got, v.Cumulative-fee) {
		t.Fatalf("after a re-send the owner holds %d nanoTON, want still %d", got, v.Cumulative-fee)
	}

	// More work, then the proxy goes away: the stored voucher still pays.
	v2 := e.earn(r, 2)
	e.stopP()
	waitFor(t, "disconnected", func() bool { return !r.core.Status().Network.Connected })
	cl2, err := r.core.Claim(e.ctx)
	if err != nil {
		t.Fatalf("claim with the proxy stopped: %v", err)
	}
	if cl2.State != earnings.ClaimConfirmed || cl2.Amount != v2.Cumulative-v.Cumulative {
		t.Fatalf("claim %+v, want confirmed with %d", cl2, v2.Cumulative-v.Cumulative)
	}
	if got := e.ownerBalance(); !near(got, v2.Cumulative-2*fee) {
		t.Fatalf("owner holds %d nanoTON, want %d", got, v2.Cumulative-2*fee)
	}
	st, err := r.core.Settlement()
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for _, c := range st.Claims {
		sum += c.Amount
	}
	if len(st.Claims) != 2 || sum != v2.Cumulative || st.Claimable != 0 || st.PaidOnChain != v2.Cumulative || st.Pending != 0 {
		t.Fatalf("settlement %+v: want 2 claims summing to %d, nothing claimable", st, v2.Cumulative)
	}
	paid, err := escrow.PaidTotal(e.ctx, e.sb, e.escrow.Addr, mustWorkerKey(t, e.dir))
	if err != nil || int64(paid) != v2.Cumulative {
		t.Fatalf("escrow paid total %d (%v), want %d", paid, err, v2.Cumulative)
	}
	t.Logf("claimed %s TON in 2 claims (the second with the proxy stopped); owner received %s TON",
		ton.Format(v2.Cumulative), ton.Format(e.ownerBalance()))
}

func mustWorkerKey(t *testing.T, dir string) [32]byte {
	var k [32]byte
	copy(k[:], mustKey(t, dir))
	return k
}

// TestAutoClaim: with the default threshold (AutoClaimFeeMultiple × the
// claim fee, 0.2 TON) the app claims by itself once the claimable amount
// passes it, and not before: one job (about 0.16 TON here) is not claimed,
// two are, in one claim.
func TestAutoClaim(t *testing.T) {
	e := newSettleEnv(t, 4*time.Minute)
	r := e.start(func(c *Core) {
		if err := c.SetAutoClaim(0); err != nil { // the default
			t.Fatal(err)
		}
	})
	defer func() { r.stop() }()
	v1 := e.earn(r, 1)
	threshold := r.core.AutoClaimThreshold()
	if threshold != AutoClaimFeeMultiple*escrow.DefaultClaimFee || v1.Cumulative >= threshold {
		t.Fatalf("threshold %d with one job of %d: the test needs one job under it", threshold, v1.Cumulative)
	}
	v2 := e.earn(r, 1)
	if v2.Cumulative < threshold {
		t.Fatalf("two jobs earn %d, under the threshold %d", v2.Cumulative, threshold)
	}
	waitFor(t, "the automatic claim confirmed", func() bool {
		st, err := r.core.Settlement()
		return err == nil && st.PaidOnChain == v2.Cumulative
	})
	st, _ := r.core.Settlement()
	if len(st.Claims) != 1 || st.Claims[0].Cumulative != v2.Cumulative || st.Claims[0].State != "confirmed" {
		t.Fatalf("claims %+v: want one, of the two-job voucher", st.Claims)
	}
	if got := e.ownerBalance(); !near(got, v2.Cumulative-escrow.DefaultClaimFee) {
		t.Fatalf("owner holds %d, want %d", got, v2.Cumulative-escrow.DefaultClaimFee)
	}
}

// TestSupersededClaimIsCovered: a claim recorded but never sent (the app
// died) is superseded by a newer voucher: the settlement loop claims the
// newer one, which pays both at the cost of one fee; the older claim shows
// as covered, never paid twice.
func TestSupersededClaimIsCovered(t *testing.T) {
	e := newSettleEnv(t, 4*time.Minute)
	var once sync.Once
	r := e.start(func(c *Core) {
		c.claimHooks.afterRecord = func() bool {
			stop := false
			once.Do(func() { stop = true })
			return stop
		}
	})
	defer func() { r.stop() }()
	v1 := e.earn(r, 1)
	if cl, err := r.core.Claim(e.ctx); err != nil || cl.State != earnings.ClaimPending {
		t.Fatalf("claim %+v %v, want pending and unsent", cl, err)
	}
	v2 := e.earn(r, 1) // the new voucher wakes the settlement loop
	waitFor(t, "the newer voucher claimed", func() bool {
		st, err := r.core.Settlement()
		return err == nil && st.PaidOnChain == v2.Cumulative && st.Pending == 0
	})
	st, _ := r.core.Settlement()
	if len(st.Claims) != 2 || st.Claims[0].State != earnings.ClaimConfirmed || st.Claims[0].Amount != v2.Cumulative ||
		st.Claims[1].Cumulative != v1.Cumulative || st.Claims[1].State != earnings.ClaimCovered {
		t.Fatalf("claims %+v: want the newer confirmed with all of %d, the older covered", st.Claims, v2.Cumulative)
	}
	if got := e.ownerBalance(); !near(got, v2.Cumulative-escrow.DefaultClaimFee) {
		t.Fatalf("owner holds %d, want %d (one claim, one fee)", got, v2.Cumulative-escrow.DefaultClaimFee)
	}
}
