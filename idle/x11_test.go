//go:build linux

package idle

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/internal/testx"
)

func TestX11InputIdle(t *testing.T) {
	display := testx.StartXvfb(t)
	x, err := NewX11(display)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()

	a, err := x.InputIdle()
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(1200 * time.Millisecond)
	b, err := x.InputIdle()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("idle %v, then %v after sleeping 1.2 s", a, b)
	if b < a+time.Second {
		t.Errorf("idle time did not grow while idle: %v then %v", a, b)
	}
	testx.Xdotool(t, display, "mousemove", "--sync", "100", "100")
	c, err := x.InputIdle()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("idle %v right after xdotool mousemove", c)
	if c >= 500*time.Millisecond {
		t.Errorf("idle after a mouse move = %v, want < 500 ms", c)
	}

	// No window manager: no active window, so never full screen.
	full, title, err := x.FullScreen()
	if full || title != "" || err != nil {
		t.Errorf("FullScreen without a window manager = %v %q %v, want false \"\" nil", full, title, err)
	}

	x.Close()
	if _, err := x.InputIdle(); err == nil {
		t.Error("InputIdle after Close should fail")
	}
	x.Close() // twice is fine
}

func TestX11Errors(t *testing.T) {
	t.Setenv("DISPLAY", "")
	if _, err := NewX11(""); !errors.Is(err, ErrNoDisplay) {
		t.Errorf("NewX11(\"\") without DISPLAY = %v, want ErrNoDisplay", err)
	}
	if _, err := NewX11(":4999"); err == nil {
		t.Error("NewX11 on a display with no server should fail")
	} else {
		t.Logf("no server: %v", err)
	}
}

// TestWatcherX11 runs the real loop: serve after 1 s idle on Xvfb, pause
// within about one poll after a mouse move.
func TestWatcherX11(t *testing.T) {
	display := testx.StartXvfb(t)
	x, err := NewX11(display)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	decisions := make(chan Decision, 16)
	w := &Watcher{
		Policy:     NewPolicy(Config{IdleAfter: time.Second}),
		Input:      x,
		FullScreen: x,
		OnDecision: func(d Decision) { decisions <- d },
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	defer func() { cancel(); <-done }()

	testx.Xdotool(t, display, "mousemove", "--sync", "10", "10") // the owner was just here
	start := time.Now()
	wait := func(serve bool, limit time.Duration) Decision {
		t.Helper()
		deadline := time.After(limit)
		for {
			select {
			case d := <-decisions:
				if d.Serve == serve {
					return d
				}
			case <-deadline:
				t.Fatalf("no decision with Serve=%v within %v; latest %+v", serve, limit, w.Latest())
			}
		}
	}
	wait(true, 10*time.Second)
	t.Logf("started serving %v after the last input (IdleAfter 1 s, poll 250 ms)", time.Since(start).Round(time.Millisecond))

	before := time.Now()
	testx.Xdotool(t, display, "mousemove", "--sync", "200", "200") // the owner is back
	moved := time.Now()
	d := wait(false, 5*time.Second)
	seen := time.Now()
	if !d.Has(CodeOwnerActive) {
		t.Errorf("pause reasons %+v, want owner_active", d.Reasons)
	}
	t.Logf("pause seen %v after xdotool returned (%v including the xdotool run); reason: %s",
		seen.Sub(moved).Round(time.Millisecond), seen.Sub(before).Round(time.Millisecond), d.Reasons[0].Text)
}

func BenchmarkX11InputIdle(b *testing.B) {
	display := testx.StartXvfb(b)
	x, err := NewX11(display)
	if err != nil {
		b.Fatal(err)
	}
	defer x.Close()
	for b.Loop() {
		if _, err := x.InputIdle(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkX11FullScreen(b *testing.B) {
	display := testx.StartXvfb(b)
	x, err := NewX11(display)
	if err != nil {
		b.Fatal(err)
	}
	defer x.Close()
	for b.Loop() {
		if _, _, err := x.FullScreen(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWatcherPollX11 is one full poll: the X11 query through the
// timeout guard plus the policy.
func BenchmarkWatcherPollX11(b *testing.B) {
	display := testx.StartXvfb(b)
	x, err := NewX11(display)
	if err != nil {
		b.Fatal(err)
	}
	defer x.Close()
	w := &Watcher{Policy: NewPolicy(DefaultConfig()), Input: x, FullScreen: x}
	for b.Loop() {
		w.Poll()
	}
}
