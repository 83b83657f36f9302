// Package worker is the core that the GUI, the tray and headless mode all
// drive. It owns the GPU sampler, the model runtime, the network client and
// the idle policy, and runs one state machine:
//
//	Stopped → WaitingForIdle → Serving ⇄ Paused(reasons) → Stopped, plus Error
//
// It keeps one consistent Status, takes commands (Start, StartNow, Stop,
// pull, delete, choose the model), runs network jobs on the runtime (prompts
// and outputs only pass through memory), stores the proxy's receipts, and
// publishes events on a Bus when anything changes.
package worker

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/cocoon-desktop/cocoon-desktop/earnings"
	"github.com/cocoon-desktop/cocoon-desktop/gpu"
	"github.com/cocoon-desktop/cocoon-desktop/idle"
	"github.com/cocoon-desktop/cocoon-desktop/internal/tinymodel"
	"github.com/cocoon-desktop/cocoon-desktop/network"
	"github.com/cocoon-desktop/cocoon-desktop/receipt"
	"github.com/cocoon-desktop/cocoon-desktop/runtime/ollama"
	"github.com/cocoon-desktop/cocoon-desktop/ton/escrow"
)

// TinyModel is the small built-in model that makes the local network work
// out of the box (random weights: it proves the pipeline, not intelligence).
const TinyModel = "cocoon-tiny:latest"

// ErrNotReady means a command needs Ollama, which is not reachable yet.
var ErrNotReady = errors.New("model runtime not ready")

// ErrNoModel means sharing cannot start because no local model is chosen
// (none downloaded, or the served one was deleted).
var ErrNoModel = errors.New("no model chosen: download one first")

// Config configures a Core.
type Config struct {
	DataDir string
	// Model is the model to serve; empty: the first local model (TinyModel when seeded).
	Model string
	// SeedTinyModel registers TinyModel in Ollama when it is missing.
	SeedTinyModel bool
	Runtime       ollama.Config
	// GPU is the detector to sample; nil uses the real NVML library.
	GPU *gpu.Detector
	// GPUInterval is how often the GPU is sampled while serving (default
	// 1 s); while not serving, at each of the control loop's polls.
	GPUInterval time.Duration
	// RefreshInterval is how often the model lists are re-read (default
	// 30 s): Cocoon's own pulls, deletes, loads and unloads re-read them at
	// once, so the poll only catches another Ollama client's changes.
	RefreshInterval time.Duration
	Logger          *slog.Logger

	// Network is where jobs come from; an empty URL runs without a network.
	// A network joined in the app (Settings.Network) replaces it unless
	// NetworkFixed (networks.go); a local one stays the way back.
	Network      NetworkConfig
	NetworkFixed bool // Network came from the command line (--network): joins are refused
	// Idle is the idle policy (DefaultConfig when zero).
	Idle idle.Config
	// InputIdle reports time since the owner's last input; nil means nobody
	// is ever there (rigs and servers: always idle).
	InputIdle  idle.InputIdler
	FullScreen idle.FullScreener
	// Controllers and Steam are the gamer rules' sources (optional):
	// controller input counts as the owner's, a Steam game pauses.
	Controllers idle.ControllerIdler
	Steam       idle.SteamWatcher
	// PollInterval is how often the idle signals are sampled while serving
	// (default 250 ms); WaitPollInterval the same while not serving
	// (default 8 × PollInterval: 2 s).
	PollInterval, WaitPollInterval time.Duration
	// Grace is how long a running job may finish after a pause (default 3 s).
	Grace time.Duration
	// MaxConcurrent jobs offered to the network (default 4; Ollama queues them).
	MaxConcurrent int
	// StallTimeout is how long a running job may go without a token before
	// the model runtime counts as wedged (default 30 s); FirstTokenTimeout
	// the same before the first token, model load included (default 3 min).
	StallTimeout, FirstTokenTimeout time.Duration
	// CoefficientMilli is the price multiplier ×1000 (default 1000 = 1.0).
	CoefficientMilli int64
	// PayoutAddress is the owner's TON address, sent at registration.
	PayoutAddress string
	// LogError reports the log file's last write error (a full disk); nil
	// means the log is written. Optional.
	LogError func() error
	// OfferLedgerRebuild: a damaged ledger makes Run wait for
	// RebuildLedger (the GUI offers it) instead of returning ErrDamaged
	// (headless: the owner runs `cocoon-desktop earnings rebuild`).
	OfferLedgerRebuild bool
	// Settlement reaches TON to claim vouchers from the proxy's escrow
	// (claim.go); nil: no claims. ClaimCheckInterval is how often pending
	// claims are checked (default 30 s).
	Settlement         SettlementChain
	ClaimCheckInterval time.Duration
}

