package proxy_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"github.com/xssnick/tonutils-go/address"

	"github.com/cocoon-desktop/cocoon-desktop/network"
	"github.com/cocoon-desktop/cocoon-desktop/network/proxy"
	"github.com/cocoon-desktop/cocoon-desktop/network/proxy/proxytest"
	"github.com/cocoon-desktop/cocoon-desktop/ton"
	"github.com/cocoon-desktop/cocoon-desktop/ton/escrow"
)

// randomAddr is a fresh testnet address in its user-friendly form.
func randomAddr(bounceable bool) string {
	h := make([]byte, 32)
	rand.Read(h)
	a := address.NewAddress(0, 0, h)
	a.SetBounce(bounceable)
	a.SetTestnetOnly(true)
	return a.String()
}

// withEscrow names an escrow contract in the proxy's config.
func withEscrow(escrowAddr string) func(*proxy.Config) {
	return func(c *proxy.Config) {
		c.Escrow = &proxy.EscrowConfig{Network: ton.Testnet, Address: escrowAddr}
	}
}

// checkVoucher verifies a voucher message the way the app does: it
// rebuilds the cell the escrow checks and verifies the proxy's signature.
func checkVoucher(t *testing.T, pub []byte, escrowAddr, workerID string, v network.Voucher) {
	t.Helper()
	ev, err := voucherCell(v)
	if err != nil {
		t.Fatalf("voucher %+v: %v", v, err)
	}
	if err := escrow.Verify(pub, ev, v.Signature); err != nil {
		t.Fatalf("voucher signature: %v", err)
	}
	if ea, _ := ton.ParseAddress(escrowAddr, ton.Testnet); !ev.Escrow.Equals(ea.TON()) || v.WorkerID != workerID {
		t.Fatalf("voucher for escrow %s worker %s, want %s %s", v.Escrow, v.WorkerID, escrowAddr, workerID)
	}
	if v.Earned-v.Held != v.Cumulative {
		t.Fatalf("voucher earned %d − held %d ≠ cumulative %d", v.Earned, v.Held, v.Cumulative)
	}
}

func voucherCell(v network.Voucher) (escrow.Voucher, error) {
	e, err := ton.ParseAddress(v.Escrow, ton.Testnet)
	if err != nil {
		return escrow.Voucher{}, err
	}
	p, err := ton.ParseAddress(v.Payout, ton.Testnet)
	if err != nil {
		return escrow.Voucher{}, err
	}
	ev := escrow.Voucher{Escrow: e.TON(), Payout: p.TON(), Cumulative: uint64(v.Cumulative)}
	id, err := hex.DecodeString(v.WorkerID)
	if err != nil || len(id) != 32 {
		return escrow.Voucher{}, fmt.Errorf("worker id %q", v.WorkerID)
	}
	copy(ev.WorkerID[:], id)
	return ev, nil
}

// TestVouchersWithReceipts: every receipt is followed by a voucher for the
// same cumulative total (a trusted worker holds nothing), signed over the
// escrow's cell; a voucher_request re-signs it for a new payout address;
// a proxy without an escrow answers no_escrow.
func TestVouchersWithReceipts(t *testing.T) {
	escrowAddr := randomAddr(true)
	tp := startProxy(t, "", withEscrow(escrowAddr))
	owner := randomAddr(false)
	w := tp.worker(t, proxytest.Options{PayoutAddress: owner})
	ctx := waitCtx(t, 30*time.Second)
	for i := 1; i <= 2; i++ {
		earn(t, tp, w, 1)
		rs := w.Receipts()
		cum := rs[len(rs)-1].Receipt.Cumulative
		v, err := w.WaitVoucher(ctx, func(v network.Voucher) bool { return v.Cumulative == cum })
		if err != nil {
			t.Fatalf("job %d: no voucher for the receipt's total %d: %v (got %+v)", i, cum, err, w.Vouchers())
		}
		checkVoucher(t, tp.PublicKey(), escrowAddr, w.ID(), v)
		if v.Payout != owner || v.Held != 0 || v.Network != "testnet" || v.ClaimFee != proxy.DefaultClaimFee {
			t.Fatalf("voucher %+v", v)
		}
	}
	newOwner := randomAddr(false)
	if err := w.RequestVoucher(newOwner); err != nil {
		t.Fatal(err)
	}
	v, err := w.WaitVoucher(ctx, func(v network.Voucher) bool { return v.Payout == newOwner })
	if err != nil {
		t.Fatal(err)
	}
	checkVoucher(t, tp.PublicKey(), escrowAddr, w.ID(), v)
	if rs := w.Receipts(); v.Cumulative != rs[len(rs)-1].Receipt.Cumulative {
		t.Fatalf("re-signed voucher total %d, want the receipts' %d", v.Cumulative, rs[len(rs)-1].Receipt.Cumulative)
	}
	// A forged payout address in the voucher does not verify.
	forged := v
	forged.Payout = owner
	if fv, err := voucherCell(forged); err != nil || escrow.Verify(tp.PublicKey(), fv, forged.Signature) == nil {
		t.Fatalf("a voucher with a changed payout address verified (err %v)", err)
	}

	plain := startProxy(t, "", nil)
	pw := plain.worker(t, proxytest.Options{PayoutAddress: owner})
	if err := pw.RequestVoucher(owner); err != nil {
		t.Fatal(err)
	}
	errs, err := pw.WaitErrors(ctx, 1)
	if err != nil || errs[0].Code != network.CodeNoEscrow {
		t.Fatalf("voucher_request without an escrow: %+v %v", errs, err)
	}
}

