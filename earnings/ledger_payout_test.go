package earnings

import (
	"errors"
	"testing"
	"time"
)

func TestLedgerPayouts(t *testing.T) {
	now := t0.Add(24 * time.Hour)
	l := openTest(t, "", Options{Now: func() time.Time { return now }})
	mustCredit(t, l, src("j1", 1), src("j2", 2), src("j3", 3), src("j4", 4)) // earned 900000
	const earned = 4 * jobAmount

	w := func(id string, amount int64, created time.Time) Payout {
		return Payout{ID: id, Amount: amount, Fee: 1000, Destination: "UQ-owner", Created: created}
	}
	steps := []struct {
		name    string
		op      func() error
		wantErr error
		// the balance after the step
		paidOut, pending int64
	}{
		{"begin w1", func() error { return l.BeginPayout(w("w1", 300_000, t0.Add(time.Hour))) }, nil, 0, 300_000},
		{"begin w1 again, same fields: no-op", func() error { return l.BeginPayout(w("w1", 300_000, t0.Add(time.Hour))) }, nil, 0, 300_000},
		{"begin w1 again without Created: no-op", func() error { return l.BeginPayout(w("w1", 300_000, time.Time{})) }, nil, 0, 300_000},
		{"begin w1 again, other amount", func() error { return l.BeginPayout(w("w1", 300_001, time.Time{})) }, ErrPayoutConflict, 0, 300_000},
		{"begin w1 again, other destination", func() error {
			x := w("w1", 300_000, time.Time{})
			x.Destination = "UQ-thief"
			return l.BeginPayout(x)
		}, ErrPayoutConflict, 0, 300_000},
		{"begin over available", func() error { return l.BeginPayout(w("w2", earned-300_000+1, time.Time{})) }, ErrInsufficientFunds, 0, 300_000},
		{"begin zero amount", func() error { return l.BeginPayout(w("w2", 0, time.Time{})) }, ErrBadPayout, 0, 300_000},
		{"begin fee over amount", func() error { return l.BeginPayout(Payout{ID: "w2", Amount: 10, Fee: 11, Destination: "x"}) }, ErrBadPayout, 0, 300_000},
		{"begin without destination", func() error { return l.BeginPayout(Payout{ID: "w2", Amount: 10, Destination: " "}) }, ErrBadPayout, 0, 300_000},
		{"sent w1", func() error { return l.MarkSent("w1", "msg1") }, nil, 0, 300_000},
		{"sent w1 again: no-op", func() error { return l.MarkSent("w1", "msg1") }, nil, 0, 300_000},
		{"sent w1 with another hash", func() error { return l.MarkSent("w1", "msg2") }, ErrPayoutConflict, 0, 300_000},
		{"confirm w1", func() error { return l.MarkConfirmed("w1", "tx1", t0.Add(2*time.Hour)) }, nil, 300_000, 0},
		{"confirm w1 again: no-op", func() error { return l.MarkConfirmed("w1", "tx1", time.Time{}) }, nil, 300_000, 0},
		{"confirm w1 with another tx", func() error { return l.MarkConfirmed("w1", "tx2", time.Time{}) }, ErrPayoutConflict, 300_000, 0},
		{"fail after confirm", func() error { return l.MarkFailed("w1", "late") }, ErrBadTransition, 300_000, 0},
		{"begin w2: the rest", func() error { return l.BeginPayout(w("w2", earned-300_000, t0.Add(3*time.Hour))) }, nil, 300_000, earned - 300_000},
		{"nothing left", func() error { return l.BeginPayout(w("w3", 1000, time.Time{})) }, ErrInsufficientFunds, 300_000, earned - 300_000},
		{"fail w2: available again", func() error { return l.MarkFailed("w2", "bounced") }, nil, 300_000, 0},
		{"fail w2 again: no-op", func() error { return l.MarkFailed("w2", "again") }, nil, 300_000, 0},
		{"confirm after fail", func() error { return l.MarkConfirmed("w2", "tx3", time.Time{}) }, ErrBadTransition, 300_000, 0},
		{"send after fail", func() error { return l.MarkSent("w2", "msg3") }, ErrBadTransition, 300_000, 0},
		{"begin w3 after the failure", func() error { return l.BeginPayout(w("w3", 100_000, t0.Add(4*time.Hour))) }, nil, 300_000, 100_000},
		{"confirm w3 straight from pending", func() error { return l.MarkConfirmed("w3", "tx4", time.Time{}) }, nil, 400_000, 0},
		{"sent recorded after the confirmation", func() error { return l.MarkSent("w3", "msg4") }, nil, 400_000, 0},
		{"unknown id", func() error { return l.MarkSent("nope", "m") }, ErrUnknownPayout, 400_000, 0},
	}
	for _, s := range steps {
		err := s.op()
		if s.wantErr == nil && err != nil || s.wantErr != nil && !errors.Is(err, s.wantErr) {
			t.Fatalf("%s: err = %v, want %v", s.name, err, s.wantErr)
		}
		b, err := l.Balance()
		if err != nil {
			t.Fatal(err)
		}
		if b.Earned != earned || b.PaidOut != s.paidOut || b.Pending != s.pending ||
			b.Available != earned-s.paidOut-s.pending {
			t.Fatalf("%s: balance %+v, want paid out %d pending %d", s.name, b, s.paidOut, s.pending)
		}
	}
	mustVerifyOK(t, l)

	list, err := l.Payouts(0)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, x := range list {
		ids = append(ids, x.ID+":"+string(x.State))
	}
	if got := join(ids); got != "w3:confirmed,w2:failed,w1:confirmed" {
		t.Errorf("Payouts = %s", got)
	}
	if two, _ := l.Payouts(2); len(two) != 2 || two[0].ID != "w3" {
		t.Errorf("Payouts(2) = %+v", two)
	}
	w1, err := l.Payout("w1")
	if err != nil || w1.MsgHash != "msg1" || w1.TxHash != "tx1" || !w1.ConfirmedAt.Equal(t0.Add(2*time.Hour)) ||
		!w1.Created.Equal(t0.Add(time.Hour)) || w1.Received() != 299_000 || !w1.Updated.Equal(now) {
		t.Errorf("w1 = %+v, %v", w1, err)
	}
	w2, _ := l.Payout("w2")
	if w2.Reason != "bounced" {
		t.Errorf("w2 reason = %q", w2.Reason)
	}
	w3, _ := l.Payout("w3")
	if w3.MsgHash != "msg4" || w3.State != PayoutConfirmed {
		t.Errorf("w3 = %+v", w3)
	}
}

func join(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ","
		}
		out += x
	}
	return out
}
