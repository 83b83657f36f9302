package worker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/gpu"
	"github.com/cocoon-desktop/cocoon-desktop/idle"
	"github.com/cocoon-desktop/cocoon-desktop/network"
	"github.com/cocoon-desktop/cocoon-desktop/runtime/ollama"
)

// Defaults of the control loop.
const (
	DefaultPollInterval = 250 * time.Millisecond // how soon a returning owner is seen
	DefaultGrace        = 3 * time.Second        // a running job may finish within this after a pause
	// waitPollFactor: while not serving, the signals are sampled this many
	// times less often (2 s by default). Nothing there is urgent — a start
	// 2 s after the owner left is as good as one at once — and the loop is
	// most of a waiting app's CPU. The owner's own commands and settings
	// changes do not wait for it.
	waitPollFactor = 8
)

// alwaysIdle is the input source of rigs and servers: nobody sits there.
type alwaysIdle struct{}

func (alwaysIdle) InputIdle() (time.Duration, error) { return 365 * 24 * time.Hour, nil }

// command is a request from Start/Stop to the control loop.
type command struct {
	enable   bool
	override idle.Override
	done     chan struct{}
}

// Start begins sharing: the worker waits until the owner is away (the idle
// policy), then loads the model and accepts jobs. It returns at once; follow
// the state through Status and events.
func (c *Core) Start(ctx context.Context) error { return c.start(ctx, idle.Override{}) }

// StartNow starts serving at once, without waiting for idle (tray "Start
// now"); a game on the GPU, full screen or the caps still pause it.
//
// The next launch resumes sharing as Start does (waiting for the owner to
// be away), not "now".
func (c *Core) StartNow(ctx context.Context) error { return c.start(ctx, idle.ForceOn()) }

// PauseFor pauses serving for d (tray "Pause for 1 hour"); the policy decides again after.
// The pause's end is remembered, so a restart meanwhile keeps it.
func (c *Core) PauseFor(ctx context.Context, d time.Duration) error {
	return c.start(ctx, idle.PauseUntil(time.Now().Add(d)))
}

func (c *Core) start(ctx context.Context, o idle.Override) error {
	select {
	case <-c.rt.Ready():
	default:
		msg := "Ollama is not running yet"
		if e := c.rt.Status().Error; e != "" {
			msg = "Ollama: " + e
		}
		c.setState(StateError, msg)
		return fmt.Errorf("worker: start: %w: %s", ErrNotReady, msg)
	}
	c.mu.Lock()
	model := c.model
	c.mu.Unlock()
	if model == "" {
		// Nothing started: the state stays as it was (a stopped worker stays
		// stopped, so Start is still what the owner is offered).
		return fmt.Errorf("worker: start: %w: %w", ErrNoModel, ollama.ErrModelNotFound)
	}
	if err := c.send(ctx, command{enable: true, override: o}); err != nil {
		return err
	}
	c.rememberSharing(true, o.Until) // a pause keeps its end; Start and Start now none
	return nil
}

// Stop stops sharing: running jobs get the grace period, then the model is
// unloaded so its VRAM is free. It returns once that is done.
// The owner's choice is remembered: the next launch does not share.
func (c *Core) Stop(ctx context.Context) error {
	if _, err := c.StopTimed(ctx); err != nil {
		return err
	}
	c.rememberSharing(false, time.Time{})
	return nil
}

// Unload stops serving and frees the GPU for a shutdown, without recording
// that the owner stopped sharing: the next launch shares again.
func (c *Core) Unload(ctx context.Context) error {
	_, err := c.StopTimed(ctx)
	return err
}

