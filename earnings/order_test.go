package earnings

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"math/rand"
	"slices"
	"sort"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/cocoon-desktop/cocoon-desktop/receipt"
)

// TestLedgerTimeOrder credits receipts whose times do not follow their seqs,
// in various delivery orders, and checks Jobs, ExportCSV and ByModel against
// a plain sort of the receipts, Verify, and how many records became strays.
func TestLedgerTimeOrder(t *testing.T) {
	minute := func(m float64) time.Time { return t0.Add(time.Duration(m * float64(time.Minute))) }
	type job struct {
		seq int64
		at  time.Time // zero: no receipt time (the credited time stands in)
		id  string    // default j<seq>
	}
	seqJobs := func(n int, at func(seq int64) time.Time) []job {
		var js []job
		for seq := int64(1); seq <= int64(n); seq++ {
			js = append(js, job{seq: seq, at: at(seq)})
		}
		return js
	}
	tests := []struct {
		name       string
		jobs       []job // in delivery order
		wantStrays int
	}{
		{name: "in order", jobs: seqJobs(30, func(s int64) time.Time { return minute(float64(s)) })},
		{name: "neighbours swapped", wantStrays: 1, jobs: seqJobs(10, func(s int64) time.Time {
			if s == 5 {
				return minute(6.5) // finished after seq 6
			}
			return minute(float64(s))
		})},
		{name: "one far in the future", wantStrays: 1, jobs: seqJobs(30, func(s int64) time.Time {
			if s == 10 {
				return minute(1e6)
			}
			return minute(float64(s))
		})},
		{name: "one far in the past", wantStrays: 1, jobs: seqJobs(30, func(s int64) time.Time {
			if s == 25 {
				return time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
			}
			return minute(float64(s))
		})},
		{name: "clock stepped back an hour", wantStrays: 30, jobs: seqJobs(60, func(s int64) time.Time {
			if s > 30 {
				return minute(float64(s) - 59.5)
			}
			return minute(float64(s))
		})},
		{name: "same millisecond, job ids against seq order", wantStrays: 2, jobs: []job{
			{seq: 1, at: minute(1)}, {seq: 2, at: minute(2), id: "m"}, {seq: 3, at: minute(2), id: "z"}, {seq: 4, at: minute(2), id: "a"}, {seq: 5, at: minute(3)},
		}},
		{name: "no receipt time", jobs: []job{{seq: 1, at: minute(1)}, {seq: 2}, {seq: 3}}}, // credited at t0+1h
		{name: "late receipts fill gaps in order", jobs: []job{
			{seq: 1, at: minute(1)}, {seq: 5, at: minute(5)}, {seq: 9, at: minute(9)}, {seq: 3, at: minute(3)}, {seq: 2, at: minute(2)}, {seq: 7, at: minute(7)}, {seq: 4, at: minute(4)},
		}},
		{name: "late receipt out of order in its gap", wantStrays: 1, jobs: []job{
			{seq: 1, at: minute(1)}, {seq: 5, at: minute(5)}, {seq: 3, at: minute(7)},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			credited := t0.Add(time.Hour)
			l := openTest(t, "", Options{Now: func() time.Time { return credited }})
			var all []receipt.Signed
			for _, j := range tc.jobs {
				id := j.id
				if id == "" {
					id = fmt.Sprint("j", j.seq)
				}
				at := j.at
				r := src(id, j.seq, func(r *receipt.Receipt) {
					r.Time = 0
					if !at.IsZero() {
						r.Time = at.UnixMilli()
					}
				})
				mustCredit(t, l, r)
				all = append(all, r)
			}
			checkTimeOrder(t, l, all, credited)
			if n := strayCount(t, l); n != tc.wantStrays {
				t.Errorf("%d strays, want %d", n, tc.wantStrays)
			}
		})
	}
}

// TestLedgerTimeOrderRandom credits chains with jittered times in shuffled
// delivery orders.
func TestLedgerTimeOrderRandom(t *testing.T) {
	for seed := int64(1); seed <= 8; seed++ {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			rng := rand.New(rand.NewSource(seed))
			n := 40 + rng.Intn(80)
			var rs []receipt.Signed
			for seq := int64(1); seq <= int64(n); seq++ {
				at := t0.Add(time.Duration(seq)*time.Minute + time.Duration(rng.Intn(180)-90)*time.Second)
				if rng.Intn(25) == 0 {
					at = at.Add(time.Duration(rng.Intn(48)-24) * time.Hour)
				}
				if rng.Intn(30) == 0 {
					at = t0.Add(time.Duration(seq/3) * time.Minute) // ties
				}
				rs = append(rs, src(fmt.Sprintf("job-%02x", rng.Intn(256))+fmt.Sprint(seq), seq, at2(at)))
			}
			// Deliver in seq order but hold some back: they come last, shuffled.
			var late []receipt.Signed
			credited := t0.Add(time.Hour)
			l := openTest(t, "", Options{Now: func() time.Time { return credited }})
			var delivered []receipt.Signed
			for _, r := range rs {
				if rng.Intn(5) == 0 {
					late = append(late, r)
					continue
				}
				mustCredit(t, l, r)
				delivered = append(delivered, r)
			}
			rng.Shuffle(len(late), func(i, j int) { late[i], late[j] = late[j], late[i] })
			mustCredit(t, l, late...)
			delivered = append(delivered, late...)
			checkTimeOrder(t, l, delivered, credited)
		})
	}
}

