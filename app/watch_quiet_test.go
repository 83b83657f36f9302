package app

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/idle"
	"github.com/cocoon-desktop/cocoon-desktop/worker"
)

// TestWatchQuietWhileHidden: while the window is hidden, a status that
// differs from the last one handed over only in its reasons' wording (the
// core's "… 12 s ago" ticks) does not wake the Fyne thread; a new reason
// code or a new program does. Shown, such wording ticks are handed over at
// most once per reasonTickPace.
func TestWatchQuietWhileHidden(t *testing.T) {
	waiting := func(code idle.ReasonCode, text string, programs ...string) func(*worker.Status) {
		return func(st *worker.Status) {
			st.State = worker.StateWaiting
			st.Reasons = []idle.Reason{{Code: code, Text: text, Programs: programs}}
		}
	}
	steps := []struct {
		name   string
		hidden bool
		set    func(*worker.Status)
		handed bool
	}{
		{"first status", true, waiting(idle.CodeOwnerActive, "input 1 s ago"), true},
		{"wording tick while hidden", true, waiting(idle.CodeOwnerActive, "input 3 s ago"), false},
		{"new reason code while hidden", true, waiting(idle.CodeFullScreen, "full screen"), true},
		{"wording tick while hidden again", true, waiting(idle.CodeFullScreen, "full screen 2 s"), false},
		{"another program while hidden", true, waiting(idle.CodeFullScreen, "full screen", "game.exe"), true},
		{"wording tick while shown", false, waiting(idle.CodeFullScreen, "full screen 4 s", "game.exe"), true},
		{"next wording tick while shown, within the pace", false, waiting(idle.CodeFullScreen, "full screen 6 s", "game.exe"), false},
		{"new reason code while shown", false, waiting(idle.CodeOwnerActive, "input just now"), true},
	}
	core := newFakeCore(noDriverStatus())
	var hidden atomic.Bool
	// read tells the test that watch has read the status of the batch it
	// was sent (and is done with the fake core's state for it).
	read := make(chan struct{}, 1)
	watched := readSignal{core, read}
	events := make(chan worker.Event)
	applied := make(chan worker.Status, len(steps))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		watch(ctx, watched, events, func(fn func()) { fn() }, hidden.Load,
			func(_ []worker.Event, st worker.Status) { applied <- st })
	}()
	for _, s := range steps {
		hidden.Store(s.hidden)
		core.set(s.set)
		events <- worker.Event{Type: worker.EventState}
		select {
		case <-read:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: watch did not read the status", s.name)
		}
		if !s.handed {
			continue // the next handed step shows that this one was dropped
		}
		select {
		case st := <-applied:
			if got, want := st.Reasons[0].Text, core.Status().Reasons[0].Text; got != want {
				t.Fatalf("%s: handed over %q, want %q (a dropped tick was handed over)", s.name, got, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: not handed over", s.name)
		}
	}
	cancel()
	<-done
}

// readSignal is a fake core that says when its status was read.
type readSignal struct {
	*fakeCore
	read chan struct{}
}

func (r readSignal) Status() worker.Status {
	st := r.fakeCore.Status()
	r.read <- struct{}{}
	return st
}
