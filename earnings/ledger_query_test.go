package earnings

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"math"
	"testing"
	"time"
	_ "time/tzdata" // the DST test needs Europe/Berlin on machines without tzdata

	"github.com/cocoon-desktop/cocoon-desktop/receipt"
)

func at(t time.Time) func(*receipt.Receipt) {
	return func(r *receipt.Receipt) { r.Time = t.UnixMilli() }
}

func model(m string) func(*receipt.Receipt) {
	return func(r *receipt.Receipt) { r.Model = m }
}

func TestLedgerJobsPaging(t *testing.T) {
	l := openTest(t, "", Options{})
	// Seven jobs; three share one millisecond (ordered by job id within it).
	same := t0.Add(10 * time.Minute)
	mustCredit(t, l,
		src("a", 1), src("b", 2),
		src("c", 3, at(same)), src("e", 4, at(same)), src("d", 5, at(same)),
		src("f", 6, at(same.Add(time.Millisecond))), src("g", 7, at(same.Add(time.Hour))))
	want := []string{"g", "f", "e", "d", "c", "b", "a"}

	tests := []struct {
		name  string
		limit int
		pages []int
	}{
		{"pages of 3", 3, []int{3, 3, 1}},
		{"pages of 1", 1, []int{1, 1, 1, 1, 1, 1, 1}},
		{"one page of 7", 7, []int{7}},
		{"default limit", 0, []int{7}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			var cur Cursor
			for i, n := range tc.pages {
				jobs, next, err := l.Jobs(cur, tc.limit)
				if err != nil {
					t.Fatal(err)
				}
				if len(jobs) != n {
					t.Fatalf("page %d has %d jobs, want %d", i, len(jobs), n)
				}
				for _, j := range jobs {
					got = append(got, j.JobID)
				}
				if (next == "") != (i == len(tc.pages)-1) {
					t.Fatalf("page %d: next cursor %q", i, next)
				}
				cur = next
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("order = %v, want %v", got, want)
			}
		})
	}
	t.Run("before a time", func(t *testing.T) {
		jobs, next, err := l.Jobs(CursorBefore(same.Add(time.Millisecond)), 10)
		if err != nil || next != "" {
			t.Fatal(err, next)
		}
		var ids []string
		for _, j := range jobs {
			ids = append(ids, j.JobID)
		}
		if fmt.Sprint(ids) != "[e d c b a]" {
			t.Errorf("jobs before = %v", ids)
		}
	})
	t.Run("bad cursor", func(t *testing.T) {
		if _, _, err := l.Jobs("zz", 1); !errors.Is(err, ErrBadCursor) {
			t.Errorf("err = %v", err)
		}
	})
}

func TestLedgerDailyAcrossMidnight(t *testing.T) {
	// India: UTC+5:30, so local midnight is not on a UTC hour.
	ist := time.FixedZone("IST", 5*3600+1800)
	day := func(d, h, m, s, ms int) time.Time {
		return time.Date(2026, 3, d, h, m, s, ms*1e6, ist)
	}
	l := openTest(t, "", Options{})
	mustCredit(t, l, src("late", 1, at(day(1, 23, 50, 0, 0))))
	if _, err := l.CreditWithEnergy(src("after-midnight", 2, at(day(2, 0, 10, 0, 0))), 3.6e6); err != nil { // 1 kWh
		t.Fatal(err)
	}
	if _, err := l.CreditWithEnergy(src("last-ms", 3, at(day(2, 23, 59, 59, 999))), 1.8e6); err != nil { // 0.5 kWh
		t.Fatal(err)
	}
	mustCredit(t, l, src("midnight", 4, at(day(3, 0, 0, 0, 0))))

	tariff := Tariff{PerKWhNano: 50_000}
	rows, err := l.Daily(day(1, 10, 0, 0, 0), day(4, 0, 0, 0, 0), tariff)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		start          time.Time
		jobs           int64
		energyMJ, cost int64
	}{
		{day(1, 0, 0, 0, 0), 1, 0, 0},
		{day(2, 0, 0, 0, 0), 2, 5_400_000_000, 75_000},
		{day(3, 0, 0, 0, 0), 1, 0, 0},
	}
	if len(rows) != len(want) {
		t.Fatalf("%d rows: %+v", len(rows), rows)
	}
	for i, w := range want {
		r := rows[i]
		if !r.Start.Equal(w.start) || !r.End.Equal(w.start.AddDate(0, 0, 1)) || r.Start.Location() != ist {
			t.Errorf("row %d: [%v, %v)", i, r.Start, r.End)
		}
		if r.Jobs != w.jobs || r.Gross != w.jobs*jobAmount || r.EnergyMilliJ != w.energyMJ ||
			r.ElectricityCost != w.cost || r.Net != r.Gross-w.cost {
			t.Errorf("row %d = %+v, want %+v", i, r, w)
		}
	}
	if rows[1].MeteredJobs != 2 || rows[1].EnergyKWh() != 1.5 || rows[1].PromptTokens != 200 || rows[1].CompletionTokens != 100 {
		t.Errorf("row 1 = %+v", rows[1])
	}
	// The same jobs in UTC fall on other days: 18:20 and 18:40 on the 1st, 18:29:59.999 and 18:30 on the 2nd.
	utc, err := l.Daily(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC), tariff)
	if err != nil || len(utc) != 2 || utc[0].Jobs != 2 || utc[1].Jobs != 2 {
		t.Errorf("UTC days = %+v, %v", utc, err)
	}
}

