package earnings

import (
	"bytes"
	"compress/gzip"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/cocoon-desktop/cocoon-desktop/receipt"
)

// Fixture ledgers. Each scenario builds a ledger through the public API with
// a fixed clock; TestWriteFixtures stores the file it made and what every
// query returned (the golden snapshot) under testdata/ledger-v<SchemaVersion>,
// so a later schema can check that its migration of these files answers every
// query exactly as the code that wrote them did. Regenerate (only when adding
// a scenario; files of a released schema are frozen) with:
//
//	COCOON_WRITE_FIXTURES=1 go test ./earnings -run TestWriteFixtures

type fixtureScenario struct {
	name  string
	build func(t *testing.T, path string) // writes a closed ledger at path
}

var fixtureNow = time.Date(2026, 3, 4, 9, 0, 0, 0, time.UTC)

// proxyJobID is a job id of the proxy's form: "job-" + 32 hex digits.
func proxyJobID(n int) string {
	b := make([]byte, 16)
	for i := range b {
		b[i] = byte(n*131 + i*29 + n>>3)
	}
	return "job-" + hex.EncodeToString(b)
}

// fixtureClock advances a minute on every call, so credited times differ.
func fixtureClock() func() time.Time {
	now := fixtureNow
	return func() time.Time { now = now.Add(time.Minute); return now }
}

