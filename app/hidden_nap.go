package app

import (
	"context"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"fyne.io/fyne/v2"
	"github.com/go-gl/glfw/v3.3/glfw"

	"github.com/cocoon-desktop/cocoon-desktop/idle"
)

const (
	// hiddenNap is how long the Fyne thread sleeps at a time while the
	// window is hidden. What the app itself queues for the Fyne thread ends
	// a nap at once (v.do wakes it), and so does an opening tray menu where
	// the tray says so (trayTellsMenuOpen); only Fyne's own queued work —
	// on Windows a tray click — waits, at most this long.
	hiddenNap      = 2 * time.Second
	hiddenNapShort = 200 * time.Millisecond // where the tray does not say when its menu opens
	// hiddenNapLong is hiddenNap once the window has been hidden, and the
	// tray menu left alone, for hiddenSettled: where a tray app spends its
	// life. Each nap's end wakes the whole process (its system calls wake
	// the Go runtime's sysmon too): 2 s naps were half of a hidden app's CPU.
	hiddenNapLong = 5 * time.Second
	hiddenSettled = time.Minute
	// awayNap is the same for a shown window nobody uses. Input to the
	// window ends it at once (the nap waits on the window system's events),
	// so it only bounds Fyne's own queued work and animations.
	awayNap = 2 * time.Second
	// awayAfter is how long without keyboard or mouse input (anywhere on
	// the desktop) makes a shown window nap.
	awayAfter = 5 * time.Second
	// awayCheck is how often a shown window in use asks for the input idle time.
	awayCheck = time.Second
	// afterWake: a nap woken for queued work is followed by this much of
	// the normal 60 Hz loop, so the work's result is drawn before the next nap.
	afterWake = 50 * time.Millisecond
	// menuAwake: after the tray menu opens, no naps for this long (the
	// click that follows is Fyne's queued work).
	menuAwake = 15 * time.Second
	// trimAfter: a window hidden this long gives memory back: its
	// window-system window and GL context (dropWindow), then what the
	// process no longer uses (memtrim_*.go).
	trimAfter = 10 * time.Second
	// windowGone: the driver destroys a closed window at its next frame
	// (60 Hz); the memory is given back after this much of the loop.
	windowGone = 200 * time.Millisecond
)

// trayTellsMenuOpen: fyne.io/systray reports an opening menu on Linux
// (dbusmenu's "opened" event) and macOS, not on Windows.
var trayTellsMenuOpen = runtime.GOOS != "windows"

// napper blocks the Fyne thread for a nap and ends it early on demand.
type napper interface {
	// sleep blocks for at most d. It returns early when wake is called and,
	// with windowEvents on the GLFW napper, when the window system has an
	// event for the app (input to a shown window).
	sleep(d time.Duration, windowEvents bool)
	// wake ends the nap in progress, if any; safe from any goroutine.
	wake()
}

// glfwNapper naps a shown window in glfw.WaitEventsTimeout: the Fyne thread
// sleeps in the window system's event wait, so input wakes it at once (and
// is dispatched, as the loop's own poll would), and glfw.PostEmptyEvent
// wakes it from another goroutine. A hidden window, which gets no input,
// naps on a channel instead: a long C call keeps its thread's P in a
// system call, which keeps the Go runtime's sysmon thread polling.
type glfwNapper struct {
	chanNapper
	mu     sync.Mutex
	inGLFW bool // GLFW is initialised and the Fyne thread is in its wait
}

func newGLFWNapper() *glfwNapper { return &glfwNapper{chanNapper: *newChanNapper()} }

func (n *glfwNapper) sleep(d time.Duration, windowEvents bool) {
	if !windowEvents {
		n.chanNapper.sleep(d, false)
		return
	}
	n.mu.Lock()
	n.inGLFW = true
	n.mu.Unlock()
	select {
	case <-n.woken: // woken before the wait began: its work is queued
	default:
		glfw.WaitEventsTimeout(d.Seconds())
	}
	n.mu.Lock()
	n.inGLFW = false
	n.mu.Unlock()
	n.drain()
}

// wake posts an empty event only while the GLFW wait runs: before GLFW
// starts and after it terminates (both on the Fyne thread, which is then
// not waiting) GLFW panics on any call.
func (n *glfwNapper) wake() {
	n.mu.Lock()
	if n.inGLFW {
		glfw.PostEmptyEvent()
	}
	n.mu.Unlock()
	n.chanNapper.wake()
}

// chanNapper naps on a timer and a channel: hidden windows, tests, and
// Fyne's test driver.
type chanNapper struct{ woken chan struct{} }

func newChanNapper() *chanNapper { return &chanNapper{woken: make(chan struct{}, 1)} }

// sleep ends at once for a wake that came before it: the work of that
// wake may be queued behind this nap.
func (n *chanNapper) sleep(d time.Duration, _ bool) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-n.woken:
	}
	n.drain()
}

// drain drops a wake that came during the nap that just ended: its work
// was queued before it, so ahead of the next nap.
func (n *chanNapper) drain() {
	select {
	case <-n.woken:
	default:
	}
}

func (n *chanNapper) wake() {
	select {
	case n.woken <- struct{}{}:
	default: // one is pending
	}
}

// naps is the window's nap state (owned by mainView; runNaps drives it).
type naps struct {
	napper napper
	// menuOpenedAt is when the tray menu last opened (Unix ns; 0: never).
	menuOpenedAt atomic.Int64
}

// fyneDo is the app's v.do: fyne.Do, then wake a nap so that the queued
// function runs now, not when the nap ends. The order matters: queued
// first, the Fyne thread runs it before the next nap, which is queued
// after it.
func (v *mainView) fyneDo(fn func()) {
	fyne.Do(fn)
	if n := v.naps.napper; n != nil {
		n.wake()
	}
}