func TestLedgerAggregatePeriods(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin") // embedded (time/tzdata): never skipped
	if err != nil {
		t.Fatal(err)
	}
	l := openTest(t, "", Options{})
	// Sunday 29 March 2026 is the DST change in Berlin (a 23-hour day).
	times := []time.Time{
		time.Date(2026, 3, 28, 23, 30, 0, 0, berlin), // Sat, week 13
		time.Date(2026, 3, 29, 1, 30, 0, 0, berlin),  // Sun (CET)
		time.Date(2026, 3, 29, 3, 30, 0, 0, berlin),  // Sun (CEST)
		time.Date(2026, 3, 30, 0, 0, 0, 0, berlin),   // Mon, week 14
		time.Date(2026, 4, 1, 0, 0, 0, 0, berlin),    // April
	}
	for i, tm := range times {
		mustCredit(t, l, src(fmt.Sprint("j", i+1), int64(i+1), at(tm)))
	}
	from, to := time.Date(2026, 3, 28, 12, 0, 0, 0, berlin), time.Date(2026, 4, 2, 0, 0, 0, 0, berlin)
	tests := []struct {
		p     Period
		jobs  []int64
		first time.Time
	}{
		{PeriodDay, []int64{1, 2, 1, 0, 1}, time.Date(2026, 3, 28, 0, 0, 0, 0, berlin)},
		{PeriodWeek, []int64{3, 2}, time.Date(2026, 3, 23, 0, 0, 0, 0, berlin)},
		{PeriodMonth, []int64{4, 1}, time.Date(2026, 3, 1, 0, 0, 0, 0, berlin)},
	}
	for _, tc := range tests {
		t.Run(tc.p.String(), func(t *testing.T) {
			rows, err := l.Aggregate(tc.p, from, to, Tariff{})
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			for _, r := range rows {
				got = append(got, r.Jobs)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.jobs) || !rows[0].Start.Equal(tc.first) {
				t.Errorf("jobs per %s = %v from %v; want %v from %v", tc.p, got, rows[0].Start, tc.jobs, tc.first)
			}
			if tc.p == PeriodDay {
				if d := rows[1].End.Sub(rows[1].Start); d != 23*time.Hour {
					t.Errorf("the DST day lasts %v", d)
				}
			}
		})
	}
}

func TestLedgerByModel(t *testing.T) {
	l := openTest(t, "", Options{})
	mustCredit(t, l,
		src("a1", 1, model("a"), at(t0.Add(1*time.Minute))),
		src("b1", 2, model("b"), withTokens(1000, 1000, jobAmount), at(t0.Add(7*time.Minute))),
		src("a2", 3, model("a"), withTokens(100, 50, jobAmount+3_600_000), at(t0.Add(20*time.Minute))),
		src("a3", 4, model("a"), withTokens(100, 50, 2*jobAmount+3_600_000), at(t0.Add(50*time.Hour))),
	)
	tests := []struct {
		name     string
		from, to time.Time
		want     string
	}{
		{"all", t0.Add(-time.Hour), t0.Add(100 * time.Hour), "[b:1:3600000 a:3:675000]"},
		{"from inclusive, to exclusive", t0.Add(time.Minute), t0.Add(20 * time.Minute), "[b:1:3600000 a:1:225000]"},
		{"a millisecond later", t0.Add(time.Minute + time.Millisecond), t0.Add(20*time.Minute + time.Millisecond), "[b:1:3600000 a:1:225000]"},
		{"whole quarters and edges", t0.Add(-time.Minute), t0.Add(49 * time.Hour), "[b:1:3600000 a:2:450000]"},
		{"empty", t0.Add(30 * time.Minute), t0.Add(time.Hour), "[]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rows, err := l.ByModel(tc.from, tc.to)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range rows {
				got = append(got, fmt.Sprintf("%s:%d:%d", r.Model, r.Jobs, r.Gross))
			}
			if s := fmt.Sprint(got); s != tc.want {
				t.Errorf("ByModel = %s, want %s", s, tc.want)
			}
		})
	}
}