// StopTimed is Unload that also says how long freeing the GPU took (it
// records nothing: benchmarks and shutdowns use it).
func (c *Core) StopTimed(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	if err := c.send(ctx, command{enable: false}); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

func (c *Core) send(ctx context.Context, cmd command) error {
	cmd.done = make(chan struct{})
	select {
	case c.commands <- cmd:
	case <-ctx.Done():
		return fmt.Errorf("worker: %w", ctx.Err())
	case <-c.stopped:
		if !cmd.enable {
			return nil // not running: nothing is loaded
		}
		return fmt.Errorf("worker: %w: the core is not running", ErrNotReady)
	}
	select {
	case <-cmd.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("worker: %w", ctx.Err())
	}
}

// control is the state machine: Stopped → WaitingForIdle → Serving ⇄
// Paused(reason) → Stopped, plus Error. It is the only goroutine that loads
// or unloads the model and changes availability, so transitions never race.
func (c *Core) control(ctx context.Context) {
	var (
		enabled bool
		serving bool
		served  bool            // served since the last Start: a later stop is a pause, not a wait
		policy  = c.savedIdle() // the owner's saved idle policy (read before the watcher that uses it)
		watcher = c.newWatcher()
		loaded  string    // the model loaded by the last resume
		retryAt time.Time // after a failed resume, when to try again
	)
	poll := time.NewTimer(c.cfg.PollInterval)
	defer poll.Stop()
	for {
		// Serving: poll fast, a returning owner must get the GPU back within
		// half a second. Otherwise slowly (waitPollFactor).
		every := c.cfg.PollInterval
		if !serving {
			every = c.cfg.WaitPollInterval
		}
		poll.Reset(every)
		var done chan struct{}
		select {
		case <-ctx.Done():
			if serving {
				sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				c.pause(sctx, "Cocoon is quitting", c.cfg.Grace)
				cancel()
			}
			return
		case cmd := <-c.commands:
			done = cmd.done
			if cmd.enable && !enabled {
				policy = c.savedIdle()
				watcher = c.newWatcher() // a fresh start waits only for IdleAfter
				served, retryAt = false, time.Time{}
				c.setStatus(StateWaiting, "", nil)
			}
			enabled = cmd.enable
			watcher.SetOverride(cmd.override)
		case <-c.controlNudge:
		case <-poll.C:
		}
		if !serving {
			c.sampler.SampleNow() // its own ticks stop while not serving (gpuEvery)
		}
		if p := c.savedIdle(); p != policy { // the owner changed the idle settings
			o := watcher.Override()
			watcher, policy = c.newWatcher(), p
			watcher.SetOverride(o) // Start/Stop still wins
		}
		if !enabled {
			if serving {
				c.pause(ctx, "stopped by the owner", c.cfg.Grace)
				serving = false
			}
			if done != nil { // a Stop command; between commands an error shown stays
				c.setStatus(StateStopped, "", nil)
			}
			closeIfSet(done)
			continue
		}
		if !retryAt.IsZero() && time.Now().Before(retryAt) {
			closeIfSet(done)
			continue
		}
		retryAt = time.Time{}
		if serving && c.currentModel() != loaded { // the owner chose another model
			c.pause(ctx, "switching model", c.cfg.Grace)
			serving = false
		}
		d := watcher.Poll()
		c.setNotes(d.Notes)
		switch {
		case d.Serve && !serving:
			if err := c.resume(ctx); err != nil {
				c.setError(err)
				retryAt = time.Now().Add(10 * time.Second) // not a hot loop of failing loads
			} else {
				serving, served, loaded = true, true, c.currentModel()
				c.setStatus(StateServing, "", nil)
			}
		case !d.Serve && serving:
			c.setStatus(StatePaused, "", d.Reasons) // the owner sees it at once
			c.pause(ctx, reasonsText(d.Reasons), c.cfg.Grace)
			serving = false
		case !d.Serve:
			st := StateWaiting
			if served || !onlyWaitingForIdle(d.Reasons) {
				st = StatePaused
			}
			c.setStatus(st, "", d.Reasons)
		default:
			c.setStatus(StateServing, "", nil)
		}
		closeIfSet(done)
	}
}

// gpuEvery is the GPU sampler's interval: GPUInterval while serving (the
// card's load and a game starting matter now); otherwise none — the
// control loop samples right before each of its slower polls, so an idle
// app wakes once for both.
func (c *Core) gpuEvery(serving bool) time.Duration {
	if !serving {
		return 0
	}
	if c.cfg.GPUInterval <= 0 {
		return gpu.DefaultSampleInterval
	}
	return c.cfg.GPUInterval
}

// nudgeControl makes the control loop look again now rather than at its
// next poll (the owner changed the idle settings).
func (c *Core) nudgeControl() {
	select {
	case c.controlNudge <- struct{}{}:
	default: // one is already pending
	}
}

func closeIfSet(ch chan struct{}) {
	if ch != nil {
		close(ch)
	}
}

// onlyWaitingForIdle: the only thing missing is the owner's absence.
func onlyWaitingForIdle(rs []idle.Reason) bool {
	for _, r := range rs {
		if !r.Code.IsPresence() { // keyboard, mouse or game controller
			return false
		}
	}
	return true
}

func reasonsText(rs []idle.Reason) string {
	parts := make([]string, 0, len(rs))
	for _, r := range rs {
		parts = append(parts, r.Text)
	}
	return strings.Join(parts, "; ")
}

func (c *Core) currentModel() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.model
}

// newWatcher samples the owner's input, full screen and the GPU for a fresh idle policy.
func (c *Core) newWatcher() *idle.Watcher {
	input := c.cfg.InputIdle
	if input == nil {
		input = alwaysIdle{}
	}
	return &idle.Watcher{
		Policy:      idle.NewPolicy(c.IdleConfig()),
		Input:       input,
		FullScreen:  c.cfg.FullScreen,
		Controllers: c.cfg.Controllers,
		Steam:       c.cfg.Steam,
		GPU:         c.currentGPU,
		OwnPIDs: func() map[uint32]bool {
			if !hasProcesses(c.currentGPU()) {
				return nil // nothing to tell apart: skip the /proc scan
			}
			return c.ownPIDs()
		},
	}
}

