package earnings

import (
	"crypto/ed25519"
	"encoding/binary"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/cocoon-desktop/cocoon-desktop/receipt"
)

// The worker's Ledger interface, restated so this package need not import worker.
var _ interface {
	Credit(receipt.Signed) (bool, error)
	Totals() (int64, int, error)
	Close() error
} = (*Ledger)(nil)

const testWorker = "w-1"

// jobAmount is the amount of a default test receipt: (100×1000 + 50×3000) × 0.9.
const jobAmount = 225_000

// testKeys is a deterministic proxy key.
func testKeys(seed byte) (ed25519.PublicKey, ed25519.PrivateKey) {
	s := make([]byte, ed25519.SeedSize)
	for i := range s {
		s[i] = seed
	}
	priv := ed25519.NewKeyFromSeed(s)
	return priv.Public().(ed25519.PublicKey), priv
}

var proxyPub, proxyPriv = testKeys(7)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// rc is a valid receipt for seq in a contiguous chain of default jobs:
// cumulative = seq × jobAmount, time t0 + seq minutes.
func rc(job string, seq int64, mods ...func(*receipt.Receipt)) receipt.Receipt {
	r := receipt.Receipt{
		JobID: job, WorkerID: testWorker, Model: "llama3",
		PromptTokens: 100, CompletionTokens: 50, PricePrompt: 1000, PriceCompletion: 3000,
		CoefficientMilli: 1000, CommissionBPS: 1000,
		Amount: jobAmount, Cumulative: seq * jobAmount, Seq: seq,
		Time: t0.Add(time.Duration(seq) * time.Minute).UnixMilli(),
	}
	for _, m := range mods {
		m(&r)
	}
	return r
}

func sign(r receipt.Receipt) receipt.Signed { return receipt.Sign(proxyPriv, r) }

func src(job string, seq int64, mods ...func(*receipt.Receipt)) receipt.Signed {
	return sign(rc(job, seq, mods...))
}

// withTokens changes the tokens and recomputes amount and cumulative (from prevCum).
func withTokens(prompt, completion, prevCum int64) func(*receipt.Receipt) {
	return func(r *receipt.Receipt) {
		r.PromptTokens, r.CompletionTokens = prompt, completion
		a, err := receipt.Amount(prompt, completion, r.PricePrompt, r.PriceCompletion, r.CoefficientMilli, r.CommissionBPS)
		if err != nil {
			panic(err)
		}
		r.Amount, r.Cumulative = a, prevCum+a
	}
}

func openTest(t testing.TB, path string, opts Options) *Ledger {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "ledger.db")
	}
	if opts.ProxyKey == nil {
		opts.ProxyKey = proxyPub
	}
	l, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func mustCredit(t testing.TB, l *Ledger, rs ...receipt.Signed) {
	t.Helper()
	for _, r := range rs {
		if added, err := l.Credit(r); err != nil || !added {
			t.Fatalf("Credit(%s seq %d) = %v, %v; want added", r.Receipt.JobID, r.Receipt.Seq, added, err)
		}
	}
}

func mustVerifyOK(t testing.TB, l *Ledger) Report {
	t.Helper()
	rep, err := l.Verify()
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if !rep.OK() {
		t.Fatalf("Verify found problems: %v", rep.Problems)
	}
	return rep
}

