package earnings

import (
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/cocoon-desktop/cocoon-desktop/receipt"
)

// SchemaVersion is the layout this code writes. Open migrates older files
// with migrations[v] (v → v+1) in one transaction and refuses newer ones.
const SchemaVersion = 2

// Schema version 2. Integers in keys and meta values are 8-byte big-endian,
// so keys sort by number; varints are encoding/binary's (signed ones
// zigzag); "|" below is plain concatenation.
//
//	meta                 schema, worker_id, earned, last_seq, jobs, credited, energy_mj, withdrawn (PaidOut), pending, order_last
//	records              seq                    → the job's compact record (record.go: the signed receipt, energy, credited time)
//	profiles             id                     → what many receipts share: worker id, model, proxy key, prices (record.go)
//	profile_ids          SHA-256 of a profile   → id
//	job_index            SHA-256(job id)[:2]    → the seqs of the job ids in that group (store.go)
//	time_strays          unix ms | job id       → seq   (only the records out of time order, order.go)
//	agg                  quarter-hour | model   → 6 varints    (jobs, gross, prompt, completion, energy mJ, metered jobs)
//	gaps                 first missing seq      → last missing seq
//	payouts          id                     → Payout JSON
//	payouts_by_time  created unix ms | id   → (empty)
//	migration_rejects    old key                → raw value a migration could not read (kept, reported by Verify)
//
// A job costs about 160 bytes on disk (docs/BENCHMARKS.md); schema 1 stored
// each receipt as JSON with two full indexes, about 870.
//
// The aggregate is per UTC quarter-hour rather than per local day so that a
// day in any time zone (all of today's UTC offsets are multiples of 15
// minutes) is a whole number of buckets, whatever zone the query uses and
// even if the owner's zone changes after the jobs were credited.
var (
	bucketMeta          = []byte("meta")
	bucketRecords       = []byte("records")
	bucketProfiles      = []byte("profiles")
	bucketProfileIDs    = []byte("profile_ids")
	bucketJobIndex      = []byte("job_index")
	bucketStrays        = []byte("time_strays")
	bucketAgg           = []byte("agg")
	bucketGaps          = []byte("gaps")
	bucketPayouts       = []byte("withdrawals") // stored names keep their first spelling
	bucketPayoutsByTime = []byte("withdrawals_by_time")
	bucketRejects       = []byte("migration_rejects")

	metaSchema    = []byte("schema")
	metaWorkerID  = []byte("worker_id")
	metaEarned    = []byte("earned")     // the cumulative total of the receipt with the highest seq
	metaLastSeq   = []byte("last_seq")   // the highest seq stored
	metaJobs      = []byte("jobs")       // receipts stored
	metaCredited  = []byte("credited")   // sum of the stored receipts' amounts (≤ earned: gaps)
	metaEnergyMJ  = []byte("energy_mj")  // sum of the measured energy, millijoules
	metaPaidOut   = []byte("withdrawn")  // sum of confirmed payouts
	metaPending   = []byte("pending")    // sum of pending and sent payouts
	metaOrderLast = []byte("order_last") // the highest seq of the records in time order (order.go)

	v2Buckets = [][]byte{bucketMeta, bucketRecords, bucketProfiles, bucketProfileIDs, bucketJobIndex, bucketStrays,
		bucketAgg, bucketGaps, bucketPayouts, bucketPayoutsByTime}
)

// quarterMS is the width of one aggregate bucket.
const quarterMS = 15 * 60 * 1000