// NetworkConfig says which proxy to serve.
type NetworkConfig struct {
	URL      string            // wss://host:port/v1/worker; empty: no network
	ProxyKey ed25519.PublicKey // pinned proxy key
	KeyFile  string            // the worker identity; default DataDir/keys/worker.key
	Local    bool              // the embedded proxy (for display)
	APIURL   string            // the OpenAI-compatible API of that proxy (for display)
	APIKey   string            // a key for it (local network only, for display)
	Name     string            // the network's display name ("" : none given)
	// LedgerDir holds this network's ledger ("" : DataDir); each joined
	// network has its own, since a ledger holds one proxy's receipt chain.
	LedgerDir string
}

// Core is the worker core. Create with New, drive with Run.
type Core struct {
	rate *earnRate // the TON/hour estimate (earnrate.go)

	cfg Config
	log *slog.Logger
	bus *Bus
	rt  *ollama.Runtime
	gpu *gpu.Detector
	// sampler samples gpu every GPUInterval while serving, with the control loop otherwise (gpuEvery).
	sampler *gpu.Sampler

	refreshMu sync.Mutex // serialises refreshModels
	commands  chan command
	// controlNudge wakes the control loop before its next poll.
	controlNudge chan struct{}
	stopped      chan struct{}                  // closed when Run has returned
	client       atomic.Pointer[network.Client] // set by New, nil without a network; read with cl(), swapped by a join (networks.go)
	// ledger is set by New (nil without a data dir, or while a damaged one
	// waits to be rebuilt: RebuildLedger sets it then); read it with led().
	ledger  atomic.Pointer[earnings.Ledger]
	openErr error // why New could not open the ledger or the key; Run returns it
	// callbacks carries the network client's balance and payout callbacks,
	// in order, to one goroutine that Run owns (see later).
	callbacks   chan func()
	stopping    chan struct{} // closed when Run begins to stop
	refresh     chan struct{}
	modelsReady chan struct{} // closed after the first model refresh (after seeding)
	modelsOnce  sync.Once

	mu      sync.Mutex
	state   State
	errMsg  string
	errVal  error // the error behind errMsg (setError), nil when it is only text
	model   string
	gpuSnap gpu.Snapshot
	models  []ollama.Model
	loaded  []ollama.Loaded
	pulls   map[string]ollama.PullProgress
	rtStat  ollama.Status

	reasons   []idle.Reason
	notes     []idle.Reason // the idle policy's notes (notes.go)
	netStat   NetworkStatus
	jobs      JobStats
	earned    int64
	receipts  int
	lastPause *PauseRecord
	money     EarningsStatus
	energy    map[string]float64 // joules by job id, until its receipt is stored
	settings  *Settings          // loaded on first use
	bench     *BenchmarkResult   // the last local benchmark

	settingsMu sync.Mutex // serialises read-modify-write of the saved settings
	ledgerErr  error      // the last ledger write's error when it was a full disk (c.mu)
	quotaMu    sync.Mutex // serialises model cache quota enforcement
	quotaBytes int64      // tests: the model cache quota in bytes, over the setting

	// Kill points for the crash tests; nil in the app.
	loseReceipt func(receipt.Signed) bool // the app dies before storing it

	restarting atomic.Bool // a wedged runtime is being restarted; not accepting jobs

	// Settlement on chain (claim.go).
	claimHooks  claimHooks
	settleKick  chan struct{}
	escrowState *escrow.State // last read (c.mu)
	settleErr   string        // the last chain error of a claim or read (c.mu)

	// Switching networks (networks.go).
	localNet  *NetworkConfig     // the local test network, the way back (nil: none)
	keyFile   string             // the worker identity's file ("" : DataDir/keys/worker.key)
	switchReq chan switchRequest // JoinNetwork, UseLocalNetwork → runNetwork
	netGen    atomic.Int64       // bumped when a network is replaced: the old client's callbacks are dropped

	fatalMsg       string                  // why Run stopped for good (c.mu); "" while it runs
	fatalErr       error                   // the same as an error, for errors.Is in the UI (c.mu)
	ledgerDamaged  string                  // why the ledger cannot be used, while Run waits for a rebuild (c.mu)
	rebuildReq     chan chan rebuildResult // RebuildLedger → Run
	resyncTo       atomic.Int64            // the last seq of the newest receipts_request
	rebuildPending atomic.Bool             // a rebuilt ledger waits for its receipts (see finishRebuild)
}

