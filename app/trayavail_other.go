//go:build !linux

package app

// TrayAvailable reports whether a system-tray icon can be shown. Outside
// Linux the platform tray (Windows notification area, macOS menu bar) is
// always there.
func TrayAvailable() (bool, string) { return true, "" }
