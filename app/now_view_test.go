package app

import (
	"errors"
	"image/png"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"

	"github.com/cocoon-desktop/cocoon-desktop/earnings"
	"github.com/cocoon-desktop/cocoon-desktop/gpu"
	"github.com/cocoon-desktop/cocoon-desktop/worker"
)

func TestRing(t *testing.T) {
	r := newRing[int](3)
	if _, ok := r.last(); ok || r.len() != 0 || len(r.items()) != 0 {
		t.Fatal("a new ring is not empty")
	}
	r.setLast(9) // on an empty ring: a push
	tests := []struct {
		push int
		want []int
	}{
		{1, []int{9, 1}},
		{2, []int{9, 1, 2}},
		{3, []int{1, 2, 3}}, // full: the oldest goes
		{4, []int{2, 3, 4}},
		{5, []int{3, 4, 5}},
	}
	for _, tt := range tests {
		r.push(tt.push)
		if got := r.items(); !slices.Equal(got, tt.want) {
			t.Fatalf("after push(%d) items = %v, want %v", tt.push, got, tt.want)
		}
		if l, _ := r.last(); l != tt.push {
			t.Fatalf("last = %d, want %d", l, tt.push)
		}
	}
	r.setLast(50)
	if got := r.items(); !slices.Equal(got, []int{3, 4, 50}) {
		t.Fatalf("after setLast items = %v", got)
	}
	z := newRing[int](0) // size is at least 1
	z.push(1)
	if z.len() != 1 {
		t.Fatal("a zero-size ring holds nothing")
	}
}

func TestSeriesKeepsOneSampleAGap(t *testing.T) {
	t0 := time.Unix(1000, 0)
	s := newSeries(4, time.Second)
	s.add(t0, 1)
	s.add(t0.Add(300*time.Millisecond), 2) // within the gap: replaces the value, keeps the time
	s.add(t0.Add(time.Second), 3)
	got := s.r.items()
	want := []sample{{t0, 2}, {t0.Add(time.Second), 3}}
	if !slices.Equal(got, want) {
		t.Fatalf("items = %v, want %v", got, want)
	}
	s.add(t0.Add(-time.Hour), 7) // the clock went back: start again
	if got := s.r.items(); !slices.Equal(got, []sample{{t0.Add(-time.Hour), 7}}) {
		t.Fatalf("after a clock jump back items = %v", got)
	}
}

func TestSparkPoints(t *testing.T) {
	now := time.Unix(10_000, 0)
	at := func(secAgo float64) time.Time { return now.Add(-time.Duration(secAgo * float64(time.Second))) }
	p := fyne.NewPos
	tests := []struct {
		name    string
		samples []sample
		lo, hi  float64
		want    []fyne.Position
	}{
		{"empty", nil, 0, 100, nil},
		{"one sample holds until now", []sample{{at(60), 50}}, 0, 100, []fyne.Position{p(0.5, 0.5), p(1, 0.5)}},
		{"a step between readings", []sample{{at(120), 0}, {at(60), 100}}, 0, 100,
			[]fyne.Position{p(0, 0), p(0.5, 0), p(0.5, 1), p(1, 1)}},
		{"equal values: no step", []sample{{at(90), 20}, {at(30), 20}}, 0, 100,
			[]fyne.Position{p(0.25, 0.2), p(1, 0.2)}},
		{"older readings: the newest of them starts at x 0", []sample{{at(500), 10}, {at(200), 40}, {at(60), 40}}, 0, 100,
			[]fyne.Position{p(0, 0.4), p(1, 0.4)}},
		{"clamped to the scale", []sample{{at(120), 150}, {at(60), -5}}, 0, 100,
			[]fyne.Position{p(0, 1), p(0.5, 1), p(0.5, 0), p(1, 0)}},
		{"offset scale", []sample{{at(0), 55}}, 20, 90, []fyne.Position{p(1, 0.5)}},
		{"empty scale draws at the bottom", []sample{{at(60), 5}}, 3, 3, []fyne.Position{p(0.5, 0), p(1, 0)}},
		{"future samples are ignored", []sample{{at(60), 50}, {now.Add(time.Minute), 90}}, 0, 100,
			[]fyne.Position{p(0.5, 0.5), p(1, 0.5)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := sparkPoints(tt.samples, now, 2*time.Minute, tt.lo, tt.hi)
			if len(got) != len(tt.want) {
				t.Fatalf("points = %v, want %v", got, tt.want)
			}
			for i := range got {
				if d := got[i].Subtract(tt.want[i]); d.X*d.X+d.Y*d.Y > 1e-6 {
					t.Fatalf("points = %v, want %v", got, tt.want)
				}
			}
		})
	}
}

