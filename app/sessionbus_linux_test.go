package app

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"github.com/godbus/dbus/v5"

	"github.com/cocoon-desktop/cocoon-desktop/internal/testx"
)

// envNoBusHelper makes the test binary run the real app without a session
// bus (see TestMain).
const envNoBusHelper = "COCOON_NOBUS_HELPER"

// noBusHelper runs the real app (no tray: there is no bus) until its window
// exists, then asks godbus for the session bus as Fyne's notifications and
// tray do, prints the answer and quits.
func noBusHelper() int {
	core := newFakeCore(noDriverStatus())
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	viewMadeForTest = func(v *mainView) {
		go func() {
			fyne.DoAndWait(func() {}) // the app runs
			_, err := dbus.SessionBus()
			fmt.Printf("session bus: %v\n", err)
			cancel()
		}()
	}
	if err := Run(ctx, core, Options{NoOnboarding: true}); err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 1
	}
	return 0
}

// TestNoSessionBusIsStarted runs the real app with no session bus to be
// found and a dbus-launch on PATH that records being run: the app must
// never run it (it would start a dbus-daemon that outlives the app and
// writes under ~/.dbus), and nothing may be written into $HOME.
func TestNoSessionBusIsStarted(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Xvfb and the real app")
	}
	display := testx.StartXvfb(t)
	dir := t.TempDir()
	home, bin, runtimeDir := filepath.Join(dir, "home"), filepath.Join(dir, "bin"), filepath.Join(dir, "run")
	for _, d := range []string{home, bin, runtimeDir} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	marker := filepath.Join(dir, "dbus-launch-ran")
	fake := "#!/bin/sh\necho ran >> " + marker + "\nexit 1\n"
	if err := os.WriteFile(filepath.Join(bin, "dbus-launch"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, busEnv string
	}{
		{"unset", ""},
		{"autolaunch", "autolaunch:"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// The helper quits by itself within its own 2 minutes; past 3,
			// SIGQUIT makes the Go runtime print where each goroutine
			// waits, and the test fails with that instead of hanging.
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, os.Args[0])
			cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGQUIT) }
			cmd.WaitDelay = 30 * time.Second
			var env []string
			for _, kv := range os.Environ() {
				if !strings.HasPrefix(kv, "DBUS_SESSION_BUS_ADDRESS=") {
					env = append(env, kv)
				}
			}
			if c.busEnv != "" {
				env = append(env, "DBUS_SESSION_BUS_ADDRESS="+c.busEnv)
			}
			cmd.Env = append(env, envNoBusHelper+"=1", "DISPLAY="+display, "WAYLAND_DISPLAY=",
				"PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"), "HOME="+home,
				"XDG_RUNTIME_DIR="+runtimeDir, "XDG_CONFIG_HOME="+filepath.Join(dir, "config"),
				"XDG_DATA_HOME="+filepath.Join(dir, "data"), "XDG_CACHE_HOME="+filepath.Join(dir, "cache"))
			out, err := cmd.CombinedOutput()
			if ctx.Err() != nil {
				t.Fatalf("the app did not quit within 3 minutes; its goroutines:\n%s", out)
			}
			if err != nil {
				t.Fatalf("helper: %v\n%s", err, out)
			}
			if !strings.Contains(string(out), "session bus: dbus: ") {
				t.Errorf("godbus found a session bus or was not asked:\n%s", out)
			}
			if b, err := os.ReadFile(marker); err == nil {
				t.Errorf("dbus-launch ran %d time(s)", strings.Count(string(b), "ran"))
			}
			if entries, _ := os.ReadDir(home); len(entries) > 0 {
				var names []string
				for _, e := range entries {
					names = append(names, e.Name())
				}
				t.Errorf("the app wrote into $HOME: %v", names)
			}
		})
	}
}

func TestGuardSessionBus(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name, env, runtimeDir, want string
	}{
		{"address kept", "unix:path=/somewhere/bus", dir, "unix:path=/somewhere/bus"},
		{"unset, no socket", "", dir, disabledBusAddress},
		{"autolaunch, no socket", "autolaunch:", dir, disabledBusAddress},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("DBUS_SESSION_BUS_ADDRESS", c.env)
			t.Setenv("XDG_RUNTIME_DIR", c.runtimeDir)
			if got := guardSessionBus(); got != c.want {
				t.Errorf("guardSessionBus() = %q, want %q", got, c.want)
			}
			if got := os.Getenv("DBUS_SESSION_BUS_ADDRESS"); got != c.want {
				t.Errorf("DBUS_SESSION_BUS_ADDRESS = %q, want %q", got, c.want)
			}
			if ok, why := TrayAvailable(); ok || why == "" {
				t.Errorf("TrayAvailable() = %v, %q with no bus", ok, why)
			}
		})
	}
}
