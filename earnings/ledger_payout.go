package earnings

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Payout errors.
var (
	// ErrBadPayout means a payout's fields are invalid (no id, amount ≤ 0, ...).
	ErrBadPayout = errors.New("invalid payout")
	// ErrInsufficientFunds means a payout asks for more than is available.
	ErrInsufficientFunds = errors.New("payout exceeds the available balance")
	// ErrPayoutConflict means a payout id is reused with other fields,
	// or a state change contradicts the recorded one (another message or tx hash).
	ErrPayoutConflict = errors.New("payout id already used differently")
	// ErrUnknownPayout means no payout has that id.
	ErrUnknownPayout = errors.New("no such payout")
	// ErrBadTransition means a state change is not allowed from the current
	// state (confirm after fail, fail after confirm, ...).
	ErrBadTransition = errors.New("payout state change not allowed")
)

// PayoutState is where a payout is in its life.
type PayoutState string

// Payout states. Allowed changes:
//
//	pending → sent → confirmed
//	pending → confirmed            (the transfer was seen before the send was recorded)
//	pending | sent → failed        (the amount is available again)
//
// confirmed and failed are final. Repeating a change with the same data is a no-op.
const (
	PayoutPending   PayoutState = "pending"   // recorded, amount reserved, not yet sent
	PayoutSent      PayoutState = "sent"      // the payout message is out (MsgHash), not yet seen on chain
	PayoutConfirmed PayoutState = "confirmed" // seen on chain (TxHash): counted in PaidOut
	PayoutFailed    PayoutState = "failed"    // given up (Reason): the amount is available again
)

// Payout is one payout to the owner's wallet, as recorded by the ledger.
// The payout transport fills in the hashes; the ledger only keeps the records
// and the balance straight.
type Payout struct {
	ID string `json:"id"` // client-generated, unique; the idempotency key
	// Amount is the nanoTON taken from the balance, Fee included: what counts
	// as paid against the signed cumulative total.
	Amount int64 `json:"amount"`
	// Fee is the part of Amount spent on the network fee (0 ≤ Fee ≤ Amount);
	// the wallet receives Amount − Fee (Received).
	Fee         int64     `json:"fee"`
	Destination string    `json:"destination"` // the owner's TON address, as the payout code validated it
	Created     time.Time `json:"created"`     // UTC, millisecond precision; zero in BeginPayout means now

	State       PayoutState `json:"state"`
	Updated     time.Time   `json:"updated"`
	MsgHash     string      `json:"msg_hash,omitempty"`    // external message hash (MarkSent)
	TxHash      string      `json:"tx_hash,omitempty"`     // on-chain transaction hash (MarkConfirmed)
	ConfirmedAt time.Time   `json:"confirmed_at,omitzero"` // when the transfer was seen on chain
	Reason      string      `json:"reason,omitempty"`      // why it failed (MarkFailed)
}

// Received is what the destination wallet gets: Amount − Fee.
func (w Payout) Received() int64 { return w.Amount - w.Fee }

// reserves reports whether the payout's amount counts as Pending.
func (w Payout) reserves() bool {
	return w.State == PayoutPending || w.State == PayoutSent
}

const maxPayoutID = 128

