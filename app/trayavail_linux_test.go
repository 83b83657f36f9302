package app

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
)

func TestTrayAvailableNoSocket(t *testing.T) {
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path="+filepath.Join(t.TempDir(), "no-such-bus"))
	start := time.Now()
	ok, reason := TrayAvailable()
	if ok {
		t.Fatal("tray reported available without a bus")
	}
	if !strings.Contains(reason, "not reachable") {
		t.Errorf("reason = %q", reason)
	}
	if d := time.Since(start); d > trayCheckTimeout+time.Second {
		t.Errorf("check took %s", d)
	}
}

func TestTrayAvailableNoAddress(t *testing.T) {
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "")
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir()) // no "bus" socket in it
	ok, reason := TrayAvailable()
	if ok || !strings.Contains(reason, "DBUS_SESSION_BUS_ADDRESS") {
		t.Errorf("got %v, %q", ok, reason)
	}
}

// TestTrayAvailableWatcher runs a private dbus-daemon: without a
// StatusNotifierWatcher the tray is unavailable; once a client owns the
// watcher's name, it is available.
func TestTrayAvailableWatcher(t *testing.T) {
	addr := startSessionBus(t)
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", addr)

	ok, reason := TrayAvailable()
	if ok || !strings.Contains(reason, "org.kde.StatusNotifierWatcher") {
		t.Fatalf("without a watcher: got %v, %q", ok, reason)
	}

	conn, err := dbus.Connect(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	reply, err := conn.RequestName("org.kde.StatusNotifierWatcher", dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("RequestName: %v %v", reply, err)
	}
	if ok, reason := TrayAvailable(); !ok {
		t.Fatalf("with a watcher: unavailable: %s", reason)
	}
}
