package earnings

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// On-chain settlement (docs/settlement.md): the proxy signs vouchers, the
// owner claims them from the proxy's escrow contract. The ledger keeps the
// latest voucher of each escrow and every claim, in buckets made on first
// use (older files simply have none yet):
//
//	vouchers      escrow address            → Voucher JSON (the highest total)
//	claims        escrow address | total    → Claim JSON
//	escrow_paid   escrow address            → the escrow's paid total for this worker, as last seen on chain
var (
	bucketVouchers   = []byte("vouchers")
	bucketClaims     = []byte("claims")
	bucketEscrowPaid = []byte("escrow_paid")
)

// Settlement errors.
var (
	// ErrBadVoucher means a voucher's fields are invalid (no escrow, a
	// negative total, not a 64-byte signature, another worker's).
	ErrBadVoucher = errors.New("invalid voucher")
	// ErrNoVoucher means the ledger holds no voucher (yet) to claim.
	ErrNoVoucher = errors.New("no voucher from the proxy yet")
	// ErrNothingToClaim means the escrow already paid the voucher's total
	// (or more) to this worker.
	ErrNothingToClaim = errors.New("nothing to claim: the escrow already paid this total")
)

// Voucher is the proxy's signed running total for its escrow contract, as
// the ledger keeps it. The worker checks the signature (package ton/escrow
// rebuilds the signed cell) before it stores one.
type Voucher struct {
	Escrow     string    `json:"escrow"`    // the escrow contract's address
	WorkerID   string    `json:"worker_id"` // hex of the worker key
	Payout     string    `json:"payout"`    // the owner's address the escrow pays
	Cumulative int64     `json:"cumulative"`
	Signature  []byte    `json:"signature"`
	Network    string    `json:"network"`
	ClaimFee   int64     `json:"claim_fee"` // nanoTON the escrow keeps per claim
	Earned     int64     `json:"earned"`    // the receipts' total when it was signed
	Held       int64     `json:"held"`      // Earned − Cumulative: held by the proxy for now
	Received   time.Time `json:"received"`
}

// ClaimState is where a claim is.
type ClaimState string

// Claim states. pending → confirmed when the escrow's paid total for this
// worker reaches the claim's total; pending → covered when a later claim's
// payment reached it first (the money is in that claim, never counted twice).
const (
	ClaimPending   ClaimState = "pending"
	ClaimConfirmed ClaimState = "confirmed"
	ClaimCovered   ClaimState = "covered"
)

// Claim is one claim message sent to the escrow for a voucher.
type Claim struct {
	Escrow     string     `json:"escrow"`
	Cumulative int64      `json:"cumulative"` // the voucher's total: the claim's key with Escrow
	Payout     string     `json:"payout"`
	Network    string     `json:"network"`
	Fee        int64      `json:"fee"`      // the escrow's claim fee
	MsgHash    string     `json:"msg_hash"` // hex, the external message's normalized hash (explorers index it)
	State      ClaimState `json:"state"`
	// Amount is what this claim added to the escrow's paid total
	// (Cumulative − the paid total before it), set when it is confirmed;
	// the owner's address received Amount − Fee.
	Amount      int64     `json:"amount,omitempty"`
	Created     time.Time `json:"created"`
	Updated     time.Time `json:"updated"`
	ConfirmedAt time.Time `json:"confirmed_at,omitzero"`
}

// Received is what the owner's address got: Amount − Fee (0 until confirmed).
func (c Claim) Received() int64 { return max(c.Amount-c.Fee, 0) }

// Settlement is the money on chain as the ledger knows it.
type Settlement struct {
	Voucher     *Voucher // the latest voucher; nil before the first
	PaidOnChain int64    // the escrow's paid total for this worker, last seen
	Claimable   int64    // Voucher.Cumulative − PaidOnChain (≥ 0)
	Pending     int      // claims sent, not yet seen paid
}

func claimKey(escrow string, total int64) []byte {
	return append(append([]byte(escrow), '|'), be64(total)...)
}

