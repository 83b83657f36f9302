package app

import (
	"context"
	"runtime/debug"
	"time"

	"fyne.io/fyne/v2"

	"github.com/cocoon-desktop/cocoon-desktop/idle"
)

const (
	// hiddenNap is how long the Fyne thread sleeps at a time while the
	// window is hidden: what is queued for it meanwhile (a tray click, a
	// status for the tray) waits at most this long.
	hiddenNap = 200 * time.Millisecond
	// awayNap is the same for a shown window nobody uses: the first input
	// after a while away is handled at most this late, then at full speed.
	awayNap = 100 * time.Millisecond
	// awayAfter is how long without keyboard or mouse input (anywhere on
	// the desktop) makes a shown window nap.
	awayAfter = 5 * time.Second
	// awayCheck is how often a shown window in use asks for the input idle time.
	awayCheck = time.Second
)

// runNaps slows Fyne's main loop while nobody can see or use the window,
// until ctx ends. The GLFW driver wakes 60 times a second to poll window
// events and draw, shown or not; each wake hands the main goroutine to its
// locked OS thread and back, which was nearly all of an idle app's CPU.
// While the window is hidden, or shown with no input for awayAfter (input
// may be nil: then only hidden), this goroutine keeps the Fyne thread busy
// sleeping in short naps; between two naps the loop runs whatever was
// queued and at most one frame tick, so it wakes 5–10 times a second
// instead of 60. Run owns the goroutine and waits for it.
func (v *mainView) runNaps(ctx context.Context, input idle.InputIdler) {
	check := time.NewTicker(awayCheck)
	defer check.Stop()
	for ctx.Err() == nil {
		select {
		case <-v.life.hiddenNow:
			// What the window's widgets and frames used is garbage now;
			// hand it back to the system rather than keep it for the next show.
			debug.FreeOSMemory()
		default:
		}
		switch {
		case v.life.hidden.Load():
			// After the app quit, DoAndWait runs nap here, off the Fyne
			// thread, which is harmless: it only sleeps.
			fyne.DoAndWait(func() { v.nap(ctx, hiddenNap, true) })
			continue
		case ownerAway(input):
			fyne.DoAndWait(func() { v.nap(ctx, awayNap, false) })
			continue
		}
		select {
		case <-ctx.Done():
		case <-check.C:
		case <-v.life.hiddenNow:
			debug.FreeOSMemory() // as above
		}
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

// nap sleeps on the Fyne thread for d, unless ctx ends. A nap for a
// hidden window (whileHidden) ends at once if the window was shown since it
// was asked for.
func (v *mainView) nap(ctx context.Context, d time.Duration, whileHidden bool) {
	if whileHidden && !v.life.hidden.Load() {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// markHidden records that the window is hidden and wakes runNaps.
func (v *mainView) markHidden() {
	v.life.hidden.Store(true)
	select {
	case v.life.hiddenNow <- struct{}{}:
	default: // already told
	}
}
