package proxy_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/network"
	"github.com/cocoon-desktop/cocoon-desktop/network/proxy"
	"github.com/cocoon-desktop/cocoon-desktop/network/proxy/proxytest"
	"github.com/cocoon-desktop/cocoon-desktop/ton"
)

// TestPayoutReplayedToAnotherProxy: one worker key earns on two proxies (A
// and B, each paying from its own wallet on the same chain). A payout
// request it signed for A, replayed to B (by A's operator, say), is refused
// by B with nothing debited; A pays it once; and a stale (expired) resend
// of it to A only gets its status back.
func TestPayoutReplayedToAnotherProxy(t *testing.T) {
	e := newPayoutEnv(t)
	// B's own wallet on the same sandbox chain.
	_, bKey, _ := ed25519.GenerateKey(rand.Reader)
	bWallet, err := ton.NewPayoutWalletFromKey(bKey, ton.Mainnet)
	if err != nil {
		t.Fatal(err)
	}
	bAddr, err := e.sb.DeployWalletV5R1(e.ctx, bWallet.PublicKey(), ton.Mainnet, 100_000*tonNano)
	if err != nil {
		t.Fatal(err)
	}
	eB := &payoutEnv{sb: e.sb, pw: bWallet, wallet: bAddr, ctx: e.ctx}
	tpA := startProxy(t, "", e.mod(nil))
	tpB := startProxy(t, "", func(cfg *proxy.Config) {
		e.mod(nil)(cfg)
		cfg.Payouts.Wallet = bWallet
	})
	key, _ := proxytest.NewKey()
	wA := tpA.worker(t, proxytest.Options{Key: key})
	wB := tpB.worker(t, proxytest.Options{Key: key})
	earn(t, tpA, wA, 1)
	earn(t, tpB, wB, 1)
	owner, _ := ownerAddress(false, false)
	ctx := waitCtx(t, 60*time.Second)
	const amount = 500_000_000
	forA := wA.NewPayoutRequest("po-for-a", amount, owner)

	st, err := wB.RequestPayout(ctx, forA)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != network.PayoutRejected || !strings.Contains(st.Reason, "for another proxy") {
		t.Errorf("B answered the request made for A with %+v", st)
	}
	if _, ok, _ := tpB.Store().Payout(context.Background(), "po-for-a"); ok {
		t.Error("B stored the payout")
	}
	if b := storeBalance(t, tpB.Store(), wB.ID()); b.Pending != 0 || b.Paid != 0 || b.Cumulative != perJob {
		t.Errorf("B's balance %+v", b)
	}

	if st, err := wA.RequestPayout(ctx, forA); err != nil || st.State != network.PayoutAccepted {
		t.Fatalf("A answered %+v %v", st, err)
	}
	if _, err := wA.WaitPayoutStatus(ctx, "po-for-a", network.PayoutConfirmed); err != nil {
		t.Fatal(err)
	}
	// The same payout resent long after (its signature expired): its
	// status, not a rejection that would mark a paid payout failed.
	stale := forA
	stale.Expires = time.Now().Add(-time.Minute).UnixMilli()
	stale = wA.SignPayout(stale)
	if st, err := wA.RequestPayout(ctx, stale); err != nil || st.State != network.PayoutConfirmed {
		t.Errorf("stale resend of a paid payout: %+v %v", st, err)
	}
	if got := e.payoutTransfers(t); len(got) != 1 || got["cocoon payout po-for-a"] != 1 {
		t.Errorf("A's transfers %v, want po-for-a once", got)
	}
	if got := eB.payoutTransfers(t); len(got) != 0 {
		t.Errorf("B's transfers %v, want none", got)
	}
	if b := storeBalance(t, tpA.Store(), wA.ID()); b.Paid != amount || b.Pending != 0 {
		t.Errorf("A's balance %+v", b)
	}
}
