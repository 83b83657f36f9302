//go:build !linux

package idle

import "time"

// X11 is the X11 input-idle and full-screen source. It exists only on
// Linux; elsewhere NewX11 returns ErrUnsupported.
type X11 struct{}

// NewX11 returns ErrUnsupported on this platform.
func NewX11(display string) (*X11, error) { return nil, ErrUnsupported }

// InputIdle returns ErrUnsupported on this platform.
func (x *X11) InputIdle() (time.Duration, error) { return -1, ErrUnsupported }

// FullScreen returns ErrUnsupported on this platform.
func (x *X11) FullScreen() (bool, string, error) { return false, "", ErrUnsupported }

// Close does nothing on this platform.
func (x *X11) Close() error { return nil }
