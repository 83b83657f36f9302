package proxy

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/receipt"
)

const trustTestWorker = "8139770ea87d175f56a35466c34c7ecccb8d8a91b4ee37a25df60f5b8fc9b394"

func TestTrustConfig(t *testing.T) {
	const base = `{"data_dir":"d","models":{"m":{"price_prompt":1,"price_completion":2}}`
	tests := []struct {
		name    string
		trust   string // the "trust" member; "" leaves it out
		wantErr string
		want    TrustConfig
	}{
		{name: "absent: the public proxy's defaults", want: DefaultTrustConfig()},
		{name: "empty object: the defaults", trust: `{}`, want: DefaultTrustConfig()},
		{name: "every field", trust: `{"quarantine_after":5,"failure_window":"24h","canaries_to_trust":20,"hold_period":"48h",
			"new_daily_cap":5000000000,"max_coefficient_milli":1500,"trusted_workers":["` + strings.ToUpper(trustTestWorker) + `"]}`,
			want: TrustConfig{QuarantineAfter: 5, FailureWindow: 24 * time.Hour, CanariesToTrust: 20, HoldPeriod: 48 * time.Hour,
				NewDailyCap: 5_000_000_000, MaxCoefficientMilli: 1500, TrustedWorkers: []string{trustTestWorker}}},
		{name: "holds and the daily cap off", trust: `{"hold_period":"0s","new_daily_cap":0}`,
			want: func() TrustConfig { c := DefaultTrustConfig(); c.HoldPeriod, c.NewDailyCap = 0, 0; return c }()},
		{name: "coefficient 0: the protocol's maximum", trust: `{"max_coefficient_milli":0}`,
			want: func() TrustConfig { c := DefaultTrustConfig(); c.MaxCoefficientMilli = 100_000; return c }()},
		{name: "bad duration", trust: `{"hold_period":"3 days"}`, wantErr: "hold_period"},
		{name: "negative hold", trust: `{"hold_period":"-1h"}`, wantErr: "hold_period"},
		{name: "hold over a year", trust: `{"hold_period":"9000h"}`, wantErr: "hold_period"},
		{name: "tiny window", trust: `{"failure_window":"1s"}`, wantErr: "failure_window"},
		{name: "K too large", trust: `{"quarantine_after":17}`, wantErr: "quarantine_after"},
		{name: "negative K", trust: `{"quarantine_after":-1}`, wantErr: "quarantine_after"},
		{name: "negative N", trust: `{"canaries_to_trust":-1}`, wantErr: "canaries_to_trust"},
		{name: "negative cap", trust: `{"new_daily_cap":-1}`, wantErr: "new_daily_cap"},
		{name: "coefficient over the protocol", trust: `{"max_coefficient_milli":100001}`, wantErr: "max_coefficient_milli"},
		{name: "not a worker id", trust: `{"trusted_workers":["abc"]}`, wantErr: "trusted_workers[0]"},
		{name: "same id twice", trust: `{"trusted_workers":["` + trustTestWorker + `","` + strings.ToUpper(trustTestWorker) + `"]}`, wantErr: "trusted_workers[1]"},
		{name: "unknown field", trust: `{"hold":"1h"}`, wantErr: "unknown field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			js := base + "}"
			if tt.trust != "" {
				js = base + `,"trust":` + tt.trust + "}"
			}
			c, err := ParseConfig([]byte(js))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want one naming %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := c.withDefaults().Trust
			want := tt.want.withDefaults()
			if got.QuarantineAfter != want.QuarantineAfter || got.FailureWindow != want.FailureWindow || got.CanariesToTrust != want.CanariesToTrust ||
				got.HoldPeriod != want.HoldPeriod || got.NewDailyCap != want.NewDailyCap || got.MaxCoefficientMilli != want.MaxCoefficientMilli ||
				strings.Join(got.TrustedWorkers, ",") != strings.Join(want.TrustedWorkers, ",") {
				t.Errorf("trust %+v, want %+v", got, want)
			}
		})
	}
	// Embedding: the zero TrustConfig holds and caps nothing, the rest defaults.
	z := DefaultConfig().withDefaults().Trust
	if z.HoldPeriod != 0 || z.NewDailyCap != 0 || z.QuarantineAfter != DefaultQuarantineAfter || z.CanariesToTrust != DefaultCanariesToTrust ||
		z.FailureWindow != DefaultFailureWindow || z.MaxCoefficientMilli != 100_000 {
		t.Errorf("zero trust config with defaults: %+v", z)
	}
}