// Sentinel errors. Every error from the Ledger wraps one of these (or a
// bbolt / I/O error); test them with errors.Is.
var (
	// ErrLocked means another process holds the ledger file.
	ErrLocked = errors.New("another Cocoon Desktop is using the ledger")
	// ErrNewerSchema means the file was written by a newer Cocoon Desktop.
	ErrNewerSchema = errors.New("the ledger was written by a newer Cocoon Desktop")
	// ErrBadReceipt means a receipt is malformed or does not verify; a bad
	// signature also matches receipt.ErrBadSignature, a wrong amount ErrBadAmount.
	ErrBadReceipt = errors.New("invalid receipt")
	// ErrBadAmount means a receipt's amount does not match its own factors.
	ErrBadAmount = errors.New("receipt amount does not match its factors")
	// ErrWrongWorker means a receipt is for another worker than this ledger's.
	ErrWrongWorker = errors.New("receipt is for another worker")
	// ErrTotalMismatch means a receipt's cumulative total does not chain onto
	// the stored receipts (goes backwards, or ≠ previous + amount).
	ErrTotalMismatch = errors.New("receipt cumulative total does not match the ledger")
	// ErrJobConflict means a job id is already stored with a different receipt.
	ErrJobConflict = errors.New("job already credited with a different receipt")
	// ErrBadEnergy means an energy measurement is negative or not a number.
	ErrBadEnergy = errors.New("invalid energy measurement")
	// ErrDamaged means the ledger file is damaged (truncated, overwritten,
	// bit flips): bbolt's own consistency check failed, or reading it hit
	// a broken page. Nothing is written to a damaged file.
	ErrDamaged = errors.New("the ledger file is damaged")
	// ErrMissing means Options.MustExist was set but the file is missing or
	// empty: a ledger that was there is gone, which must not pass for a new one.
	ErrMissing = errors.New("the ledger file is missing or empty")
)

// Options configures a Ledger.
type Options struct {
	// ProxyKey is the pinned proxy key: every credited receipt must be signed
	// by it. Without it the ledger can be read but Credit refuses everything.
	ProxyKey ed25519.PublicKey
	// WorkerID, when set, is this worker's id: receipts for any other id are
	// refused. When empty the ledger binds itself to the worker id of the
	// first receipt it stores (meta/worker_id); either way one file holds one
	// worker's receipt chain.
	WorkerID string
	// Now is the clock (credited times, default payout times); nil is time.Now.
	Now func() time.Time
	// MustExist refuses to create the file: set it when the data dir says a
	// ledger was made before, so a deleted or emptied file is an error
	// (ErrMissing) instead of a new, empty ledger.
	MustExist bool
}

// Ledger is the earnings ledger in one bbolt file. It is safe for concurrent
// use. It implements the worker's Ledger interface (Credit, Totals, Close).
type Ledger struct {
	db   *bolt.DB
	opts Options
	path string
}

// Open opens (or creates, mode 0600) the ledger at path and migrates it to
// SchemaVersion. A second process opening the same file fails within about
// a second with ErrLocked.
//
// A damaged file is reported as ErrDamaged, never a panic: Open runs bbolt's
// consistency check over every page, and every later read or write that
// hits a broken page returns ErrDamaged too.
func Open(path string, opts Options) (l *Ledger, err error) {
	if opts.MustExist {
		if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
			return nil, fmt.Errorf("earnings: open %s: %w", path, ErrMissing)
		}
	}
	defer func() {
		if r := recover(); r != nil {
			l, err = nil, fmt.Errorf("earnings: open %s: %w: %v", path, ErrDamaged, r)
		}
	}()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("earnings: open %s: %w", path, err)
		}
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		switch {
		case errors.Is(err, bolt.ErrTimeout):
			return nil, fmt.Errorf("earnings: open %s: %w", path, ErrLocked)
		case errors.Is(err, bolt.ErrInvalid), errors.Is(err, bolt.ErrChecksum), errors.Is(err, bolt.ErrVersionMismatch),
			strings.Contains(err.Error(), "file size too small"):
			return nil, fmt.Errorf("earnings: open %s: %w: %v", path, ErrDamaged, err)
		}
		return nil, fmt.Errorf("earnings: open %s: %w", path, err)
	}
	if err := checkFile(db); err != nil {
		db.Close()
		return nil, fmt.Errorf("earnings: open %s: %w", path, err)
	}
	// A file made by hand or by an older version may be readable by others.
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		_ = os.Chmod(path, 0o600)
	}
	if err := db.Update(migrate); err != nil {
		db.Close()
		return nil, fmt.Errorf("earnings: open %s: %w", path, err)
	}
	if db, err = compactIfSparse(db, path); err != nil {
		return nil, fmt.Errorf("earnings: open %s: %w", path, err)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Ledger{db: db, opts: opts, path: path}, nil
}

// compactMinSize is the smallest file compactIfSparse rewrites (a variable
// for the tests).
var compactMinSize int64 = 4 << 20

