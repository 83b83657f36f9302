package earnings

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/cocoon-desktop/cocoon-desktop/receipt"
)

// Schema 1's job buckets, read by migrateV1toV2:
//
//	jobs          seq | job id      → ledgerRecord JSON
//	job_ids       job id            → seq
//	jobs_by_time  unix ms | job id  → seq
//
// agg, gaps and the meta totals had the layout they have in schema 2.
var (
	v1Jobs       = []byte("jobs")
	v1JobIDs     = []byte("job_ids")
	v1JobsByTime = []byte("jobs_by_time")
)

// migrations[v] moves a file from schema v to v+1. They run in order, all in
// the one transaction Open makes, so a crash or an error mid-way leaves the
// old file as it was.
var migrations = []func(tx *bolt.Tx) error{
	migrateV0toV1,
	migrateV1toV2,
}

func migrate(tx *bolt.Tx) error {
	v := int64(0)
	if meta := tx.Bucket(bucketMeta); meta != nil {
		v = getI64(meta, metaSchema)
	}
	if v > int64(len(migrations)) {
		return fmt.Errorf("%w (schema %d, this version reads up to %d)", ErrNewerSchema, v, len(migrations))
	}
	for ; v < int64(len(migrations)); v++ {
		if err := migrations[v](tx); err != nil {
			return fmt.Errorf("migrate schema %d → %d: %w", v, v+1, err)
		}
		meta, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		if err := putI64(meta, metaSchema, v+1); err != nil {
			return err
		}
	}
	return nil
}

// migrateV0toV1 turns the worker's old receipt store (buckets receipts: job
// id → SignedReceipt JSON, and meta: cumulative, count) — or an empty file —
// into schema 1's job records (bucket jobs), keeping what it cannot read in
// migration_rejects. It writes only what migrateV1toV2, which always runs
// after it in the same transaction, reads: that one rebuilds the indexes,
// gaps, aggregates and totals from the records, re-inserting them without
// the strict chain checks (they were verified when first stored, and
// refusing them now would lose money); whatever does not chain is left for
// Verify to report.
func migrateV0toV1(tx *bolt.Tx) error {
	var old []ledgerRecord
	var rejects [][2][]byte
	if b := tx.Bucket([]byte("receipts")); b != nil {
		now := time.Now().UnixMilli()
		err := b.ForEach(func(k, v []byte) error {
			var sr receipt.Signed
			if err := json.Unmarshal(v, &sr); err != nil || sr.Receipt.JobID == "" {
				rejects = append(rejects, [2][]byte{bytes.Clone(k), bytes.Clone(v)})
				return nil
			}
			at := sr.Receipt.Time
			if at <= 0 {
				at = now
			}
			old = append(old, ledgerRecord{Receipt: sr, CreditedAt: at})
			return nil
		})
		if err != nil {
			return err
		}
		if err := tx.DeleteBucket([]byte("receipts")); err != nil {
			return err
		}
	}
	if meta := tx.Bucket(bucketMeta); meta != nil {
		for _, k := range [][]byte{[]byte("cumulative"), []byte("count")} {
			if err := meta.Delete(k); err != nil {
				return err
			}
		}
	}
	for _, name := range [][]byte{bucketMeta, v1Jobs, bucketPayouts, bucketPayoutsByTime} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return err
		}
	}
	if err := putRejects(tx, rejects); err != nil {
		return err
	}
	sort.Slice(old, func(i, j int) bool {
		a, b := old[i].Receipt.Receipt, old[j].Receipt.Receipt
		if a.Seq != b.Seq {
			return a.Seq < b.Seq
		}
		return a.JobID < b.JobID
	})
	jobs := tx.Bucket(v1Jobs)
	for i := range old {
		data, err := json.Marshal(&old[i])
		if err != nil {
			return err
		}
		r := old[i].Receipt.Receipt
		if err := jobs.Put(append(be64(r.Seq), r.JobID...), data); err != nil {
			return fmt.Errorf("receipt %s: %w", r.JobID, err)
		}
	}
	return nil
}

// migrateV1toV2 rewrites schema 1's JSON job records as compact records
// (record.go), in seq order, through the same code Credit uses (in its
// non-strict mode), which rebuilds the job id index, the time strays, the
// gaps, the quarter-hour aggregates and the running totals; schema 1's
// job_ids and jobs_by_time indexes are dropped. A record it cannot read, or
// one whose seq or job id another record already has (possible only in a
// file migrated from schema 0), is kept as it was in migration_rejects,
// which Verify reports. Payouts are untouched.
func migrateV1toV2(tx *bolt.Tx) error {
	meta, err := tx.CreateBucketIfNotExists(bucketMeta)
	if err != nil {
		return err
	}
	for _, k := range [][]byte{metaEarned, metaLastSeq, metaJobs, metaCredited, metaEnergyMJ, metaOrderLast} {
		if err := meta.Delete(k); err != nil {
			return err
		}
	}
	for _, name := range [][]byte{v1JobIDs, v1JobsByTime, bucketAgg, bucketGaps} {
		if tx.Bucket(name) != nil {
			if err := tx.DeleteBucket(name); err != nil {
				return err
			}
		}
	}
	for _, name := range v2Buckets {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return err
		}
	}
	old := tx.Bucket(v1Jobs)
	if old == nil {
		return nil
	}
	s := newStore(tx)
	var rejects [][2][]byte
	c := old.Cursor()
	// The values stay valid while other buckets change: bbolt remaps only at commit.
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if err := hitFailpoint("migrate:record"); err != nil {
			return err
		}
		var rec ledgerRecord
		if err := json.Unmarshal(v, &rec); err != nil || len(k) < 8 || rec.Receipt.Receipt.JobID == "" {
			rejects = append(rejects, [2][]byte{bytes.Clone(k), bytes.Clone(v)})
			continue
		}
		added, err := s.apply(&rec, "", false)
		if err != nil {
			return fmt.Errorf("job %s seq %d: %w", rec.Receipt.Receipt.JobID, rec.Receipt.Receipt.Seq, err)
		}
		if !added {
			rejects = append(rejects, [2][]byte{bytes.Clone(k), bytes.Clone(v)})
		}
	}
	if err := putRejects(tx, rejects); err != nil {
		return err
	}
	return tx.DeleteBucket(v1Jobs)
}

// putRejects keeps what a migration could not read, under its old key (a
// key already taken by an earlier migration's reject gets a suffix).
func putRejects(tx *bolt.Tx, rejects [][2][]byte) error {
	if len(rejects) == 0 {
		return nil
	}
	rb, err := tx.CreateBucketIfNotExists(bucketRejects)
	if err != nil {
		return err
	}
	for _, kv := range rejects {
		k := kv[0]
		for rb.Get(k) != nil {
			k = append(k, '+')
		}
		if err := rb.Put(k, kv[1]); err != nil {
			return err
		}
	}
	return nil
}
