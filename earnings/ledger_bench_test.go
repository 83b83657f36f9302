package earnings

import (
	"crypto/ed25519"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/cocoon-desktop/cocoon-desktop/receipt"
)

// Benchmarks. Run them with, for example:
//
//	go test ./earnings/ -run '^$' -bench . -benchtime 2000x
//	COCOON_BENCH_JOBS=1000000 go test ./earnings/ -run '^$' -bench LedgerQueries -benchtime 200x
//
// BenchmarkCredit is the real path (signature check + one fsynced bbolt
// transaction per receipt). BenchmarkLedgerQueries fills a ledger with
// COCOON_BENCH_JOBS jobs (default 100000; COCOON_BENCH_UNSIGNED=1 skips the
// signing for a faster fill) spread over 90 days, then times
// Balance, a 30-day Daily, ByModel and a Jobs page, and logs the fill rate,
// the file size per job and the time of one Verify.

// BenchmarkCredit measures Credit: ed25519 verify, amount check and one bbolt
// transaction per receipt, with the fsync (the real cost on a desktop disk)
// and without it (the CPU cost).
func BenchmarkCredit(b *testing.B) {
	for _, sync := range []bool{true, false} {
		name := "fsync"
		if !sync {
			name = "nosync"
		}
		b.Run(name, func(b *testing.B) {
			rs := make([]receipt.Signed, b.N)
			for i := range rs {
				rs[i] = src(fmt.Sprintf("job-%08d", i), int64(i+1), at(t0.Add(time.Duration(i)*time.Second)))
			}
			l := openTest(b, filepath.Join(b.TempDir(), "l.db"), Options{})
			l.db.NoSync = !sync
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := l.CreditWithEnergy(rs[i], 120.5); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "receipts/s")
		})
	}
}

// BenchmarkVerifyReceipt is the signature + amount check alone.
func BenchmarkVerifyReceipt(b *testing.B) {
	r := src("job", 1)
	for b.Loop() {
		if err := verifySigned(r, proxyPub); err != nil {
			b.Fatal(err)
		}
	}
}

func benchJobs() int {
	if s := os.Getenv("COCOON_BENCH_JOBS"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			return n
		}
	}
	return 100_000
}

