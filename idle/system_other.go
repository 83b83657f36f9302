//go:build !linux && !windows

package idle

// NewSystemIdle returns ErrUnsupported: there is no input-idle source for
// this platform yet (macOS would use IOKit's HIDIdleTime).
func NewSystemIdle() (InputIdler, error) { return nil, ErrUnsupported }
