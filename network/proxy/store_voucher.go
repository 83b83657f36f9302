package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// RecordVouched implements Store. A voucher total above the worker's
// signed cumulative is refused: the proxy never signs more than it credited.
func (s *BoltStore) RecordVouched(ctx context.Context, workerID string, total int64) (int64, error) {
	if workerID == "" || total < 0 {
		return 0, errors.New("proxy store: voucher needs a worker id and a total ≥ 0")
	}
	var w WorkerRecord
	var ok bool
	if err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		ok, err = getJSON(tx.Bucket(bktWorkers), []byte(workerID), &w)
		return err
	}); err != nil {
		return 0, fmt.Errorf("proxy store: voucher: %w", err)
	}
	if !ok || total <= w.Vouched {
		return w.Vouched, nil // nothing new: no write transaction
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bktWorkers)
		ok, err := getJSON(b, []byte(workerID), &w)
		if err != nil || !ok {
			return err
		}
		if total > w.Cumulative {
			return fmt.Errorf("voucher total %d is over worker %s's credited %d", total, workerID, w.Cumulative)
		}
		if total <= w.Vouched { // raised meanwhile
			return nil
		}
		w.Vouched = total
		return putJSON(b, []byte(workerID), w)
	})
	if err != nil {
		return 0, fmt.Errorf("proxy store: voucher: %w", err)
	}
	return w.Vouched, nil
}

// Vouched implements Store.
func (s *BoltStore) Vouched(ctx context.Context) (map[string]int64, error) {
	out := map[string]int64{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bktWorkers).ForEach(func(k, v []byte) error {
			var w WorkerRecord
			if err := json.Unmarshal(v, &w); err != nil {
				return fmt.Errorf("corrupt worker %q: %w", k, err)
			}
			if w.Vouched > 0 {
				out[string(k)] = w.Vouched
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("proxy store: vouched: %w", err)
	}
	return out, nil
}
