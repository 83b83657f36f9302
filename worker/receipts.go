package worker

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/cocoon-desktop/cocoon-desktop/network"
)

// Ledger stores the proxy's signed receipts. The earnings package will bring
// the full ledger (balances, history, withdrawals); until then ReceiptStore
// keeps receipts in one bbolt bucket.
type Ledger interface {
	// Credit stores a verified receipt. Storing the same job id again is a
	// no-op that returns false.
	Credit(r network.SignedReceipt) (added bool, err error)
	// Totals returns the latest signed cumulative total and how many receipts are stored.
	Totals() (cumulative int64, count int, err error)
	Close() error
}

// ErrLedgerLocked means another process (a second Cocoon Desktop) holds the file.
var ErrLedgerLocked = errors.New("the receipts file is in use by another Cocoon Desktop")

// ErrTotalBackwards means a receipt's cumulative total is below one already stored.
var ErrTotalBackwards = errors.New("receipt total goes backwards")

var (
	bucketReceipts = []byte("receipts") // job id → SignedReceipt JSON
	bucketMeta     = []byte("meta")
	keyCumulative  = []byte("cumulative")
	keyCount       = []byte("count")
)

// ReceiptStore is a Ledger in one bbolt file.
type ReceiptStore struct{ db *bolt.DB }

// OpenReceiptStore opens (or creates, 0600) the file at path. A second
// process opening the same file fails within a second with ErrLedgerLocked.
func OpenReceiptStore(path string) (*ReceiptStore, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("worker: open %s: %w", path, ErrLedgerLocked)
		}
		return nil, fmt.Errorf("worker: open %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketReceipts, bucketMeta} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("worker: init %s: %w", path, err)
	}
	return &ReceiptStore{db: db}, nil
}

// Credit implements Ledger: one transaction; idempotent by job id.
func (s *ReceiptStore) Credit(r network.SignedReceipt) (bool, error) {
	added := false
	err := s.db.Update(func(tx *bolt.Tx) error {
		rb, meta := tx.Bucket(bucketReceipts), tx.Bucket(bucketMeta)
		key := []byte(r.Receipt.JobID)
		if rb.Get(key) != nil {
			return nil
		}
		cum := getInt(meta, keyCumulative)
		if r.Receipt.Cumulative < cum {
			return fmt.Errorf("%w: job %s says %d, stored %d", ErrTotalBackwards, r.Receipt.JobID, r.Receipt.Cumulative, cum)
		}
		data, err := json.Marshal(r)
		if err != nil {
			return err
		}
		if err := rb.Put(key, data); err != nil {
			return err
		}
		putInt(meta, keyCumulative, r.Receipt.Cumulative)
		putInt(meta, keyCount, getInt(meta, keyCount)+1)
		added = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("worker: credit receipt: %w", err)
	}
	return added, nil
}

// Totals implements Ledger in O(1).
func (s *ReceiptStore) Totals() (int64, int, error) {
	var cum, n int64
	err := s.db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		cum, n = getInt(meta, keyCumulative), getInt(meta, keyCount)
		return nil
	})
	return cum, int(n), err
}

// Receipts returns every stored receipt (for tests and export).
func (s *ReceiptStore) Receipts() ([]network.SignedReceipt, error) {
	var out []network.SignedReceipt
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketReceipts).ForEach(func(_, v []byte) error {
			var r network.SignedReceipt
			if err := json.Unmarshal(v, &r); err != nil {
				return err
			}
			out = append(out, r)
			return nil
		})
	})
	return out, err
}

// Close closes the file.
func (s *ReceiptStore) Close() error { return s.db.Close() }

func getInt(b *bolt.Bucket, k []byte) int64 {
	v := b.Get(k)
	if len(v) != 8 {
		return 0
	}
	return int64(binary.BigEndian.Uint64(v))
}

func putInt(b *bolt.Bucket, k []byte, v int64) {
	_ = b.Put(k, binary.BigEndian.AppendUint64(nil, uint64(v)))
}