func at2(tm time.Time) func(*receipt.Receipt) {
	return func(r *receipt.Receipt) { r.Time = tm.UnixMilli() }
}

// checkTimeOrder compares the ledger's time-ordered reads with a sort of rs.
func checkTimeOrder(t *testing.T, l *Ledger, rs []receipt.Signed, credited time.Time) {
	t.Helper()
	mustVerifyOK(t, l)
	type jt struct {
		id string
		ms int64
	}
	var want []jt
	for _, r := range rs {
		ms := r.Receipt.Time
		if ms == 0 {
			ms = credited.UnixMilli()
		}
		want = append(want, jt{r.Receipt.JobID, ms})
	}
	sort.Slice(want, func(i, j int) bool {
		return bytes.Compare(timeKey(want[i].ms, want[i].id), timeKey(want[j].ms, want[j].id)) < 0
	})
	var wantIDs []string
	for _, w := range want {
		wantIDs = append(wantIDs, w.id)
	}
	// Jobs, newest first, in pages of 3.
	var got []string
	var cur Cursor
	for {
		jobs, next, err := l.Jobs(cur, 3)
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range jobs {
			got = append(got, j.JobID)
		}
		if next == "" {
			break
		}
		cur = next
	}
	slices.Reverse(got)
	if fmt.Sprint(got) != fmt.Sprint(wantIDs) {
		t.Errorf("Jobs order:\n got  %v\n want %v", got, wantIDs)
	}
	// Every window, forward (CSV) and backward (Jobs before a time).
	for i := 0; i <= len(want); i++ {
		for _, span := range []int{1, 2, 5} {
			j := min(i+span, len(want))
			from := time.UnixMilli(0)
			if i < len(want) {
				from = time.UnixMilli(want[i].ms)
			}
			to := time.UnixMilli(1 << 50)
			if j < len(want) {
				to = time.UnixMilli(want[j].ms)
			}
			var exp []string
			for _, w := range want {
				if w.ms >= from.UnixMilli() && w.ms < to.UnixMilli() {
					exp = append(exp, w.id)
				}
			}
			var buf bytes.Buffer
			if err := l.ExportCSV(&buf, from.UTC(), to.UTC()); err != nil {
				t.Fatal(err)
			}
			rows, _ := csv.NewReader(&buf).ReadAll()
			var gotCSV []string
			for _, row := range rows[1:] {
				gotCSV = append(gotCSV, row[2])
			}
			if fmt.Sprint(gotCSV) != fmt.Sprint(exp) {
				t.Fatalf("CSV [%d, %d):\n got  %v\n want %v", from.UnixMilli(), to.UnixMilli(), gotCSV, exp)
			}
			mt, err := l.ByModel(from, to)
			if err != nil {
				t.Fatal(err)
			}
			var n int64
			for _, m := range mt {
				n += m.Jobs
			}
			if n != int64(len(exp)) {
				t.Fatalf("ByModel [%d, %d) counts %d jobs, want %d", from.UnixMilli(), to.UnixMilli(), n, len(exp))
			}
			before, _, err := l.Jobs(CursorBefore(to), span)
			if err != nil {
				t.Fatal(err)
			}
			var expBefore []string
			for k := j - 1; k >= 0 && len(expBefore) < span; k-- {
				if want[k].ms < to.UnixMilli() {
					expBefore = append(expBefore, want[k].id)
				}
			}
			var gotBefore []string
			for _, jb := range before {
				gotBefore = append(gotBefore, jb.JobID)
			}
			if fmt.Sprint(gotBefore) != fmt.Sprint(expBefore) {
				t.Fatalf("Jobs before %d:\n got  %v\n want %v", to.UnixMilli(), gotBefore, expBefore)
			}
		}
	}
}

func strayCount(t *testing.T, l *Ledger) int {
	t.Helper()
	var n int
	if err := l.view(func(tx *bolt.Tx) error { n = tx.Bucket(bucketStrays).Stats().KeyN; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}