func TestLedgerCredit(t *testing.T) {
	type step struct {
		r       receipt.Signed
		energyJ float64 // > 0: CreditWithEnergy
		added   bool
		err     error // errors.Is
	}
	ok := func(r receipt.Signed) step { return step{r: r, added: true} }
	badSig := src("j2", 2)
	badSig.Signature[0] ^= 1
	otherPub, otherPriv := testKeys(9)
	_ = otherPub
	tests := []struct {
		name       string
		opts       Options
		steps      []step
		wantEarned int64
		wantJobs   int64
		wantGaps   []Gap
	}{
		{
			name:       "happy path",
			steps:      []step{ok(src("j1", 1)), ok(src("j2", 2)), ok(src("j3", 3, withTokens(1000, 0, 2*jobAmount)))},
			wantEarned: 2*jobAmount + 900_000, wantJobs: 3,
		},
		{
			name:       "with energy",
			steps:      []step{{r: src("j1", 1), energyJ: 1234.5678, added: true}, ok(src("j2", 2))},
			wantEarned: 2 * jobAmount, wantJobs: 2,
		},
		{
			name:       "idempotent by job id",
			steps:      []step{ok(src("j1", 1)), ok(src("j2", 2)), {r: src("j2", 2), added: false}, {r: src("j1", 1), added: false}},
			wantEarned: 2 * jobAmount, wantJobs: 2,
		},
		{
			name:       "same job id, different receipt",
			steps:      []step{ok(src("j1", 1)), {r: src("j1", 2), err: ErrJobConflict}},
			wantEarned: jobAmount, wantJobs: 1,
		},
		{
			name:       "wrong worker (configured)",
			opts:       Options{WorkerID: testWorker},
			steps:      []step{ok(src("j1", 1)), {r: src("j2", 2, func(r *receipt.Receipt) { r.WorkerID = "w-2" }), err: ErrWrongWorker}},
			wantEarned: jobAmount, wantJobs: 1,
		},
		{
			name:       "wrong worker (bound by the first receipt)",
			steps:      []step{ok(src("j1", 1)), {r: src("j2", 2, func(r *receipt.Receipt) { r.WorkerID = "w-2" }), err: ErrWrongWorker}},
			wantEarned: jobAmount, wantJobs: 1,
		},
		{
			name:       "bad signature",
			steps:      []step{ok(src("j1", 1)), {r: badSig, err: receipt.ErrBadSignature}},
			wantEarned: jobAmount, wantJobs: 1,
		},
		{
			name:       "signed by another proxy",
			steps:      []step{{r: receipt.Sign(otherPriv, rc("j1", 1)), err: receipt.ErrBadSignature}},
			wantEarned: 0, wantJobs: 0,
		},
		{
			name: "amount does not match its factors",
			steps: []step{{r: src("j1", 1, func(r *receipt.Receipt) { r.Amount, r.Cumulative = jobAmount+1, jobAmount+1 }),
				err: ErrBadAmount}},
		},
		{
			name:       "cumulative goes backwards",
			steps:      []step{ok(src("j1", 1)), ok(src("j2", 2)), {r: src("j3", 3, func(r *receipt.Receipt) { r.Cumulative = 2*jobAmount - 1 }), err: ErrTotalMismatch}},
			wantEarned: 2 * jobAmount, wantJobs: 2,
		},
		{
			name:       "cumulative is not previous + amount",
			steps:      []step{ok(src("j1", 1)), {r: src("j2", 2, func(r *receipt.Receipt) { r.Cumulative++ }), err: ErrTotalMismatch}},
			wantEarned: jobAmount, wantJobs: 1,
		},
		{
			name:       "seq already used by another job",
			steps:      []step{ok(src("j1", 1)), ok(src("j2", 2)), {r: src("j2b", 2), err: ErrTotalMismatch}},
			wantEarned: 2 * jobAmount, wantJobs: 2,
		},
		{
			name:       "malformed: seq 0",
			steps:      []step{{r: src("j0", 0, func(r *receipt.Receipt) { r.Cumulative = jobAmount }), err: ErrBadReceipt}},
			wantEarned: 0, wantJobs: 0,
		},
		{
			name:  "bad energy",
			steps: []step{{r: src("j1", 1), energyJ: -1, err: ErrBadEnergy}},
		},
		{
			name:       "gap: seq skips ahead",
			steps:      []step{ok(src("j1", 1)), ok(src("j4", 4)), ok(src("j5", 5))},
			wantEarned: 5 * jobAmount, wantJobs: 3,
			wantGaps: []Gap{{FromSeq: 2, ToSeq: 3, Missing: 2 * jobAmount}},
		},
		{
			name:       "gap at the start",
			steps:      []step{ok(src("j3", 3))},
			wantEarned: 3 * jobAmount, wantJobs: 1,
			wantGaps: []Gap{{FromSeq: 1, ToSeq: 2, Missing: 2 * jobAmount}},
		},
		{
			name: "gap: skip ahead with a total below previous + amount",
			steps: []step{ok(src("j1", 1)),
				{r: src("j4", 4, func(r *receipt.Receipt) { r.Cumulative = 2*jobAmount - 1 }), err: ErrTotalMismatch}},
			wantEarned: jobAmount, wantJobs: 1,
		},
		{
			name:       "gap filled by late receipts",
			steps:      []step{ok(src("j1", 1)), ok(src("j5", 5)), ok(src("j3", 3)), ok(src("j2", 2)), {r: src("j3", 3)}},
			wantEarned: 5 * jobAmount, wantJobs: 4,
			wantGaps: []Gap{{FromSeq: 4, ToSeq: 4, Missing: jobAmount}},
		},
		{
			name: "late receipt that does not fit its gap",
			steps: []step{ok(src("j1", 1)), ok(src("j4", 4)),
				{r: src("j2", 2, func(r *receipt.Receipt) { r.Cumulative = 3 * jobAmount }), err: ErrTotalMismatch},
				{r: src("j3", 3, func(r *receipt.Receipt) { r.Cumulative = 4 * jobAmount }), err: ErrTotalMismatch}},
			wantEarned: 4 * jobAmount, wantJobs: 2,
			wantGaps: []Gap{{FromSeq: 2, ToSeq: 3, Missing: 2 * jobAmount}},
		},
		{
			name: "old seq that is not missing",
			steps: []step{ok(src("j1", 1)), ok(src("j2", 2)),
				{r: src("j1b", 1), err: ErrTotalMismatch}},
			wantEarned: 2 * jobAmount, wantJobs: 2,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := openTest(t, "", tc.opts)
			for i, s := range tc.steps {
				var added bool
				var err error
				if s.energyJ != 0 {
					added, err = l.CreditWithEnergy(s.r, s.energyJ)
				} else {
					added, err = l.Credit(s.r)
				}
				if s.err != nil {
					if !errors.Is(err, s.err) {
						t.Fatalf("step %d (%s): err = %v, want %v", i, s.r.Receipt.JobID, err, s.err)
					}
					if added {
						t.Fatalf("step %d: added with an error", i)
					}
					continue
				}
				if err != nil || added != s.added {
					t.Fatalf("step %d (%s): Credit = %v, %v; want %v, nil", i, s.r.Receipt.JobID, added, err, s.added)
				}
			}
			earned, n, err := l.Totals()
			if err != nil || earned != tc.wantEarned || int64(n) != tc.wantJobs {
				t.Errorf("Totals = %d, %d, %v; want %d, %d", earned, n, err, tc.wantEarned, tc.wantJobs)
			}
			b, _ := l.Balance()
			if b.Available != tc.wantEarned {
				t.Errorf("Available = %d, want %d", b.Available, tc.wantEarned)
			}
			gaps, err := l.Gaps()
			if err != nil || !equalGaps(gaps, tc.wantGaps) {
				t.Errorf("Gaps = %+v, %v; want %+v", gaps, err, tc.wantGaps)
			}
			rep := mustVerifyOK(t, l)
			if rep.Jobs != tc.wantJobs || !equalGaps(rep.Gaps, tc.wantGaps) {
				t.Errorf("Verify: jobs %d gaps %+v; want %d, %+v", rep.Jobs, rep.Gaps, tc.wantJobs, tc.wantGaps)
			}
		})
	}
}

