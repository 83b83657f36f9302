package proxy_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/ton"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"

	"github.com/cocoon-desktop/cocoon-desktop/internal/tonsandbox"
	"github.com/cocoon-desktop/cocoon-desktop/network"
	"github.com/cocoon-desktop/cocoon-desktop/network/proxy"
	"github.com/cocoon-desktop/cocoon-desktop/network/proxy/proxytest"
)

const (
	tonNano = 1_000_000_000
	// Payout tests price tokens high so a few jobs earn whole TON:
	// a job (10 prompt + 3 completion tokens) earns 13 × 0.1 TON × 90% = 1.17 TON.
	payoutPrice = 100_000_000
	perJob      = 1_170_000_000
	testFee     = proxy.DefaultPayoutFee
)

// payoutEnv is one sandbox chain with the proxy's wallet V5R1 deployed on it.
type payoutEnv struct {
	sb     *tonsandbox.Sandbox
	pw     *ton.PayoutWallet
	wallet *address.Address
	ctx    context.Context
}

func newPayoutEnv(t *testing.T) *payoutEnv {
	t.Helper()
	sb := tonsandbox.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	pw, err := ton.NewPayoutWalletFromKey(key, ton.Mainnet)
	if err != nil {
		t.Fatal(err)
	}
	wa, err := sb.DeployWalletV5R1(ctx, pw.PublicKey(), ton.Mainnet, 100_000*tonNano)
	if err != nil {
		t.Fatal(err)
	}
	if wa.StringRaw() != pw.TONAddress().StringRaw() {
		t.Fatalf("sandbox wallet %s, payout wallet %s", wa.StringRaw(), pw.TONAddress().StringRaw())
	}
	return &payoutEnv{sb: sb, pw: pw, wallet: wa, ctx: ctx}
}

// mod turns payouts on (over chain; nil: the sandbox itself) with fast ticks.
func (e *payoutEnv) mod(chain ton.Chain) func(*proxy.Config) {
	if chain == nil {
		chain = e.sb
	}
	return func(cfg *proxy.Config) {
		cfg.Models = map[string]proxy.ModelPrice{model: {PricePrompt: payoutPrice, PriceCompletion: payoutPrice}}
		cfg.Payouts = &proxy.PayoutConfig{Network: ton.Mainnet, Wallet: e.pw, Chain: chain,
			ConfirmInterval: 50 * time.Millisecond, FailGrace: 500 * time.Millisecond}
	}
}

// ownerAddress is a fresh owner's address: non-bounceable (UQ…) unless
// bounceable, mainnet unless testnet.
func ownerAddress(bounceable, testnet bool) (string, *address.Address) {
	h := make([]byte, 32)
	rand.Read(h)
	a := address.NewAddress(0, 0, h)
	a.SetBounce(bounceable)
	a.SetTestnetOnly(testnet)
	return a.String(), a
}

// transfers lists the proxy wallet's outgoing internal messages with the comment.
func (e *payoutEnv) transfers(t *testing.T, comment string) []tonsandbox.Message {
	t.Helper()
	txs, err := e.sb.Transactions(e.ctx, e.wallet)
	if err != nil {
		t.Fatal(err)
	}
	var out []tonsandbox.Message
	for _, tx := range txs {
		for _, m := range tx.Out {
			if m.Type == "internal" && m.Comment != nil && *m.Comment == comment {
				out = append(out, m)
			}
		}
	}
	return out
}

// payoutTransfers counts every payout transfer of the proxy wallet by comment.
func (e *payoutEnv) payoutTransfers(t *testing.T) map[string]int {
	t.Helper()
	txs, err := e.sb.Transactions(e.ctx, e.wallet)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, tx := range txs {
		for _, m := range tx.Out {
			if m.Type == "internal" && m.Comment != nil && strings.HasPrefix(*m.Comment, ton.PayoutCommentPrefix) {
				out[*m.Comment]++
			}
		}
	}
	return out
}

// earn runs n chat completions through the proxy, all on w.
func earn(t *testing.T, tp *testProxy, w *proxytest.Worker, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		if _, err := tp.client().Chat.Completions.New(testCtx(t), chatParams()); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.WaitReceipts(testCtx(t), n); err != nil {
		t.Fatal(err)
	}
}

func waitCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func storeBalance(t *testing.T, st proxy.Store, workerID string) network.Balance {
	t.Helper()
	b, err := st.Balance(context.Background(), workerID)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestPayoutHappyPath(t *testing.T) {
	e := newPayoutEnv(t)
	dir := t.TempDir()
	tp := startProxy(t, dir, e.mod(nil))
	key, _ := proxytest.NewKey()
	w := tp.worker(t, proxytest.Options{Key: key})
	if b, ok := w.Balance(); !ok || b.Cumulative != 0 || b.MinPayout != proxy.DefaultMinPayout || b.PayoutFee != testFee || b.Network != "mainnet" || !b.Payouts {
		t.Fatalf("balance after register: %+v %v", b, ok)
	}
	earn(t, tp, w, 2)
	owner, ownerTON := ownerAddress(false, false)
	const amount = 700_000_000
	ctx := waitCtx(t, 30*time.Second)
	st, err := w.RequestPayout(ctx, w.NewPayoutRequest("po-happy-1", amount, owner))
	if err != nil {
		t.Fatal(err)
	}
	if st.State != network.PayoutAccepted || st.Amount != amount || st.Fee != testFee || st.Balance.Pending != amount || st.Balance.Cumulative != 2*perJob {
		t.Fatalf("first status %+v", st)
	}
	sent, err := w.WaitPayoutStatus(ctx, "po-happy-1", network.PayoutSent)
	if err != nil {
		t.Fatal(err)
	}
	if h, err := hex.DecodeString(sent.MsgHash); err != nil || len(h) != 32 {
		t.Errorf("sent msg_hash %q", sent.MsgHash)
	}
	conf, err := w.WaitPayoutStatus(ctx, "po-happy-1", network.PayoutConfirmed)
	if err != nil {
		t.Fatal(err)
	}
	if conf.TxHash == "" || conf.Balance.Paid != amount || conf.Balance.Pending != 0 {
		t.Errorf("confirmed status %+v", conf)
	}
	// On chain: exactly amount − fee, with the comment, non-bounceable.
	ms := e.transfers(t, "cocoon payout po-happy-1")
	if len(ms) != 1 {
		t.Fatalf("%d transfers", len(ms))
	}
	if m := ms[0]; uint64(m.Value) != amount-testFee || m.Bounce || m.Dest != ownerTON.StringRaw() {
		t.Errorf("transfer %+v", m)
	}
	if bal, _, err := e.sb.Balance(e.ctx, ownerTON); err != nil || bal != amount-testFee {
		t.Errorf("owner balance %d, %v; want %d", bal, err, amount-testFee)
	}
	// The store and a reconnect's balance message say paid.
	if b := storeBalance(t, tp.Store(), w.ID()); b.Paid != amount || b.Pending != 0 {
		t.Errorf("store balance %+v", b)
	}
	rec, ok, err := tp.Store().Payout(context.Background(), "po-happy-1")
	if err != nil || !ok || rec.State != network.PayoutConfirmed || rec.MsgHash != sent.MsgHash || rec.TxHash != conf.TxHash || len(rec.MessageBOC) == 0 {
		t.Errorf("stored payout %+v %v %v", rec, ok, err)
	}
	w.Close()
	w2 := tp.worker(t, proxytest.Options{Key: key})
	if b, ok := w2.Balance(); !ok || b.Paid != amount || b.Pending != 0 || b.Cumulative != 2*perJob || b.LastSeq != 2 {
		t.Errorf("balance on reconnect %+v", b)
	}
	stat, err := tp.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if stat.Payouts == nil || stat.Payouts.Paid != amount || stat.Payouts.Pending != 0 || stat.Payouts.Count[network.PayoutConfirmed] != 1 {
		t.Errorf("status payouts %+v", stat.Payouts)
	}
	// A replay after confirmation only gets the status back.
	st, err = w2.RequestPayout(ctx, w2.NewPayoutRequest("po-happy-1", amount, owner))
	if err != nil || st.State != network.PayoutConfirmed {
		t.Errorf("replay: %+v %v", st, err)
	}
	if n := len(e.transfers(t, "cocoon payout po-happy-1")); n != 1 {
		t.Errorf("%d transfers after replay", n)
	}
}

func TestPayoutReplaysPayOnce(t *testing.T) {
	e := newPayoutEnv(t)
	hooks, waitPasses := payoutLoopPasses()
	tp := startHookedProxy(t, t.TempDir(), e.mod(nil), hooks)
	w := tp.worker(t, proxytest.Options{})
	earn(t, tp, w, 2)
	owner, _ := ownerAddress(false, false)
	ctx := waitCtx(t, 30*time.Second)
	const amount = 300_000_000
	// Twice in a row.
	req := w.NewPayoutRequest("po-twice", amount, owner)
	for i := 0; i < 2; i++ {
		st, err := w.RequestPayout(ctx, req)
		if err != nil || st.State == network.PayoutRejected {
			t.Fatalf("request %d: %+v %v", i, st, err)
		}
	}
	// Five at once.
	req5 := w.NewPayoutRequest("po-five", amount, owner)
	var wg sync.WaitGroup
	for i := 0; i < 5; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.Send(network.TypePayoutRequest, &req5); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	for _, id := range []string{"po-twice", "po-five"} {
		if _, err := w.WaitPayoutStatus(ctx, id, network.PayoutConfirmed); err != nil {
			t.Fatal(id, err)
		}
	}
	// Three more passes of the payout loop over every pending payout:
	// nothing else may go out.
	waitPasses(t, ctx, 3)
	got := e.payoutTransfers(t)
	if len(got) != 2 || got["cocoon payout po-twice"] != 1 || got["cocoon payout po-five"] != 1 {
		t.Errorf("transfers %v", got)
	}
	if n := len(w.PayoutStatuses("po-five")); n < 5 {
		t.Errorf("po-five got %d statuses, want one per request at least", n)
	}
	for _, s := range w.PayoutStatuses("") {
		if s.State == network.PayoutRejected {
			t.Errorf("a replay was rejected: %+v", s)
		}
	}
	if b := storeBalance(t, tp.Store(), w.ID()); b.Paid != 2*amount || b.Pending != 0 {
		t.Errorf("store balance %+v", b)
	}
	// The same id with another amount is refused, nothing debited.
	st, err := w.RequestPayout(ctx, w.NewPayoutRequest("po-twice", amount+1, owner))
	if err != nil || st.State != network.PayoutRejected || !strings.Contains(st.Reason, "already used") {
		t.Errorf("conflicting replay: %+v %v", st, err)
	}
}

func TestPayoutRejections(t *testing.T) {
	e := newPayoutEnv(t)
	tp := startProxy(t, "", e.mod(nil))
	w := tp.worker(t, proxytest.Options{})
	earn(t, tp, w, 1)
	owner, _ := ownerAddress(false, false)
	testnetOwner, _ := ownerAddress(false, true)
	// A checksum error: change one character of the address.
	last := owner[len(owner)-1]
	badSum := owner[:len(owner)-1] + string(map[bool]byte{true: 'B', false: 'A'}[last == 'A'])
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	ctx := waitCtx(t, 30*time.Second)
	cases := []struct {
		name, want string
		req        network.PayoutRequest
	}{
		{"over balance", "over the available balance", w.NewPayoutRequest("po-over", perJob+1, owner)},
		{"under minimum", "minimum payout", w.NewPayoutRequest("po-under", proxy.DefaultMinPayout-1, owner)},
		{"bad signature", "signature", network.SignPayout(otherKey, network.PayoutRequest{PayoutID: "po-sig", Amount: 200_000_000, Destination: owner, Created: 1,
			ProxyKey: tp.PublicKey(), Expires: time.Now().Add(time.Hour).UnixMilli()})},
		{"for another proxy", "for another proxy", w.SignPayout(network.PayoutRequest{PayoutID: "po-other", Amount: 200_000_000, Destination: owner,
			Created: time.Now().UnixMilli(), ProxyKey: otherKey.Public().(ed25519.PublicKey), Expires: time.Now().Add(time.Hour).UnixMilli()})},
		{"expired", "expired", w.SignPayout(network.PayoutRequest{PayoutID: "po-expired", Amount: 200_000_000, Destination: owner,
			Created: time.Now().Add(-2 * time.Hour).UnixMilli(), ProxyKey: tp.PublicKey(), Expires: time.Now().Add(-time.Hour).UnixMilli()})},
		{"expires too far ahead", "too far ahead", w.SignPayout(network.PayoutRequest{PayoutID: "po-forever", Amount: 200_000_000, Destination: owner,
			Created: time.Now().UnixMilli(), ProxyKey: tp.PublicKey(), Expires: time.Now().Add(network.MaxPayoutRequestTTL + time.Hour).UnixMilli()})},
		{"testnet address", "testnet", w.NewPayoutRequest("po-testnet", 200_000_000, testnetOwner)},
		{"bad checksum", "checksum", w.NewPayoutRequest("po-checksum", 200_000_000, badSum)},
		{"garbage address", "invalid TON address", w.NewPayoutRequest("po-garbage", 200_000_000, "not-an-address")},
	}
	for _, c := range cases {
		st, err := w.RequestPayout(ctx, c.req)
		if err != nil {
			t.Fatal(c.name, err)
		}
		if st.State != network.PayoutRejected || !strings.Contains(st.Reason, c.want) || st.Balance.Pending != 0 || st.Balance.Paid != 0 {
			t.Errorf("%s: %+v (want reason with %q)", c.name, st, c.want)
		}
		if _, ok, _ := tp.Store().Payout(context.Background(), c.req.PayoutID); ok {
			t.Errorf("%s: stored", c.name)
		}
	}
	// Each rejection was answered only after its checks, before any debit;
	// a ping round trip makes sure no frame of ours is still being read.
	if err := w.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if b := storeBalance(t, tp.Store(), w.ID()); b.Paid != 0 || b.Pending != 0 || b.Cumulative != perJob {
		t.Errorf("store balance %+v", b)
	}
	if got := e.payoutTransfers(t); len(got) != 0 {
		t.Errorf("transfers %v", got)
	}
}

func TestPayoutsDisabled(t *testing.T) {
	tp := startProxy(t, "", nil)
	w := tp.worker(t, proxytest.Options{})
	if b, ok := w.Balance(); !ok || b.Network != "mainnet" || b.Payouts {
		t.Errorf("balance %+v %v, want payouts false", b, ok)
	} else if len(b.Prices) != len(tp.Config().Models) || b.CommissionBPS != tp.Config().CommissionBPS {
		t.Errorf("balance prices %+v commission %d, want the proxy's price list", b.Prices, b.CommissionBPS)
	}
	owner, _ := ownerAddress(false, false)
	st, err := w.RequestPayout(waitCtx(t, 10*time.Second), w.NewPayoutRequest("po-off", 200_000_000, owner))
	if err != nil || st.State != network.PayoutRejected || st.Reason != proxy.ReasonPayoutsDisabled {
		t.Errorf("%+v %v", st, err)
	}
}

// killPoint names where a simulated crash stops the payout code.
type killPoint struct {
	name  string
	hooks func(target string, kill func(string) error) proxy.PayoutHooks
	// What the crash leaves: a persisted message, a transfer on chain.
	wantMsg     bool
	wantOnChain int
}

var killPoints = []killPoint{
	{"after_accept_before_persist", func(target string, kill func(string) error) proxy.PayoutHooks {
		return proxy.PayoutHooks{BeforePersist: kill}
	}, false, 0},
	{"after_persist_before_send", func(target string, kill func(string) error) proxy.PayoutHooks {
		return proxy.PayoutHooks{BeforeSend: kill}
	}, true, 0},
	{"after_send_before_mark_sent", func(target string, kill func(string) error) proxy.PayoutHooks {
		return proxy.PayoutHooks{AfterSend: kill}
	}, true, 1},
}

// startHookedProxy is startProxy with payout hooks installed before Run.
func startHookedProxy(t *testing.T, dir string, mod func(*proxy.Config), hooks proxy.PayoutHooks) *testProxy {
	t.Helper()
	cfg := baseConfig(dir)
	mod(&cfg)
	p, err := proxy.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	proxy.SetPayoutHooks(p, hooks)
	ctx, cancel := context.WithCancel(context.Background())
	tp := &testProxy{Proxy: p, dir: dir, cancel: cancel, errc: make(chan error, 1)}
	go func() { tp.errc <- p.Run(ctx) }()
	t.Cleanup(func() { tp.stop(t) })
	return tp
}

// TestPayoutCrashRecovery kills the payout code at each kill point (the
// proxy object is closed right there and a new one opens the same data dir
// over the same chain), 20 times each, and checks that every payout id is
// paid exactly once on chain and the store agrees with the chain.
func TestPayoutCrashRecovery(t *testing.T) {
	const rounds = 50
	e := newPayoutEnv(t)
	dir := t.TempDir()
	key, workerID := proxytest.NewKey()
	mod := e.mod(nil)
	// Earn enough for every round: 150 payouts of 0.12 TON = 18 TON.
	{
		tp := startProxy(t, dir, mod)
		w := tp.worker(t, proxytest.Options{Key: key})
		earn(t, tp, w, 16)
		w.Close()
		tp.stop(t)
	}
	const amount = 120_000_000
	var paid int64
	owner, ownerTON := ownerAddress(false, false)
	for _, kp := range killPoints {
		t.Run(kp.name, func(t *testing.T) {
			start := time.Now()
			for i := 0; i < rounds; i++ {
				id := fmt.Sprintf("po-crash-%s-%d", kp.name[:12], i)
				var killed atomic.Bool
				kill := func(got string) error {
					if got == id && killed.CompareAndSwap(false, true) {
						return fmt.Errorf("simulated crash at %s", kp.name)
					}
					return nil
				}
				a := startHookedProxy(t, dir, mod, kp.hooks(id, kill))
				ctx := waitCtx(t, 20*time.Second)
				w := a.worker(t, proxytest.Options{Key: key})
				st, err := w.RequestPayout(ctx, w.NewPayoutRequest(id, amount, owner))
				if err != nil || st.State != network.PayoutAccepted {
					t.Fatalf("round %d: %+v %v", i, st, err)
				}
				select {
				case <-proxy.PayoutsHalted(a.Proxy):
				case <-ctx.Done():
					t.Fatalf("round %d: kill point not reached", i)
				}
				w.Drop()
				a.stop(t) // the crash: nothing more of the old proxy runs
				// What the crash left behind, read from the closed proxy's files.
				st0, err := proxy.OpenBoltStore(dir, time.Second)
				if err != nil {
					t.Fatal(err)
				}
				r0, ok, err := st0.Payout(ctx, id)
				st0.Close()
				if err != nil || !ok || r0.State != network.PayoutAccepted || (len(r0.MessageBOC) != 0) != kp.wantMsg {
					t.Fatalf("round %d: after the crash: %+v %v %v", i, r0, ok, err)
				}
				if n := len(e.transfers(t, ton.PayoutComment(id))); n != kp.wantOnChain {
					t.Fatalf("round %d: %d transfers after the crash, want %d", i, n, kp.wantOnChain)
				}
				b := startProxy(t, dir, mod) // recovery
				for {
					r, ok, err := b.Store().Payout(ctx, id)
					if err != nil || !ok {
						t.Fatalf("round %d: payout %v %v", i, ok, err)
					}
					if r.State == network.PayoutConfirmed {
						break
					}
					if r.State == network.PayoutFailed {
						t.Fatalf("round %d: failed: %s", i, r.Reason)
					}
					select {
					case <-ctx.Done():
						t.Fatalf("round %d: not confirmed after recovery: %+v", i, r)
					case <-time.After(10 * time.Millisecond):
					}
				}
				paid += amount
				ms := e.transfers(t, ton.PayoutComment(id))
				if len(ms) != 1 || uint64(ms[0].Value) != amount-testFee || ms[0].Dest != ownerTON.StringRaw() {
					t.Fatalf("round %d: transfers %+v", i, ms)
				}
				if bal := storeBalance(t, b.Store(), workerID); bal.Paid != paid || bal.Pending != 0 {
					t.Fatalf("round %d: store balance %+v, want paid %d", i, bal, paid)
				}
				b.stop(t)
			}
			el := time.Since(start)
			t.Logf("%s: %d crash/recover rounds in %v (%v per round)", kp.name, rounds, el.Round(time.Millisecond), (el / rounds).Round(time.Millisecond))
		})
	}
	// The chain agrees with the store overall.
	got := e.payoutTransfers(t)
	if len(got) != len(killPoints)*rounds {
		t.Errorf("%d payout ids on chain, want %d", len(got), len(killPoints)*rounds)
	}
	for c, n := range got {
		if n != 1 {
			t.Errorf("%s paid %d times", c, n)
		}
	}
	// The owner got every payout; its account pays a little storage fee
	// while the rounds run (it is uninitialised), so allow a few nanoTON.
	want := uint64(len(killPoints)*rounds) * (amount - testFee)
	if bal, _, err := e.sb.Balance(e.ctx, ownerTON); err != nil || bal > want || bal < want-1000 {
		t.Errorf("owner balance %d %v, want %d less storage fees", bal, err, want)
	}
}

// flakyChain is a Chain that is unreachable while down (or, with sendDown,
// only for SendExternal).
type flakyChain struct {
	ton.Chain
	down, sendDown atomic.Bool
	refused        atomic.Int64
}

func (f *flakyChain) outage(op string) error {
	f.refused.Add(1)
	return fmt.Errorf("%s: %w: test outage", op, ton.ErrChainUnreachable)
}

func (f *flakyChain) Seqno(ctx context.Context, w *address.Address) (uint32, error) {
	if f.down.Load() {
		return 0, f.outage("seqno")
	}
	return f.Chain.Seqno(ctx, w)
}

func (f *flakyChain) SendExternal(ctx context.Context, m *tlb.ExternalMessage) ([]byte, error) {
	if f.down.Load() || f.sendDown.Load() {
		return nil, f.outage("send")
	}
	return f.Chain.SendExternal(ctx, m)
}

func (f *flakyChain) FindTransfer(ctx context.Context, from, to *address.Address, comment string, since time.Time) (ton.Transfer, bool, error) {
	if f.down.Load() {
		return ton.Transfer{}, false, f.outage("find")
	}
	return f.Chain.FindTransfer(ctx, from, to, comment, since)
}

func TestPayoutChainOutage(t *testing.T) {
	e := newPayoutEnv(t)
	fc := &flakyChain{Chain: e.sb}
	hooks, waitPasses := payoutLoopPasses()
	tp := startHookedProxy(t, t.TempDir(), e.mod(fc), hooks)
	w := tp.worker(t, proxytest.Options{})
	earn(t, tp, w, 1)
	owner, _ := ownerAddress(false, false)
	ctx := waitCtx(t, 30*time.Second)
	const amount = 400_000_000
	check := func(id string) {
		t.Helper()
		// Ten passes of the payout loop over the pending payout, all in the outage.
		waitPasses(t, ctx, 10)
		r, ok, err := tp.Store().Payout(ctx, id)
		if err != nil || !ok || r.State != network.PayoutAccepted {
			t.Fatalf("during outage: %+v %v %v", r, ok, err)
		}
		if b := storeBalance(t, tp.Store(), w.ID()); b.Pending != amount {
			t.Errorf("during outage: %+v", b)
		}
		if got := e.payoutTransfers(t); got[ton.PayoutComment(id)] != 0 {
			t.Errorf("during outage: transfers %v", got)
		}
	}
	// Down before the first chain call.
	fc.down.Store(true)
	st, err := w.RequestPayout(ctx, w.NewPayoutRequest("po-outage", amount, owner))
	if err != nil || st.State != network.PayoutAccepted {
		t.Fatalf("%+v %v", st, err)
	}
	check("po-outage")
	if fc.refused.Load() == 0 {
		t.Fatal("the chain was never asked")
	}
	fc.down.Store(false)
	if _, err := w.WaitPayoutStatus(ctx, "po-outage", network.PayoutConfirmed); err != nil {
		t.Fatal(err)
	}
	// Down for sends only: the message is persisted, then re-sent as is.
	fc.sendDown.Store(true)
	st, err = w.RequestPayout(ctx, w.NewPayoutRequest("po-outage-2", amount, owner))
	if err != nil || st.State != network.PayoutAccepted {
		t.Fatalf("%+v %v", st, err)
	}
	check("po-outage-2")
	r1, _, _ := tp.Store().Payout(ctx, "po-outage-2")
	if len(r1.MessageBOC) == 0 {
		t.Fatal("message not persisted before the send")
	}
	fc.sendDown.Store(false)
	if _, err := w.WaitPayoutStatus(ctx, "po-outage-2", network.PayoutConfirmed); err != nil {
		t.Fatal(err)
	}
	r2, _, _ := tp.Store().Payout(ctx, "po-outage-2")
	if r2.MsgHash != r1.MsgHash || r2.Seqno != r1.Seqno {
		t.Errorf("re-sent another message: %s/%d then %s/%d", r1.MsgHash, r1.Seqno, r2.MsgHash, r2.Seqno)
	}
	got := e.payoutTransfers(t)
	if len(got) != 2 || got["cocoon payout po-outage"] != 1 || got["cocoon payout po-outage-2"] != 1 {
		t.Errorf("transfers %v", got)
	}
	if b := storeBalance(t, tp.Store(), w.ID()); b.Paid != 2*amount || b.Pending != 0 {
		t.Errorf("store balance %+v", b)
	}
}

// TestPayoutExpiresUnsent: a message that never reaches the chain before its
// TTL fails the payout, and the amount is available again.
func TestPayoutExpiresUnsent(t *testing.T) {
	e := newPayoutEnv(t)
	e.pw.TTL = 2 * time.Second
	fc := &flakyChain{Chain: e.sb}
	fc.sendDown.Store(true)
	tp := startProxy(t, "", e.mod(fc))
	w := tp.worker(t, proxytest.Options{})
	earn(t, tp, w, 1)
	owner, _ := ownerAddress(false, false)
	ctx := waitCtx(t, 30*time.Second)
	if _, err := w.RequestPayout(ctx, w.NewPayoutRequest("po-expire", perJob, owner)); err != nil {
		t.Fatal(err)
	}
	st, err := w.WaitPayoutStatus(ctx, "po-expire", network.PayoutFailed)
	if err != nil {
		t.Fatal(err)
	}
	if st.Reason != proxy.ReasonPayoutFailed || st.Balance.Pending != 0 || st.Balance.Paid != 0 {
		t.Errorf("failed status %+v", st)
	}
	fc.sendDown.Store(false)
	// The full amount can be asked for again, under a new id, and is paid once.
	if _, err := w.RequestPayout(ctx, w.NewPayoutRequest("po-expire-2", perJob, owner)); err != nil {
		t.Fatal(err)
	}
	if _, err := w.WaitPayoutStatus(ctx, "po-expire-2", network.PayoutConfirmed); err != nil {
		t.Fatal(err)
	}
	got := e.payoutTransfers(t)
	if len(got) != 1 || got["cocoon payout po-expire-2"] != 1 {
		t.Errorf("transfers %v", got)
	}
}

// payoutLoopPasses installs a hook on the payout loop; waitPasses returns
// once the loop has ended n more passes over every pending payout (the
// first may have begun before the call), so a test waits for the loop
// instead of sleeping.
func payoutLoopPasses() (proxy.PayoutHooks, func(t *testing.T, ctx context.Context, n int)) {
	passes := make(chan struct{}, 1024)
	hooks := proxy.PayoutHooks{AfterTick: func() {
		select {
		case passes <- struct{}{}:
		default:
		}
	}}
	return hooks, func(t *testing.T, ctx context.Context, n int) {
		t.Helper()
		for range len(passes) {
			<-passes
		}
		for range n {
			select {
			case <-passes:
			case <-ctx.Done():
				t.Fatal("the payout loop stopped passing")
			}
		}
	}
}
