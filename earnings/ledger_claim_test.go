package earnings

import (
	"bytes"
	"errors"
	"path/filepath"
	"testing"
	"time"
)

func testVoucher(total int64, payout string) Voucher {
	return Voucher{Escrow: "EQ-escrow", WorkerID: "w", Payout: payout, Cumulative: total,
		Signature: bytes.Repeat([]byte{byte(total)}, 64), Network: "testnet", ClaimFee: 10}
}

// TestLedgerVouchers: the ledger keeps each escrow's newest voucher (a
// higher total, or the same total to a new payout address), never an older
// one, and refuses malformed ones with ErrBadVoucher.
func TestLedgerVouchers(t *testing.T) {
	now := t0
	l := openTest(t, "", Options{Now: func() time.Time { now = now.Add(time.Second); return now }})
	if _, ok, err := l.LatestVoucher(); err != nil || ok {
		t.Fatalf("empty ledger: voucher ok=%v err=%v", ok, err)
	}
	steps := []struct {
		name       string
		v          Voucher
		wantStored bool
		wantErr    error
		wantTotal  int64
		wantPayout string
	}{
		{"first", testVoucher(100, "UQ-a"), true, nil, 100, "UQ-a"},
		{"higher", testVoucher(250, "UQ-a"), true, nil, 250, "UQ-a"},
		{"older is ignored", testVoucher(200, "UQ-a"), false, nil, 250, "UQ-a"},
		{"same again: no-op", testVoucher(250, "UQ-a"), false, nil, 250, "UQ-a"},
		{"same total, new payout address", testVoucher(250, "UQ-b"), true, nil, 250, "UQ-b"},
		{"negative total", testVoucher(-1, "UQ-a"), false, ErrBadVoucher, 250, "UQ-b"},
		{"short signature", func() Voucher { v := testVoucher(300, "UQ-a"); v.Signature = v.Signature[:63]; return v }(), false, ErrBadVoucher, 250, "UQ-b"},
		{"no escrow", func() Voucher { v := testVoucher(300, "UQ-a"); v.Escrow = " "; return v }(), false, ErrBadVoucher, 250, "UQ-b"},
	}
	for _, s := range steps {
		stored, err := l.StoreVoucher(s.v)
		if !errors.Is(err, s.wantErr) || stored != s.wantStored {
			t.Fatalf("%s: stored=%v err=%v, want %v %v", s.name, stored, err, s.wantStored, s.wantErr)
		}
		v, ok, err := l.LatestVoucher()
		if err != nil || !ok || v.Cumulative != s.wantTotal || v.Payout != s.wantPayout {
			t.Fatalf("%s: latest %+v ok=%v err=%v, want %d to %s", s.name, v, ok, err, s.wantTotal, s.wantPayout)
		}
	}
}

// TestLedgerClaims: a claim is recorded once per (escrow, total); the
// escrow's paid total settles it (confirmed with the amount it added, or
// covered by a later one), never counting money twice; a total already
// paid cannot be claimed; it all survives a reopen.
func TestLedgerClaims(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	now := t0
	clock := func() time.Time { now = now.Add(time.Second); return now }
	l := openTest(t, path, Options{Now: clock})
	if _, err := l.StoreVoucher(testVoucher(1000, "UQ-a")); err != nil {
		t.Fatal(err)
	}
	claim := func(total int64, hash string) Claim {
		return Claim{Escrow: "EQ-escrow", Cumulative: total, Payout: "UQ-a", Fee: 10, MsgHash: hash}
	}
	c1, created, err := l.BeginClaim(claim(400, "h1"))
	if err != nil || !created || c1.State != ClaimPending {
		t.Fatalf("begin: %+v created=%v err=%v", c1, created, err)
	}
	if again, created, err := l.BeginClaim(claim(400, "h1")); err != nil || created || again.MsgHash != "h1" {
		t.Fatalf("begin again: %+v created=%v err=%v, want the recorded claim", again, created, err)
	}
	st, err := l.Settlement()
	if err != nil || st.Claimable != 1000 || st.Pending != 1 {
		t.Fatalf("settlement %+v err=%v, want claimable 1000, 1 pending", st, err)
	}
	// Not paid yet: a lower paid total confirms nothing.
	if ch, err := l.RecordPaid("EQ-escrow", 0, time.Time{}); err != nil || len(ch) != 0 {
		t.Fatalf("paid 0: changed %v err=%v", ch, err)
	}
	if ch, err := l.RecordPaid("EQ-escrow", 400, time.Time{}); err != nil || len(ch) != 1 || ch[0].State != ClaimConfirmed || ch[0].Amount != 400 || ch[0].Received() != 390 {
		t.Fatalf("paid 400: changed %+v err=%v, want one confirmed claim of 400 (390 received)", ch, err)
	}
	if ch, err := l.RecordPaid("EQ-escrow", 400, time.Time{}); err != nil || len(ch) != 0 {
		t.Fatalf("paid 400 again: changed %+v err=%v, want nothing", ch, err)
	}
	if _, _, err := l.BeginClaim(claim(300, "h0")); !errors.Is(err, ErrNothingToClaim) {
		t.Fatalf("claim of a paid total: err=%v, want ErrNothingToClaim", err)
	}
	// Two claims before the next look: the higher one carries the payment.
	for _, c := range []Claim{claim(700, "h2"), claim(1000, "h3")} {
		if _, _, err := l.BeginClaim(c); err != nil {
			t.Fatal(err)
		}
	}
	ch, err := l.RecordPaid("EQ-escrow", 1000, time.Time{})
	if err != nil || len(ch) != 2 || ch[0].State != ClaimCovered || ch[1].State != ClaimConfirmed || ch[1].Amount != 600 {
		t.Fatalf("paid 1000: changed %+v err=%v, want 700 covered and 1000 confirmed with 600", ch, err)
	}
	l.Close()
	l = openTest(t, path, Options{Now: clock})
	cs, err := l.Claims(0)
	if err != nil || len(cs) != 3 {
		t.Fatalf("claims after reopen: %d err=%v", len(cs), err)
	}
	var sum int64
	for _, c := range cs {
		sum += c.Amount
	}
	if sum != 1000 {
		t.Fatalf("claimed amounts sum to %d, want the paid total 1000 (nothing counted twice)", sum)
	}
	if st, err := l.Settlement(); err != nil || st.Claimable != 0 || st.PaidOnChain != 1000 || st.Pending != 0 {
		t.Fatalf("settlement after reopen %+v err=%v", st, err)
	}
}
