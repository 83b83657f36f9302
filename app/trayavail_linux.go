package app

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/godbus/dbus/v5"
)

// trayCheckTimeout bounds the whole DBus check; a hung bus must not stall startup.
const trayCheckTimeout = 2 * time.Second

// TrayAvailable reports whether a system-tray icon can be shown, and if not,
// why in plain words. On Linux the tray is a StatusNotifierItem: it needs a
// reachable DBus session bus and a StatusNotifierWatcher owning its name.
// Setting up Fyne's tray without them makes Quit panic, so call this first
// and pass the result to Options.Tray.
func TrayAvailable() (bool, string) {
	addr := sessionBusAddress()
	if addr == "" {
		return false, "no DBus session bus (DBUS_SESSION_BUS_ADDRESS is not set and no bus socket was found)"
	}
	type result struct {
		ok     bool
		reason string
	}
	ctx, cancel := context.WithTimeout(context.Background(), trayCheckTimeout)
	defer cancel()
	done := make(chan result, 1)
	go func() {
		ok, reason := checkWatcher(ctx, addr)
		done <- result{ok, reason}
	}()
	select {
	case r := <-done:
		return r.ok, r.reason
	case <-ctx.Done():
		return false, fmt.Sprintf("DBus session bus at %s did not answer within %s", addr, trayCheckTimeout)
	}
}

// sessionBusAddress finds the session bus without auto-launching one.
// It looks where godbus looks: $XDG_RUNTIME_DIR/bus, else /run/user/UID/bus.
func sessionBusAddress() string {
	if a := os.Getenv("DBUS_SESSION_BUS_ADDRESS"); a != "" && a != "autolaunch:" && a != disabledBusAddress {
		return a
	}
	dir := os.Getenv("XDG_RUNTIME_DIR")
	if dir == "" {
		dir = fmt.Sprintf("/run/user/%d", os.Getuid())
	}
	p := filepath.Join(dir, "bus")
	if fi, err := os.Stat(p); err == nil && fi.Mode()&os.ModeSocket != 0 {
		return "unix:path=" + p
	}
	return ""
}

func checkWatcher(ctx context.Context, addr string) (bool, string) {
	conn, err := dbus.Connect(addr, dbus.WithContext(ctx))
	if err != nil {
		return false, fmt.Sprintf("DBus session bus not reachable at %s: %v", addr, err)
	}
	defer conn.Close()
	const watcher = "org.kde.StatusNotifierWatcher"
	var has bool
	err = conn.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.NameHasOwner", 0, watcher).Store(&has)
	if err != nil {
		return false, fmt.Sprintf("DBus session bus did not answer NameHasOwner: %v", err)
	}
	if !has {
		return false, "no system tray: nothing owns " + watcher + " on the DBus session bus (the desktop has no StatusNotifier tray)"
	}
	return true, ""
}
