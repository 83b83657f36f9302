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