func TestHoldUntil(t *testing.T) {
	tests := []struct {
		name   string
		now    time.Time
		period time.Duration
	}{
		{"aligned", time.Date(2030, 1, 2, 10, 0, 0, 0, time.UTC), 48 * time.Hour},
		{"odd instant", time.Date(2030, 1, 2, 10, 0, 7, 123, time.UTC), 72 * time.Hour},
		{"short period", time.Date(2030, 1, 2, 10, 0, 7, 123, time.UTC), 10 * time.Second},
		{"a minute", time.Date(2030, 1, 2, 10, 0, 59, 999_999_999, time.UTC), time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := max(tt.period/holdGranularityDivs, time.Second)
			got := holdUntil(tt.now, tt.period)
			if got.Before(tt.now.Add(tt.period)) || got.Sub(tt.now.Add(tt.period)) >= g {
				t.Errorf("hold until %v: not in [now+period, now+period+%v)", got, g)
			}
			if got.UnixNano()%int64(g) != 0 {
				t.Errorf("hold until %v is not on the %v grid", got, g)
			}
			// Credits a moment apart share a release time: few holds per worker.
			if holdUntil(tt.now.Add(time.Nanosecond), tt.period) != got && tt.now.Add(tt.period).UnixNano()%int64(g) != 0 {
				t.Errorf("credits 1 ns apart got different release times")
			}
		})
	}
}

// trustJob credits a job of amount nanoTON (prompt tokens at 1 nanoTON,
// no commission) with the given hold.
func trustJob(t *testing.T, s *BoltStore, id string, amount int64, hold JobHold) {
	t.Helper()
	_, created, err := s.RecordJob(context.Background(), JobRecord{
		JobID: id, WorkerID: trustTestWorker, Model: "m", PromptTokens: amount, PricePrompt: 1, CoefficientMilli: 1000,
		Amount: amount, Gross: amount, Time: hold.Now, Hold: hold,
	}, func(r receipt.Receipt) receipt.Signed { return receipt.Signed{Receipt: r} })
	if err != nil || !created {
		t.Fatalf("record %s: %v %v", id, created, err)
	}
}