// fillLedger bulk-inserts n jobs through store.apply (the same code Credit
// runs inside its transaction: chain checks, indexes, aggregates, totals) in
// transactions of 10,000 receipts, with fsync off until the end. It skips
// Credit's per-receipt signature check; the receipts are really signed
// (on every core, before each batch) so that the file is representative and
// Verify has real work, unless unsigned is set: then they carry a stand-in
// 64-byte signature (fill speed only; Verify reports them all). Jobs are
// spread evenly over the 90 days before end, over three models, each with an
// energy measurement, and job ids of the proxy's form ("job-" + 32 hex digits).
// It returns the time spent signing and inserting.
func fillLedger(tb testing.TB, l *Ledger, n int, end time.Time, unsigned bool) (signing, inserting time.Duration) {
	const batch = 10_000
	models := []string{"llama3.2:3b", "qwen2.5:7b", "mistral:7b"}
	span := int64(90 * 24 * time.Hour / time.Millisecond)
	start := end.UnixMilli() - span
	stand := make([]byte, ed25519.SignatureSize)
	l.db.NoSync = true
	defer func() { l.db.NoSync = false }()
	var cum int64
	recs := make([]ledgerRecord, 0, batch)
	for done := 0; done < n; {
		began := time.Now()
		recs = recs[:0]
		for ; len(recs) < batch && done < n; done++ {
			r := rc(fmt.Sprintf("job-%016x%016x", uint64(done)*0x9e3779b97f4a7c15, uint64(done)*0xc2b2ae3d27d4eb4f), int64(done+1),
				withTokens(int64(200+done%300), int64(100+done%700), cum),
				model(models[done%len(models)]),
				at(time.UnixMilli(start+span*int64(done)/int64(n))))
			cum = r.Cumulative
			mj := int64(150_000 + done%50_000)
			recs = append(recs, ledgerRecord{
				Receipt:    receipt.Signed{Receipt: r, ProxyKey: proxyPub, Signature: stand},
				EnergyMJ:   &mj,
				CreditedAt: r.Time + 50,
			})
		}
		if !unsigned {
			var wg sync.WaitGroup
			workers := runtime.GOMAXPROCS(0)
			for w := range workers {
				wg.Go(func() {
					for i := w; i < len(recs); i += workers {
						recs[i].Receipt = receipt.Sign(proxyPriv, recs[i].Receipt.Receipt)
					}
				})
			}
			wg.Wait()
		}
		signing += time.Since(began)
		began = time.Now()
		err := l.db.Update(func(tx *bolt.Tx) error {
			s := newStore(tx)
			for i := range recs {
				if _, err := s.apply(&recs[i], "", true); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
		inserting += time.Since(began)
	}
	began := time.Now()
	if err := l.db.Sync(); err != nil {
		tb.Fatal(err)
	}
	return signing, inserting + time.Since(began)
}

// BenchmarkLedgerQueries fills a ledger (see fillLedger) and times the
// queries the earnings screen makes.
func BenchmarkLedgerQueries(b *testing.B) {
	n := benchJobs()
	path := filepath.Join(b.TempDir(), "ledger.db")
	l := openTest(b, path, Options{})
	end := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	unsigned := os.Getenv("COCOON_BENCH_UNSIGNED") != ""
	signing, took := fillLedger(b, l, n, end, unsigned)
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("filled %d jobs: signing %v, inserting %v (%.0f jobs/s in batches of 10k); file %d bytes = %.1f MB, %.0f bytes/job (%.0f MB per 1M jobs)",
		n, signing.Round(time.Millisecond), took.Round(time.Millisecond), float64(n)/took.Seconds(), fi.Size(), float64(fi.Size())/1e6,
		float64(fi.Size())/float64(n), float64(fi.Size())/float64(n))
	var used int64
	_ = l.db.View(func(tx *bolt.Tx) error { used = tx.Size(); return nil })
	b.Logf("pages in use: %d bytes = %.0f bytes/job (bbolt grows the file ahead of use)", used, float64(used)/float64(n))
	b.Logf("per job: %s", pagesPerJob(l.db, n))
	if bal, err := l.Balance(); err != nil || bal.Jobs != int64(n) {
		b.Fatalf("balance %+v, %v", bal, err)
	}

	zone := time.FixedZone("UTC+1", 3600)
	to := end.In(zone)
	from := to.AddDate(0, 0, -30)
	tariff := Tariff{PerKWhNano: 100_000_000}
	b.Run("Balance", func(b *testing.B) {
		for b.Loop() {
			if _, err := l.Balance(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Daily30d", func(b *testing.B) {
		for b.Loop() {
			rows, err := l.Daily(from, to, tariff)
			if err != nil || len(rows) < 30 {
				b.Fatal(len(rows), err)
			}
		}
	})
	b.Run("Monthly90d", func(b *testing.B) {
		for b.Loop() {
			if _, err := l.Aggregate(PeriodMonth, to.AddDate(0, 0, -90), to, tariff); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ByModel30d", func(b *testing.B) {
		for b.Loop() {
			rows, err := l.ByModel(from.Add(7*time.Minute), to.Add(-7*time.Minute)) // not on quarter hours: edges scanned
			if err != nil || len(rows) != 3 {
				b.Fatal(rows, err)
			}
		}
	})
	b.Run("JobsPage50", func(b *testing.B) {
		for b.Loop() {
			if jobs, _, err := l.Jobs(CursorBefore(to.AddDate(0, 0, -15)), 50); err != nil || len(jobs) != 50 {
				b.Fatal(len(jobs), err)
			}
		}
	})
	// Verify reads and checks every receipt: timed once, not in a loop.
	began := time.Now()
	rep, err := l.Verify()
	if err != nil || rep.Jobs != int64(n) || (!unsigned && !rep.OK()) {
		b.Fatal(rep.Jobs, rep.First(), err)
	}
	vt := time.Since(began)
	b.Logf("Verify of %d jobs: %v (%.0f receipts/s)", n, vt.Round(time.Millisecond), float64(n)/vt.Seconds())
}

// pagesPerJob is where the pages in use go, in bytes per job: each bucket
// that has pages of its own, and the free pages (freed by the last writes,
// reused by the next).
func pagesPerJob(db *bolt.DB, n int) string {
	var parts []string
	page := float64(db.Info().PageSize)
	_ = db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, bk *bolt.Bucket) error {
			st := bk.Stats()
			if pages := st.BranchPageN + st.BranchOverflowN + st.LeafPageN + st.LeafOverflowN; pages > 0 {
				parts = append(parts, fmt.Sprintf("%s %.1f", name, float64(pages)*page/float64(n)))
			}
			return nil
		})
	})
	st := db.Stats()
	parts = append(parts, fmt.Sprintf("free %.1f", float64(st.FreePageN+st.PendingPageN)*page/float64(n)))
	return strings.Join(parts, ", ")
}
