package proxy

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/network"
	"github.com/cocoon-desktop/cocoon-desktop/receipt"
)

func TestBoltStorePayouts(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	sign := func(r receipt.Receipt) receipt.Signed { return receipt.Sign(key, r) }
	s, err := OpenBoltStore(dir, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.Close() }()
	// w1 earns 3600 + 9000 = 12600.
	for _, j := range []JobRecord{testJob("j1", "w1", 10, 3), testJob("j2", "w1", 0, 10)} {
		if _, _, err := s.RecordJob(ctx, j, sign); err != nil {
			t.Fatal(err)
		}
	}
	bal := func(wantPaid, wantPending int64) {
		t.Helper()
		b, err := s.Balance(ctx, "w1")
		if err != nil || b.Cumulative != 12600 || b.LastSeq != 2 || b.Paid != wantPaid || b.Pending != wantPending {
			t.Fatalf("balance %+v %v, want paid %d pending %d", b, err, wantPaid, wantPending)
		}
	}
	rec := PayoutRecord{ID: "p1", WorkerID: "w1", Amount: 5000, Fee: 100, Destination: "0:aa", DestinationInput: "UQx"}
	r, created, err := s.BeginPayout(ctx, rec)
	if err != nil || !created || r.State != network.PayoutAccepted || r.Created.IsZero() {
		t.Fatalf("begin: %+v %v %v", r, created, err)
	}
	bal(0, 5000)
	// A replay changes nothing; another payout under the same id is refused.
	if r2, created, err := s.BeginPayout(ctx, rec); err != nil || created || r2.Created != r.Created {
		t.Fatalf("replay: %+v %v %v", r2, created, err)
	}
	other := rec
	other.Amount = 5001
	if _, _, err := s.BeginPayout(ctx, other); !errors.Is(err, ErrPayoutConflict) {
		t.Fatalf("conflict: %v", err)
	}
	other = rec
	other.WorkerID = "w2"
	if _, _, err := s.BeginPayout(ctx, other); !errors.Is(err, ErrPayoutConflict) {
		t.Fatalf("conflict (other worker): %v", err)
	}
	// Over the available balance (12600 − 5000 pending).
	over := PayoutRecord{ID: "p2", WorkerID: "w1", Amount: 7601, Fee: 100, Destination: "0:aa"}
	if _, _, err := s.BeginPayout(ctx, over); !errors.Is(err, ErrInsufficientBalance) {
		t.Fatalf("over: %v", err)
	}
	bal(0, 5000)
	// Sent needs a message; the message is set once.
	if _, _, err := s.MarkPayoutSent(ctx, "p1"); err == nil {
		t.Fatal("sent without a message")
	}
	if _, err := s.SetPayoutMessage(ctx, "p1", 7, []byte{1, 2}, []byte{3}, time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetPayoutMessage(ctx, "p1", 8, []byte{1, 2}, []byte{3}, time.Now()); err == nil {
		t.Fatal("a second message was stored")
	}
	if r, ch, err := s.MarkPayoutSent(ctx, "p1"); err != nil || !ch || r.State != network.PayoutSent || r.Seqno != 7 || r.MsgHash != "03" {
		t.Fatalf("sent: %+v %v %v", r, ch, err)
	}
	// p3 takes the rest, then fails: released.
	if _, _, err := s.BeginPayout(ctx, PayoutRecord{ID: "p3", WorkerID: "w1", Amount: 7600, Fee: 100, Destination: "0:bb"}); err != nil {
		t.Fatal(err)
	}
	bal(0, 12600)
	pend, err := s.PendingPayouts(ctx)
	if err != nil || len(pend) != 2 || pend[0].ID != "p1" || pend[1].ID != "p3" {
		t.Fatalf("pending %+v %v", pend, err)
	}
	if _, ch, err := s.MarkPayoutFailed(ctx, "p3", "expired"); err != nil || !ch {
		t.Fatal(ch, err)
	}
	bal(0, 5000)
	if _, ch, err := s.MarkPayoutConfirmed(ctx, "p3", "ff"); err != nil || ch {
		t.Fatalf("a failed payout was confirmed: %v %v", ch, err)
	}
	if r, ch, err := s.MarkPayoutConfirmed(ctx, "p1", "abcd"); err != nil || !ch || r.TxHash != "abcd" {
		t.Fatalf("confirm: %+v %v %v", r, ch, err)
	}
	if _, ch, err := s.MarkPayoutConfirmed(ctx, "p1", "abcd"); err != nil || ch {
		t.Fatalf("confirmed twice: %v %v", ch, err)
	}
	bal(5000, 0)
	if pend, _ := s.PendingPayouts(ctx); len(pend) != 0 {
		t.Fatalf("pending %+v", pend)
	}
	// It all survives a reopen.
	s.Close()
	if s, err = OpenBoltStore(dir, 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	bal(5000, 0)
	tot, err := s.PayoutTotals(ctx)
	if err != nil || tot.Paid != 5000 || tot.Pending != 0 || tot.Count[network.PayoutConfirmed] != 1 || tot.Count[network.PayoutFailed] != 1 {
		t.Fatalf("totals %+v %v", tot, err)
	}
}