// StoreVoucher keeps v when it is the escrow's newest: a higher total, or
// the same total made out to another payout address (the owner changed
// it). One transaction; stored reports whether it replaced the old one.
func (l *Ledger) StoreVoucher(v Voucher) (stored bool, err error) {
	v.Escrow, v.Payout = strings.TrimSpace(v.Escrow), strings.TrimSpace(v.Payout)
	switch {
	case v.Escrow == "" || v.Payout == "" || len(v.Escrow) > 128 || len(v.Payout) > 128:
		return false, fmt.Errorf("earnings: voucher: %w: escrow and payout addresses are required", ErrBadVoucher)
	case v.Cumulative < 0 || v.ClaimFee < 0 || v.Earned < 0 || v.Held < 0:
		return false, fmt.Errorf("earnings: voucher: %w: negative amount", ErrBadVoucher)
	case len(v.Signature) != 64:
		return false, fmt.Errorf("earnings: voucher: %w: signature is %d bytes, want 64", ErrBadVoucher, len(v.Signature))
	case l.opts.WorkerID != "" && v.WorkerID != l.opts.WorkerID:
		return false, fmt.Errorf("earnings: voucher: %w: for worker %.16s", ErrBadVoucher, v.WorkerID)
	}
	if v.Received.IsZero() {
		v.Received = l.opts.Now()
	}
	v.Received = normTime(v.Received)
	err = l.update(func(tx *bolt.Tx) error {
		if w := string(tx.Bucket(bucketMeta).Get(metaWorkerID)); w != "" && w != v.WorkerID {
			return fmt.Errorf("%w: for worker %.16s, this ledger is %.16s's", ErrBadVoucher, v.WorkerID, w)
		}
		b, err := tx.CreateBucketIfNotExists(bucketVouchers)
		if err != nil {
			return err
		}
		if old := b.Get([]byte(v.Escrow)); old != nil {
			var o Voucher
			if err := json.Unmarshal(old, &o); err != nil {
				return fmt.Errorf("stored voucher: %w", err)
			}
			if v.Cumulative < o.Cumulative || (v.Cumulative == o.Cumulative && v.Payout == o.Payout) {
				return nil
			}
		}
		data, err := json.Marshal(v)
		if err != nil {
			return err
		}
		stored = true
		return b.Put([]byte(v.Escrow), data)
	})
	if err != nil {
		return false, fmt.Errorf("earnings: voucher: %w", err)
	}
	return stored, nil
}

// LatestVoucher is the most recently received voucher of any escrow.
func (l *Ledger) LatestVoucher() (Voucher, bool, error) {
	var out Voucher
	found := false
	err := l.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketVouchers)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, data []byte) error {
			var v Voucher
			if err := json.Unmarshal(data, &v); err != nil {
				return fmt.Errorf("stored voucher: %w", err)
			}
			if !found || v.Received.After(out.Received) {
				out, found = v, true
			}
			return nil
		})
	})
	if err != nil {
		return Voucher{}, false, fmt.Errorf("earnings: voucher: %w", err)
	}
	return out, found, nil
}

// BeginClaim records a claim in state pending before its message is sent,
// once: a claim of the same escrow and total returns the recorded one with
// created false (a retry sends the same message; the contract pays the
// difference once). One transaction. A total the escrow has already paid
// is ErrNothingToClaim.
func (l *Ledger) BeginClaim(c Claim) (out Claim, created bool, err error) {
	switch {
	case c.Escrow == "" || c.Payout == "" || c.MsgHash == "":
		return Claim{}, false, fmt.Errorf("earnings: claim: %w: escrow, payout and message hash are required", ErrBadVoucher)
	case c.Cumulative <= 0 || c.Fee < 0:
		return Claim{}, false, fmt.Errorf("earnings: claim: %w: total %d, fee %d", ErrBadVoucher, c.Cumulative, c.Fee)
	}
	now := normTime(l.opts.Now())
	c.State, c.Amount, c.Created, c.Updated, c.ConfirmedAt = ClaimPending, 0, now, now, time.Time{}
	err = l.update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketClaims)
		if err != nil {
			return err
		}
		k := claimKey(c.Escrow, c.Cumulative)
		if v := b.Get(k); v != nil {
			return json.Unmarshal(v, &out)
		}
		if paid := escrowPaid(tx, c.Escrow); c.Cumulative <= paid {
			return fmt.Errorf("%w (%d of %d nanoTON paid)", ErrNothingToClaim, paid, c.Cumulative)
		}
		if err := hitFailpoint("claim:record"); err != nil {
			return err
		}
		out, created = c, true
		return putClaim(b, c)
	})
	if err != nil {
		return Claim{}, false, fmt.Errorf("earnings: claim: %w", err)
	}
	return out, created, nil
}

