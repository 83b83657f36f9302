package app

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/earnings"
	"github.com/cocoon-desktop/cocoon-desktop/ton"
	"github.com/cocoon-desktop/cocoon-desktop/ton/escrow"
	"github.com/cocoon-desktop/cocoon-desktop/worker"
)

// Settlement implements settlementCore for the fake.
func (f *fakeCore) Settlement() (worker.SettlementStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.settle == nil {
		return worker.SettlementStatus{}, nil
	}
	return *f.settle, nil
}

// Claim pays all that is claimable at once (as the sandbox's contract does).
func (f *fakeCore) Claim(ctx context.Context) (earnings.Claim, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.claims++
	if f.claimErr != nil {
		return earnings.Claim{}, f.claimErr
	}
	s := f.settle
	if s == nil || s.Claimable == 0 {
		return earnings.Claim{}, earnings.ErrNothingToClaim
	}
	c := earnings.Claim{Escrow: s.Voucher.Escrow, Cumulative: s.Voucher.Cumulative, Network: "mainnet", Fee: s.Voucher.ClaimFee,
		MsgHash: "5b1e0c3f", State: earnings.ClaimConfirmed, Amount: s.Claimable, Created: time.Now()}
	s.Claims = append([]earnings.Claim{c}, s.Claims...)
	s.PaidOnChain, s.Claimable, s.Owed = s.Voucher.Cumulative, 0, 0
	return c, nil
}

// SetAutoClaim records the threshold as the core does (0: 20 × the fee).
func (f *fakeCore) SetAutoClaim(nano int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.settle != nil {
		switch {
		case nano < 0:
			f.settle.AutoClaimAt = 0
		case nano == 0:
			f.settle.AutoClaimAt = worker.AutoClaimFeeMultiple * f.settle.Voucher.ClaimFee
		default:
			f.settle.AutoClaimAt = nano
		}
	}
	return nil
}

// TestSettlementAutoClaimThreshold: the owner sets the automatic-claim
// threshold in TON, turns it off, or goes back to the default; a bad
// amount is refused with words and changes nothing.
func TestSettlementAutoClaimThreshold(t *testing.T) {
	f := settledFake(t, 12_400_000_000)
	v, _, q := newTestView(t, f)
	p := v.earn.settle
	q.runUntil(t, "the panel shows", func() bool { return p.obj.Visible() && p.body.Visible() })
	for _, c := range []struct {
		typed, want string
		refused     bool
	}{
		{"0.5", "once 0.5 TON is claimable", false},
		{"off", "Automatic withdrawal is off.", false},
		{"lots", "Automatic withdrawal is off.", true},
		{"", "once 0.2 TON is claimable", false},
	} {
		p.autoEntry.SetText(c.typed)
		p.autoSave.OnTapped()
		q.runUntil(t, "the panel after saving "+c.typed, func() bool { return strings.Contains(p.auto.text(), c.want) })
		if p.msg.Visible() != c.refused {
			t.Fatalf("%q: message %q visible %v, want %v", c.typed, p.msg.Text, p.msg.Visible(), c.refused)
		}
	}
}

// settledFake is an owner with 1.2 TON claimable of 2.45 signed, 1.25
// claimed before, from an escrow holding 12.4 TON.
func settledFake(t *testing.T, escrowBalance uint64) *fakeCore {
	f, _ := earningsFake(t)
	v := &earnings.Voucher{Escrow: "EQescrow", Payout: "UQowner", Cumulative: 2_450_000_000, ClaimFee: 10_000_000,
		Earned: 2_600_000_000, Held: 150_000_000, Network: "mainnet"}
	st := &worker.SettlementStatus{
		Settlement: earnings.Settlement{Voucher: v, PaidOnChain: 1_250_000_000, Claimable: 1_200_000_000},
		Claims: []earnings.Claim{{Escrow: "EQescrow", Cumulative: 1_250_000_000, Network: "mainnet", Fee: 10_000_000,
			MsgHash: "abc123", State: earnings.ClaimConfirmed, Amount: 1_250_000_000, Created: time.Now().Add(-26 * time.Hour)}},
		Escrow:      &escrow.State{Balance: escrowBalance, ClaimFee: 10_000_000},
		Owed:        1_200_000_000,
		AutoClaimAt: 200_000_000,
	}
	st.Shortfall = escrowBalance < uint64(st.Owed)+escrow.MinReserve
	f.settle = st
	return f
}

