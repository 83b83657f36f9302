package app

import (
	"context"
	"runtime/debug"
	"time"

	"fyne.io/fyne/v2"
)

// hiddenNap is how long the Fyne thread sleeps at a time while the window
// is hidden: what is queued for it meanwhile (a tray click, a status for
// the tray) waits at most this long.
const hiddenNap = 200 * time.Millisecond

// runHiddenNaps slows Fyne's main loop while the window is hidden, until
// ctx ends. The GLFW driver wakes 60 times a second to poll window events
// and draw, shown or not; each wake hands the main goroutine to its locked
// OS thread and back, which was nearly all of a hidden app's CPU. While
// hidden, this goroutine keeps the Fyne thread busy sleeping in hiddenNap
// steps; between two naps the loop runs whatever was queued and at most
// one frame tick, so it wakes about 5 times a second instead of 60.
// Run owns the goroutine and waits for it.
func (v *mainView) runHiddenNaps(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-v.life.hiddenNow:
		}
		// What the window's widgets and frames used is garbage now; hand
		// it back to the system rather than keep it for the next show.
		debug.FreeOSMemory()
		for v.life.hidden.Load() && ctx.Err() == nil {
			// After the app quit, DoAndWait runs nap here, off the Fyne
			// thread, which is harmless: it only sleeps.
			fyne.DoAndWait(func() { v.nap(ctx) })
		}
	}
}

// nap sleeps on the Fyne thread for hiddenNap, unless the window was shown
// meanwhile or ctx ends.
func (v *mainView) nap(ctx context.Context) {
	if !v.life.hidden.Load() {
		return
	}
	t := time.NewTimer(hiddenNap)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// markHidden records that the window is hidden and wakes runHiddenNaps.
func (v *mainView) markHidden() {
	v.life.hidden.Store(true)
	select {
	case v.life.hiddenNow <- struct{}{}:
	default: // already told
	}
}
