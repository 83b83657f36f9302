//go:build !linux

package app

// announceTooltip does nothing: outside Linux, systray.SetTooltip updates
// the platform tray directly.
func announceTooltip() {}