// TestTrustCreditDaily: the daily count starts again each UTC day, holds of
// the same release time merge, released ones are pruned on the next credit.
func TestTrustCreditDaily(t *testing.T) {
	s, err := OpenBoltStore(t.TempDir(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	day := time.Date(2030, 1, 2, 23, 0, 0, 0, time.UTC)
	until := day.Add(2 * time.Hour)
	trustJob(t, s, "j1", 100, JobHold{Now: day, Until: until, Daily: true})
	trustJob(t, s, "j2", 50, JobHold{Now: day.Add(30 * time.Minute), Until: until, Daily: true})
	r, ok, err := s.Trust(context.Background(), trustTestWorker)
	if err != nil || !ok || r.EarnedToday != 150 || r.Day != unixDay(day) || len(r.Holds) != 1 || r.Holds[0].Amount != 150 {
		t.Fatalf("record %+v %v %v", r, ok, err)
	}
	next := day.Add(3 * time.Hour) // the next UTC day, past the hold
	trustJob(t, s, "j3", 7, JobHold{Now: next, Daily: true})
	r, _, _ = s.Trust(context.Background(), trustTestWorker)
	if r.EarnedToday != 7 || r.Day != unixDay(next) || len(r.Holds) != 0 {
		t.Fatalf("next day: %+v", r)
	}
	// A trusted worker's credit (zero hold) does not even write a record.
	trustJob(t, s, "j4", 9, JobHold{})
	if r2, _, _ := s.Trust(context.Background(), trustTestWorker); r2.EarnedToday != 7 {
		t.Fatalf("zero hold changed the record: %+v", r2)
	}
}

// TestTrustRecordBounded: however long a worker misbehaves or earns, its
// record stays small and its sums saturate instead of failing a write.
func TestTrustRecordBounded(t *testing.T) {
	var r TrustRecord
	now := time.Date(2030, 1, 2, 10, 0, 0, 0, time.UTC)
	for i := 0; i < 1000; i++ {
		r.addEvent(TrustEvent{Time: now, Kind: EventStrike, Points: 2, Evidence: strings.Repeat("x\n", 500)})
		r.hold(math.MaxInt64/3, now.Add(time.Duration(i)*time.Second))
	}
	if len(r.Events) != maxTrustEvents || len(r.Events[0].Evidence) > maxEvidence+len("…") || strings.Contains(r.Events[0].Evidence, "\n") {
		t.Errorf("%d events, evidence %q", len(r.Events), r.Events[0].Evidence)
	}
	if len(r.Holds) != maxTrustHolds || r.HeldAt(now.Add(-time.Hour)) != math.MaxInt64 {
		t.Errorf("%d holds, held %d", len(r.Holds), r.HeldAt(now.Add(-time.Hour)))
	}
	// Merged holds release at the later time: never earlier than credited.
	if !r.Holds[0].Until.Equal(now.Add(time.Duration(1000-maxTrustHolds) * time.Second)) {
		t.Errorf("earliest hold %v", r.Holds[0].Until)
	}
	if got := ratioMilli(1<<62, 0); got != math.MaxInt64 {
		t.Errorf("ratio of a huge claim %d", got)
	}
	if got := ratioMilli(1_000_000_000_000, 2); got != 500_000_000_000_000 {
		t.Errorf("ratio %d", got)
	}
	if satAdd(math.MaxInt64, 1) != math.MaxInt64 || satAdd(math.MinInt64, -1) != math.MinInt64 || satAdd(2, 3) != 5 {
		t.Error("satAdd")
	}
	if unixDay(time.Unix(-1, 0)) != -1 || unixDay(time.Unix(86399, 0)) != 0 || unixDay(time.Unix(86400, 0)) != 1 {
		t.Error("unixDay")
	}
}

func TestParsePriceCap(t *testing.T) {
	p := func(v int64) *int64 { return &v }
	tests := []struct {
		name    string
		header  string
		field   *int64
		want    int64
		wantErr bool
	}{
		{name: "none"},
		{name: "header", header: "1500", want: 1500},
		{name: "header with spaces", header: " 1500 ", want: 1500},
		{name: "field", field: p(1200), want: 1200},
		{name: "both: the lower", header: "3000", field: p(1000), want: 1000},
		{name: "both, header lower", header: "900", field: p(1000), want: 900},
		{name: "header zero", header: "0", wantErr: true},
		{name: "header decimal", header: "1.5", wantErr: true},
		{name: "header over the protocol", header: "100001", wantErr: true},
		{name: "header huge", header: "99999999999999999999", wantErr: true},
		{name: "field zero", field: p(0), wantErr: true},
		{name: "field negative", field: p(-5), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parsePriceCap(tt.header, tt.field)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("got %d, %v; want %d, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func FuzzParsePriceCap(f *testing.F) {
	f.Add("1500", int64(0), false)
	f.Add("", int64(1000), true)
	f.Add("abc", int64(-1), true)
	f.Add("+1", int64(100_001), true)
	f.Add("  42\t", int64(7), true)
	f.Fuzz(func(t *testing.T, header string, field int64, hasField bool) {
		var fp *int64
		if hasField {
			fp = &field
		}
		got, err := parsePriceCap(header, fp)
		if err != nil {
			var br *badRequest
			if !errors.As(err, &br) || br.param != PriceCapField {
				t.Fatalf("error %v is not a bad request naming %s", err, PriceCapField)
			}
			return
		}
		if got < 0 || got > protocolMaxCoeff {
			t.Fatalf("cap %d out of range", got)
		}
		if hasField && got > field {
			t.Fatalf("cap %d over the field %d", got, field)
		}
		if got == 0 && (hasField || strings.TrimSpace(header) != "") {
			t.Fatalf("a given cap read as none")
		}
	})
}