// New builds a Core and opens what others read before Run starts: the
// data dir, the earnings ledger and the network client (so nothing is
// assigned while the GUI already reads it). Nothing runs until Run; an error
// opening them is returned by Run at once and shown in Status.
func New(cfg Config) *Core {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.RefreshInterval == 0 {
		cfg.RefreshInterval = 30 * time.Second
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.WaitPollInterval == 0 {
		cfg.WaitPollInterval = waitPollFactor * cfg.PollInterval
	}
	if cfg.Grace == 0 {
		cfg.Grace = DefaultGrace
	}
	if cfg.MaxConcurrent == 0 {
		cfg.MaxConcurrent = 4
	}
	if cfg.StallTimeout == 0 {
		cfg.StallTimeout = DefaultStallTimeout
	}
	if cfg.FirstTokenTimeout == 0 {
		cfg.FirstTokenTimeout = DefaultFirstTokenTimeout
	}
	if cfg.CoefficientMilli == 0 {
		cfg.CoefficientMilli = 1000
	}
	if cfg.Idle.IdleAfter == 0 && !cfg.Idle.PauseOnGPUProcesses && !cfg.Idle.PauseOnFullScreen {
		cfg.Idle = idle.DefaultConfig() // a zero Config: use the defaults
	}
	if cfg.Runtime.Dir == "" && cfg.DataDir != "" {
		cfg.Runtime.Dir = filepath.Join(cfg.DataDir, "ollama")
	}
	if cfg.Runtime.Logger == nil {
		cfg.Runtime.Logger = cfg.Logger
	}
	det := cfg.GPU
	if det == nil {
		det = gpu.NewDetector(nil)
	}
	c := &Core{
		cfg: cfg, log: cfg.Logger.With("component", "worker"), bus: NewBus(), gpu: det,
		commands: make(chan command), stopped: make(chan struct{}), controlNudge: make(chan struct{}, 1),
		netStat: NetworkStatus{Local: cfg.Network.Local, URL: cfg.Network.URL, APIURL: cfg.Network.APIURL, APIKey: cfg.Network.APIKey},
		refresh: make(chan struct{}, 1), modelsReady: make(chan struct{}), state: StateStopped, model: cfg.Model,
		pulls:     map[string]ollama.PullProgress{},
		callbacks: make(chan func(), 64), stopping: make(chan struct{}), settleKick: make(chan struct{}, 1),
		rebuildReq: make(chan chan rebuildResult),
	}
	if cfg.Runtime.FreeVRAM == nil {
		cfg.Runtime.FreeVRAM = func() (uint64, bool) { return c.currentGPU().FreeVRAM() }
	}
	c.sampler = gpu.NewSampler(det, cfg.GPUInterval, func(s gpu.Snapshot) {
		c.mu.Lock()
		same := sameTelemetry(c.gpuSnap, s)
		c.gpuSnap = s
		c.mu.Unlock()
		if !same { // an unchanged card need not wake the UI every second
			c.bus.Publish(EventGPU, s)
		}
	})
	c.sampler.SetInterval(c.gpuEvery(false))
	c.rt = ollama.New(cfg.Runtime)
	c.rate = openEarnRate(dataFile(cfg.DataDir, EarnRateFile), time.Now, c.log)
	c.rt.OnChange(c.runtimeChanged)
	c.chooseNetwork() // networks.go: the network joined in the app, when one was
	if err := c.open(); err != nil {
		c.openErr = err
		c.state, c.errMsg = StateError, err.Error()
	}
	return c
}

// Runtime exposes the model runtime (for doctor and benchmarks).
func (c *Core) Runtime() *ollama.Runtime { return c.rt }

// Subscribe returns the event stream; cancel closes it.
func (c *Core) Subscribe(buffer int) (<-chan Event, func()) { return c.bus.Subscribe(buffer) }

// Status returns a consistent snapshot.
func (c *Core) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	pulls := make(map[string]ollama.PullProgress, len(c.pulls))
	for k, v := range c.pulls {
		pulls[k] = v
	}
	return Status{
		State: c.state, Error: c.errMsg, ErrorErr: c.errVal, Model: c.model, GPU: c.gpuSnap, Ollama: c.rtStat,
		Models: append([]ollama.Model(nil), c.models...), Loaded: append([]ollama.Loaded(nil), c.loaded...),
		Pulls: pulls, DataDir: c.cfg.DataDir,
		Reasons: append([]idle.Reason(nil), c.reasons...), Network: c.netStat, Jobs: c.jobs,
		Notes:  append([]idle.Reason(nil), c.notes...),
		Earned: c.earned, Receipts: c.receipts, LastPause: c.lastPause,
		Earnings: c.money.withRate(c.rate.estimate()), Benchmark: c.bench,
		Placement:     placementOf(c.model, c.gpuSnap, c.rtStat, c.models, c.loaded),
		DiskFull:      c.diskFullLocked(),
		Fatal:         c.fatalMsg,
		FatalErr:      c.fatalErr,
		LedgerDamaged: c.ledgerDamaged,
	}
}