// TestSettlementPanel: the Earnings tab shows what was signed, what is
// claimable, what was claimed on chain (with the Tonviewer link), and the
// escrow's balance against what it owes; Withdraw claims once and the panel
// shows the claim confirmed.
func TestSettlementPanel(t *testing.T) {
	f := settledFake(t, 12_400_000_000)
	v, _, q := newTestView(t, f)
	p := v.earn.settle
	q.runUntil(t, "the panel shows", func() bool { return p.obj.Visible() && p.body.Visible() })
	checks := []struct{ name, got, want string }{
		{"signed", p.cardSigned.value.Text, "2.45 TON"},
		{"signed sub", p.cardSigned.sub.text(), "0.15 TON more is held for now"},
		{"claimable", p.cardClaimable.value.Text, "1.2 TON"},
		{"claimed", p.cardClaimed.value.Text, "1.25 TON"},
		{"claimed sub", p.cardClaimed.sub.text(), "1.24 TON received after fees"},
		{"escrow", p.escrowLine.Text, "The escrow holds 12.4 TON; you are owed 1.2 TON."},
		{"auto", p.auto.text(), "Withdraws by itself once 0.2 TON is claimable"},
		{"link", p.link.URL.String(), "https://tonviewer.com/transaction/abc123"},
	}
	for _, c := range checks {
		if !strings.Contains(c.got, c.want) {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if p.warnRow.Visible() || p.withdrawBtn.Disabled() {
		t.Fatalf("warning visible %v, withdraw disabled %v", p.warnRow.Visible(), p.withdrawBtn.Disabled())
	}
	p.withdrawBtn.OnTapped()
	q.runUntil(t, "the claim's result", func() bool { return p.msg.Visible() })
	q.runUntil(t, "the panel after the claim", func() bool { return p.cardClaimable.value.Text == "0 TON" })
	if !strings.Contains(p.msg.Text, "1.19 TON is on its way") || !p.withdrawBtn.Disabled() || f.claims != 1 {
		t.Fatalf("after Withdraw: %q, disabled %v, %d claims", p.msg.Text, p.withdrawBtn.Disabled(), f.claims)
	}
}

// TestSettlementShortfallWarns: an escrow holding less than it owes this
// owner gets a plain warning; none without a voucher (the panel then
// says why in one line).
func TestSettlementShortfallWarns(t *testing.T) {
	for _, tc := range []struct {
		name     string
		balance  uint64
		warn     bool
		noSettle bool
	}{
		{"enough", 12_400_000_000, false, false},
		{"less than owed", 900_000_000, true, false},
		{"no voucher yet", 0, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := settledFake(t, tc.balance)
			if tc.noSettle {
				f.settle = nil
			}
			v, _, q := newTestView(t, f)
			p := v.earn.settle
			q.runUntil(t, "the first load", func() bool { return !v.earn.loading })
			if !p.obj.Visible() || p.body.Visible() == tc.noSettle || p.none.Visible() != tc.noSettle {
				t.Fatalf("panel visible = %v, body %v, no-voucher line %v", p.obj.Visible(), p.body.Visible(), p.none.Visible())
			}
			if p.warnRow.Visible() != tc.warn {
				t.Fatalf("warning visible = %v, want %v (%q)", p.warnRow.Visible(), tc.warn, p.warn.Text)
			}
			if tc.warn && !strings.Contains(p.warn.Text, "cannot pay all of it now") {
				t.Fatalf("warning %q", p.warn.Text)
			}
		})
	}
}

// settlementLayoutCase is an owner who earned on a real network, claimed
// once and has more to claim: the Earnings tab's On chain panel
// (scripts/screenshot-settlement.sh shoots it).
func settlementLayoutCase() layoutCase {
	return layoutCase{name: "settlement", core: func(dir string) *fakeCore {
		st := gpuOKStatus()
		st.State = worker.StateServing
		st.Network = worker.NetworkStatus{URL: "wss://proxy.cocoon-network.example.org:443/v1/worker", Connected: true, WorkerID: "9f3c2a7b6e5d4c3b2a19"}
		now := time.Now()
		var jobs []testJob
		for i := range 40 {
			jobs = append(jobs, testJob{at: now.AddDate(0, 0, -i/4).Add(-time.Duration(i+1) * time.Minute), prompt: 2_000, completion: 9_000, joules: 900})
		}
		l := layoutLedger(dir, jobs)
		f := newFakeCore(st)
		f.ledger = l
		f.quoteErr = nil
		f.quoteMin, f.quoteFee, f.quoteNet = 100_000_000, 5_000_000, ton.Mainnet
		f.settings.PayoutAddress = testAddressString()
		earned, _ := ledgerTotal(l)
		held := earned / 20
		paid := earned / 2
		v := &earnings.Voucher{Escrow: "EQescrow", Payout: testAddressString(), Cumulative: earned - held, ClaimFee: 10_000_000,
			Earned: earned, Held: held, Network: "mainnet"}
		f.settle = &worker.SettlementStatus{
			Settlement: earnings.Settlement{Voucher: v, PaidOnChain: paid, Claimable: v.Cumulative - paid},
			Claims: []earnings.Claim{{Escrow: "EQescrow", Cumulative: paid, Network: "mainnet", Fee: 10_000_000,
				MsgHash: "5b1e0c3f0d8e4a7f9b2c6d1e3f405162738495a6b7c8d9e0f1a2b3c4d5e6f708", State: earnings.ClaimConfirmed,
				Amount: paid, Created: now.Add(-26 * time.Hour)}},
			Escrow:      &escrow.State{Balance: 12_400_000_000, ClaimFee: 10_000_000},
			Owed:        v.Cumulative - paid,
			AutoClaimAt: 200_000_000,
		}
		f.set(func(s *worker.Status) { s.Earned, s.Receipts = ledgerTotal(l) })
		return f
	}}
}

// TestSettlementWithoutEscrow: with no voucher the On chain panel — the
// only way money leaves — says plainly why nothing can be withdrawn, and
// that the local test network has no escrow at all.
func TestSettlementWithoutEscrow(t *testing.T) {
	for _, tc := range []struct {
		name  string
		local bool
		want  string
	}{
		{"local test network", true, "The local test network has no escrow contract"},
		{"network without a voucher yet", false, "Withdraw appears once the network signs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := noDriverStatus()
			st.Network.Local = tc.local
			f := newFakeCore(st)
			v, _, q := newTestView(t, f)
			p := v.earn.settle
			q.runUntil(t, "the first load", func() bool { return !v.earn.loading && p.obj.Visible() })
			if p.body.Visible() || !p.none.Visible() || !strings.Contains(p.none.Text, tc.want) {
				t.Fatalf("body visible %v, line visible %v %q, want %q", p.body.Visible(), p.none.Visible(), p.none.Text, tc.want)
			}
			if got := v.earn.cardAvail.sub.text(); tc.local && !strings.Contains(got, "local test network pays nothing out") {
				t.Errorf("available sub on the local network = %q", got)
			}
		})
	}
}