func normTime(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

// BeginPayout records a new payout in state pending and reserves its
// Amount (Pending grows, Available shrinks), in one transaction. Amount must
// be positive and at most Available. Beginning the same id again with the
// same ID, Amount, Fee, Destination (and Created, when given) is a no-op;
// with other fields it is ErrPayoutConflict. State and the hash fields
// of w are ignored.
func (l *Ledger) BeginPayout(w Payout) error {
	w.Destination = strings.TrimSpace(w.Destination)
	switch {
	case w.ID == "" || len(w.ID) > maxPayoutID:
		return fmt.Errorf("earnings: payout: %w: id %q", ErrBadPayout, w.ID)
	case w.Amount <= 0:
		return fmt.Errorf("earnings: payout %s: %w: amount %d", w.ID, ErrBadPayout, w.Amount)
	case w.Fee < 0 || w.Fee > w.Amount:
		return fmt.Errorf("earnings: payout %s: %w: fee %d of amount %d", w.ID, ErrBadPayout, w.Fee, w.Amount)
	case w.Destination == "":
		return fmt.Errorf("earnings: payout %s: %w: no destination", w.ID, ErrBadPayout)
	}
	givenCreated := !w.Created.IsZero()
	now := normTime(l.opts.Now())
	if !givenCreated {
		w.Created = now
	}
	w.Created = normTime(w.Created)
	w.State, w.Updated = PayoutPending, now
	w.MsgHash, w.TxHash, w.ConfirmedAt, w.Reason = "", "", time.Time{}, ""

	err := l.update(func(tx *bolt.Tx) error {
		wb, meta := tx.Bucket(bucketPayouts), tx.Bucket(bucketMeta)
		if v := wb.Get([]byte(w.ID)); v != nil {
			var old Payout
			if err := json.Unmarshal(v, &old); err != nil {
				return fmt.Errorf("stored payout %s: %w", w.ID, err)
			}
			if old.Amount == w.Amount && old.Fee == w.Fee && old.Destination == w.Destination &&
				(!givenCreated || old.Created.Equal(w.Created)) {
				return nil
			}
			return fmt.Errorf("%w: %s is %d nanoTON to %s", ErrPayoutConflict, w.ID, old.Amount, old.Destination)
		}
		bal := readBalance(meta)
		if w.Amount > bal.Available {
			return fmt.Errorf("%w: %d nanoTON asked, %d available", ErrInsufficientFunds, w.Amount, bal.Available)
		}
		if err := putPayout(wb, w); err != nil {
			return err
		}
		if err := hitFailpoint("pay out:record"); err != nil {
			return err
		}
		if err := tx.Bucket(bucketPayoutsByTime).Put(timeKey(w.Created.UnixMilli(), w.ID), nil); err != nil {
			return err
		}
		return addI64(meta, metaPending, w.Amount)
	})
	if err != nil {
		return fmt.Errorf("earnings: payout %s: %w", w.ID, err)
	}
	return nil
}

// MarkSent records that the payout message for payout id went out, with
// its message hash (pending → sent). The amount stays Pending.
func (l *Ledger) MarkSent(id, msgHash string) error {
	if msgHash == "" {
		return fmt.Errorf("earnings: payout %s: %w: no message hash", id, ErrBadPayout)
	}
	return l.transition(id, func(w *Payout, meta *bolt.Bucket) (bool, error) {
		switch {
		case w.State == PayoutPending:
			w.State, w.MsgHash = PayoutSent, msgHash
			return true, nil
		case w.State == PayoutFailed:
			return false, fmt.Errorf("%w: %s → sent", ErrBadTransition, w.State)
		case w.MsgHash == msgHash: // sent or confirmed: a repeat
			return false, nil
		case w.MsgHash != "":
			return false, fmt.Errorf("%w: already sent as message %s", ErrPayoutConflict, w.MsgHash)
		default: // confirmed before the send was recorded: keep the hash, stay confirmed
			w.MsgHash = msgHash
			return true, nil
		}
	})
}

// MarkConfirmed records that the transfer was seen on chain (pending or sent
// → confirmed): the amount moves from Pending to PaidOut. A zero at means now.
func (l *Ledger) MarkConfirmed(id, txHash string, at time.Time) error {
	if txHash == "" {
		return fmt.Errorf("earnings: payout %s: %w: no transaction hash", id, ErrBadPayout)
	}
	if at.IsZero() {
		at = l.opts.Now()
	}
	return l.transition(id, func(w *Payout, meta *bolt.Bucket) (bool, error) {
		switch w.State {
		case PayoutPending, PayoutSent:
			w.State, w.TxHash, w.ConfirmedAt = PayoutConfirmed, txHash, normTime(at)
			if err := addI64(meta, metaPending, -w.Amount); err != nil {
				return false, err
			}
			if err := hitFailpoint("pay out:totals"); err != nil {
				return false, err
			}
			return true, addI64(meta, metaPaidOut, w.Amount)
		case PayoutConfirmed:
			if w.TxHash == txHash {
				return false, nil
			}
			return false, fmt.Errorf("%w: already confirmed in transaction %s", ErrPayoutConflict, w.TxHash)
		}
		return false, fmt.Errorf("%w: %s → confirmed", ErrBadTransition, w.State)
	})
}

// MarkFailed records that the payout will not happen (pending or sent →
// failed): its amount is available again. Failing a failed one is a no-op.
func (l *Ledger) MarkFailed(id, reason string) error {
	return l.transition(id, func(w *Payout, meta *bolt.Bucket) (bool, error) {
		switch w.State {
		case PayoutPending, PayoutSent:
			w.State, w.Reason = PayoutFailed, reason
			return true, addI64(meta, metaPending, -w.Amount)
		case PayoutFailed:
			return false, nil
		}
		return false, fmt.Errorf("%w: %s → failed", ErrBadTransition, w.State)
	})
}

// transition loads payout id, lets change edit it and the totals, and
// stores it, all in one transaction. change returns false for a no-op.
func (l *Ledger) transition(id string, change func(w *Payout, meta *bolt.Bucket) (bool, error)) error {
	err := l.update(func(tx *bolt.Tx) error {
		wb := tx.Bucket(bucketPayouts)
		w, err := getPayout(wb, id)
		if err != nil {
			return err
		}
		changed, err := change(&w, tx.Bucket(bucketMeta))
		if err != nil || !changed {
			return err
		}
		w.Updated = normTime(l.opts.Now())
		return putPayout(wb, w)
	})
	if err != nil {
		return fmt.Errorf("earnings: payout %s: %w", id, err)
	}
	return nil
}

// Payout returns one payout by id.
func (l *Ledger) Payout(id string) (Payout, error) {
	var w Payout
	err := l.view(func(tx *bolt.Tx) error {
		var err error
		w, err = getPayout(tx.Bucket(bucketPayouts), id)
		return err
	})
	if err != nil {
		return w, fmt.Errorf("earnings: payout %s: %w", id, err)
	}
	return w, nil
}

// Payouts returns up to limit payouts, newest (by Created) first;
// limit ≤ 0 returns all.
func (l *Ledger) Payouts(limit int) ([]Payout, error) {
	var out []Payout
	err := l.view(func(tx *bolt.Tx) error {
		wb := tx.Bucket(bucketPayouts)
		c := tx.Bucket(bucketPayoutsByTime).Cursor()
		for k, _ := c.Last(); k != nil && (limit <= 0 || len(out) < limit); k, _ = c.Prev() {
			w, err := getPayout(wb, string(k[8:]))
			if err != nil {
				return err
			}
			out = append(out, w)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("earnings: payouts: %w", err)
	}
	return out, nil
}

func getPayout(wb *bolt.Bucket, id string) (Payout, error) {
	var w Payout
	v := wb.Get([]byte(id))
	if v == nil {
		return w, fmt.Errorf("%w: %q", ErrUnknownPayout, id)
	}
	if err := json.Unmarshal(v, &w); err != nil {
		return w, fmt.Errorf("stored payout %s: %w", id, err)
	}
	return w, nil
}

func putPayout(wb *bolt.Bucket, w Payout) error {
	data, err := json.Marshal(w)
	if err != nil {
		return err
	}
	return wb.Put([]byte(w.ID), data)
}