// diskFullLocked says what cannot be written for lack of space ("" none).
func (c *Core) diskFullLocked() string {
	var what []string
	if c.ledgerErr != nil {
		what = append(what, "the earnings ledger (receipts are kept by the proxy; the balance catches up with the next one)")
	}
	if c.cfg.LogError != nil && isDiskFull(c.cfg.LogError()) {
		what = append(what, "the log (it still goes to the terminal)")
	}
	if len(what) == 0 {
		return ""
	}
	return "The disk is full: Cocoon cannot write " + strings.Join(what, " or ") + ". Free some space."
}

// isDiskFull reports whether err is a full disk or quota.
func isDiskFull(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) ||
		(err != nil && strings.Contains(err.Error(), "no space left on device"))
}

func (c *Core) currentGPU() gpu.Snapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gpuSnap
}

// Run runs the GPU sampler, the model runtime, the model refresher, the
// network client and the control loop until ctx ends or one of them fails
// for good. It frees the GPU and stops the model runtime (and a managed
// Ollama) before returning. It returns the first fatal error — the ledger or
// the worker key cannot be opened, no Ollama can be found or started, the
// network client's configuration can never work — after stopping the rest;
// Status then says, in State error and Fatal, that the worker has stopped.
//
// A damaged or lost ledger with Config.OfferLedgerRebuild set is not fatal: Run
// serves nothing and waits for RebuildLedger (or ctx) instead.
func (c *Core) Run(ctx context.Context) error {
	defer close(c.stopped)
	defer func() {
		if l := c.led(); l != nil {
			l.Close()
		}
	}()
	if c.openErr != nil {
		unusable := errors.Is(c.openErr, earnings.ErrDamaged) || errors.Is(c.openErr, earnings.ErrMissing)
		if !unusable || !c.cfg.OfferLedgerRebuild {
			return c.fatal(c.openErr)
		}
		if err := c.awaitLedgerRebuild(ctx); err != nil {
			return c.fatal(err)
		}
		if ctx.Err() != nil {
			return nil
		}
	}
	c.mu.Lock()
	c.gpuSnap = c.gpu.Snapshot()
	c.mu.Unlock()
	c.refreshEarnings()
	// The first part to fail for good cancels the others (errgroup); an
	// error a part returns once the group is stopping is not a failure.
	g, ctx := errgroup.WithContext(ctx)
	fatal := func(what string, err error) error {
		if err == nil || ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("worker: %s: %w", what, err)
	}
	g.Go(func() error { c.control(ctx); return nil })
	g.Go(func() error { c.runCallbacks(ctx); return nil })
	g.Go(func() error { return fatal("network client", c.runNetwork(ctx)) }) // networks.go
	g.Go(func() error { return fatal("GPU sampler", c.sampler.Run(ctx)) })
	g.Go(func() error { return fatal("model runtime", c.rt.Run(ctx)) })
	g.Go(func() error { c.refreshLoop(ctx); return nil })
	if c.cfg.Settlement != nil {
		g.Go(func() error { c.settleLoop(ctx); return nil }) // claim.go
	}
	firstErr := g.Wait()
	_ = c.gpu.Close()
	if firstErr != nil {
		return c.fatal(firstErr)
	}
	c.setStatus(StateStopped, "", nil)
	return nil
}