var fixtureScenarios = []fixtureScenario{
	{name: "empty", build: func(t *testing.T, path string) {
		openTest(t, path, Options{}).Close()
	}},
	{name: "history", build: func(t *testing.T, path string) {
		// 40 jobs of three models over three days across UTC and IST midnights,
		// proxy-form job ids, energy on most, and payouts in every state.
		l := openTest(t, path, Options{Now: fixtureClock()})
		models := []string{"llama3.2:3b", "qwen2.5:7b", "mistral:7b"}
		var cum int64
		for i := 1; i <= 40; i++ {
			r := rc(proxyJobID(i), int64(i), withTokens(int64(100+i*37%900), int64(20+i*53%700), cum),
				model(models[i%3]), at(t0.Add(-36*time.Hour+time.Duration(i)*97*time.Minute+time.Duration(i)*time.Millisecond)))
			if i%10 == 0 {
				r.PricePrompt, r.PriceCompletion = 1200, 3500 // a price change
				a, _ := receipt.Amount(r.PromptTokens, r.CompletionTokens, r.PricePrompt, r.PriceCompletion, r.CoefficientMilli, r.CommissionBPS)
				r.Amount, r.Cumulative = a, cum+a
			}
			cum = r.Cumulative
			var err error
			if i%4 == 3 {
				_, err = l.Credit(sign(r))
			} else {
				_, err = l.CreditWithEnergy(sign(r), float64(i)*123.4567)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		for _, w := range []struct {
			id    string
			state PayoutState
		}{{"w-confirmed", PayoutConfirmed}, {"w-failed", PayoutFailed}, {"w-sent", PayoutSent}, {"w-pending", PayoutPending}} {
			if err := l.BeginPayout(Payout{ID: w.id, Amount: 1_000_000, Fee: 5000, Destination: "UQ-owner"}); err != nil {
				t.Fatal(err)
			}
			var err error
			switch w.state {
			case PayoutConfirmed:
				if err = l.MarkSent(w.id, "msg-"+w.id); err == nil {
					err = l.MarkConfirmed(w.id, "tx-"+w.id, time.Time{})
				}
			case PayoutFailed:
				err = l.MarkFailed(w.id, "bounced")
			case PayoutSent:
				err = l.MarkSent(w.id, "msg-"+w.id)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		l.Close()
	}},
	{name: "gaps", build: func(t *testing.T, path string) {
		// Short job ids; seqs 4, 9 and 10 never arrive, 5 and 6 arrive late;
		// three jobs share one millisecond (ordered by job id within it).
		l := openTest(t, path, Options{Now: fixtureClock()})
		same := t0.Add(30 * time.Minute)
		for _, seq := range []int64{1, 2, 3, 7, 8, 11, 12, 13, 5, 6} {
			var mods []func(*receipt.Receipt)
			switch seq {
			case 11, 12, 13:
				mods = append(mods, at(same))
			}
			id := map[int64]string{11: "m", 12: "z", 13: "a"}[seq]
			if id == "" {
				id = fmt.Sprint("j", seq)
			}
			if _, err := l.Credit(src(id, seq, mods...)); err != nil {
				t.Fatal(err)
			}
		}
		l.Close()
	}},
	{name: "out-of-order-times", build: func(t *testing.T, path string) {
		// Receipt times that do not follow seq: neighbours swapped (two
		// jobs finishing together), one far in the future, one far in the
		// past, one with no time (the credited time stands in).
		l := openTest(t, path, Options{Now: fixtureClock()})
		times := map[int64]time.Time{
			4:  t0.Add(3*time.Minute + 500*time.Millisecond), // before seq 3's
			5:  t0.Add(3 * time.Minute),
			9:  t0.Add(365 * 24 * time.Hour),
			12: time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC),
			15: {},
		}
		for seq := int64(1); seq <= 20; seq++ {
			var mods []func(*receipt.Receipt)
			if tm, ok := times[seq]; ok {
				mods = append(mods, func(r *receipt.Receipt) {
					r.Time = 0
					if !tm.IsZero() {
						r.Time = tm.UnixMilli()
					}
				})
			}
			if _, err := l.CreditWithEnergy(src(proxyJobID(int(seq)), seq, mods...), 10); err != nil {
				t.Fatal(err)
			}
		}
		l.Close()
	}},
	{name: "from-v0", build: func(t *testing.T, path string) {
		// The worker's old receipt store with one unreadable receipt,
		// migrated, then credited on.
		rs := []receipt.Signed{src("a", 1), src("b", 2), src("d", 4)}
		writeV0(t, path, rs, 999)
		tamper(t, path, func(tx *bolt.Tx) error {
			return tx.Bucket([]byte("receipts")).Put([]byte("junk"), []byte("{not json"))
		})
		l := openTest(t, path, Options{Now: fixtureClock()})
		mustCredit(t, l, src("e", 5), src("f", 6))
		l.Close()
	}},
}

// snapJob is a Job with its times as unix ms, so snapshots do not depend on
// the local time zone.
type snapJob struct {
	JobID            string
	Model            string
	TimeMS           int64
	CreditedMS       int64
	Seq              int64
	PromptTokens     int64
	CompletionTokens int64
	Amount           int64
	Cumulative       int64
	EnergyMilliJ     int64
	EnergyMeasured   bool
	Receipt          receipt.Signed
}

// ledgerSnapshot is what every read query returns for a ledger.
type ledgerSnapshot struct {
	Balance       Balance
	Jobs          []snapJob // all pages of 3, newest first
	JobsBefore    []string  // a page before a cursor made from a time
	Gaps          []Gap
	DailyUTC      []PeriodTotal
	DailyIST      []PeriodTotal
	WeeklyUTC     []PeriodTotal
	Monthly       []PeriodTotal
	ByModelAll    []ModelTotal
	ByModelPart   []ModelTotal // edges not on quarter hours
	CSV           string
	CSVPart       string
	Payouts       []Payout
	VerifyOK      bool
	VerifyJobs    int64
	VerifyGaps    []Gap
	VerifyKinds   []string
	VerifyWithdr  int64
	VerifyDetails []string
}

func snapshotLedger(t *testing.T, l *Ledger) ledgerSnapshot {
	t.Helper()
	var s ledgerSnapshot
	var err error
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	s.Balance, err = l.Balance()
	must(err)
	var cur Cursor
	for {
		jobs, next, err := l.Jobs(cur, 3)
		must(err)
		for _, j := range jobs {
			s.Jobs = append(s.Jobs, snapJob{
				JobID: j.JobID, Model: j.Model, TimeMS: j.Time.UnixMilli(), CreditedMS: j.CreditedAt.UnixMilli(),
				Seq: j.Seq, PromptTokens: j.PromptTokens, CompletionTokens: j.CompletionTokens,
				Amount: j.Amount, Cumulative: j.Cumulative, EnergyMilliJ: j.EnergyMilliJ, EnergyMeasured: j.EnergyMeasured,
				Receipt: j.Receipt,
			})
		}
		if next == "" {
			break
		}
		cur = next
	}
	before, _, err := l.Jobs(CursorBefore(t0.Add(5*time.Minute)), 4)
	must(err)
	for _, j := range before {
		s.JobsBefore = append(s.JobsBefore, j.JobID)
	}
	s.Gaps, err = l.Gaps()
	must(err)
	ist := time.FixedZone("IST", 5*3600+1800)
	tariff := Tariff{PerKWhNano: 250_000_000}
	from, to := t0.Add(-72*time.Hour), t0.Add(72*time.Hour)
	s.DailyUTC, err = l.Daily(from, to, tariff)
	must(err)
	s.DailyIST, err = l.Daily(from.In(ist), to.In(ist), tariff)
	must(err)
	s.WeeklyUTC, err = l.Aggregate(PeriodWeek, from, to, tariff)
	must(err)
	s.Monthly, err = l.Aggregate(PeriodMonth, time.Date(2026, 1, 1, 0, 0, 0, 0, ist), time.Date(2027, 4, 1, 0, 0, 0, 0, ist), tariff)
	must(err)
	s.ByModelAll, err = l.ByModel(time.Unix(0, 0), time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC))
	must(err)
	s.ByModelPart, err = l.ByModel(t0.Add(-20*time.Hour-7*time.Minute), t0.Add(3*time.Minute+100*time.Millisecond))
	must(err)
	var csvAll, csvPart bytes.Buffer
	must(l.ExportCSV(&csvAll, time.Unix(0, 0).UTC(), time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)))
	must(l.ExportCSV(&csvPart, t0.Add(-20*time.Hour).In(ist), t0.Add(4*time.Minute).In(ist)))
	s.CSV, s.CSVPart = csvAll.String(), csvPart.String()
	s.Payouts, err = l.Payouts(0)
	must(err)
	rep, err := l.Verify()
	must(err)
	s.VerifyOK, s.VerifyJobs, s.VerifyGaps, s.VerifyWithdr = rep.OK(), rep.Jobs, rep.Gaps, rep.Payouts
	for _, p := range rep.Problems {
		s.VerifyKinds = append(s.VerifyKinds, p.Kind)
		s.VerifyDetails = append(s.VerifyDetails, p.String())
	}
	return s
}

func fixtureDir() string { return filepath.Join("testdata", fmt.Sprintf("ledger-v%d", SchemaVersion)) }

// TestWriteFixtures writes the fixture ledgers of this schema and their
// golden snapshots (see above). It is skipped unless COCOON_WRITE_FIXTURES is set.
func TestWriteFixtures(t *testing.T) {
	if os.Getenv("COCOON_WRITE_FIXTURES") == "" {
		t.Skip("set COCOON_WRITE_FIXTURES=1 to rewrite testdata/ledger-v*")
	}
	dir := fixtureDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, sc := range fixtureScenarios {
		t.Run(sc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "ledger.db")
			sc.build(t, path)
			l := openTest(t, path, Options{})
			snap := snapshotLedger(t, l)
			l.Close()
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var gz bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
			zw.ModTime = time.Time{}
			_, _ = zw.Write(raw)
			if err := zw.Close(); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, sc.name+".db.gz"), gz.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			js, _ := json.MarshalIndent(snap, "", "  ")
			if err := os.WriteFile(filepath.Join(dir, sc.name+".golden.json"), append(js, '\n'), 0o644); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// loadFixture unpacks testdata/<dir>/<name>.db.gz into a temporary file and
// reads its golden snapshot.
func loadFixture(t *testing.T, dir, name string) (path string, golden ledgerSnapshot) {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", dir, name+".db.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(t.TempDir(), "ledger.db")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	js, err := os.ReadFile(filepath.Join("testdata", dir, name+".golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(js, &golden); err != nil {
		t.Fatal(err)
	}
	return path, golden
}
