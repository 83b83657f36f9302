//go:build linux

package idle

// NewSystemIdle returns the platform's input-idle source: on Linux, X11 on
// $DISPLAY (ErrNoDisplay without one). The result is an *X11, which also
// implements FullScreener and io.Closer.
func NewSystemIdle() (InputIdler, error) {
	x, err := NewX11("")
	if err != nil {
		return nil, err // not a typed nil *X11 in the interface
	}
	return x, nil
}