// compactIfSparse rewrites the file when less than a quarter of it is in
// use — after a migration the old schema's pages are free, and bbolt never
// shrinks a file; its own growth leaves at most half of a file unused — into
// a new file with full pages, which replaces it
// (rename), and reopens it. Until the rename the old file is untouched; a
// compaction that fails (a full disk) leaves it, valid, and is tried again
// at the next Open. It returns the open file, or an error when it could not
// reopen it.
func compactIfSparse(db *bolt.DB, path string) (*bolt.DB, error) {
	fi, err := os.Stat(path)
	if err != nil || fi.Size() < compactMinSize {
		return db, nil
	}
	var inUse int64
	_ = db.View(func(tx *bolt.Tx) error {
		st := db.Stats()
		inUse = tx.Size() - int64(st.FreePageN+st.PendingPageN)*int64(db.Info().PageSize)
		return nil
	})
	if inUse*4 > fi.Size() {
		return db, nil
	}
	tmp := path + ".compact"
	_ = os.Remove(tmp)
	dst, err := bolt.Open(tmp, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return db, nil
	}
	err = bolt.Compact(dst, db, 32<<20) // in transactions of 32 MB: bounded memory
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(tmp)
		return db, nil
	}
	if err := db.Close(); err != nil {
		_ = os.Remove(tmp)
		return nil, err
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
	} else if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync() // the rename itself must last
		d.Close()
	}
	db, err = bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, ErrLocked
	}
	return db, err
}

// checkFile runs bbolt's consistency check over every page (a few ms for a
// year of a home worker's jobs), turning a broken page's panic into ErrDamaged.
//
// bbolt follows page references without bounds checks, so a damaged file can
// make it read outside the mapped file: a fault, which crashes the process
// unless the goroutine asked for a panic instead (debug.SetPanicOnFault, set
// by Open, view and update). bbolt's checker runs in a goroutine of its own,
// so walkBucket first touches, in this one, every page and element the
// checker will follow.
func checkFile(db *bolt.DB) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", ErrDamaged, r)
		}
	}()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	return db.View(func(tx *bolt.Tx) error {
		if err := tx.ForEach(func(_ []byte, b *bolt.Bucket) error { return walkBucket(b) }); err != nil {
			return err
		}
		var first error
		for cerr := range tx.Check() { // drained: the checker goroutine ends
			if first == nil {
				first = fmt.Errorf("%w: %v", ErrDamaged, cerr)
			}
		}
		return first
	})
}

// walkBucket reads the first and last byte of every key and value in b and
// its nested buckets.
func walkBucket(b *bolt.Bucket) error {
	var sum byte
	err := b.ForEach(func(k, v []byte) error {
		if len(k) > 0 {
			sum ^= k[0] ^ k[len(k)-1]
		}
		if v == nil {
			if nb := b.Bucket(k); nb != nil {
				return walkBucket(nb)
			}
			return nil
		}
		if len(v) > 0 {
			sum ^= v[0] ^ v[len(v)-1]
		}
		return nil
	})
	walkSink = sum
	return err
}

var walkSink byte // keeps walkBucket's reads from being optimised away

// view and update run fn in a read or write transaction; a panic from a
// broken page, or a fault (see checkFile), becomes ErrDamaged (the
// transaction is rolled back).
func (l *Ledger) view(fn func(tx *bolt.Tx) error) (err error) {
	defer recoverDamage(&err)
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	return l.db.View(fn)
}

func (l *Ledger) update(fn func(tx *bolt.Tx) error) (err error) {
	defer recoverDamage(&err)
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	return l.db.Update(fn)
}

func recoverDamage(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("earnings: %w: %v", ErrDamaged, r)
	}
}

// Close closes the file.
func (l *Ledger) Close() error { return l.db.Close() }

// Path is the ledger's file.
func (l *Ledger) Path() string { return l.path }

// ledgerRecord is one stored job. Schema 2 stores it compactly (record.go);
// the JSON form is schema 1's, read by migrateV1toV2.
type ledgerRecord struct {
	Receipt    receipt.Signed `json:"receipt"`
	EnergyMJ   *int64         `json:"energy_mj,omitempty"` // measured energy, millijoules; nil: not measured
	CreditedAt int64          `json:"credited_at"`         // unix ms, the local clock when stored
}

// timeMS is the job's time for the indexes: the signed receipt time, or the
// credited time when the receipt has none.
func (r *ledgerRecord) timeMS() int64 { return timeMS(r.Receipt.Receipt.Time, r.CreditedAt) }