func hasProcesses(s gpu.Snapshot) bool {
	for _, d := range s.Devices {
		if len(d.Processes) > 0 {
			return true
		}
	}
	return false
}

// ownPIDs are this process and the managed Ollama's whole process tree (the
// server, the runners it started and, on Linux, the guard between them and
// us): their GPU use is ours, not a game's.
func (c *Core) ownPIDs() map[uint32]bool {
	own := map[uint32]bool{uint32(os.Getpid()): true}
	if sup := c.rt.Supervisor(); sup != nil {
		for _, pid := range sup.PIDs() {
			own[uint32(pid)] = true
		}
	}
	return own
}

// resume loads the model and tells the network the worker accepts jobs.
func (c *Core) resume(ctx context.Context) error {
	c.mu.Lock()
	model := c.model
	c.mu.Unlock()
	if model == "" {
		return ErrNoModel
	}
	lctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	if err := c.rt.Load(lctx, model); err != nil {
		return fmt.Errorf("could not load %s: %w", model, err)
	}
	if c.cl() != nil {
		c.cl().SetRegistration(c.registration())
		c.cl().SetAvailability(network.Availability{State: network.Accepting})
	}
	c.log.Info("serving", "model", model)
	c.kickRefresh()
	return nil
}

// pause gets out of the owner's way: no new jobs, running ones get grace to
// finish or are cancelled (the proxy may retry them elsewhere), then the
// model is unloaded so its VRAM is free. It records how long that took.
func (c *Core) pause(ctx context.Context, reason string, grace time.Duration) {
	start := time.Now()
	rec := PauseRecord{At: start, Reason: reason}
	if c.cl() != nil {
		c.cl().SetAvailability(network.Availability{State: network.Draining, Reason: reason})
		if c.cl().RunningJobs() > 0 {
			gctx, cancel := context.WithTimeout(ctx, grace)
			err := c.cl().WaitIdle(gctx)
			cancel()
			if err != nil {
				rec.Cancelled = c.cl().RunningJobs()
				c.cl().CancelAll(reason)
				wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				_ = c.cl().WaitIdle(wctx)
				cancel()
			}
		}
	}
	c.mu.Lock()
	model := c.model
	c.mu.Unlock()
	if model != "" {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		d, err := c.rt.Unload(uctx, model)
		cancel()
		rec.Unload = d
		if err != nil && !errors.Is(err, ollama.ErrModelNotFound) {
			c.log.Warn("unload after pause failed", "model", model, "err", err)
		}
	}
	// Ollama answering the unload is not the VRAM being free: its runner
	// may still be exiting. Wait until NVML sees none of ours on the GPU.
	rec.VRAMChecked, rec.VRAMReleased, rec.VRAMLeft = c.confirmVRAMFreed(ctx, vramReleaseLimit)
	if rec.VRAMChecked && !rec.VRAMReleased {
		c.log.Warn("after the pause Ollama still holds VRAM", "bytes", rec.VRAMLeft)
	}
	if c.cl() != nil {
		c.cl().SetAvailability(network.Availability{State: network.Paused, Reason: reason})
	}
	rec.Took = time.Since(start)
	c.mu.Lock()
	c.lastPause = &rec
	c.mu.Unlock()
	c.log.Info("paused; GPU memory freed", "reason", reason, "took", rec.Took, "unload", rec.Unload, "cancelled_jobs", rec.Cancelled)
	c.kickRefresh()
}

// vramReleaseLimit bounds the wait for NVML to see our VRAM freed (Ollama's
// own scheduler waits up to 5 s for the same).
const vramReleaseLimit = 5 * time.Second

// confirmVRAMFreed polls NVML until no process of ours (the managed Ollama's
// tree, or any process named ollama for an attached one) holds VRAM, or the
// limit passes. checked is false without a usable GPU.
func (c *Core) confirmVRAMFreed(ctx context.Context, limit time.Duration) (checked, released bool, left uint64) {
	deadline := time.Now().Add(limit)
	own := c.ownPIDs()
	for delay := 5 * time.Millisecond; ; delay = min(2*delay, 50*time.Millisecond) {
		s := c.gpu.Snapshot()
		if s.State != gpu.StateOK {
			return false, false, 0
		}
		left = ollamaVRAM(s, own)
		if left == 0 {
			return true, true, 0
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return true, false, left
		}
		select {
		case <-ctx.Done():
		case <-time.After(delay):
		}
	}
}

