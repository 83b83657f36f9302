package proxy

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/network"
	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
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
)

// BoltStore is the Store in one bbolt file.
type BoltStore struct {
	db *bolt.DB
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
		for _, b := range [][]byte{bktWorkers, bktReceipts, bktWorkerReceipts, bktUsage, bktMeta} {
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
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bktWorkers)
		var w WorkerRecord
		ok, err := getJSON(b, []byte(workerID), &w)
		if err != nil {
			return err
		}
		if !ok {
			w = WorkerRecord{ID: workerID, FirstSeen: seen.UTC()}
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
func (s *BoltStore) RecordJob(ctx context.Context, j JobRecord, sign func(network.Receipt) network.SignedReceipt) (network.SignedReceipt, bool, error) {
	if err := j.validate(); err != nil {
		return network.SignedReceipt{}, false, err
	}
	var out network.SignedReceipt
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
		r := network.Receipt{
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
		if j.KeyDigest != "" {
			ub := tx.Bucket(bktUsage)
			var u KeyUsage
			if _, err := getJSON(ub, []byte(j.KeyDigest), &u); err != nil {
				return err
			}
			u.Name = j.KeyName
			u.Requests++
			for _, e := range []error{
				addChecked(&u.PromptTokens, j.PromptTokens),
				addChecked(&u.CompletionTokens, j.CompletionTokens),
				addChecked(&u.Cost, j.Gross),
			} {
				if e != nil {
					return e
				}
			}
			if err := putJSON(ub, []byte(j.KeyDigest), u); err != nil {
				return err
			}
		}
		mb := tx.Bucket(bktMeta)
		var t Totals
		if _, err := getJSON(mb, keyTotals, &t); err != nil {
			return err
		}
		t.Jobs++
		for _, e := range []error{
			addChecked(&t.PromptTokens, j.PromptTokens),
			addChecked(&t.CompletionTokens, j.CompletionTokens),
			addChecked(&t.Charged, j.Gross),
			addChecked(&t.PaidToWorkers, j.Amount),
			addChecked(&t.Commission, j.Gross-j.Amount),
		} {
			if e != nil {
				return e
			}
		}
		if err := putJSON(mb, keyTotals, t); err != nil {
			return err
		}
		created = true
		return nil
	})
	if err != nil {
		return network.SignedReceipt{}, false, err
	}
	return out, created, nil
}

// Receipt implements Store.
func (s *BoltStore) Receipt(ctx context.Context, jobID string) (network.SignedReceipt, bool, error) {
	var r network.SignedReceipt
	var ok bool
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		ok, err = getJSON(tx.Bucket(bktReceipts), []byte(jobID), &r)
		return err
	})
	return r, ok, err
}

// Receipts implements Store.
func (s *BoltStore) Receipts(ctx context.Context, workerID string, afterSeq int64, limit int) ([]network.SignedReceipt, error) {
	var out []network.SignedReceipt
	err := s.db.View(func(tx *bolt.Tx) error {
		rb := tx.Bucket(bktReceipts)
		c := tx.Bucket(bktWorkerReceipts).Cursor()
		prefix := append([]byte(workerID), 0)
		for k, v := c.Seek(workerReceiptKey(workerID, afterSeq+1)); k != nil && len(k) == len(prefix)+8 && string(k[:len(prefix)]) == string(prefix); k, v = c.Next() {
			var r network.SignedReceipt
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
