package proxy

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/cocoon-desktop/cocoon-desktop/network"
	"github.com/cocoon-desktop/cocoon-desktop/receipt"
)

// DBFile is the bbolt file in the data directory.
const DBFile = "proxy.db"

var (
	bktWorkers        = []byte("workers")         // worker id → WorkerRecord JSON
	bktReceipts       = []byte("receipts")        // job id → SignedReceipt JSON
	bktWorkerReceipts = []byte("worker_receipts") // worker id | 0 | seq (8 bytes BE) → job id
	bktUsage          = []byte("usage")           // key digest → KeyUsage JSON
	bktMeta           = []byte("meta")            // "totals" → Totals JSON
	keyTotals         = []byte("totals")
	bktPayouts        = []byte("payouts")         // payout id → PayoutRecord JSON
	bktPayoutsPending = []byte("payouts_pending") // payout id → "" while not final
)

// BoltStore is the Store in one bbolt file.
type BoltStore struct {
	db  *bolt.DB
	now func() time.Time // nil: time.Now (a test seam for holds; see clock)
}

var _ Store = (*BoltStore)(nil)

// OpenBoltStore opens (or creates, 0600) dir/proxy.db. If another process
// holds it, it fails within lockTimeout with ErrStoreLocked.
func OpenBoltStore(dir string, lockTimeout time.Duration) (*BoltStore, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("proxy store: %w", err)
	}
	if lockTimeout <= 0 {
		lockTimeout = time.Second
	}
	path := filepath.Join(dir, DBFile)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: lockTimeout})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("%w: %s", ErrStoreLocked, path)
	}
	if err != nil {
		return nil, fmt.Errorf("proxy store %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bktWorkers, bktReceipts, bktWorkerReceipts, bktUsage, bktMeta, bktPayouts, bktPayoutsPending, bktTrust, bktTrustQuarantined} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("proxy store %s: %w", path, err)
	}
	return &BoltStore{db: db}, nil
}

// Close closes the file.
func (s *BoltStore) Close() error { return s.db.Close() }

func getJSON(b *bolt.Bucket, key []byte, v any) (bool, error) {
	raw := b.Get(key)
	if raw == nil {
		return false, nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return true, fmt.Errorf("proxy store: corrupt record %q: %w", key, err)
	}
	return true, nil
}

func putJSON(b *bolt.Bucket, key []byte, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(key, raw)
}

// TouchWorker implements Store.
func (s *BoltStore) TouchWorker(ctx context.Context, workerID, payout string, seen time.Time) error {
	if workerID == "" {
		return errors.New("proxy store: empty worker id")
	}
	// A read transaction first: for an unknown worker (any fresh identity)
	// it is all there is, and bbolt writes nothing for it.
	var known bool
	if err := s.db.View(func(tx *bolt.Tx) error {
		known = tx.Bucket(bktWorkers).Get([]byte(workerID)) != nil
		return nil
	}); err != nil || !known {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bktWorkers)
		var w WorkerRecord
		ok, err := getJSON(b, []byte(workerID), &w)
		if err != nil || !ok {
			return err // pruned meanwhile: still no write
		}
		if seen.After(w.LastSeen) {
			w.LastSeen = seen.UTC()
		}
		if payout != "" {
			w.PayoutAddress = payout
		}
		return putJSON(b, []byte(workerID), w)
	})
}

// neverEarned reports whether a record carries no money at all.
func (w WorkerRecord) neverEarned() bool {
	return w.Cumulative == 0 && w.LastSeq == 0 && w.Paid == 0 && w.Pending == 0
}