func TestScaleTop(t *testing.T) {
	s := func(vs ...float64) []sample {
		out := make([]sample, len(vs))
		for i, v := range vs {
			out[i] = sample{v: v}
		}
		return out
	}
	tests := []struct {
		samples     []sample
		floor, step float64
		want        float64
	}{
		{nil, 90, 10, 90},
		{s(40, 85), 90, 10, 90},
		{s(40, 93), 90, 10, 100},
		{s(260), 100, 50, 300},
		{s(300), 100, 50, 300},
		{s(123), 100, 0, 123},
	}
	for _, tt := range tests {
		if got := scaleTop(tt.samples, tt.floor, tt.step); got != tt.want {
			t.Errorf("scaleTop(%v, %v, %v) = %v, want %v", tt.samples, tt.floor, tt.step, got, tt.want)
		}
	}
}

func TestJobAndTodayText(t *testing.T) {
	tests := []struct {
		jobs            worker.JobStats
		state           worker.State
		wantHead, wantS string
	}{
		{worker.JobStats{Running: 1, LastModel: "llama3.2:1b", LastTokensPS: 42.06}, worker.StateServing, "llama3.2:1b · 42.1 tokens/s", "running"},
		{worker.JobStats{Running: 3, LastModel: "qwen3:8b"}, worker.StateServing, "qwen3:8b", "3 jobs running"},
		{worker.JobStats{Running: 1}, worker.StateServing, "A job", "running"},
		{worker.JobStats{Completed: 12, LastModel: "x", LastTokensPS: 9}, worker.StateServing, "idle", "ready, waiting for a job · 12 jobs this session"},
		{worker.JobStats{}, worker.StatePaused, "idle", "not serving now"},
		{worker.JobStats{}, worker.StateStopped, "idle", "not sharing"},
	}
	for _, tt := range tests {
		h, s := jobText(tt.jobs, tt.state)
		if h != tt.wantHead || s != tt.wantS {
			t.Errorf("jobText(%+v, %s) = %q, %q; want %q, %q", tt.jobs, tt.state, h, s, tt.wantHead, tt.wantS)
		}
	}
	day := earnings.DayTotal{JobTotals: earnings.JobTotals{Jobs: 3, Gross: 1_500_000_000, EnergyMilliJ: 9_000_000}, Net: 1_250_000_000}
	if h, s := todayText(day, true); h != "1.5 TON" || s != "net 1.25 TON after electricity" {
		t.Errorf("todayText with tariff = %q, %q", h, s)
	}
	unmeasured := earnings.DayTotal{JobTotals: earnings.JobTotals{Jobs: 3, Gross: 1_500_000_000}, Net: 1_500_000_000}
	if h, s := todayText(unmeasured, true); h != "1.5 TON" || s != "3 jobs · energy not measured on this card" {
		t.Errorf("todayText with tariff, energy not measured = %q, %q", h, s)
	}
	if h, s := todayText(day, false); h != "1.5 TON" || s != "3 jobs · set a tariff for the net" {
		t.Errorf("todayText without tariff = %q, %q", h, s)
	}
}

