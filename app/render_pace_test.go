package app

import (
	"testing"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/idle"
	"github.com/cocoon-desktop/cocoon-desktop/worker"
)

// TestPaceReasonTick plays statuses through paceReasonTick on a made-up
// clock: ticking reason texts render once per reasonTickPace, anything
// else at once.
func TestPaceReasonTick(t *testing.T) {
	waiting := func(code idle.ReasonCode, text string) worker.Status {
		st := noDriverStatus()
		st.State = worker.StateWaiting
		st.Reasons = []idle.Reason{{Code: code, Text: text}}
		return st
	}
	stateEv := []worker.Event{{Type: worker.EventState}}
	type step struct {
		after      time.Duration // since the previous step
		evs        []worker.Event
		st         worker.Status
		wantRender bool
	}
	steps := []struct {
		name  string
		steps []step
	}{
		{"ticks render once per pace", []step{
			{0, stateEv, waiting(idle.CodeOwnerActive, "1 s ago"), true}, // state changed: at once
			{time.Second, stateEv, waiting(idle.CodeOwnerActive, "2 s ago"), true},
			{time.Second, stateEv, waiting(idle.CodeOwnerActive, "3 s ago"), false},
			{9 * time.Second, stateEv, waiting(idle.CodeOwnerActive, "12 s ago"), true},
			{time.Second, stateEv, waiting(idle.CodeOwnerActive, "13 s ago"), false},
		}},
		{"a new reason renders at once", []step{
			{0, stateEv, waiting(idle.CodeOwnerActive, "1 s ago"), true},
			{time.Second, stateEv, waiting(idle.CodeOwnerActive, "2 s ago"), true},
			{time.Second, stateEv, waiting(idle.CodeGPUInUse, "game.exe is using the GPU"), true},
		}},
		{"a new state renders at once", []step{
			{0, stateEv, waiting(idle.CodeOwnerActive, "1 s ago"), true},
			{time.Second, stateEv, waiting(idle.CodeOwnerActive, "2 s ago"), true},
			{time.Second, stateEv, func() worker.Status { s := noDriverStatus(); s.State = worker.StateServing; return s }(), true},
		}},
		{"other events render at once", []step{
			{0, stateEv, waiting(idle.CodeOwnerActive, "1 s ago"), true},
			{time.Second, stateEv, waiting(idle.CodeOwnerActive, "2 s ago"), true},
			{time.Second, []worker.Event{{Type: worker.EventState}, {Type: worker.EventPull}}, waiting(idle.CodeOwnerActive, "3 s ago"), true},
			{time.Second, []worker.Event{{Type: worker.EventGPU}}, waiting(idle.CodeOwnerActive, "4 s ago"), true},
		}},
		{"a clock set back renders", []step{
			{0, stateEv, waiting(idle.CodeOwnerActive, "1 s ago"), true},
			{time.Second, stateEv, waiting(idle.CodeOwnerActive, "2 s ago"), true},
			{-time.Hour, stateEv, waiting(idle.CodeOwnerActive, "3 s ago"), true},
		}},
	}
	for _, c := range steps {
		t.Run(c.name, func(t *testing.T) {
			v, _, _ := newTestView(t, newFakeCore(noDriverStatus()))
			now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
			v.clock = func() time.Time { return now }
			for i, s := range c.steps {
				now = now.Add(s.after)
				rendered := !v.paceReasonTick(s.evs, s.st)
				if rendered {
					v.refresh(s.st)
				}
				if rendered != s.wantRender {
					t.Errorf("step %d (%s): rendered %v, want %v", i, s.st.Reasons[0].Text, rendered, s.wantRender)
				}
			}
		})
	}
}