// PruneWorkers implements Store.
func (s *BoltStore) PruneWorkers(ctx context.Context, unseenSince time.Time) (int, error) {
	var stale [][]byte
	if err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bktWorkers).ForEach(func(k, v []byte) error {
			var w WorkerRecord
			if err := json.Unmarshal(v, &w); err != nil {
				return fmt.Errorf("proxy store: corrupt worker %q: %w", k, err)
			}
			if w.neverEarned() && w.LastSeen.Before(unseenSince) {
				stale = append(stale, bytes.Clone(k))
			}
			return nil
		})
	}); err != nil || len(stale) == 0 {
		return 0, err // nothing to prune: no write transaction
	}
	n := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bktWorkers)
		for _, k := range stale {
			var w WorkerRecord
			ok, err := getJSON(b, k, &w)
			if err != nil {
				return err
			}
			// Checked again inside the write: it may have earned meanwhile.
			if !ok || !w.neverEarned() || !w.LastSeen.Before(unseenSince) {
				continue
			}
			if err := b.Delete(k); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("proxy store: prune workers: %w", err)
	}
	return n, nil
}

// Worker implements Store.
func (s *BoltStore) Worker(ctx context.Context, workerID string) (WorkerRecord, bool, error) {
	var w WorkerRecord
	var ok bool
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		ok, err = getJSON(tx.Bucket(bktWorkers), []byte(workerID), &w)
		return err
	})
	return w, ok, err
}

func workerReceiptKey(workerID string, seq int64) []byte {
	k := make([]byte, 0, len(workerID)+9)
	k = append(k, workerID...)
	k = append(k, 0)
	return binary.BigEndian.AppendUint64(k, uint64(seq))
}

// RecordJob implements Store.
func (s *BoltStore) RecordJob(ctx context.Context, j JobRecord, sign func(receipt.Receipt) receipt.Signed) (receipt.Signed, bool, error) {
	if err := j.validate(); err != nil {
		return receipt.Signed{}, false, err
	}
	var out receipt.Signed
	var created bool
	err := s.db.Update(func(tx *bolt.Tx) error {
		rb := tx.Bucket(bktReceipts)
		if ok, err := getJSON(rb, []byte(j.JobID), &out); err != nil || ok {
			return err // already credited: return the stored receipt, change nothing
		}
		wb := tx.Bucket(bktWorkers)
		var w WorkerRecord
		ok, err := getJSON(wb, []byte(j.WorkerID), &w)
		if err != nil {
			return err
		}
		if !ok {
			w = WorkerRecord{ID: j.WorkerID, FirstSeen: j.Time.UTC(), LastSeen: j.Time.UTC()}
		}
		if err := addChecked(&w.Cumulative, j.Amount); err != nil {
			return err
		}
		w.LastSeq++
		r := receipt.Receipt{
			JobID:            j.JobID,
			WorkerID:         j.WorkerID,
			Model:            j.Model,
			PromptTokens:     j.PromptTokens,
			CompletionTokens: j.CompletionTokens,
			PricePrompt:      j.PricePrompt,
			PriceCompletion:  j.PriceCompletion,
			CoefficientMilli: j.CoefficientMilli,
			CommissionBPS:    j.CommissionBPS,
			Amount:           j.Amount,
			Cumulative:       w.Cumulative,
			Seq:              w.LastSeq,
			Time:             j.Time.UnixMilli(),
		}
		out = sign(r)
		if err := putJSON(rb, []byte(j.JobID), out); err != nil {
			return err
		}
		if err := tx.Bucket(bktWorkerReceipts).Put(workerReceiptKey(j.WorkerID, w.LastSeq), []byte(j.JobID)); err != nil {
			return err
		}
		if err := putJSON(wb, []byte(j.WorkerID), w); err != nil {
			return err
		}
		if err := trustCredit(tx, j); err != nil {
			return err
		}
		if j.KeyDigest != "" {
			ub := tx.Bucket(bktUsage)
			var u KeyUsage
			if _, err := getJSON(ub, []byte(j.KeyDigest), &u); err != nil {
				return err
			}
			u.Name = j.KeyName
			// Statistics saturate: they must never abort the credit (money
			// is the receipts, whose cumulative total is checked above).
			addSaturating(&u.Requests, 1)
			addSaturating(&u.PromptTokens, j.PromptTokens)
			addSaturating(&u.CompletionTokens, j.CompletionTokens)
			addSaturating(&u.Cost, j.Gross)
			if err := putJSON(ub, []byte(j.KeyDigest), u); err != nil {
				return err
			}
			if err := addDailyUsage(tx, j); err != nil { // usage_store.go
				return err
			}
		}
		mb := tx.Bucket(bktMeta)
		var t Totals
		if _, err := getJSON(mb, keyTotals, &t); err != nil {
			return err
		}
		addSaturating(&t.Jobs, 1)
		addSaturating(&t.PromptTokens, j.PromptTokens)
		addSaturating(&t.CompletionTokens, j.CompletionTokens)
		addSaturating(&t.Charged, j.Gross)
		addSaturating(&t.PaidToWorkers, j.Amount)
		addSaturating(&t.Commission, j.Gross-j.Amount)
		if err := putJSON(mb, keyTotals, t); err != nil {
			return err
		}
		created = true
		return nil
	})
	if err != nil {
		return receipt.Signed{}, false, err
	}
	return out, created, nil
}

