package app

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/ton"

	"github.com/cocoon-desktop/cocoon-desktop/earnings"
	"github.com/cocoon-desktop/cocoon-desktop/gpu"
	"github.com/cocoon-desktop/cocoon-desktop/idle"
	"github.com/cocoon-desktop/cocoon-desktop/runtime/ollama"
	"github.com/cocoon-desktop/cocoon-desktop/worker"
)

// fakeCore is a Core whose status the test sets; it records the calls made.
type fakeCore struct {
	mu        sync.Mutex
	st        worker.Status
	subs      []chan worker.Event
	starts    int
	startNows int
	stops     int
	deleted   []string
	restores  int // RestoreBuiltInModel calls
	served    []string
	startErr  error
	// pullFn, if set, runs inside PullModel (it may publish progress and block).
	pullFn func(ctx context.Context, name string) error

	// earnings
	ledger   *earnings.Ledger // nil: no ledger yet
	settings worker.Settings
	quoteMin int64
	quoteFee int64
	quoteNet ton.Net
	quoteErr error // default worker.ErrPayoutsUnavailable, as on the local network

	pauses []time.Duration // PauseFor calls

	nets fakeNetworks // the Networks tab (networks_view_test.go)

	// settings tab
	idlePolicy worker.IdleSettings // what IdleSettings returns; zero: the defaults
	policySets []worker.IdleSettings

	// first-run wizard
	bench      worker.BenchmarkResult // what Benchmark returns
	benchErr   error
	benchBlock chan struct{} // non-nil: Benchmark waits for it (or ctx)
	benchCalls int
	onboards   int // SetOnboarded calls

	// model cache
	cache     worker.ModelCache // what ModelCache returns (Quota follows SetModelCacheQuotaGB)
	quotaSets []int64
	quotaErr  error

	rebuilds int // RebuildLedger calls

	// settlement on chain (settlement_view_test.go)
	settle   *worker.SettlementStatus
	claims   int
	claimErr error
}

// RebuildLedger clears the damaged-ledger status, as the core does.
func (f *fakeCore) RebuildLedger(ctx context.Context) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.st.LedgerDamaged == "" {
		return "", worker.ErrLedgerNotDamaged
	}
	f.rebuilds++
	f.st.LedgerDamaged, f.st.State, f.st.Error = "", worker.StateStopped, ""
	return "/data/ledger.db.damaged-20261202T080000Z", nil
}

func newFakeCore(st worker.Status) *fakeCore {
	return &fakeCore{st: st, quoteErr: worker.ErrPayoutsUnavailable}
}

func (f *fakeCore) Status() worker.Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.st
}

func (f *fakeCore) set(fn func(*worker.Status)) {
	f.mu.Lock()
	fn(&f.st)
	f.mu.Unlock()
}

func (f *fakeCore) Subscribe(buffer int) (<-chan worker.Event, func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ch := make(chan worker.Event, buffer)
	f.subs = append(f.subs, ch)
	return ch, func() {}
}

func (f *fakeCore) publish(ev worker.Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	for _, ch := range f.subs {
		select {
		case ch <- ev:
		default:
		}
	}
}

func (f *fakeCore) StartNow(ctx context.Context) error {
	f.mu.Lock()
	f.startNows++
	f.mu.Unlock()
	return f.Start(ctx)
}

func (f *fakeCore) Start(ctx context.Context) error {
	f.mu.Lock()
	f.starts++
	err := f.startErr
	if err == nil && f.st.Model == "" { // as the core: nothing to serve, nothing started
		err = fmt.Errorf("worker: start: %w: %w", worker.ErrNoModel, ollama.ErrModelNotFound)
	}
	if err == nil {
		f.st.State = worker.StateServing
	}
	f.mu.Unlock()
	if err == nil {
		f.publish(worker.Event{Type: worker.EventState, Data: worker.StateServing})
	}
	return err
}

func (f *fakeCore) Stop(ctx context.Context) error {
	f.mu.Lock()
	f.stops++
	f.st.State = worker.StateStopped
	f.mu.Unlock()
	f.publish(worker.Event{Type: worker.EventState, Data: worker.StateStopped})
	return nil
}

func (f *fakeCore) PullModel(ctx context.Context, name string) error {
	if f.pullFn != nil {
		return f.pullFn(ctx, name)
	}
	return nil
}

