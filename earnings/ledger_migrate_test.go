package earnings

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/cocoon-desktop/cocoon-desktop/receipt"
)

// TestLedgerMigrateV1 opens the schema-1 fixture files (written by the
// schema-1 code, testdata/ledger-v1) and checks that, once migrated, every
// query answers exactly what the schema-1 code answered on them, that a
// ledger built afresh from the same receipts answers the same, and that the
// migrated ledger stays idempotent by job id and takes the next receipt.
func TestLedgerMigrateV1(t *testing.T) {
	tests := []struct {
		name       string
		wantJobs   int
		wantReject bool // the file holds a receipt its first migration could not read
	}{
		{name: "empty"},
		{name: "history", wantJobs: 40},
		{name: "gaps", wantJobs: 10},
		{name: "out-of-order-times", wantJobs: 20},
		{name: "from-v0", wantJobs: 5, wantReject: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path, golden := loadFixture(t, "ledger-v1", tc.name)
			if v := rawSchema(t, path); v != 1 {
				t.Fatalf("fixture schema = %d, want 1", v)
			}
			l := openTest(t, path, Options{})
			got := snapshotLedger(t, l)
			sameSnapshot(t, "migrated", got, golden)
			if len(got.Jobs) != tc.wantJobs || got.VerifyOK == tc.wantReject {
				t.Errorf("%d jobs, Verify OK %v; want %d jobs, a reject %v", len(got.Jobs), got.VerifyOK, tc.wantJobs, tc.wantReject)
			}

			// The same scenario through schema-2 code from the start.
			for _, sc := range fixtureScenarios {
				if sc.name == tc.name {
					fresh := t.TempDir() + "/fresh.db"
					sc.build(t, fresh)
					fl := openTest(t, fresh, Options{})
					sameSnapshot(t, "built afresh", snapshotLedger(t, fl), golden)
				}
			}

			// Idempotent by job id: every stored receipt again is a no-op, the
			// same job id with another receipt a conflict.
			for _, j := range got.Jobs {
				if added, err := l.Credit(j.Receipt); added || err != nil {
					t.Fatalf("Credit(stored %s) = %v, %v; want a no-op", j.JobID, added, err)
				}
			}
			b := got.Balance
			next := src("next-job", b.LastSeq+1, func(r *receipt.Receipt) { r.Cumulative = b.Earned + jobAmount })
			if len(got.Jobs) > 0 {
				clash := src(got.Jobs[0].JobID, b.LastSeq+1, func(r *receipt.Receipt) { r.Cumulative = b.Earned + jobAmount })
				if _, err := l.Credit(clash); !errors.Is(err, ErrJobConflict) {
					t.Errorf("Credit(same job id, new seq) = %v, want ErrJobConflict", err)
				}
			}
			mustCredit(t, l, next)
			if added, err := l.Credit(next); added || err != nil {
				t.Errorf("Credit(next) again = %v, %v", added, err)
			}
			after, err := l.Balance()
			if err != nil || after.Jobs != b.Jobs+1 || after.Earned != b.Earned+jobAmount || after.LastSeq != b.LastSeq+1 {
				t.Errorf("Balance after the next receipt = %+v, %v (before %+v)", after, err, b)
			}
			rep, err := l.Verify()
			if err != nil || rep.OK() == tc.wantReject {
				t.Errorf("Verify after the next receipt: %v %v", err, rep.Problems)
			}
			l.Close()

			tamper(t, path, func(tx *bolt.Tx) error {
				if v := getI64(tx.Bucket(bucketMeta), metaSchema); v != SchemaVersion {
					t.Errorf("schema = %d", v)
				}
				for _, name := range [][]byte{v1Jobs, v1JobIDs, v1JobsByTime} {
					if tx.Bucket(name) != nil {
						t.Errorf("schema 1's %s bucket is still there", name)
					}
				}
				return nil
			})
		})
	}
}

// TestLedgerMigrateInterrupted fails the migration of a schema-1 file at a
// record and checks the file is left exactly as it was, then migrates it.
func TestLedgerMigrateInterrupted(t *testing.T) {
	tests := []struct {
		name   string
		failAt int // the record (1-based) whose migration fails
	}{
		{"first record", 1},
		{"a middle record", 20},
		{"last record", 40},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path, golden := loadFixture(t, "ledger-v1", "history")
			before, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			injected := errors.New("injected failure")
			n := 0
			failpoint = func(step string) error {
				if step == "migrate:record" {
					if n++; n == tc.failAt {
						return injected
					}
				}
				return nil
			}
			l, err := Open(path, Options{ProxyKey: proxyPub})
			failpoint = nil
			if err == nil {
				l.Close()
				t.Fatal("Open migrated despite the failure")
			}
			if !errors.Is(err, injected) {
				t.Fatalf("Open = %v, want the injected failure", err)
			}
			after, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(before, after) {
				t.Error("the failed migration changed the file")
			}
			if v := rawSchema(t, path); v != 1 {
				t.Errorf("schema after the failed migration = %d, want 1", v)
			}
			l = openTest(t, path, Options{})
			sameSnapshot(t, "migrated after a failed try", snapshotLedger(t, l), golden)
		})
	}
}