func TestLedgerExportCSV(t *testing.T) {
	zone := time.FixedZone("CET", 3600)
	l := openTest(t, "", Options{Now: func() time.Time { return t0.Add(time.Hour) }})
	if _, err := l.CreditWithEnergy(src("j1", 1), 3600); err != nil { // 1 Wh
		t.Fatal(err)
	}
	big := withTokens(4_000_000, 0, jobAmount) // 3.6 TON
	mustCredit(t, l, src("j2", 2, big), src("j3", 3, withTokens(100, 50, jobAmount+3_600_000_000), at(t0.Add(2*time.Hour))))
	if err := l.BeginPayout(Payout{ID: "w1", Amount: 12_000_000_345, Fee: 5_000_000, Destination: "UQowner", Created: t0.Add(90 * time.Second)}); err == nil {
		t.Fatal("over-payout accepted")
	}
	if err := l.BeginPayout(Payout{ID: "w1", Amount: 3_000_000_345, Fee: 5_000_000, Destination: "UQowner", Created: t0.Add(90 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	if err := l.MarkConfirmed("w1", "txhash", time.Time{}); err != nil {
		t.Fatal(err)
	}

	var buf bytes.Buffer
	if err := l.ExportCSV(&buf, t0.In(zone), t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatalf("the export does not parse: %v\n%s", err, buf.String())
	}
	want := [][]string{
		CSVHeader,
		{"job", "2026-03-01T13:01:00+01:00", "j1", "1", "llama3", "100", "50", "0.000225000", "0.000225000", "1.000", "", "", "", "", ""},
		{"payout", "2026-03-01T13:01:30+01:00", "w1", "", "", "", "", "3.000000345", "", "", "0.005000000", "UQowner", "confirmed", "", "txhash"},
		{"job", "2026-03-01T13:02:00+01:00", "j2", "2", "llama3", "4000000", "0", "3.600000000", "3.600225000", "", "", "", "", "", ""},
	}
	if fmt.Sprintf("%q", rows) != fmt.Sprintf("%q", want) {
		t.Errorf("CSV:\n%q\nwant\n%q", rows, want)
	}
	for _, r := range rows[1:] {
		if len(r) != len(CSVHeader) {
			t.Errorf("row %v has %d columns", r, len(r))
		}
		if _, err := time.Parse(time.RFC3339, r[1]); err != nil {
			t.Errorf("time %q: %v", r[1], err)
		}
	}
}

func TestFormatNanoTON(t *testing.T) {
	tests := []struct {
		in   int64
		want string
	}{
		{0, "0.000000000"},
		{1, "0.000000001"},
		{12_000_000_345, "12.000000345"},
		{1_000_000_000, "1.000000000"},
		{-1, "-0.000000001"},
		{math.MaxInt64, "9223372036.854775807"},
		{math.MinInt64, "-9223372036.854775808"},
	}
	for _, tc := range tests {
		if got := formatNanoTON(tc.in); got != tc.want {
			t.Errorf("formatNanoTON(%d) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestTariffCost(t *testing.T) {
	tests := []struct {
		name   string
		tariff int64
		mj     int64
		want   int64
	}{
		{"1 kWh", 1e8, 3_600_000_000, 1e8},
		{"half a nanoTON rounds up", 1, 1_800_000_000, 1},
		{"just under half rounds down", 1, 1_799_999_999, 0},
		{"no energy", 1e8, 0, 0},
		{"no tariff", 0, 1e9, 0},
		{"negative", 1e8, -5, 0},
		{"large, no overflow", 1e12, 1e15, 277_777_777_777_777_778},
		{"saturates", math.MaxInt64, math.MaxInt64, math.MaxInt64},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := (Tariff{PerKWhNano: tc.tariff}).Cost(tc.mj); got != tc.want {
				t.Errorf("Cost = %d, want %d", got, tc.want)
			}
		})
	}
}
