package app

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/idle"
)

func TestOwnerAway(t *testing.T) {
	idleFor := func(d time.Duration, err error) idle.InputIdler {
		return idle.InputIdlerFunc(func() (time.Duration, error) { return d, err })
	}
	cases := []struct {
		name  string
		input idle.InputIdler
		want  bool
	}{
		{"no source", nil, false},
		{"source fails", idleFor(time.Hour, errors.New("X gone")), false},
		{"input just now", idleFor(0, nil), false},
		{"input under the threshold", idleFor(awayAfter-time.Millisecond, nil), false},
		{"away exactly the threshold", idleFor(awayAfter, nil), true},
		{"away for long", idleFor(10*time.Minute, nil), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := ownerAway(c.input); got != c.want {
				t.Errorf("ownerAway = %v, want %v", got, c.want)
			}
		})
	}
}

// TestHiddenNapEndsWhenShown: a hidden nap asked for after the window was
// shown again does not sleep (the first frame after showing is not held
// back), and any nap ends with its context.
func TestHiddenNapEndsWhenShown(t *testing.T) {
	v, _, _ := newTestView(t, newFakeCore(noDriverStatus()))
	done := make(chan struct{})
	go func() { v.nap(context.Background(), time.Hour, true); close(done) }() // shown: returns at once
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("a hidden nap slept although the window is shown")
	}
	v.markHidden()
	ctx, cancel := context.WithCancel(context.Background())
	done = make(chan struct{})
	go func() { v.nap(ctx, time.Hour, true); close(done) }()
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("a nap outlived its context")
	}
}

// TestNapEndsForQueuedWork: what the app queues for the Fyne thread
// (v.fyneDo, the app's v.do) ends a nap at once, and so does an opening
// tray menu; a nap nobody wakes runs its length.
func TestNapEndsForQueuedWork(t *testing.T) {
	cases := []struct {
		name string
		wake func(v *mainView)
	}{
		{"queued work", func(v *mainView) { v.fyneDo(func() {}) }},
		{"tray menu opened", func(v *mainView) { v.menuOpened() }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, _, _ := newTestView(t, newFakeCore(noDriverStatus()))
			v.naps.napper = newChanNapper()
			v.markHidden()
			got := make(chan bool, 1)
			go func() { got <- v.nap(context.Background(), time.Hour, true) }()
			c.wake(v)
			select {
			case woken := <-got:
				if !woken {
					t.Error("nap() = not woken, want woken")
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the nap went on after it was woken")
			}
		})
	}
	t.Run("not woken", func(t *testing.T) {
		v, _, _ := newTestView(t, newFakeCore(noDriverStatus()))
		v.naps.napper = newChanNapper()
		v.markHidden()
		if v.nap(context.Background(), 20*time.Millisecond, true) {
			t.Error("a nap nobody woke reported woken")
		}
	})
}

// TestRunNapsHearsTheTrayMenu: runNaps records each opening of the tray
// menu it is given, so the click after it is not held back by a nap.
func TestRunNapsHearsTheTrayMenu(t *testing.T) {
	v, _, _ := newTestView(t, newFakeCore(noDriverStatus()))
	v.naps.napper = newChanNapper()
	v.life.hiddenNow = make(chan struct{}, 1)
	v.markHidden()
	ctx, cancel := context.WithCancel(context.Background())
	opens := make(chan struct{})
	done := make(chan struct{})
	go func() { defer close(done); v.runNaps(ctx, nil, opens) }()
	select {
	case opens <- struct{}{}:
	case <-time.After(10 * time.Second):
		t.Fatal("runNaps does not listen to the tray menu")
	}
	deadline := time.Now().Add(10 * time.Second)
	for v.naps.menuOpenedAt.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the menu's opening was not recorded")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("runNaps did not return after its context ended")
	}
}

// TestHiddenSettled: a window hidden for hiddenSettled, with the tray menu
// left alone as long, naps the long naps; a recent hide or a recent menu
// opening does not.
func TestHiddenSettled(t *testing.T) {
	now := time.Now()
	cases := []struct {
		name         string
		hiddenSince  time.Time
		menuOpenedAt time.Time // zero: never
		want         bool
	}{
		{"not hidden", time.Time{}, time.Time{}, false},
		{"just hidden", now, time.Time{}, false},
		{"hidden long ago", now.Add(-2 * hiddenSettled), time.Time{}, true},
		{"hidden long ago, menu opened just now", now.Add(-2 * hiddenSettled), now, false},
		{"hidden long ago, menu opened long ago", now.Add(-3 * hiddenSettled), now.Add(-2 * hiddenSettled), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, _, _ := newTestView(t, newFakeCore(noDriverStatus()))
			if !c.menuOpenedAt.IsZero() {
				v.naps.menuOpenedAt.Store(c.menuOpenedAt.UnixNano())
			}
			if got := v.hiddenSettled(c.hiddenSince); got != c.want {
				t.Errorf("hiddenSettled = %v, want %v", got, c.want)
			}
		})
	}
}

// recordingNapper records whether each nap waited for window events.
type recordingNapper struct{ events chan bool }

func (n recordingNapper) sleep(_ time.Duration, windowEvents bool) {
	select {
	case n.events <- windowEvents:
	default:
	}
	time.Sleep(time.Millisecond)
}

func (n recordingNapper) wake() {}

// TestNapKind: a hidden window naps without waiting for window events (it
// gets none, and a long GLFW wait keeps the runtime polling); a shown
// window nobody uses waits for them, so input ends its nap.
func TestNapKind(t *testing.T) {
	away := idle.InputIdlerFunc(func() (time.Duration, error) { return time.Hour, nil })
	for _, c := range []struct {
		name   string
		hidden bool
		want   bool
	}{
		{"hidden", true, false},
		{"shown, owner away", false, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			v, _, _ := newTestView(t, newFakeCore(noDriverStatus()))
			rec := recordingNapper{events: make(chan bool, 1)}
			v.naps.napper = rec
			v.life.hiddenNow = make(chan struct{}, 1)
			if c.hidden {
				v.markHidden()
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { defer close(done); v.runNaps(ctx, away, make(chan struct{})) }()
			select {
			case got := <-rec.events:
				if got != c.want {
					t.Errorf("nap waited for window events = %v, want %v", got, c.want)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("no nap")
			}
			cancel()
			<-done
		})
	}
}
