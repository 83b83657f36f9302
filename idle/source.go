package idle

import (
	"errors"
	"time"
)

// ErrUnsupported is returned by sources that do not exist on this platform
// (or display system, e.g. a Wayland session without Xwayland).
var ErrUnsupported = errors.New("idle: input idle detection is not supported on this platform")

// ErrNoDisplay is returned by NewX11 when no X display is given and
// $DISPLAY is empty (a headless machine, or a Wayland session without
// Xwayland).
var ErrNoDisplay = errors.New("idle: no X display (DISPLAY is not set)")

// ErrNoScreenSaverExtension is returned by NewX11 when the X server lacks
// the MIT-SCREEN-SAVER extension, which reports the time since last input.
var ErrNoScreenSaverExtension = errors.New("idle: the X server has no MIT-SCREEN-SAVER extension")

// InputIdler reports how long ago the owner last used the keyboard or mouse.
//
// Implementations must be cheap (they are polled every 250 ms) and safe to
// call from one goroutine at a time. X11 is the Linux implementation; a
// Windows one wraps GetLastInputInfo.
type InputIdler interface {
	InputIdle() (time.Duration, error)
}

// FullScreener reports whether the active window is full screen, and its
// title. Without a window manager it reports false and no error.
type FullScreener interface {
	FullScreen() (bool, string, error)
}

// InputIdlerFunc adapts a function to InputIdler.
type InputIdlerFunc func() (time.Duration, error)

// InputIdle calls f.
func (f InputIdlerFunc) InputIdle() (time.Duration, error) { return f() }

// FullScreenerFunc adapts a function to FullScreener.
type FullScreenerFunc func() (bool, string, error)

// FullScreen calls f.
func (f FullScreenerFunc) FullScreen() (bool, string, error) { return f() }