func TestNowStripGraphsFollowStatus(t *testing.T) {
	core := newFakeCore(gpuOKStatus())
	core.st.State = worker.StateServing
	core.st.Jobs = worker.JobStats{Running: 1, LastModel: "llama3.2:1b", LastTokensPS: 87.5}
	clock := time.Unix(50_000, 0)
	v, w, _ := newTestView(t, core)
	v.clock = func() time.Time { return clock }
	n := v.dash.now
	if !n.graphs.Visible() || n.noGPU.Visible() {
		t.Fatal("want graphs with a GPU")
	}
	if got := n.job.text(); got != "llama3.2:1b · 87.5 tokens/s   running" {
		t.Errorf("job line = %q", got)
	}
	if n.job.head.Style.ColorName != theme.ColorNameSuccess {
		t.Errorf("a running job is not green")
	}
	// Two minutes of readings, one every 5 s, temperature climbing.
	for i := range 24 {
		clock = clock.Add(5 * time.Second)
		core.set(func(st *worker.Status) { st.GPU.Devices[0].TemperatureC = 50 + i })
		v.refresh(core.Status())
	}
	if got := n.temp.value.Text; got != "73 °C" {
		t.Errorf("temp value = %q", got)
	}
	if got := n.power.value.Text; got != "187 W" {
		t.Errorf("power value = %q", got)
	}
	if got := n.vram.value.Text; got != "29%" { // 7 of 24 GiB
		t.Errorf("vram value = %q", got)
	}
	if got := n.util.value.Text; got != "38%" {
		t.Errorf("load value = %q", got)
	}
	if len(n.temp.line.pts) < 24 || len(n.util.line.pts) != 2 {
		t.Errorf("points: temp %d (want a step per reading), load %d (flat)", len(n.temp.line.pts), len(n.util.line.pts))
	}
	// The tick moves the graph on without a status.
	before := n.temp.hist.r.len()
	clock = clock.Add(telemetryTick)
	v.tickTelemetry()
	if n.temp.hist.r.len() != before+1 {
		t.Errorf("tick added no sample")
	}
	if os.Getenv("COCOON_SHOT") != "" { // look at it: COCOON_SHOT=/tmp/now.png
		w.Resize(fyne.NewSize(1180, 760))
		f, err := os.Create(os.Getenv("COCOON_SHOT"))
		if err == nil {
			_ = png.Encode(f, w.Canvas().Capture())
			f.Close()
		}
	}

	// The GPU goes away: "no GPU" instead of empty graphs.
	core.set(func(st *worker.Status) { st.GPU = gpu.Snapshot{State: gpu.StateNoDriver}; st.Jobs = worker.JobStats{} })
	v.refresh(core.Status())
	if n.graphs.Visible() || !n.noGPU.Visible() {
		t.Fatal("want \"no GPU\" without a GPU")
	}
	if got := n.job.text(); got != "idle   ready, waiting for a job" {
		t.Errorf("idle job line = %q", got)
	}
	v.tickTelemetry() // no panic, nothing drawn
}

func TestNowStripShowsTodayFromLedger(t *testing.T) {
	v, _, _ := newTestView(t, newFakeCore(noDriverStatus()))
	if v.dash.now.graphs.Visible() || !v.dash.now.noGPU.Visible() {
		t.Fatal("want \"no GPU\"")
	}
	// Without a ledger the Earnings tab renders a zero day.
	if got := v.dash.now.today.text(); got != "0 TON   0 jobs · set a tariff for the net" {
		t.Errorf("today = %q", got)
	}
	v.earn.render(earningsData{settings: worker.Settings{TariffNanoPerKWh: 100_000_000},
		days: []earnings.DayTotal{{Start: startOfDay(time.Now()), JobTotals: earnings.JobTotals{Jobs: 2, Gross: 2_000_000_000, EnergyMilliJ: 360_000_000}, Net: 1_900_000_000}}})
	if got := v.dash.now.today.text(); got != "2 TON   net 1.9 TON after electricity" {
		t.Errorf("today with a tariff = %q", got)
	}
}