func (f *fakeCore) DeleteModel(ctx context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deleted = append(f.deleted, name)
	var keep []ollama.Model
	for _, m := range f.st.Models {
		if m.Name != name {
			keep = append(keep, m)
		}
	}
	f.st.Models = keep
	// As the core does: deleting the served model while sharing stops
	// sharing, and another local model (if any) is chosen.
	if f.st.Model == name {
		if f.st.State.Started() {
			f.st.State = worker.StateStopped
		}
		f.st.Model = ""
		if len(keep) > 0 {
			f.st.Model = keep[0].Name
		}
	}
	return nil
}

func (f *fakeCore) RestoreBuiltInModel(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.restores++
	f.st.Models = append(f.st.Models, ollama.Model{Name: worker.TinyModel, Size: 812_000, Family: "llama"})
	if f.st.Model == "" {
		f.st.Model = worker.TinyModel
	}
	return nil
}

func (f *fakeCore) SetModel(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.served = append(f.served, name)
	f.st.Model = name
	return nil
}

func (f *fakeCore) theLedger() *earnings.Ledger {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ledger
}

func (f *fakeCore) EarningsHistory(jobs, payouts int) (worker.EarningsHistory, error) {
	l := f.theLedger()
	if l == nil {
		return worker.EarningsHistory{}, worker.ErrNoLedger
	}
	var h worker.EarningsHistory
	var err error
	if h.Balance, err = l.Balance(); err != nil {
		return h, err
	}
	if h.Jobs, _, err = l.Jobs("", jobs); err != nil {
		return h, err
	}
	h.Payouts, err = l.Payouts(payouts)
	return h, err
}

func (f *fakeCore) DailyEarnings(from, to time.Time, tariff earnings.Tariff) ([]earnings.DayTotal, error) {
	l := f.theLedger()
	if l == nil {
		return nil, worker.ErrNoLedger
	}
	return l.Daily(from, to, tariff)
}

func (f *fakeCore) ExportEarningsCSV(w io.Writer, from, to time.Time) error {
	l := f.theLedger()
	if l == nil {
		return worker.ErrNoLedger
	}
	return l.ExportCSV(w, from, to)
}

func (f *fakeCore) PayoutQuote() (int64, int64, ton.Net, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.quoteErr != nil {
		return 0, 0, 0, f.quoteErr
	}
	return f.quoteMin, f.quoteFee, f.quoteNet, nil
}

func (f *fakeCore) Settings() worker.Settings {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.settings
}

func (f *fakeCore) SetPayoutAddress(s string) (ton.Address, error) {
	netw := ton.Mainnet
	if _, _, n, err := f.PayoutQuote(); err == nil {
		netw = n
	}
	a, err := ton.ParseAddress(s, netw)
	if err != nil {
		return ton.Address{}, fmt.Errorf("worker: payout address: %w", err)
	}
	f.mu.Lock()
	f.settings.PayoutAddress = strings.TrimSpace(s)
	f.mu.Unlock()
	return a, nil
}

func (f *fakeCore) SetElectricity(e *worker.Electricity) error {
	nano := int64(0)
	if e != nil {
		n, err := e.NanoTONPerKWh()
		if err != nil {
			return err
		}
		nano = n
	}
	f.mu.Lock()
	f.settings.Electricity, f.settings.TariffNanoPerKWh = e, nano
	f.mu.Unlock()
	f.publish(worker.Event{Type: worker.EventEarnings})
	return nil
}

func (f *fakeCore) SetTariff(n int64) error {
	if n < 0 || n > 1_000_000_000_000 {
		return fmt.Errorf("worker: tariff: %w", worker.ErrBadSetting)
	}
	f.mu.Lock()
	f.settings.TariffNanoPerKWh = n
	f.mu.Unlock()
	return nil
}

// PauseFor records the call; the fake pauses (state paused, a reason).
func (f *fakeCore) PauseFor(ctx context.Context, d time.Duration) error {
	f.mu.Lock()
	f.pauses = append(f.pauses, d)
	f.st.State = worker.StatePaused
	f.st.Reasons = []idle.Reason{{Code: idle.CodePausedUntil, Text: "You paused serving until " + time.Now().Add(d).Format("Mon 15:04")}}
	f.mu.Unlock()
	f.publish(worker.Event{Type: worker.EventState, Data: worker.StatePaused})
	return nil
}

func (f *fakeCore) pauseCalls() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Duration(nil), f.pauses...)
}

func (f *fakeCore) IdleSettings() worker.IdleSettings {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.idlePolicy == (worker.IdleSettings{}) {
		return worker.IdlePolicyOf(idle.DefaultConfig())
	}
	return f.idlePolicy
}