// fatal records that Run stops on err: the status says so in words, and
// the error is published for the UI and logged once.
func (c *Core) fatal(err error) error {
	c.log.Error("worker stopped", "err", err)
	c.mu.Lock()
	c.fatalMsg, c.fatalErr = err.Error(), err
	c.mu.Unlock()
	c.setError(err)
	c.bus.Publish(EventError, err)
	return err
}

// sameTelemetry compares two snapshots ignoring when they were taken.
func sameTelemetry(a, b gpu.Snapshot) bool {
	a.Time, b.Time = time.Time{}, time.Time{}
	return reflect.DeepEqual(a, b)
}

func (c *Core) runtimeChanged() {
	st := c.rt.Status()
	c.mu.Lock()
	c.rtStat = st
	serving := c.state == StateServing
	c.mu.Unlock()
	// A fresh runtime answers after a wedged one was restarted: take jobs again.
	if st.Reachable && st.Error == "" && st.PID != 0 && c.restarting.Load() {
		if c.restarting.CompareAndSwap(true, false) {
			c.log.Info("model runtime restarted", "pid", st.PID)
			if serving && c.cl() != nil {
				c.cl().SetAvailability(network.Availability{State: network.Accepting})
			}
		}
	}
	c.bus.Publish(EventOllama, st)
	c.kickRefresh()
}

func (c *Core) kickRefresh() {
	select {
	case c.refresh <- struct{}{}:
	default:
	}
}

// refreshLoop waits for Ollama, seeds the tiny model once, then keeps the
// model lists fresh.
func (c *Core) refreshLoop(ctx context.Context) {
	select {
	case <-ctx.Done():
		return
	case <-c.rt.Ready():
	}
	if c.cfg.SeedTinyModel {
		if err := c.seedTinyModel(ctx); err != nil && ctx.Err() == nil {
			c.log.Error("could not register the built-in tiny model", "err", err)
			c.bus.Publish(EventError, err)
		}
	}
	t := time.NewTicker(c.cfg.RefreshInterval)
	defer t.Stop()
	for {
		if err := c.refreshModels(ctx); err == nil {
			c.modelsOnce.Do(func() { close(c.modelsReady) })
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-c.refresh:
		}
	}
}

// WaitModels blocks until the model list has been read once (after the tiny
// model was seeded, when configured) or ctx ends.
func (c *Core) WaitModels(ctx context.Context) error {
	select {
	case <-c.modelsReady:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("worker: waiting for the model list: %w", ctx.Err())
	}
}

// RefreshModels re-reads the model lists now.
func (c *Core) RefreshModels(ctx context.Context) error { return c.refreshModels(ctx) }

func (c *Core) refreshModels(ctx context.Context) error {
	// One refresh at a time, so an older list is never applied after a newer one.
	c.refreshMu.Lock()
	defer c.refreshMu.Unlock()
	models, err := c.rt.ListModels(ctx)
	if err != nil {
		return err
	}
	loaded, err := c.rt.Loaded(ctx)
	if err != nil {
		return err
	}
	c.mu.Lock()
	changed := !sameModels(c.models, models) || !sameLoaded(c.loaded, loaded)
	c.models, c.loaded = models, loaded
	if c.model != "" && c.cfg.Model != c.model && !hasModel(models, c.model) {
		c.model = "" // deleted (here or by another Ollama client): choose again
		changed = true
	}
	if c.model == "" && len(models) > 0 {
		c.model = pickDefaultModel(models)
		changed = true
	}
	c.mu.Unlock()
	if changed {
		c.bus.Publish(EventModels, nil)
		if c.cl() != nil {
			c.cl().SetRegistration(c.registration())
		}
	}
	return nil
}

func hasModel(ms []ollama.Model, name string) bool {
	for _, m := range ms {
		if m.Name == name {
			return true
		}
	}
	return false
}

func pickDefaultModel(ms []ollama.Model) string {
	for _, m := range ms {
		if m.Name == TinyModel {
			return m.Name
		}
	}
	return ms[0].Name
}

func sameModels(a, b []ollama.Model) bool {
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

func sameLoaded(a, b []ollama.Loaded) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name || a[i].SizeVRAM != b[i].SizeVRAM {
			return false
		}
	}
	return true
}

