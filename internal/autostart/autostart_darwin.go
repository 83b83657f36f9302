//go:build darwin

package autostart

// Enable is not implemented on macOS yet (a LaunchAgent plist would do it).
func Enable(exe string) error { return ErrUnsupported }

// Disable is not implemented on macOS yet.
func Disable() error { return ErrUnsupported }

// Enabled is always false on macOS for now.
func Enabled() bool { return false }

// Supported reports whether this system has an autostart the app can set.
func Supported() bool { return false }