// SetIdleSettings validates as the worker does and stores the canonical schedule.
func (f *fakeCore) SetIdleSettings(p worker.IdleSettings) error {
	cfg, err := p.Apply(idle.DefaultConfig())
	if err != nil {
		return err
	}
	p.Schedule = ""
	if cfg.Schedule != nil {
		p.Schedule = cfg.Schedule.String()
	}
	f.mu.Lock()
	f.idlePolicy = p
	f.policySets = append(f.policySets, p)
	f.mu.Unlock()
	return nil
}

func (f *fakeCore) SetLogLevel(level string) error {
	if level != "" && !slices.Contains(worker.LogLevels, level) {
		return &worker.FieldError{Field: worker.FieldLogLevel, Problem: "not a level"}
	}
	f.mu.Lock()
	f.settings.LogLevel = level
	f.mu.Unlock()
	return nil
}

// Benchmark returns f.bench (or f.benchErr), after benchBlock if set.
func (f *fakeCore) Benchmark(ctx context.Context) (worker.BenchmarkResult, error) {
	f.mu.Lock()
	f.benchCalls++
	block, res, err := f.benchBlock, f.bench, f.benchErr
	f.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return worker.BenchmarkResult{}, ctx.Err()
		}
	}
	return res, err
}

func (f *fakeCore) SetOnboarded() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.onboards++
	f.settings.Onboarded = true
	return nil
}

func (f *fakeCore) onboardCalls() (benchmarks, onboards int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.benchCalls, f.onboards
}

func (f *fakeCore) counts() (starts, stops int, deleted, served []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.starts, f.stops, append([]string(nil), f.deleted...), append([]string(nil), f.served...)
}

// uiQueue stands in for fyne.Do: functions queue here and the test runs them
// on its own goroutine, so widgets are only touched by one goroutine.
type uiQueue chan func()

func (q uiQueue) do(fn func()) { q <- fn }

// runUntil runs queued UI functions until cond holds or 5 s pass.
func (q uiQueue) runUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for !cond() {
		select {
		case fn := <-q:
			fn()
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// Realistic statuses used by the tests and the screenshot program.

func noDriverStatus() worker.Status {
	return worker.Status{
		State: worker.StateStopped,
		Model: "llama3.2:1b",
		GPU: gpu.Snapshot{
			State:  gpu.StateNoDriver,
			Reason: "No NVIDIA driver found — Cocoon can still run models on the CPU for testing",
		},
		Ollama: ollama.Status{Reachable: true, Version: "0.17.4", Mode: ollama.ModeManaged, Address: "http://127.0.0.1:11500", PID: 4321},
		Models: []ollama.Model{
			{Name: "llama3.2:1b", Size: 1_321_098_329, Family: "llama", Parameters: "1.2B", Quant: "Q8_0", FitNote: "no GPU: runs on the CPU"},
			{Name: "tiny-llama:test", Size: 812_000, Family: "llama", Parameters: "0.4M", Quant: "F32", FitNote: "no GPU: runs on the CPU", Loaded: true},
		},
		Pulls: map[string]ollama.PullProgress{},
	}
}

func gpuOKStatus() worker.Status {
	st := noDriverStatus()
	st.GPU = gpu.Snapshot{
		State:         gpu.StateOK,
		DriverVersion: "550.54.14",
		CUDAVersion:   "12.4",
		Devices: []gpu.Device{{
			Name:              "NVIDIA GeForce RTX 4090",
			MemoryTotal:       24 << 30,
			MemoryUsed:        7 << 30,
			MemoryFree:        17 << 30,
			TemperatureC:      61,
			UtilizationGPU:    38,
			UtilizationMemory: 21,
			PowerW:            187,
			PowerLimitW:       450,
			Processes:         []gpu.Process{{PID: 48211, Name: "Cyberpunk2077.exe", MemoryUsed: 6 << 30}},
		}},
	}
	for i := range st.Models {
		st.Models[i].FitsVRAM = true
		st.Models[i].FitNote = ""
	}
	return st
}

func (f *fakeCore) ModelCache() worker.ModelCache {
	f.mu.Lock()
	defer f.mu.Unlock()
	mc := f.cache
	mc.Used = 0
	for _, m := range f.st.Models {
		mc.Used += m.Size
	}
	return mc
}

// quotaCalls are the SetModelCacheQuotaGB calls so far.
func (f *fakeCore) quotaCalls() []int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]int64(nil), f.quotaSets...)
}

func (f *fakeCore) SetModelCacheQuotaGB(gb int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.quotaSets = append(f.quotaSets, gb)
	if f.quotaErr != nil {
		return f.quotaErr
	}
	f.settings.ModelCacheQuotaGB = gb
	f.cache.Quota = gb * 1_000_000_000
	return nil
}
