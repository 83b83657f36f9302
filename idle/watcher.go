package idle

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/gpu"
)

// DefaultPollInterval is how often a Watcher polls: a returning owner is
// seen within about this long.
const DefaultPollInterval = 250 * time.Millisecond

// DefaultQueryTimeout is how long a Watcher waits for a source before
// treating it as failed.
const DefaultQueryTimeout = time.Second

// Watcher polls the signal sources, runs the Policy and reports decisions.
// Set the fields, then call Run; do not change the fields while it runs.
type Watcher struct {
	// Policy decides; required.
	Policy *Policy
	// Input is the input-idle source; required. A failing or hanging
	// source makes the policy stop serving (idle_unknown).
	Input InputIdler
	// FullScreen is optional. Its errors count as "not full screen": it is
	// a secondary signal and must not stop serving on its own. A source
	// that is also a FullScreenDetailer names the program.
	FullScreen FullScreener
	// Controllers is optional: game-controller input counts like the
	// keyboard's. Its errors are a note in the decision, not a pause.
	Controllers ControllerIdler
	// Steam is optional: the game Steam reports running. Its errors count
	// as "no game".
	Steam SteamWatcher
	// GPU returns the latest GPU snapshot (it is not sampled here: NVML
	// calls are slower than a poll); optional.
	GPU func() gpu.Snapshot
	// OwnPIDs returns our own processes (Ollama and its runners); optional.
	OwnPIDs func() map[uint32]bool
	// PollInterval defaults to DefaultPollInterval.
	PollInterval time.Duration
	// QueryTimeout bounds each source call; defaults to DefaultQueryTimeout.
	// A call still running when the next poll comes is not started again.
	QueryTimeout time.Duration
	// Now is the clock; defaults to time.Now.
	Now func() time.Time
	// OnDecision is called, from the polling goroutine, with every decision
	// whose Changed is set (the first decision included). It should return
	// quickly: it delays the next poll.
	OnDecision func(Decision)

	stepMu sync.Mutex // one Poll at a time (Policy is not concurrent)

	mu       sync.Mutex
	override Override
	latest   Decision
	nudge    chan struct{}

	inputCall, fsCall, padCall, steamCall guard
}

// SetOverride records the owner's tray choice and makes a running Watcher
// re-evaluate at once rather than at the next poll.
func (w *Watcher) SetOverride(o Override) {
	w.mu.Lock()
	w.override = o
	ch := w.nudgeLocked()
	w.mu.Unlock()
	select {
	case ch <- struct{}{}:
	default:
	}
}

// Override returns the tray choice in force.
func (w *Watcher) Override() Override {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.override
}

func (w *Watcher) nudgeLocked() chan struct{} {
	if w.nudge == nil {
		w.nudge = make(chan struct{}, 1)
	}
	return w.nudge
}

// Latest returns the last decision (the zero Decision, not serving, before
// the first poll).
func (w *Watcher) Latest() Decision {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.latest
}

// Run polls until ctx ends, then returns ctx.Err().
func (w *Watcher) Run(ctx context.Context) error {
	if w.Policy == nil || w.Input == nil {
		return errors.New("idle: Watcher needs a Policy and an Input source")
	}
	interval := w.PollInterval
	if interval <= 0 {
		interval = DefaultPollInterval
	}
	w.mu.Lock()
	nudge := w.nudgeLocked()
	w.mu.Unlock()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		w.Poll()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		case <-nudge:
		}
	}
}

// Poll samples the sources once, updates the policy, calls OnDecision if
// the decision changed, and returns it. Run calls it every PollInterval;
// tests may call it directly.
func (w *Watcher) Poll() Decision {
	w.stepMu.Lock()
	defer w.stepMu.Unlock()
	now := time.Now
	if w.Now != nil {
		now = w.Now
	}
	timeout := w.QueryTimeout
	if timeout <= 0 {
		timeout = DefaultQueryTimeout
	}
	var s Signals
	s.InputIdle, s.InputErr = callTimeout(&w.inputCall, timeout, func() (time.Duration, error) {
		return w.Input.InputIdle()
	})
	if s.InputErr != nil {
		s.InputIdle = -1
	}
	if w.FullScreen != nil {
		v, err := callTimeout(&w.fsCall, timeout, func() (FullScreenInfo, error) {
			if d, ok := w.FullScreen.(FullScreenDetailer); ok {
				return d.FullScreenDetail()
			}
			on, title, err := w.FullScreen.FullScreen()
			return FullScreenInfo{On: on, Title: title}, err
		})
		if err == nil {
			s.FullScreen, s.FullScreenTitle = v.On && !v.Presentation, v.Title
			s.FullScreenProgram, s.Presentation = v.Program, v.Presentation
		}
	}
	if w.Controllers != nil {
		at := now()
		d, err := callTimeout(&w.padCall, timeout, w.Controllers.ControllerIdle)
		if d >= 0 && (err == nil || errors.Is(err, ErrControllersUnreadable)) {
			s.LastController = at.Add(-d)
		}
		s.ControllerErr = err
	}
	if w.Steam != nil {
		if g, err := callTimeout(&w.steamCall, timeout, w.Steam.SteamGame); err == nil {
			s.Steam = g
		}
	}
	if w.GPU != nil {
		s.GPU = w.GPU()
	}
	if w.OwnPIDs != nil {
		s.OwnPIDs = w.OwnPIDs()
	}
	s.ManualOverride = w.Override()

	d := w.Policy.Update(now(), s)
	w.mu.Lock()
	w.latest = d
	w.mu.Unlock()
	if d.Changed && w.OnDecision != nil {
		w.OnDecision(d)
	}
	return d
}

// guard keeps at most one call to a source in flight.
type guard struct{ busy atomic.Bool }

var errBusy = errors.New("the previous query has not returned yet")

// callTimeout runs fn on its own goroutine and waits at most timeout. A
// hung source thus costs one goroutine, not the watcher.
func callTimeout[T any](g *guard, timeout time.Duration, fn func() (T, error)) (T, error) {
	var zero T
	if !g.busy.CompareAndSwap(false, true) {
		return zero, fmt.Errorf("idle: source: %w", errBusy)
	}
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		v, err := fn()
		g.busy.Store(false) // before the send: the next poll must not see it busy
		ch <- result{v, err}
	}()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-timer.C:
		return zero, fmt.Errorf("idle: source did not answer within %v", timeout)
	}
}