func timeMS(receiptTime, creditedAt int64) int64 {
	if receiptTime > 0 {
		return receiptTime
	}
	if creditedAt > 0 {
		return creditedAt
	}
	return 0
}

// Credit stores a receipt (the worker's Ledger interface). See CreditWithEnergy.
func (l *Ledger) Credit(r receipt.Signed) (added bool, err error) {
	return l.credit(r, nil)
}

// CreditWithEnergy stores a receipt with the energy the GPU used for the job,
// in joules (the caller integrates NVML power samples over the job's
// duration). The energy is stored as integer millijoules; the electricity
// cost is computed at query time with a Tariff, so it can change.
//
// In one transaction it checks and stores the receipt, its indexes, the
// aggregates and the running totals. It returns added=false and no error
// when the job is already stored with the same receipt (the energy of the
// retry is ignored). It refuses, storing nothing:
//   - a receipt not signed by Options.ProxyKey (ErrBadReceipt and receipt.ErrBadSignature),
//   - an amount that does not match its factors (ErrBadReceipt and ErrBadAmount),
//   - another worker's receipt (ErrWrongWorker),
//   - a cumulative total that goes backwards or is not previous + amount for
//     the next seq (ErrTotalMismatch),
//   - a job id stored with a different receipt (ErrJobConflict).
//
// A seq that skips ahead is accepted (cumulative ≥ previous + amount) and
// the skipped seqs are recorded as a gap; a late receipt for a seq in a gap
// is accepted when it fits between its neighbours, and fills it.
func (l *Ledger) CreditWithEnergy(r receipt.Signed, joules float64) (added bool, err error) {
	if math.IsNaN(joules) || math.IsInf(joules, 0) || joules < 0 || joules > 1e12 {
		return false, fmt.Errorf("earnings: credit %s: %w: %v J", r.Receipt.JobID, ErrBadEnergy, joules)
	}
	mj := int64(math.Round(joules * 1000))
	return l.credit(r, &mj)
}