func TestStorageText(t *testing.T) {
	tests := []struct {
		mc   worker.ModelCache
		want string
	}{
		{worker.ModelCache{Mount: "/home", Free: 120_300_000_000, FreeKnown: true, Used: 1_300_000_000, Quota: 50 * bytesPerGB},
			"Drive /home · 120 GB free · models use 1.3 GB of 50 GB"},
		{worker.ModelCache{Mount: `C:\`, Used: 812_000}, `Drive C:\ · models use 812 KB, no quota`},
		{worker.ModelCache{Free: 5_000_000_000, FreeKnown: true}, "5 GB free · models use 0 B, no quota"},
		{worker.ModelCache{Attached: true, Used: 4_700_000_000}, "Managed by your Ollama · models use 4.7 GB, no quota"},
		{worker.ModelCache{Attached: true, Used: 4_700_000_000, Quota: bytesPerGB},
			"Managed by your Ollama · models use 4.7 GB (the quota applies to Cocoon's own store only)"},
	}
	for _, tt := range tests {
		if got := storageText(tt.mc); got != tt.want {
			t.Errorf("storageText(%+v) = %q, want %q", tt.mc, got, tt.want)
		}
	}
}

func TestParseQuotaGB(t *testing.T) {
	for in, want := range map[string]int64{"": 0, " 0 ": 0, "50": 50, "50 GB": 50, "8gb": 8, "100000": 100000} {
		if got, err := parseQuotaGB(in); err != nil || got != want {
			t.Errorf("parseQuotaGB(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"-1", "1.5", "lots", "100001"} {
		if _, err := parseQuotaGB(bad); err == nil {
			t.Errorf("parseQuotaGB(%q) accepted", bad)
		}
	}
}

func TestModelsStorageRowAndQuota(t *testing.T) {
	core := newFakeCore(gpuOKStatus())
	core.cache = worker.ModelCache{Dir: "/data/ollama/models", Mount: "/data", Free: 80 * bytesPerGB, FreeKnown: true}
	core.settings.ModelCacheQuotaGB = 2
	core.cache.Quota = 2 * bytesPerGB
	v, w, q := newTestView(t, core)
	s := &v.dash.storage
	if got := s.entry.Text; got != "2" {
		t.Errorf("quota entry = %q, want the saved 2", got)
	}
	if got := s.text.text(); got != "Drive /data · 80 GB free · models use 1.3 GB of 2 GB" {
		t.Errorf("storage = %q", got)
	}
	if s.overQuota || s.entry.Disabled() {
		t.Error("under quota, managed: not warned, editable")
	}
	s.entry.SetText("1")
	test.Tap(s.save)
	// Wait for what the owner sees, not only for the call: the view updates
	// after the save returns.
	q.runUntil(t, "the quota saved and shown", func() bool { return len(core.quotaCalls()) == 1 && s.overQuota })
	if got := core.quotaCalls()[0]; got != 1 {
		t.Fatalf("SetModelCacheQuotaGB(%d), want 1", got)
	}
	if !s.overQuota || s.text.seg.Style.ColorName != theme.ColorNameWarning {
		t.Error("1.3 GB of 1 GB is not shown as over quota")
	}
	// A bad entry never reaches the core.
	s.entry.SetText("lots")
	test.Tap(s.save)
	if len(core.quotaCalls()) != 1 {
		t.Fatal("a bad quota was saved")
	}
	if len(w.Canvas().Overlays().List()) == 0 {
		t.Error("no error dialog for a bad quota")
	}
	core.mu.Lock()
	core.quotaErr = errors.New("disk on fire")
	core.mu.Unlock()
	s.entry.SetText("3")
	test.Tap(s.save)
	q.runUntil(t, "the failed save", func() bool { return len(core.quotaCalls()) == 2 })

	// Attached: the owner's Ollama decides; no quota to set.
	core.mu.Lock()
	core.cache = worker.ModelCache{Attached: true}
	core.mu.Unlock()
	v.refresh(core.Status())
	if !s.entry.Disabled() || !s.save.Disabled() || !strings.HasPrefix(s.text.text(), "Managed by your Ollama") {
		t.Errorf("attached: entry disabled %v, text %q", s.entry.Disabled(), s.text.text())
	}
}

func TestEvictionNotice(t *testing.T) {
	v, _, _ := newTestView(t, newFakeCore(gpuOKStatus()))
	v.handleEvent(worker.Event{Type: worker.EventModels, Data: worker.ModelEviction{
		Models: []string{"old:7b", "older:3b"}, Freed: 6_700_000_000, Quota: 20 * bytesPerGB}})
	if !v.noticeRow.Visible() || !strings.HasSuffix(v.notice.Text,
		"Removed old:7b, older:3b (6.7 GB, least recently used) to stay under the 20 GB model quota.") {
		t.Fatalf("notice = %q (visible %v)", v.notice.Text, v.noticeRow.Visible())
	}
	v.noticeRow.Hide()
	v.handleEvent(worker.Event{Type: worker.EventModels}) // a plain change: no notice
	if v.noticeRow.Visible() {
		t.Fatal("a plain models event showed a notice")
	}
}