// menuOpened records that the tray menu opened and ends a nap, so the
// click that follows is handled at once.
func (v *mainView) menuOpened() {
	v.naps.menuOpenedAt.Store(time.Now().UnixNano())
	if n := v.naps.napper; n != nil {
		n.wake()
	}
}

// runNaps slows Fyne's main loop while nobody can see or use the window,
// until ctx ends. The GLFW driver wakes 60 times a second to poll window
// events and draw, shown or not; each wake hands the main goroutine to its
// locked OS thread and back, which was nearly all of an idle app's CPU.
// While the window is hidden, or shown with no input for awayAfter (input
// may be nil: then only hidden), this goroutine keeps the Fyne thread in
// naps that end early for input and for the app's own work (fyneDo), so it
// wakes about once a second or less instead of 60 times. A window hidden
// for trimAfter also gives memory back (dropWindow, releaseMemory). runNaps
// owns the goroutines it starts and waits for them.
func (v *mainView) runNaps(ctx context.Context, input idle.InputIdler, menuOpens <-chan struct{}) {
	var wg sync.WaitGroup
	defer wg.Wait()
	if menuOpens != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case <-menuOpens:
					v.menuOpened()
				}
			}
		}()
	}
	hiddenFor := hiddenNapShort
	if menuOpens != nil {
		hiddenFor = hiddenNap
	}
	check := time.NewTicker(awayCheck)
	defer check.Stop()
	var hiddenSince time.Time
	trimmed := false
	justHidden := func() {
		// What the window's widgets and frames used is garbage now;
		// hand it back to the system rather than keep it for the next show.
		debug.FreeOSMemory()
		hiddenSince, trimmed = time.Now(), false
	}
	for ctx.Err() == nil {
		select {
		case <-v.life.hiddenNow:
			justHidden()
		default:
		}
		if opened := v.naps.menuOpenedAt.Load(); opened != 0 {
			if left := menuAwake - time.Since(time.Unix(0, opened)); left > 0 {
				sleepCtx(ctx, min(left, awayCheck)) // the loop at full speed for the click
				continue
			}
		}
		var d time.Duration
		hidden := v.life.hidden.Load()
		switch {
		case hidden:
			if !trimmed && !hiddenSince.IsZero() && time.Since(hiddenSince) >= trimAfter {
				v.dropWindow(ctx)
				releaseMemory(v.log)
				trimmed = true
			}
			d = hiddenFor
			if menuOpens != nil && v.hiddenSettled(hiddenSince) {
				d = hiddenNapLong
			}
		case ownerAway(input):
			d = awayNap
		}
		if d > 0 {
			var woken bool
			// After the app quit, DoAndWait runs nap here, off the Fyne
			// thread, which is harmless: the chan napper only sleeps, the
			// GLFW one is never napping then.
			fyne.DoAndWait(func() { woken = v.nap(ctx, d, hidden) })
			if woken {
				sleepCtx(ctx, afterWake)
			}
			continue
		}
		select {
		case <-ctx.Done():
		case <-check.C:
		case <-v.life.hiddenNow:
			justHidden()
		}
	}
}

// windowDropper is a window that can give up its window-system window and
// GL context while hidden, and make them again when shown (liveWindow).
type windowDropper interface{ drop() bool }

// dropWindow drops the hidden window's window-system window and GL context
// — with the C heap trimmed after it, ~17 MB of the renderer's heap and
// buffers (scripts/bench-idle.sh) — and reports whether it did. A window shown since, one
// with a dialog open, and one that cannot (tests' windows) stay. The
// driver destroys a closed window at its next frame, so the loop runs at
// full speed for windowGone before this returns: after it, the memory can
// be given back.
func (v *mainView) dropWindow(ctx context.Context) bool {
	d, ok := v.win.(windowDropper)
	if !ok || ctx.Err() != nil {
		return false
	}
	var dropped bool
	fyne.DoAndWait(func() { dropped = v.life.hidden.Load() && d.drop() })
	if dropped {
		v.log.Debug("hidden window: its window and GL context dropped until it is shown")
		sleepCtx(ctx, windowGone)
	}
	return dropped
}

// hiddenSettled reports whether the window has been hidden since
// hiddenSince and the tray menu left alone, both for hiddenSettled.
func (v *mainView) hiddenSettled(hiddenSince time.Time) bool {
	last := hiddenSince
	if opened := v.naps.menuOpenedAt.Load(); opened != 0 {
		if t := time.Unix(0, opened); t.After(last) {
			last = t
		}
	}
	return !hiddenSince.IsZero() && time.Since(last) >= hiddenSettled
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// ownerAway reports whether nobody has used the keyboard or mouse for
// awayAfter (false when that cannot be told).
func ownerAway(input idle.InputIdler) bool {
	if input == nil {
		return false
	}
	d, err := input.InputIdle()
	return err == nil && d >= awayAfter
}

// nap sleeps on the Fyne thread for at most d and reports whether it ended
// early (woken, an event, ctx ended). A nap for a hidden window
// (whileHidden) ends at once if the window was shown since it was asked for.
func (v *mainView) nap(ctx context.Context, d time.Duration, whileHidden bool) (woken bool) {
	if whileHidden && !v.life.hidden.Load() {
		return true
	}
	n := v.naps.napper
	stop := context.AfterFunc(ctx, n.wake)
	defer stop()
	start := time.Now()
	n.sleep(d, !whileHidden)
	return time.Since(start) < d-time.Millisecond
}

// markHidden records that the window is hidden and wakes runNaps.
func (v *mainView) markHidden() {
	v.life.hidden.Store(true)
	select {
	case v.life.hiddenNow <- struct{}{}:
	default: // already told
	}
}
