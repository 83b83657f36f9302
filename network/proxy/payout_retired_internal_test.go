package proxy

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/cocoon-desktop/cocoon-desktop/network"
	"github.com/cocoon-desktop/cocoon-desktop/ton"
	"github.com/xssnick/tonutils-go/address"
)

// TestOldPayoutsInStore: a store written by an earlier version with
// hot-wallet payouts still opens; final payouts are history (the worker's
// paid total still reaches its balance), but one still in flight stops
// the start with ErrPayoutsInFlight naming it, since this version can
// neither finish it nor tell whether it was paid.
func TestOldPayoutsInStore(t *testing.T) {
	for _, tc := range []struct {
		name     string
		states   map[string]string // payout id → state
		inFlight string            // "" : starts
	}{
		{"no payouts", nil, ""},
		{"all final", map[string]string{"po-a": network.PayoutConfirmed, "po-b": network.PayoutFailed}, ""},
		{"accepted", map[string]string{"po-a": network.PayoutConfirmed, "po-c": network.PayoutAccepted}, "po-c"},
		{"sent", map[string]string{"po-d": network.PayoutSent}, "po-d"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := OpenBoltStore(t.TempDir(), time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			const worker = "aa"
			err = s.db.Update(func(tx *bolt.Tx) error {
				w := WorkerRecord{ID: worker, Cumulative: 3_000, LastSeq: 3, Paid: 1_000}
				if err := putJSON(tx.Bucket(bktWorkers), []byte(worker), w); err != nil {
					return err
				}
				for id, state := range tc.states {
					r := PayoutRecord{ID: id, WorkerID: worker, Amount: 1_000, State: state}
					if err := putJSON(tx.Bucket(bktPayouts), []byte(id), r); err != nil {
						return err
					}
					if state == network.PayoutAccepted || state == network.PayoutSent {
						if err := tx.Bucket(bktPayoutsPending).Put([]byte(id), nil); err != nil {
							return err
						}
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if b, err := s.Balance(context.Background(), worker); err != nil || b.Cumulative != 3_000 || b.Paid != 1_000 {
				t.Fatalf("balance with old payouts: %+v %v", b, err)
			}
			err = checkNoPendingPayouts(context.Background(), s)
			if tc.inFlight == "" {
				if err != nil {
					t.Fatalf("start refused: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrPayoutsInFlight) || !strings.Contains(err.Error(), tc.inFlight) {
				t.Fatalf("in-flight payout %s: %v, want ErrPayoutsInFlight naming it", tc.inFlight, err)
			}
		})
	}
}

// TestAnswerPayoutRequest: an old worker asking again about a payout an
// earlier version finished gets that payout's final state (a paid payout
// must never read as rejected, which would release it in the worker's
// ledger); anything else is rejected with the reason.
func TestAnswerPayoutRequest(t *testing.T) {
	s, err := OpenBoltStore(t.TempDir(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.db.Update(func(tx *bolt.Tx) error {
		for _, r := range []PayoutRecord{
			{ID: "po-paid", WorkerID: "aa", Amount: 1_000, Fee: 10, DestinationInput: "UQdest", State: network.PayoutConfirmed, TxHash: "abc"},
			{ID: "po-failed", WorkerID: "aa", Amount: 2_000, State: network.PayoutFailed, Reason: "expired"},
		} {
			if err := putJSON(tx.Bucket(bktPayouts), []byte(r.ID), r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, worker, id string
		wantState        string
		wantTx           string
	}{
		{"paid earlier", "aa", "po-paid", network.PayoutConfirmed, "abc"},
		{"failed earlier", "aa", "po-failed", network.PayoutFailed, ""},
		{"another worker's id", "bb", "po-paid", network.PayoutRejected, ""},
		{"new request", "aa", "po-new", network.PayoutRejected, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := answerPayoutRequest(context.Background(), s, tc.worker, network.PayoutRequest{PayoutID: tc.id, Amount: 5}, ReasonNoEscrow)
			if err != nil || st.State != tc.wantState || st.TxHash != tc.wantTx {
				t.Fatalf("%+v %v, want %s tx %q", st, err, tc.wantState, tc.wantTx)
			}
			if tc.wantState == network.PayoutRejected && (st.Reason != ReasonNoEscrow || st.PayoutID != tc.id) {
				t.Errorf("rejection %+v", st)
			}
		})
	}
}

// TestVoucherLeavesOutOldPushPayouts: a proxy that paid a worker by push
// in an earlier version and now has an escrow signs only what it has not
// paid, so the owner cannot claim the pushed money a second time.
func TestVoucherLeavesOutOldPushPayouts(t *testing.T) {
	dir := t.TempDir()
	pub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	workerID := hex.EncodeToString(pub)
	s, err := OpenBoltStore(dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		return putJSON(tx.Bucket(bktWorkers), []byte(workerID), WorkerRecord{ID: workerID, Cumulative: 3_000_000_000, LastSeq: 3, Paid: 1_000_000_000})
	})
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	h := make([]byte, 32)
	h[0] = 1
	escrowAddr := address.NewAddress(0, 0, h)
	escrowAddr.SetTestnetOnly(true)
	owner := address.NewAddress(0, 0, append([]byte{2}, h[1:]...))
	owner.SetBounce(false)
	owner.SetTestnetOnly(true)
	cfg := DefaultConfig()
	cfg.DataDir = dir
	cfg.Models = map[string]ModelPrice{"m": {PricePrompt: 1, PriceCompletion: 1}}
	cfg.Escrow = &EscrowConfig{Network: ton.Testnet, Address: escrowAddr.String()}
	p, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	v, err := p.Voucher(context.Background(), workerID, owner.String())
	if err != nil {
		t.Fatal(err)
	}
	if v.Cumulative != 2_000_000_000 || v.Earned != 3_000_000_000 || v.Held != 0 {
		t.Fatalf("voucher total %d earned %d held %d, want 2 TON of 3 earned (1 already pushed), none held", v.Cumulative, v.Earned, v.Held)
	}
}