// TestVouchersNeverIncludeHeld: a new identity's held credits are not in
// its voucher until they are released; a quarantine freezes the voucher at
// what was signed before, whatever the worker asks.
func TestVouchersNeverIncludeHeld(t *testing.T) {
	escrowAddr := randomAddr(true)
	clock := newFakeClock(trustStart)
	dir := t.TempDir()
	mod := func(c *proxy.Config) {
		withEscrow(escrowAddr)(c)
		c.Trust.HoldPeriod = time.Hour
	}
	tp := startClockProxy(t, dir, clock, mod)
	owner := randomAddr(false)
	key, id := proxytest.NewKey()
	w := tp.worker(t, proxytest.Options{Key: key, PayoutAddress: owner})
	ctx := waitCtx(t, 30*time.Second)
	steps := []struct {
		name           string
		act            func()
		cumulative     int64 // in jobs (each job earns the same)
		held           int64 // in jobs
		requestVoucher bool
	}{
		{"two new jobs: all held", func() { earn(t, tp, w, 2) }, 0, 2, false},
		{"the hold ends", func() {
			clock.Advance(time.Hour + time.Hour/48)
			proxy.TrustTick(tp.Proxy)
		}, 2, 0, false},
		{"a third job: held again", func() { earn(t, tp, w, 1) }, 2, 1, false},
		{"quarantined: frozen", func() {
			for i := 0; i < 3; i++ {
				if err := proxy.Strike(tp.Proxy, id, fmt.Sprint("job-", i), "oversized stream"); err != nil {
					t.Fatal(err)
				}
			}
			waitStanding(t, w, "quarantined", func(s network.Standing) bool { return s.Level == network.TrustQuarantined })
		}, 2, 1, true},
		{"quarantined past the hold: still frozen", func() {
			clock.Advance(2 * time.Hour)
			proxy.TrustTick(tp.Proxy)
		}, 2, 1, true},
	}
	for _, s := range steps {
		n := len(w.Vouchers())
		s.act()
		if s.requestVoucher {
			if err := w.RequestVoucher(owner); err != nil {
				t.Fatal(err)
			}
		}
		job := w.Receipts()[0].Receipt.Amount
		v, err := w.WaitVoucherAfter(ctx, n, func(v network.Voucher) bool {
			return v.Cumulative == s.cumulative*job && v.Held == s.held*job
		})
		if err != nil {
			t.Fatalf("%s: no voucher of %d held %d: %v (got %+v)", s.name, s.cumulative*job, s.held*job, err, w.Vouchers()[n:])
		}
		checkVoucher(t, tp.PublicKey(), escrowAddr, id, v)
		for _, o := range w.Vouchers()[n:] { // none on the way signed held money
			if o.Cumulative > s.cumulative*job {
				t.Fatalf("%s: a voucher of %d, over the %d released", s.name, o.Cumulative, s.cumulative*job)
			}
		}
	}
	job := w.Receipts()[0].Receipt.Amount
	if vs, err := tp.Store().Vouched(context.Background()); err != nil || len(vs) != 1 || vs[id] != 2*job {
		t.Fatalf("store: vouched %v (%v), want %s: %d", vs, err, id, 2*job)
	}
}

// TestEscrowRefusesPushPayouts: a proxy with an escrow refuses an old
// worker's payout_request with a reason that says what to do.
func TestEscrowRefusesPushPayouts(t *testing.T) {
	tp := startProxy(t, "", withEscrow(randomAddr(true)))
	owner := randomAddr(false)
	w := tp.worker(t, proxytest.Options{PayoutAddress: owner})
	earn(t, tp, w, 1)
	st, err := w.RequestPayout(waitCtx(t, 30*time.Second), w.NewPayoutRequest("po-old-app", 1_000, owner))
	if err != nil {
		t.Fatal(err)
	}
	if st.State != network.PayoutRejected || st.Reason != proxy.ReasonPaysByEscrow {
		t.Fatalf("payout_request to an escrow proxy: %+v", st)
	}
}