// RecordPaid records the escrow's paid total for this worker as read on
// chain, and settles the pending claims it covers, in one transaction: in
// order of total, each is confirmed with the amount it added (or covered,
// when a later one's payment reached it first). A paid total lower than
// one recorded before changes nothing. It returns the claims it changed.
func (l *Ledger) RecordPaid(escrow string, paid int64, at time.Time) ([]Claim, error) {
	if escrow == "" || paid < 0 {
		return nil, fmt.Errorf("earnings: escrow paid: %w: escrow %q, paid %d", ErrBadVoucher, escrow, paid)
	}
	if at.IsZero() {
		at = l.opts.Now()
	}
	at = normTime(at)
	var changed []Claim
	err := l.update(func(tx *bolt.Tx) error {
		before := escrowPaid(tx, escrow)
		if paid <= before {
			return nil
		}
		eb, err := tx.CreateBucketIfNotExists(bucketEscrowPaid)
		if err != nil {
			return err
		}
		if err := eb.Put([]byte(escrow), be64(paid)); err != nil {
			return err
		}
		b := tx.Bucket(bucketClaims)
		if b == nil {
			return nil
		}
		prefix := append([]byte(escrow), '|')
		var pend []Claim // in order of total: the keys sort by it
		cur := b.Cursor()
		for k, v := cur.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = cur.Next() {
			var c Claim
			if err := json.Unmarshal(v, &c); err != nil {
				return fmt.Errorf("stored claim: %w", err)
			}
			if c.State == ClaimPending && c.Cumulative <= paid {
				pend = append(pend, c)
			}
		}
		if err := hitFailpoint("claim:confirm"); err != nil {
			return err
		}
		// The highest covered claim is the one that paid up to it (the
		// contract pays up to a voucher's total, once); lower ones were
		// covered by it. When several ran between two looks at the chain,
		// the top one carries all that went out since the last paid total.
		for i := range pend {
			c := &pend[i]
			c.State, c.Updated = ClaimCovered, at
			if i == len(pend)-1 {
				c.State, c.Amount, c.ConfirmedAt = ClaimConfirmed, c.Cumulative-before, at
			}
		}
		for _, c := range pend {
			if err := putClaim(b, c); err != nil {
				return err
			}
		}
		changed = pend
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("earnings: escrow paid: %w", err)
	}
	return changed, nil
}

// Claims returns up to limit claims, newest first (limit ≤ 0: all).
func (l *Ledger) Claims(limit int) ([]Claim, error) {
	var out []Claim
	err := l.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketClaims)
		if b == nil {
			return nil
		}
		return b.ForEach(func(_, v []byte) error {
			var c Claim
			if err := json.Unmarshal(v, &c); err != nil {
				return fmt.Errorf("stored claim: %w", err)
			}
			out = append(out, c)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("earnings: claims: %w", err)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.After(out[j].Created)
		}
		return out[i].Cumulative > out[j].Cumulative
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// Settlement sums the latest voucher, the escrow's paid total and the
// pending claims.
func (l *Ledger) Settlement() (Settlement, error) {
	v, ok, err := l.LatestVoucher()
	if err != nil {
		return Settlement{}, err
	}
	var s Settlement
	if !ok {
		return s, nil
	}
	s.Voucher = &v
	err = l.view(func(tx *bolt.Tx) error {
		s.PaidOnChain = escrowPaid(tx, v.Escrow)
		b := tx.Bucket(bucketClaims)
		if b == nil {
			return nil
		}
		prefix := append([]byte(v.Escrow), '|')
		cur := b.Cursor()
		for k, data := cur.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, data = cur.Next() {
			var c Claim
			if err := json.Unmarshal(data, &c); err != nil {
				return fmt.Errorf("stored claim: %w", err)
			}
			if c.State == ClaimPending {
				s.Pending++
			}
		}
		return nil
	})
	if err != nil {
		return Settlement{}, fmt.Errorf("earnings: settlement: %w", err)
	}
	s.Claimable = max(v.Cumulative-s.PaidOnChain, 0)
	return s, nil
}

func escrowPaid(tx *bolt.Tx, escrow string) int64 {
	b := tx.Bucket(bucketEscrowPaid)
	if b == nil {
		return 0
	}
	return getI64(b, []byte(escrow))
}

func putClaim(b *bolt.Bucket, c Claim) error {
	data, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return b.Put(claimKey(c.Escrow, c.Cumulative), data)
}