func equalGaps(a, b []Gap) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestLedgerStoresJobDetails(t *testing.T) {
	l := openTest(t, "", Options{Now: func() time.Time { return t0.Add(time.Hour) }})
	if _, err := l.CreditWithEnergy(src("j1", 1), 3600.0004); err != nil {
		t.Fatal(err)
	}
	mustCredit(t, l, src("j2", 2, func(r *receipt.Receipt) { r.Model = "qwen" }))
	jobs, _, err := l.Jobs("", 10)
	if err != nil || len(jobs) != 2 {
		t.Fatalf("Jobs = %d, %v", len(jobs), err)
	}
	j2, j1 := jobs[0], jobs[1]
	if j1.JobID != "j1" || j1.Model != "llama3" || j1.PromptTokens != 100 || j1.CompletionTokens != 50 ||
		j1.Amount != jobAmount || j1.Cumulative != jobAmount || j1.Seq != 1 ||
		!j1.Time.Equal(t0.Add(time.Minute)) || !j1.CreditedAt.Equal(t0.Add(time.Hour)) {
		t.Errorf("job 1 = %+v", j1)
	}
	if !j1.EnergyMeasured || j1.EnergyMilliJ != 3_600_000 {
		t.Errorf("job 1 energy = %v %d mJ, want 3600000", j1.EnergyMeasured, j1.EnergyMilliJ)
	}
	if j2.Model != "qwen" || j2.EnergyMeasured {
		t.Errorf("job 2 = %+v", j2)
	}
	// 1 Wh = 3600 J at 1 TON/kWh costs 0.001 TON.
	if got := j1.Net(Tariff{PerKWhNano: 1e9}); got != jobAmount-1_000_000 {
		t.Errorf("Net = %d", got)
	}
	if err := j1.Receipt.Verify(proxyPub); err != nil {
		t.Errorf("stored receipt does not verify: %v", err)
	}
	b, _ := l.Balance()
	if b.EnergyMilliJ != 3_600_000 || b.Credited != 2*jobAmount || b.LastSeq != 2 || b.WorkerID != testWorker {
		t.Errorf("Balance = %+v", b)
	}
}

func TestLedgerOpenLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "ledger.db")
	l := openTest(t, path, Options{})
	mustCredit(t, l, src("j1", 1))
	// The second Open must give up (after its lock timeout of about 1 s)
	// rather than wait for the first to close: bounded generously, as a
	// hang check, not a timing assertion.
	type opened struct {
		l   *Ledger
		err error
	}
	res := make(chan opened, 1)
	go func() {
		l2, err := Open(path, Options{ProxyKey: proxyPub})
		res <- opened{l2, err}
	}()
	var l2 *Ledger
	var err error
	select {
	case r := <-res:
		l2, err = r.l, r.err
	case <-time.After(30 * time.Second):
		t.Fatal("a second Open of a ledger in use still waits after 30 s; it must fail with ErrLocked")
	}
	if err == nil {
		l2.Close()
		t.Fatal("second Open succeeded")
	}
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "another Cocoon Desktop is using the ledger") {
		t.Errorf("err = %v, want ErrLocked", err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("file mode = %v, %v; want 0600", fi.Mode().Perm(), err)
	}
	// After Close the file opens again, with its contents.
	l.Close()
	l3 := openTest(t, path, Options{})
	if cum, n, _ := l3.Totals(); cum != jobAmount || n != 1 {
		t.Errorf("reopened Totals = %d, %d", cum, n)
	}
}

func TestLedgerCreditWithoutProxyKey(t *testing.T) {
	l, err := Open(filepath.Join(t.TempDir(), "l.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := l.Credit(src("j1", 1)); !errors.Is(err, receipt.ErrBadSignature) {
		t.Errorf("Credit without a pinned key: %v", err)
	}
	if _, err := l.Balance(); err != nil {
		t.Errorf("Balance: %v", err)
	}
}

func TestLedgerClosedFails(t *testing.T) {
	l := openTest(t, "", Options{})
	l.Close()
	if _, err := l.Credit(src("j1", 1)); err == nil {
		t.Error("Credit on a closed ledger succeeded")
	}
}

// writeV0 writes the worker's old receipts.db layout with raw bbolt.
func writeV0(t *testing.T, path string, rs []receipt.Signed, cumulative int64) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		rb, err := tx.CreateBucket([]byte("receipts"))
		if err != nil {
			return err
		}
		meta, err := tx.CreateBucket([]byte("meta"))
		if err != nil {
			return err
		}
		for _, r := range rs {
			data, _ := json.Marshal(r)
			if err := rb.Put([]byte(r.Receipt.JobID), data); err != nil {
				return err
			}
		}
		_ = meta.Put([]byte("cumulative"), binary.BigEndian.AppendUint64(nil, uint64(cumulative)))
		return meta.Put([]byte("count"), binary.BigEndian.AppendUint64(nil, uint64(len(rs))))
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestLedgerMigrateV0(t *testing.T) {
	tests := []struct {
		name       string
		receipts   []receipt.Signed
		wantEarned int64
		wantGaps   []Gap
	}{
		{name: "empty v0 file"},
		{
			name:       "contiguous",
			receipts:   []receipt.Signed{src("b", 2), src("a", 1), src("c", 3)},
			wantEarned: 3 * jobAmount,
		},
		{
			name:       "with a lost receipt",
			receipts:   []receipt.Signed{src("a", 1), src("d", 4), src("b", 2)},
			wantEarned: 4 * jobAmount,
			wantGaps:   []Gap{{FromSeq: 3, ToSeq: 3, Missing: jobAmount}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "receipts.db")
			writeV0(t, path, tc.receipts, 999) // a stale cumulative: the totals must be rebuilt
			l := openTest(t, path, Options{})
			cum, n, err := l.Totals()
			if err != nil || cum != tc.wantEarned || n != len(tc.receipts) {
				t.Errorf("Totals = %d, %d, %v; want %d, %d", cum, n, err, tc.wantEarned, len(tc.receipts))
			}
			jobs, _, _ := l.Jobs("", 100)
			if len(jobs) != len(tc.receipts) {
				t.Errorf("Jobs = %d, want %d", len(jobs), len(tc.receipts))
			}
			for _, j := range jobs {
				if err := j.Receipt.Verify(proxyPub); err != nil {
					t.Errorf("migrated receipt %s: %v", j.JobID, err)
				}
			}
			rep := mustVerifyOK(t, l)
			if !equalGaps(rep.Gaps, tc.wantGaps) {
				t.Errorf("gaps = %+v, want %+v", rep.Gaps, tc.wantGaps)
			}
			// The migrated ledger takes the next receipt.
			next := int64(len(tc.receipts)) + 1
			if len(tc.wantGaps) > 0 {
				next = 5
			}
			mustCredit(t, l, src("next", next))
			l.Close()
			db, err := bolt.Open(path, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			_ = db.View(func(tx *bolt.Tx) error {
				if tx.Bucket([]byte("receipts")) != nil {
					t.Error("the old receipts bucket is still there")
				}
				if v := getI64(tx.Bucket(bucketMeta), metaSchema); v != SchemaVersion {
					t.Errorf("schema = %d", v)
				}
				if tx.Bucket(bucketMeta).Get([]byte("cumulative")) != nil {
					t.Error("the old cumulative key is still there")
				}
				return nil
			})
		})
	}
}

func TestLedgerNewerSchemaRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "l.db")
	l := openTest(t, path, Options{})
	l.Close()
	db, _ := bolt.Open(path, 0o600, nil)
	_ = db.Update(func(tx *bolt.Tx) error { return putI64(tx.Bucket(bucketMeta), metaSchema, SchemaVersion+1) })
	db.Close()
	if _, err := Open(path, Options{}); !errors.Is(err, ErrNewerSchema) {
		t.Errorf("Open = %v, want ErrNewerSchema", err)
	}
}

