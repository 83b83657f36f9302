package worker

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time                { return c.t }
func (c *fakeClock) add(d time.Duration)           { c.t = c.t.Add(d) }
func newClock() *fakeClock                         { return &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }
func quietLog() *slog.Logger                       { return slog.New(slog.DiscardHandler) }
func openRate(path string, c *fakeClock) *earnRate { return openEarnRate(path, c.now, quietLog()) }

// serveSteady serves for d with a job of amount every gap.
func serveSteady(t *testing.T, r *earnRate, c *fakeClock, d, gap time.Duration, amount int64) {
	t.Helper()
	if err := r.setServing(true); err != nil {
		t.Fatal(err)
	}
	for end := c.t.Add(d); c.t.Before(end); {
		c.add(gap)
		if err := r.credit(amount, c.t); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.setServing(false); err != nil {
		t.Fatal(err)
	}
}

// TestEarnRateIsAMovingAverage: the estimate is earnings over serving
// time: 0.01 TON a minute for three hours is 0.6 TON/h, whatever the idle
// hours between; one job ten times the usual size moves it by 5 % (its
// amount spread over three hours of serving), where a per-job figure would
// have jumped tenfold.
func TestEarnRateIsAMovingAverage(t *testing.T) {
	c := newClock()
	r := openRate("", c)
	if e := r.estimate(); e.Known || e.NanoPerHour != 0 {
		t.Fatalf("before any serving: %+v", e)
	}
	serveSteady(t, r, c, 2*time.Hour, time.Minute, 10_000_000)
	c.add(10 * time.Hour) // stopped: neither counts nor ages the estimate
	serveSteady(t, r, c, time.Hour, time.Minute, 10_000_000)
	e := r.estimate()
	if !e.Known || e.NanoPerHour != 600_000_000 || e.Serving != 3*time.Hour || e.Earned != 1_800_000_000 {
		t.Fatalf("estimate = %+v, want 0.6 TON/h over 3 h", e)
	}

	// A single big job (ten times the usual) while serving a minute more.
	if err := r.setServing(true); err != nil {
		t.Fatal(err)
	}
	c.add(time.Minute)
	if err := r.credit(100_000_000, c.t); err != nil {
		t.Fatal(err)
	}
	after := r.estimate()
	if d := float64(after.NanoPerHour-e.NanoPerHour) / float64(e.NanoPerHour); d < 0 || d > 0.06 {
		t.Fatalf("one job moved the estimate by %.2f %% (%d → %d)", 100*d, e.NanoPerHour, after.NanoPerHour)
	}
}

// TestEarnRateWindow: only the last EarnRateWindow of serving time counts,
// so a change in demand shows within a day of serving.
func TestEarnRateWindow(t *testing.T) {
	c := newClock()
	r := openRate("", c)
	serveSteady(t, r, c, 30*time.Hour, time.Minute, 20_000_000) // 1.2 TON/h
	serveSteady(t, r, c, 24*time.Hour, time.Minute, 5_000_000)  // then 0.3 TON/h
	e := r.estimate()
	if e.Serving > EarnRateWindow+earnRateSlot || e.Serving < EarnRateWindow {
		t.Fatalf("covers %s of serving, want the last %s", e.Serving, EarnRateWindow)
	}
	if e.NanoPerHour < 300_000_000 || e.NanoPerHour > 330_000_000 {
		t.Fatalf("estimate %d nanoTON/h, want about 0.3 TON/h once a day of the new demand is in", e.NanoPerHour)
	}
}

// TestEarnRateCounts: what counts as serving and earning, by case.
func TestEarnRateCounts(t *testing.T) {
	tests := []struct {
		name       string
		run        func(r *earnRate, c *fakeClock)
		wantEarned int64
		wantKnown  bool
	}{
		{"too little serving is not known", func(r *earnRate, c *fakeClock) {
			r.setServing(true)
			c.add(5 * time.Minute)
			r.credit(1_000, c.t)
		}, 1_000, false},
		{"the last receipt after the pause counts", func(r *earnRate, c *fakeClock) {
			r.setServing(true)
			c.add(20 * time.Minute)
			r.setServing(false)
			c.add(30 * time.Second)
			r.credit(2_000, c.t.Add(-10*time.Second))
		}, 2_000, true},
		{"a receipt long after serving is not this hour's", func(r *earnRate, c *fakeClock) {
			r.setServing(true)
			c.add(20 * time.Minute)
			r.setServing(false)
			c.add(time.Hour)
			r.credit(2_000, c.t)
		}, 0, true},
		{"an old receipt fetched again is not counted", func(r *earnRate, c *fakeClock) {
			r.setServing(true)
			c.add(20 * time.Minute)
			r.credit(3_000, c.t.Add(-48*time.Hour))
		}, 0, true},
		{"nothing, or a negative amount, is ignored", func(r *earnRate, c *fakeClock) {
			r.setServing(true)
			c.add(20 * time.Minute)
			r.credit(0, c.t)
			r.credit(-5, c.t)
		}, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newClock()
			r := openRate("", c)
			tc.run(r, c)
			if e := r.estimate(); e.Earned != tc.wantEarned || e.Known != tc.wantKnown {
				t.Fatalf("estimate = %+v, want earned %d, known %v", e, tc.wantEarned, tc.wantKnown)
			}
		})
	}
}