func (c *Core) seedTinyModel(ctx context.Context) error {
	models, err := c.rt.ListModels(ctx)
	if err != nil {
		return err
	}
	for _, m := range models {
		if m.Name == TinyModel {
			return nil
		}
	}
	client, err := c.rt.Client()
	if err != nil {
		return err
	}
	dir := filepath.Join(c.cfg.DataDir, "builtin")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("worker: seed tiny model: %w", err)
	}
	path := filepath.Join(dir, "cocoon-tiny.gguf")
	if err := tinymodel.WriteFile(path, tinymodel.Options{Seed: 1}); err != nil {
		return fmt.Errorf("worker: seed tiny model: %w", err)
	}
	if err := tinymodel.Register(ctx, client, TinyModel, path); err != nil {
		return fmt.Errorf("worker: seed tiny model: %w", err)
	}
	_ = os.Remove(path) // Ollama keeps its own copy as a blob
	c.log.Info("registered the built-in tiny model", "model", TinyModel)
	return nil
}

func (c *Core) setState(s State, errMsg string) { c.setStatus(s, errMsg, nil) }

// SetModel chooses the local model to serve. While serving, the control loop
// unloads the old model and loads the new one.
func (c *Core) SetModel(name string) error {
	c.mu.Lock()
	found := false
	for _, m := range c.models {
		if m.Name == name {
			found = true
		}
	}
	old, running := c.model, c.state == StateServing
	if found {
		c.model = name
	}
	c.mu.Unlock()
	if !found {
		return fmt.Errorf("worker: choose model %q: %w", name, ollama.ErrModelNotFound)
	}
	c.bus.Publish(EventModels, nil)
	if running && old != name {
		c.log.Info("switching the served model", "from", old, "to", name)
	}
	return nil
}

// PullModel downloads a model, publishing EventPull progress. Cancel ctx to
// stop it; the partial download is dropped by Ollama.
func (c *Core) PullModel(ctx context.Context, name string) error {
	name = strings.TrimSpace(name)
	if name == "" {
		return fmt.Errorf("worker: download: %w: empty model name", ollama.ErrModelNotFound)
	}
	progress := func(p ollama.PullProgress) {
		c.mu.Lock()
		c.pulls[name] = p
		c.mu.Unlock()
		c.bus.Publish(EventPull, p)
	}
	progress(ollama.PullProgress{Model: name, Status: "starting"})
	err := c.rt.Pull(ctx, name, ollama.PullOptions{Insecure: isLoopbackRegistry(name), Progress: progress})
	c.kickRefresh()
	if err != nil {
		c.log.Warn("model download failed", "model", name, "err", err)
		return fmt.Errorf("worker: download %s: %w", name, err)
	}
	c.log.Info("model downloaded", "model", name)
	// The download succeeded; a failed eviction is logged and shown, not its error.
	if _, err := c.enforceQuota(ctx, name); err != nil && ctx.Err() == nil {
		c.bus.Publish(EventError, err)
	}
	return nil
}

// DeleteModel removes a local model. Deleting the served model while
// sharing stops sharing first (Stop, so the owner is offered Start again;
// the next local model is chosen, or Start says ErrNoModel).
func (c *Core) DeleteModel(ctx context.Context, name string) error {
	c.mu.Lock()
	serving := c.model == name
	started := c.state.Started()
	c.mu.Unlock()
	if serving && started {
		if err := c.Stop(ctx); err != nil {
			return fmt.Errorf("worker: delete %s: %w", name, err)
		}
	} else if serving {
		if _, err := c.rt.Unload(ctx, name); err != nil && !errors.Is(err, ollama.ErrModelNotFound) {
			return fmt.Errorf("worker: delete %s: %w", name, err)
		}
	}
	if err := c.rt.Delete(ctx, name); err != nil {
		return fmt.Errorf("worker: delete %s: %w", name, err)
	}
	c.mu.Lock()
	if c.model == name {
		c.model = ""
	}
	delete(c.pulls, name)
	c.mu.Unlock()
	c.bus.Publish(EventModels, nil)
	return c.refreshModels(ctx)
}

// isLoopbackRegistry reports whether a model name points at a registry on
// this machine (a local test registry speaks plain HTTP).
func isLoopbackRegistry(name string) bool {
	host, _, ok := strings.Cut(name, "/")
	if !ok || !strings.ContainsAny(host, ".:") {
		return false
	}
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(h, "[]"))
	return ip != nil && ip.IsLoopback()
}

// led is the earnings ledger, nil where there is none (see Core.ledger).
func (c *Core) led() *earnings.Ledger { return c.ledger.Load() }