// tamper edits the closed ledger file with raw bbolt.
func tamper(t *testing.T, path string, f func(tx *bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(f); err != nil {
		t.Fatal(err)
	}
	db.Close()
}

func TestLedgerVerifyFindsTampering(t *testing.T) {
	tests := []struct {
		name     string
		tamper   func(t *testing.T, tx *bolt.Tx) error
		wantKind string
		wantJob  string
	}{
		{
			name: "a receipt's token count", wantKind: ProblemSignature, wantJob: "j2",
			tamper: func(t *testing.T, tx *bolt.Tx) error {
				s := newStore(tx)
				rec, h, ok, err := s.get(2)
				if err != nil || !ok {
					t.Fatalf("record 2: %v", err)
				}
				rec.Receipt.Receipt.PromptTokens = 110 // and the amount follows its factors: only the signature tells
				rec.Receipt.Receipt.Amount, _ = receipt.Amount(110, 50, 1000, 3000, 1000, 1000)
				return s.put(&rec, h.stray())
			},
		},
		{
			name: "a byte of a record", wantKind: ProblemRecord, wantJob: "j2",
			tamper: func(t *testing.T, tx *bolt.Tx) error {
				b := tx.Bucket(bucketRecords)
				v := append([]byte(nil), b.Get(be64(2))...)
				v = append(v, 0) // a trailing byte
				return b.Put(be64(2), v)
			},
		},
		{
			name: "a signature byte", wantKind: ProblemSignature, wantJob: "j2",
			tamper: func(t *testing.T, tx *bolt.Tx) error {
				b := tx.Bucket(bucketRecords)
				v := append([]byte(nil), b.Get(be64(2))...)
				v[len(v)-1] ^= 1
				return b.Put(be64(2), v)
			},
		},
		{
			name: "the earned total", wantKind: ProblemTotals,
			tamper: func(t *testing.T, tx *bolt.Tx) error {
				return putI64(tx.Bucket(bucketMeta), metaEarned, 10*jobAmount)
			},
		},
		{
			name: "a record deleted", wantKind: ProblemIndex,
			tamper: func(t *testing.T, tx *bolt.Tx) error {
				return tx.Bucket(bucketRecords).Delete(be64(3))
			},
		},
		{
			name: "an aggregate", wantKind: ProblemAggregate,
			tamper: func(t *testing.T, tx *bolt.Tx) error {
				k := aggKey(t0.Add(time.Minute).UnixMilli(), "llama3")
				s, err := decodeAgg(tx.Bucket(bucketAgg).Get(k))
				if err != nil {
					t.Fatal(err)
				}
				s.Gross++
				return tx.Bucket(bucketAgg).Put(k, s.encode())
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "l.db")
			l := openTest(t, path, Options{})
			mustCredit(t, l, src("j1", 1), src("j2", 2), src("j3", 3))
			mustVerifyOK(t, l)
			l.Close()
			tamper(t, path, func(tx *bolt.Tx) error { return tc.tamper(t, tx) })
			l = openTest(t, path, Options{})
			rep, err := l.Verify()
			if err != nil {
				t.Fatal(err)
			}
			first := rep.First()
			if first == nil {
				t.Fatal("Verify found nothing")
			}
			if first.Kind != tc.wantKind || first.JobID != tc.wantJob {
				t.Errorf("first problem = %v; want kind %s job %q (all: %v)", first, tc.wantKind, tc.wantJob, rep.Problems)
			}
		})
	}
}

