package app

import (
	"slices"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/worker"
)

// reasonTickPace is how often a status whose only news is the wording of
// its reasons is rendered. While the worker waits for the owner to leave,
// the core publishes a status every second ("… 12 s ago", "cleared 20 s
// ago"); rendering each repaints the whole window, which under a software
// GL (llvmpipe) cost about 5 % of a core. Every other change renders at
// once.
const reasonTickPace = 10 * time.Second

// renderPace remembers when a reason-text-only status was last rendered.
type renderPace struct {
	lastTick time.Time
}

// paceReasonTick reports whether the render of st (after evs) can be
// skipped: the events are all state events, and st differs from the
// status on screen only in its reasons' texts, and one such status was
// rendered less than reasonTickPace ago. Skipped statuses lose nothing:
// the next tick past the pace, or the next real change, renders the
// latest status.
func (v *mainView) paceReasonTick(evs []worker.Event, st worker.Status) bool {
	for _, ev := range evs {
		if ev.Type != worker.EventState {
			return false
		}
	}
	if !onlyReasonTextsDiffer(v.status, st) {
		return false
	}
	now := v.clock()
	if now.Sub(v.pace.lastTick) < reasonTickPace && !now.Before(v.pace.lastTick) {
		return true
	}
	v.pace.lastTick = now
	return false
}

// onlyReasonTextsDiffer reports whether a and b have the same state, error
// and reason codes and programs, and differ at most in the reasons' texts and times.
func onlyReasonTextsDiffer(a, b worker.Status) bool {
	if a.State != b.State || a.Error != b.Error || a.Fatal != b.Fatal || len(a.Reasons) != len(b.Reasons) {
		return false
	}
	for i := range a.Reasons {
		if a.Reasons[i].Code != b.Reasons[i].Code || !slices.Equal(a.Reasons[i].Programs, b.Reasons[i].Programs) {
			return false
		}
	}
	return true
}