// TestEarnRateSurvivesRestart: the slots are in the data dir, so a new
// run starts with the same estimate; a damaged file is set aside, not
// trusted and not deleted.
func TestEarnRateSurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), EarnRateFile)
	c := newClock()
	r := openRate(path, c)
	serveSteady(t, r, c, 2*time.Hour, time.Minute, 10_000_000)
	before := r.estimate()

	again := openRate(path, c) // the next launch
	if got := again.estimate(); got != before || !got.Known {
		t.Fatalf("after a restart: %+v, want %+v", got, before)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("estimate file: %v, %v", fi, err)
	}

	for _, bad := range []string{"{not json", `{"version":1,"slots":[{"serving_ms":-5,"earned":1}]}`, `{"version":1,"slots":[{"serving_ms":1000,"earned":-1}]}`} {
		if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		if e := openRate(path, c).estimate(); e.Serving != 0 || e.Earned != 0 {
			t.Fatalf("a damaged file %q was trusted: %+v", bad, e)
		}
		if b, err := os.ReadFile(path + ".bad"); err != nil || string(b) != bad {
			t.Fatalf("the damaged file was not set aside: %q, %v", b, err)
		}
	}
}

// TestEarnRateHuge: amounts near the int64 limit saturate instead of
// wrapping round to a negative estimate.
func TestEarnRateHuge(t *testing.T) {
	c := newClock()
	r := openRate("", c)
	r.setServing(true)
	c.add(time.Minute)
	r.credit(1<<62, c.t)
	r.credit(1<<62, c.t)
	r.credit(1<<62, c.t)
	if e := r.estimate(); e.NanoPerHour <= 0 || e.Earned <= 0 {
		t.Fatalf("estimate wrapped: %+v", e)
	}
}

// TestCoreKeepsServingTimeAcrossRestart: the real core feeds the estimate
// its serving time and keeps it in the data dir for the next launch.
func TestCoreKeepsServingTimeAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	c := startCore(t, func(cfg *Config) { cfg.DataDir = dir })
	ctx := testCtx(t)
	if err := c.WaitModels(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.StartNow(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "serving", func() bool { return c.Status().State == StateServing })
	waitFor(t, "serving time to count", func() bool { return c.Status().Earnings.Rate.Serving > 0 })
	if err := c.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	served := c.Status().Earnings.Rate.Serving
	if served <= 0 {
		t.Fatalf("no serving time after serving: %+v", c.Status().Earnings.Rate)
	}
	next := New(Config{DataDir: dir, Logger: quietLog()}) // the next launch, not run
	if got := next.Status().Earnings.Rate.Serving; got != served {
		t.Fatalf("after a restart the estimate covers %s of serving, want %s", got, served)
	}
}