func (l *Ledger) credit(r receipt.Signed, energyMJ *int64) (bool, error) {
	if err := l.checkReceipt(r); err != nil {
		return false, fmt.Errorf("earnings: credit %s: %w", r.Receipt.JobID, err)
	}
	rec := ledgerRecord{Receipt: r, EnergyMJ: energyMJ, CreditedAt: l.opts.Now().UnixMilli()}
	var added bool
	err := l.update(func(tx *bolt.Tx) error {
		var err error
		added, err = newStore(tx).apply(&rec, l.opts.WorkerID, true)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("earnings: credit %s: %w", r.Receipt.JobID, err)
	}
	return added, nil
}

// checkReceipt is everything about a receipt that needs no stored state.
func (l *Ledger) checkReceipt(s receipt.Signed) error {
	if err := checkShape(s.Receipt); err != nil {
		return err
	}
	if l.opts.WorkerID != "" && s.Receipt.WorkerID != l.opts.WorkerID {
		return fmt.Errorf("%w: receipt is for worker %q, this ledger is %q", ErrWrongWorker, s.Receipt.WorkerID, l.opts.WorkerID)
	}
	return verifySigned(s, l.opts.ProxyKey)
}

func checkShape(r receipt.Receipt) error {
	switch {
	case r.JobID == "" || len(r.JobID) > receipt.MaxJobIDLength:
		return fmt.Errorf("%w: job id %q", ErrBadReceipt, r.JobID)
	case r.WorkerID == "":
		return fmt.Errorf("%w: no worker id", ErrBadReceipt)
	case len(r.Model) > receipt.MaxModelName:
		return fmt.Errorf("%w: model name too long", ErrBadReceipt)
	case r.Seq < 1:
		return fmt.Errorf("%w: seq %d", ErrBadReceipt, r.Seq)
	case r.Amount < 0 || r.Cumulative < r.Amount:
		return fmt.Errorf("%w: amount %d, cumulative %d", ErrBadReceipt, r.Amount, r.Cumulative)
	case r.Time < 0:
		return fmt.Errorf("%w: time %d", ErrBadReceipt, r.Time)
	}
	return nil
}

// verifySigned checks the signature against pinned and the amount against
// its factors, with errors that tell the two apart.
func verifySigned(s receipt.Signed, pinned ed25519.PublicKey) error {
	if err := s.Verify(pinned); err != nil {
		if errors.Is(err, receipt.ErrBadSignature) {
			return fmt.Errorf("%w: %w", ErrBadReceipt, err)
		}
		return fmt.Errorf("%w: %w: %v", ErrBadReceipt, ErrBadAmount, err)
	}
	return nil
}

// failpoint, when set (tests only), is called at named steps inside write
// transactions; an error it returns aborts the transaction there.
var failpoint func(step string) error

func hitFailpoint(step string) error {
	if failpoint != nil {
		return failpoint(step)
	}
	return nil
}

// apply stores rec: record, indexes, gaps, aggregate, totals. strict is
// Credit's mode: any chain inconsistency is an error. Non-strict (migration)
// stores every receipt that has a seq of its own and leaves inconsistencies
// to Verify; it returns added=false for a job id or seq already stored.
func (s *store) apply(rec *ledgerRecord, wantWorker string, strict bool) (bool, error) {
	r := rec.Receipt.Receipt
	meta, gaps := s.meta, s.gaps

	seqs, err := s.findJob(r.JobID)
	if err != nil {
		return false, err
	}
	if len(seqs) > 0 {
		old, _, _, err := s.get(seqs[0])
		if err != nil {
			return false, err
		}
		if old.Receipt.Receipt == r || !strict {
			return false, nil
		}
		return false, fmt.Errorf("%w: job %s is stored as seq %d amount %d, this receipt says seq %d amount %d",
			ErrJobConflict, r.JobID, old.Receipt.Receipt.Seq, old.Receipt.Receipt.Amount, r.Seq, r.Amount)
	}

	bound := string(meta.Get(metaWorkerID))
	switch {
	case bound == "":
		if wantWorker != "" && r.WorkerID != wantWorker && strict {
			return false, fmt.Errorf("%w: receipt is for worker %q, this ledger is %q", ErrWrongWorker, r.WorkerID, wantWorker)
		}
		if err := meta.Put(metaWorkerID, []byte(r.WorkerID)); err != nil {
			return false, err
		}
	case bound != r.WorkerID && strict:
		return false, fmt.Errorf("%w: receipt is for worker %q, this ledger holds worker %q's receipts", ErrWrongWorker, r.WorkerID, bound)
	}

	lastSeq, earned := getI64(meta, metaLastSeq), getI64(meta, metaEarned)
	if v := s.recs.Get(be64(r.Seq)); v != nil {
		if !strict {
			return false, nil
		}
		other := "?"
		if h, err := peekRecord(v); err == nil {
			other = h.jobID
		}
		return false, fmt.Errorf("%w: seq %d is already job %s", ErrTotalMismatch, r.Seq, other)
	}
	extends := false
	switch {
	case r.Seq == lastSeq+1:
		if strict && r.Cumulative != earned+r.Amount {
			how := "is not previous + amount"
			if r.Cumulative < earned {
				how = "goes backwards"
			}
			return false, fmt.Errorf("%w: seq %d cumulative %d %s (previous %d + amount %d = %d)",
				ErrTotalMismatch, r.Seq, r.Cumulative, how, earned, r.Amount, earned+r.Amount)
		}
		extends = true
	case r.Seq > lastSeq+1:
		if strict && r.Cumulative < earned+r.Amount {
			return false, fmt.Errorf("%w: seq %d cumulative %d goes backwards (stored total %d at seq %d, amount %d)",
				ErrTotalMismatch, r.Seq, r.Cumulative, earned, lastSeq, r.Amount)
		}
		if err := gaps.Put(be64(lastSeq+1), be64(r.Seq-1)); err != nil {
			return false, err
		}
		extends = true
	default: // at or below the last seq: only a lost receipt, filling a gap, fits here.
		first, last, ok := gapContaining(gaps, r.Seq)
		if !ok {
			if strict {
				return false, fmt.Errorf("%w: seq %d is not after the last seq %d and not missing", ErrTotalMismatch, r.Seq, lastSeq)
			}
			break
		}
		if strict {
			if err := s.checkGapFill(r, first, last); err != nil {
				return false, err
			}
		}
		if err := gaps.Delete(be64(first)); err != nil {
			return false, err
		}
		if first < r.Seq {
			if err := gaps.Put(be64(first), be64(r.Seq-1)); err != nil {
				return false, err
			}
		}
		if r.Seq < last {
			if err := gaps.Put(be64(r.Seq+1), be64(last)); err != nil {
				return false, err
			}
		}
	}

	at := rec.timeMS()
	stray, err := s.place(r.Seq, timeKey(at, r.JobID))
	if err != nil {
		return false, err
	}
	if extends {
		s.recs.FillPercent = 1 // appending in seq order: fill the pages
	}
	if err := s.put(rec, stray); err != nil {
		return false, err
	}
	if err := hitFailpoint("credit:record"); err != nil {
		return false, err
	}
	if err := s.indexJob(r.JobID, r.Seq); err != nil {
		return false, err
	}
	if stray {
		if err := s.strays.Put(timeKey(at, r.JobID), be64(r.Seq)); err != nil {
			return false, err
		}
	}
	if err := hitFailpoint("credit:index"); err != nil {
		return false, err
	}
	s.agg.FillPercent = 0.9 // keys follow time too
	if err := addAgg(s.agg, at, r.Model, statsOf(rec)); err != nil {
		return false, err
	}
	if extends {
		if err := putI64(meta, metaLastSeq, r.Seq); err != nil {
			return false, err
		}
		if err := putI64(meta, metaEarned, r.Cumulative); err != nil {
			return false, err
		}
	}
	if err := hitFailpoint("credit:totals"); err != nil {
		return false, err
	}
	if err := addI64(meta, metaJobs, 1); err != nil {
		return false, err
	}
	if err := addI64(meta, metaCredited, r.Amount); err != nil {
		return false, err
	}
	if rec.EnergyMJ != nil {
		if err := addI64(meta, metaEnergyMJ, *rec.EnergyMJ); err != nil {
			return false, err
		}
	}
	return true, hitFailpoint("credit:end")
}

// checkGapFill checks that a late receipt for a missing seq fits between the
// stored receipts around its gap [first, last].
func (s *store) checkGapFill(r receipt.Receipt, first, last int64) error {
	base := r.Cumulative - r.Amount // the total before this job
	lo, loKnown := int64(0), first == 1
	if first > 1 {
		if rec, _, ok, err := s.get(first - 1); err != nil {
			return err
		} else if ok {
			lo, loKnown = rec.Receipt.Receipt.Cumulative, true
		}
	}
	if loKnown && (base < lo || (r.Seq == first && base != lo)) {
		return fmt.Errorf("%w: late seq %d: total before it %d does not follow seq %d's %d",
			ErrTotalMismatch, r.Seq, base, first-1, lo)
	}
	hiRec, _, ok, err := s.get(last + 1)
	if err != nil {
		return err
	}
	if ok {
		h := hiRec.Receipt.Receipt
		hiBase := h.Cumulative - h.Amount
		if r.Cumulative > hiBase || (r.Seq == last && r.Cumulative != hiBase) {
			return fmt.Errorf("%w: late seq %d: cumulative %d does not lead to seq %d's %d",
				ErrTotalMismatch, r.Seq, r.Cumulative, h.Seq, h.Cumulative)
		}
	}
	return nil
}

// gapContaining finds the recorded gap that contains seq.
func gapContaining(gaps *bolt.Bucket, seq int64) (first, last int64, ok bool) {
	c := gaps.Cursor()
	k, v := c.Seek(be64(seq))
	if k == nil || beInt(k) != seq {
		k, v = c.Prev()
	}
	if k == nil {
		return 0, 0, false
	}
	first, last = beInt(k), beInt(v)
	return first, last, first <= seq && seq <= last
}

// Balance is the ledger's running totals, all in nanoTON.
type Balance struct {
	Earned    int64 // lifetime: the latest signed cumulative total
	PaidOut   int64 // confirmed payouts
	Pending   int64 // payouts begun and not yet confirmed or failed
	Available int64 // Earned − PaidOut − Pending: what a payout may take now

	Jobs         int64 // receipts stored
	LastSeq      int64 // the highest receipt seq stored
	Credited     int64 // sum of the stored receipts' amounts; Earned − Credited is in missing receipts (gaps)
	EnergyMilliJ int64 // measured energy over all jobs, millijoules
	WorkerID     string
}

// Balance returns the running totals in O(1).
func (l *Ledger) Balance() (Balance, error) {
	var b Balance
	err := l.view(func(tx *bolt.Tx) error {
		b = readBalance(tx.Bucket(bucketMeta))
		return nil
	})
	return b, err
}

func readBalance(meta *bolt.Bucket) Balance {
	b := Balance{
		Earned:       getI64(meta, metaEarned),
		PaidOut:      getI64(meta, metaPaidOut),
		Pending:      getI64(meta, metaPending),
		Jobs:         getI64(meta, metaJobs),
		LastSeq:      getI64(meta, metaLastSeq),
		Credited:     getI64(meta, metaCredited),
		EnergyMilliJ: getI64(meta, metaEnergyMJ),
		WorkerID:     string(meta.Get(metaWorkerID)),
	}
	b.Available = b.Earned - b.PaidOut - b.Pending
	return b
}

// Totals returns the latest signed cumulative total and the number of stored
// receipts (the worker's Ledger interface), in O(1).
func (l *Ledger) Totals() (cumulative int64, count int, err error) {
	b, err := l.Balance()
	return b.Earned, int(b.Jobs), err
}

// aggStats is one aggregate value.
type aggStats struct {
	Jobs, Gross, Prompt, Completion, EnergyMJ, Metered int64
}

func statsOf(rec *ledgerRecord) aggStats {
	r := rec.Receipt.Receipt
	s := aggStats{Jobs: 1, Gross: r.Amount, Prompt: r.PromptTokens, Completion: r.CompletionTokens}
	if rec.EnergyMJ != nil {
		s.EnergyMJ, s.Metered = *rec.EnergyMJ, 1
	}
	return s
}

func (s *aggStats) add(o aggStats) {
	s.Jobs += o.Jobs
	s.Gross += o.Gross
	s.Prompt += o.Prompt
	s.Completion += o.Completion
	s.EnergyMJ += o.EnergyMJ
	s.Metered += o.Metered
}

// encode writes the six sums as varints: a quarter-hour of one model's jobs
// takes ~15 bytes instead of 48.
func (s aggStats) encode() []byte {
	b := make([]byte, 0, 6*binary.MaxVarintLen64)
	for _, v := range []int64{s.Jobs, s.Gross, s.Prompt, s.Completion, s.EnergyMJ, s.Metered} {
		b = binary.AppendVarint(b, v)
	}
	return b
}

// decodeAgg decodes a stored aggregate; nil (none stored) is all zero. It is
// on the path of every range query, so it reads the varints itself.
func decodeAgg(b []byte) (aggStats, error) {
	if b == nil {
		return aggStats{}, nil
	}
	var v [6]int64
	for i := range v {
		u, n := binary.Uvarint(b)
		if n <= 0 || n > 1 && b[n-1] == 0 {
			return aggStats{}, fmt.Errorf("%w: aggregate: sum %d: truncated, overflowing or not minimal", errBadRecord, i)
		}
		v[i] = int64(u>>1) ^ -int64(u&1) // zigzag
		b = b[n:]
	}
	if len(b) > 0 {
		return aggStats{}, fmt.Errorf("%w: aggregate: %d trailing bytes", errBadRecord, len(b))
	}
	return aggStats{v[0], v[1], v[2], v[3], v[4], v[5]}, nil
}

func aggKey(ms int64, model string) []byte {
	return append(be64(floorDiv(ms, quarterMS)), model...)
}

func addAgg(agg *bolt.Bucket, ms int64, model string, s aggStats) error {
	k := aggKey(ms, model)
	cur, err := decodeAgg(agg.Get(k))
	if err != nil {
		return fmt.Errorf("quarter %d model %q: %w", beInt(k), model, err)
	}
	cur.add(s)
	return agg.Put(k, cur.encode())
}

// Keys and integers.

func be64(v int64) []byte { return binary.BigEndian.AppendUint64(make([]byte, 0, 8), uint64(v)) }

func beInt(b []byte) int64 {
	if len(b) < 8 {
		return 0
	}
	return int64(binary.BigEndian.Uint64(b))
}

func timeKey(ms int64, id string) []byte { return append(be64(ms), id...) }

func getI64(b *bolt.Bucket, k []byte) int64 {
	v := b.Get(k)
	if len(v) != 8 {
		return 0
	}
	return int64(binary.BigEndian.Uint64(v))
}

func putI64(b *bolt.Bucket, k []byte, v int64) error { return b.Put(k, be64(v)) }

func addI64(b *bolt.Bucket, k []byte, d int64) error { return putI64(b, k, getI64(b, k)+d) }

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}