// TestLedgerAtomicWrites fails each write transaction at each of its steps
// and checks nothing of it was stored.
func TestLedgerAtomicWrites(t *testing.T) {
	type state struct {
		Balance Balance
		Jobs    []string
		Days    []DayTotal
		Gaps    []Gap
		Payouts []Payout
	}
	snapshot := func(t *testing.T, l *Ledger) state {
		var s state
		var err error
		if s.Balance, err = l.Balance(); err != nil {
			t.Fatal(err)
		}
		jobs, _, _ := l.Jobs("", 100)
		for _, j := range jobs {
			s.Jobs = append(s.Jobs, j.JobID)
		}
		s.Days, _ = l.Daily(t0.Add(-24*time.Hour), t0.Add(24*time.Hour), Tariff{PerKWhNano: 1e8})
		s.Gaps, _ = l.Gaps()
		s.Payouts, _ = l.Payouts(0)
		return s
	}
	tests := []struct {
		step string
		op   func(l *Ledger) error
	}{
		{"credit:record", func(l *Ledger) error { _, err := l.CreditWithEnergy(src("j4", 4), 10); return err }},
		{"credit:index", func(l *Ledger) error { _, err := l.Credit(src("j4", 4)); return err }},
		{"credit:totals", func(l *Ledger) error { _, err := l.Credit(src("j6", 6)); return err }}, // with a gap
		{"credit:end", func(l *Ledger) error { _, err := l.Credit(src("j4", 4)); return err }},
		{"pay out:record", func(l *Ledger) error {
			return l.BeginPayout(Payout{ID: "w2", Amount: 1000, Destination: "UQdest"})
		}},
		{"pay out:totals", func(l *Ledger) error { return l.MarkConfirmed("w1", "tx1", time.Time{}) }},
	}
	for _, tc := range tests {
		t.Run(tc.step, func(t *testing.T) {
			l := openTest(t, "", Options{})
			mustCredit(t, l, src("j1", 1), src("j2", 2), src("j3", 3))
			if err := l.BeginPayout(Payout{ID: "w1", Amount: 5000, Destination: "UQdest"}); err != nil {
				t.Fatal(err)
			}
			before := snapshot(t, l)
			injected := errors.New("injected failure")
			hit := false
			failpoint = func(step string) error {
				if step == tc.step {
					hit = true
					return injected
				}
				return nil
			}
			err := tc.op(l)
			failpoint = nil
			if !hit || !errors.Is(err, injected) {
				t.Fatalf("op: hit %v, err %v", hit, err)
			}
			after := snapshot(t, l)
			bj, _ := json.Marshal(before)
			aj, _ := json.Marshal(after)
			if string(bj) != string(aj) {
				t.Errorf("state changed by a failed write:\nbefore %s\nafter  %s", bj, aj)
			}
			mustVerifyOK(t, l)
			// The same write succeeds afterwards.
			if err := tc.op(l); err != nil {
				t.Errorf("retry: %v", err)
			}
			mustVerifyOK(t, l)
		})
	}
}