// Receipt implements Store.
func (s *BoltStore) Receipt(ctx context.Context, jobID string) (receipt.Signed, bool, error) {
	var r receipt.Signed
	var ok bool
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		ok, err = getJSON(tx.Bucket(bktReceipts), []byte(jobID), &r)
		return err
	})
	return r, ok, err
}

// Receipts implements Store.
func (s *BoltStore) Receipts(ctx context.Context, workerID string, afterSeq int64, limit int) ([]receipt.Signed, error) {
	var out []receipt.Signed
	err := s.db.View(func(tx *bolt.Tx) error {
		rb := tx.Bucket(bktReceipts)
		c := tx.Bucket(bktWorkerReceipts).Cursor()
		prefix := append([]byte(workerID), 0)
		for k, v := c.Seek(workerReceiptKey(workerID, afterSeq+1)); k != nil && len(k) == len(prefix)+8 && string(k[:len(prefix)]) == string(prefix); k, v = c.Next() {
			var r receipt.Signed
			ok, err := getJSON(rb, v, &r)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("proxy store: receipt %q indexed but missing", v)
			}
			out = append(out, r)
			if limit > 0 && len(out) >= limit {
				break
			}
		}
		return nil
	})
	return out, err
}

// Usage implements Store.
func (s *BoltStore) Usage(ctx context.Context, keyDigest string) (KeyUsage, error) {
	var u KeyUsage
	err := s.db.View(func(tx *bolt.Tx) error {
		_, err := getJSON(tx.Bucket(bktUsage), []byte(keyDigest), &u)
		return err
	})
	return u, err
}

// Totals implements Store.
func (s *BoltStore) Totals(ctx context.Context) (Totals, error) {
	var t Totals
	err := s.db.View(func(tx *bolt.Tx) error {
		_, err := getJSON(tx.Bucket(bktMeta), keyTotals, &t)
		return err
	})
	return t, err
}

// Balance implements Store.
func (s *BoltStore) Balance(ctx context.Context, workerID string) (network.Balance, error) {
	w, _, err := s.Worker(ctx, workerID)
	if err != nil {
		return network.Balance{}, err
	}
	return network.Balance{Cumulative: w.Cumulative, LastSeq: w.LastSeq, Paid: w.Paid, Pending: w.Pending}, nil
}

// Payout implements Store.
func (s *BoltStore) Payout(ctx context.Context, id string) (PayoutRecord, bool, error) {
	var r PayoutRecord
	var ok bool
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		ok, err = getJSON(tx.Bucket(bktPayouts), []byte(id), &r)
		return err
	})
	return r, ok, err
}

// PendingPayouts implements Store.
func (s *BoltStore) PendingPayouts(ctx context.Context) ([]PayoutRecord, error) {
	var out []PayoutRecord
	err := s.db.View(func(tx *bolt.Tx) error {
		pb := tx.Bucket(bktPayouts)
		return tx.Bucket(bktPayoutsPending).ForEach(func(k, _ []byte) error {
			var r PayoutRecord
			ok, err := getJSON(pb, k, &r)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("proxy store: pending payout %q indexed but missing", k)
			}
			out = append(out, r)
			return nil
		})
	})
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out, err
}