// ollamaVRAM is the VRAM held by our processes or processes named ollama.
func ollamaVRAM(s gpu.Snapshot, own map[uint32]bool) uint64 {
	var n uint64
	for _, d := range s.Devices {
		for _, p := range d.Processes {
			if (own[p.PID] && p.PID != uint32(os.Getpid())) || isOllamaProcess(p.Name) {
				n += p.MemoryUsed
			}
		}
	}
	return n
}

// setError puts the worker in StateError with err's text, keeping err for
// the UI (Status.ErrorErr).
func (c *Core) setError(err error) {
	c.mu.Lock()
	c.errVal = err
	c.mu.Unlock()
	c.setStatus(StateError, err.Error(), nil)
}

// setStatus records state, error and reasons, publishing on change.
func (c *Core) setStatus(s State, errMsg string, reasons []idle.Reason) {
	c.mu.Lock()
	if c.errVal != nil && (s != StateError || errMsg != c.errVal.Error()) {
		c.errVal = nil // another error, or none: the kept one is not behind it
	}
	// The reason texts tick ("… 12 s ago"): the UI hears of every change,
	// the log only of a new state, error or set of reason codes.
	logIt := c.state != s || c.errMsg != errMsg || reasonCodes(c.reasons) != reasonCodes(reasons)
	changed := logIt || !sameReasons(c.reasons, reasons)
	c.state, c.errMsg, c.reasons = s, errMsg, reasons
	c.mu.Unlock()
	if err := c.rate.setServing(s == StateServing); err != nil {
		c.log.Warn("could not save the earnings estimate", "err", err)
	}
	if logIt {
		c.sampler.SetInterval(c.gpuEvery(s == StateServing))
		c.log.Info("state", "state", s, "error", errMsg, "reasons", reasonCodes(reasons))
	}
	if changed {
		c.bus.Publish(EventState, s)
	}
}

func sameReasons(a, b []idle.Reason) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Code != b[i].Code || a[i].Text != b[i].Text {
			return false
		}
	}
	return true
}

func reasonCodes(rs []idle.Reason) string {
	codes := make([]string, len(rs))
	for i, r := range rs {
		codes[i] = string(r.Code)
	}
	return strings.Join(codes, ",")
}

// registration is what the worker offers the network now.
func (c *Core) registration() network.Register {
	st := c.Status()
	reg := network.Register{
		CoefficientMilli: c.cfg.CoefficientMilli,
		MaxConcurrent:    c.cfg.MaxConcurrent,
		PayoutAddress:    c.payoutAddress(),
		GPU:              network.GPUInfo{Count: len(st.GPU.Devices), Driver: st.GPU.DriverVersion},
		Features:         workerFeatures(), // chat.go
	}
	if d, ok := st.GPU.Primary(); ok {
		reg.GPU.Name, reg.GPU.VRAMTotal, reg.GPU.VRAMFree, reg.GPU.Confidential = d.Name, d.MemoryTotal, d.MemoryFree, d.ConfidentialCompute
	}
	loaded := map[string]bool{}
	for _, l := range st.Loaded {
		loaded[l.Name] = true
	}
	for _, m := range st.Models {
		if len(reg.Models) == network.MaxModels {
			break
		}
		reg.Models = append(reg.Models, network.ModelInfo{
			Name: networkName(m.Name), Digest: m.WeightsDigest, Size: m.Size, Loaded: loaded[m.Name], FitsVRAM: m.FitsVRAM,
		})
	}
	return reg
}

// payoutAddress is the configured address, else the one the owner saved.
func (c *Core) payoutAddress() string {
	if c.cfg.PayoutAddress != "" {
		return c.cfg.PayoutAddress
	}
	return c.Settings().PayoutAddress
}

// rememberSharing saves whether the owner left sharing on (and until when
// a pause lasts), so a reboot does not stop the earning (ResumeSharing).
func (c *Core) rememberSharing(on bool, pausedUntil time.Time) {
	if c.cfg.DataDir == "" {
		return
	}
	err := c.updateSettings(func(st *Settings) error {
		st.Sharing, st.PausedUntilMS = on, 0
		if on && !pausedUntil.IsZero() {
			st.PausedUntilMS = pausedUntil.UnixMilli()
		}
		return nil
	})
	if err != nil {
		c.log.Warn("could not remember whether sharing is on", "err", err)
	}
}

// ResumeSharing says what a launch does with the saved settings: share
// again when the owner left sharing on, paused for what is left of a pause.
func ResumeSharing(s Settings, now time.Time) (start bool, pause time.Duration) {
	if !s.Sharing {
		return false, 0
	}
	if s.PausedUntilMS > 0 {
		pause = max(time.UnixMilli(s.PausedUntilMS).Sub(now), 0)
	}
	return true, pause
}