// TestLedgerMigrateCompacts checks that Open rewrites a migrated file that
// is mostly free pages into a smaller one that answers the same.
func TestLedgerMigrateCompacts(t *testing.T) {
	defer func(v int64) { compactMinSize = v }(compactMinSize)
	compactMinSize = 0 // the fixtures are small
	path, golden := loadFixture(t, "ledger-v1", "history")
	before, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	l := openTest(t, path, Options{})
	after, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if after.Size() >= before.Size() || after.Mode().Perm() != 0o600 {
		t.Errorf("file %d bytes (%v) after migrating, %d before", after.Size(), after.Mode(), before.Size())
	}
	if _, err := os.Stat(path + ".compact"); !os.IsNotExist(err) {
		t.Errorf("the compaction's temporary file: %v", err)
	}
	sameSnapshot(t, "migrated and compacted", snapshotLedger(t, l), golden)
	mustCredit(t, l, src("next-job", 41, func(r *receipt.Receipt) { r.Cumulative = golden.Balance.Earned + jobAmount }))
	l.Close()
	// A file that is mostly in use is left as it is.
	l = openTest(t, path, Options{})
	if again, _ := os.Stat(path); again.Size() != after.Size() {
		t.Errorf("reopening changed the file's size: %d → %d", after.Size(), again.Size())
	}
}

// TestLedgerMigrateV1Rejects migrates schema-1 files holding records that
// schema 2 cannot take: unreadable JSON, and two records with one seq (only
// a schema-0 migration could store those). They are kept as they were in
// migration_rejects, and Verify reports them.
func TestLedgerMigrateV1Rejects(t *testing.T) {
	jsonOf := func(r receipt.Signed) []byte {
		data, _ := json.Marshal(ledgerRecord{Receipt: r, CreditedAt: r.Receipt.Time})
		return data
	}
	tests := []struct {
		name        string
		put         map[string][]byte // extra schema-1 records: key → value
		wantJobs    int64
		wantRejects int
	}{
		{
			name:     "unreadable record",
			put:      map[string][]byte{string(append(be64(9), "bad"...)): []byte("{")},
			wantJobs: 3, wantRejects: 1,
		},
		{
			name:     "two records with one seq",
			put:      map[string][]byte{string(append(be64(2), "j2b"...)): jsonOf(src("j2b", 2))},
			wantJobs: 3, wantRejects: 1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path, _ := loadFixture(t, "ledger-v1", "empty")
			tamper(t, path, func(tx *bolt.Tx) error {
				jobs := tx.Bucket(v1Jobs)
				for i, id := range []string{"j1", "j2", "j3"} {
					if err := jobs.Put(append(be64(int64(i+1)), id...), jsonOf(src(id, int64(i+1)))); err != nil {
						return err
					}
				}
				for k, v := range tc.put {
					if err := jobs.Put([]byte(k), v); err != nil {
						return err
					}
				}
				return nil
			})
			l := openTest(t, path, Options{})
			b, err := l.Balance()
			if err != nil || b.Jobs != tc.wantJobs || b.Earned != 3*jobAmount {
				t.Errorf("Balance = %+v, %v", b, err)
			}
			rep, err := l.Verify()
			if err != nil || rep.OK() || rep.First().Kind != ProblemRecord {
				t.Errorf("Verify = %v, %v; want the rejects reported", rep.Problems, err)
			}
			var n int
			_ = l.view(func(tx *bolt.Tx) error { n = rejectCount(tx); return nil })
			if n != tc.wantRejects {
				t.Errorf("%d rejects, want %d", n, tc.wantRejects)
			}
		})
	}
}

func rawSchema(t *testing.T, path string) int64 {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v int64
	_ = db.View(func(tx *bolt.Tx) error {
		if meta := tx.Bucket(bucketMeta); meta != nil {
			v = getI64(meta, metaSchema)
		}
		return nil
	})
	return v
}

// sameSnapshot compares two snapshots field by field, as JSON.
func sameSnapshot(t *testing.T, what string, got, want ledgerSnapshot) {
	t.Helper()
	gv, wv := map[string]json.RawMessage{}, map[string]json.RawMessage{}
	gj, _ := json.Marshal(got)
	wj, _ := json.Marshal(want)
	_ = json.Unmarshal(gj, &gv)
	_ = json.Unmarshal(wj, &wv)
	for k, w := range wv {
		if g := gv[k]; !bytes.Equal(g, w) {
			t.Errorf("%s: %s differs:\n got  %s\n want %s", what, k, g, w)
		}
	}
}
