package idle

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time                  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration)             { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }
func (c *fakeClock) Since(t time.Time) time.Duration { return c.Now().Sub(t) }

func TestWatcherPoll(t *testing.T) {
	clock := &fakeClock{t: t0}
	lastInput := t0
	var got []Decision
	w := &Watcher{
		Policy: NewPolicy(Config{IdleAfter: time.Minute}),
		Input:  InputIdlerFunc(func() (time.Duration, error) { return clock.Since(lastInput), nil }),
		FullScreen: FullScreenerFunc(func() (bool, string, error) {
			return false, "", context.DeadlineExceeded // errors here do not block
		}),
		Now:        clock.Now,
		OnDecision: func(d Decision) { got = append(got, d) },
	}
	if d := w.Poll(); d.Serve || !d.Has(CodeOwnerActive) {
		t.Fatalf("first poll: %+v", d)
	}
	clock.Add(30 * time.Second)
	w.Poll()
	clock.Add(30 * time.Second)
	if d := w.Poll(); !d.Serve {
		t.Fatalf("after 1 min idle: %+v", d)
	}
	clock.Add(250 * time.Millisecond)
	lastInput = clock.Now()
	if d := w.Poll(); d.Serve || !d.Has(CodeOwnerActive) {
		t.Fatalf("after input: %+v", d)
	}
	if len(got) != 3 || got[0].Serve || !got[1].Serve || got[2].Serve {
		t.Errorf("OnDecision got %d decisions %+v, want the first, serve and pause", len(got), got)
	}
	if w.Latest().Time != clock.Now() {
		t.Error("Latest is not the last decision")
	}
	w.SetOverride(ForceOff())
	if d := w.Poll(); !d.Has(CodeManualStop) {
		t.Errorf("ForceOff: %+v", d)
	}
}

func TestWatcherHungSource(t *testing.T) {
	release := make(chan struct{})
	var calls atomic.Int32
	w := &Watcher{
		Policy:       NewPolicy(Config{IdleAfter: time.Second}),
		Input:        InputIdlerFunc(func() (time.Duration, error) { calls.Add(1); <-release; return time.Hour, nil }),
		QueryTimeout: 20 * time.Millisecond,
	}
	for range 3 {
		if d := w.Poll(); d.Serve || !d.Has(CodeIdleUnknown) {
			t.Fatalf("hung source: %+v", d)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("a hung source was called %d times, want 1 (no pile-up)", n)
	}
	close(release)
	// The hung call returns in the background; a poll after it serves.
	deadline := time.Now().Add(10 * time.Second)
	for d := w.Poll(); !d.Serve; d = w.Poll() {
		if time.Now().After(deadline) {
			t.Fatalf("after the source recovered: %+v", d)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestWatcherRunOverrideIsImmediate(t *testing.T) {
	decisions := make(chan Decision, 10)
	w := &Watcher{
		Policy:       NewPolicy(Config{IdleAfter: time.Second}),
		Input:        InputIdlerFunc(func() (time.Duration, error) { return time.Hour, nil }),
		PollInterval: time.Hour, // only the first poll and nudges
		OnDecision:   func(d Decision) { decisions <- d },
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- w.Run(ctx) }()
	if d := <-decisions; !d.Serve {
		t.Fatalf("first decision: %+v", d)
	}
	w.SetOverride(ForceOff())
	select {
	case d := <-decisions:
		if d.Serve || !d.Has(CodeManualStop) {
			t.Errorf("after Stop: %+v", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("SetOverride did not trigger a poll")
	}
	cancel()
	if err := <-done; err != context.Canceled {
		t.Errorf("Run returned %v", err)
	}
	if err := (&Watcher{}).Run(context.Background()); err == nil {
		t.Error("Run without Policy and Input should fail")
	}
}
