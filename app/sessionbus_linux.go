package app

import (
	"os"
)

// guardSessionBus keeps the app from starting a session bus. With
// DBUS_SESSION_BUS_ADDRESS unset (or "autolaunch:") and no bus socket to
// find, godbus, which Fyne uses for notifications, the theme portal and
// the tray, runs dbus-launch: a dbus-daemon that outlives the app and
// writes under ~/.dbus. A found socket is written to the variable, so
// every library uses the same bus; no bus at all is written as
// disabledBusAddress. It reports the address in force afterwards.
func guardSessionBus() string {
	if a := os.Getenv("DBUS_SESSION_BUS_ADDRESS"); a != "" && a != "autolaunch:" {
		return a
	}
	a := sessionBusAddress()
	if a == "" {
		a = disabledBusAddress
	}
	_ = os.Setenv("DBUS_SESSION_BUS_ADDRESS", a)
	return a
}
