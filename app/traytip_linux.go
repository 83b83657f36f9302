package app

import "github.com/godbus/dbus/v5"

// announceTooltip sends the StatusNotifierItem's NewToolTip signal on the
// session bus connection that Fyne's tray uses (godbus's shared one). Only
// the tray calls it, and the tray exists only when TrayAvailable found a
// bus, so it never starts one.
func announceTooltip() {
	conn, err := dbus.SessionBus() // shared with the tray: don't close
	if err != nil {
		return // no bus: no tray host to tell
	}
	_ = conn.Emit("/StatusNotifierItem", "org.kde.StatusNotifierItem.NewToolTip")
}
