package app

import (
	"context"
	"errors"
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
// tray do, prints the answer and quits. With envNoBusHelper=hold it then
// holds the Fyne thread for good, as Fyne 2.7.1 sometimes does in its own
// quit (watchQuit), and the app must end through Options.QuitStuck.
func noBusHelper() int {
	hold := os.Getenv(envNoBusHelper) == "hold"
	if hold {
		quitStuckAfter = 2 * time.Second
	}
	core := newFakeCore(noDriverStatus())
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	viewMadeForTest = func(v *mainView) {
		go func() {
			fyne.DoAndWait(func() {}) // the app runs
			_, err := dbus.SessionBus()
			fmt.Printf("session bus: %v\n", err)
			if hold {
				fyne.Do(func() { select {} })
			}
			cancel()
		}()
	}
	err := Run(ctx, core, Options{NoOnboarding: true, QuitStuck: func() {
		// As the program does (internal/cli): end, with a code the test knows.
		fmt.Println("quit stuck: ended by the watchdog")
		os.Exit(quitStuckExit)
	}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 1
	}
	return 0
}

// quitStuckExit is noBusHelper's exit code when Options.QuitStuck ended it.
const quitStuckExit = 7

// noBusEnv is a scratch $HOME, XDG directories and PATH for noBusHelper,
// whose PATH holds a dbus-launch that records being run in marker.
type noBusEnv struct {
	display, dir, home, bin, runtimeDir, marker string
}

func newNoBusEnv(t *testing.T) noBusEnv {
	t.Helper()
	dir := t.TempDir()
	e := noBusEnv{display: testx.StartXvfb(t), dir: dir, home: filepath.Join(dir, "home"), bin: filepath.Join(dir, "bin"),
		runtimeDir: filepath.Join(dir, "run"), marker: filepath.Join(dir, "dbus-launch-ran")}
	for _, d := range []string{e.home, e.bin, e.runtimeDir} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	fake := "#!/bin/sh\necho ran >> " + e.marker + "\nexit 1\n"
	if err := os.WriteFile(filepath.Join(e.bin, "dbus-launch"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	return e
}

// run runs noBusHelper in mode (envNoBusHelper's value) with busEnv as
// DBUS_SESSION_BUS_ADDRESS ("": unset) and returns its output and exit
// code. The helper quits by itself within its own 2 minutes; past 3,
// SIGQUIT makes the Go runtime print where each goroutine waits, and the
// test fails with that instead of hanging.
func (e noBusEnv) run(t *testing.T, mode, busEnv string) (string, int) {
	t.Helper()
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
	if busEnv != "" {
		env = append(env, "DBUS_SESSION_BUS_ADDRESS="+busEnv)
	}
	cmd.Env = append(env, envNoBusHelper+"="+mode, "DISPLAY="+e.display, "WAYLAND_DISPLAY=",
		"PATH="+e.bin+string(os.PathListSeparator)+os.Getenv("PATH"), "HOME="+e.home,
		"XDG_RUNTIME_DIR="+e.runtimeDir, "XDG_CONFIG_HOME="+filepath.Join(e.dir, "config"),
		"XDG_DATA_HOME="+filepath.Join(e.dir, "data"), "XDG_CACHE_HOME="+filepath.Join(e.dir, "cache"))
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("the app did not quit within 3 minutes; its goroutines:\n%s", out)
	}
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	return string(out), cmd.ProcessState.ExitCode()
}

// TestNoSessionBusIsStarted runs the real app with no session bus to be
// found and a dbus-launch on PATH that records being run: the app must
// never run it (it would start a dbus-daemon that outlives the app and
// writes under ~/.dbus), and nothing may be written into $HOME.
func TestNoSessionBusIsStarted(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Xvfb and the real app")
	}
	e := newNoBusEnv(t)
	cases := []struct {
		name, busEnv string
	}{
		{"unset", ""},
		{"autolaunch", "autolaunch:"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, code := e.run(t, "1", c.busEnv)
			switch code {
			case 0:
			case quitStuckExit: // Fyne's own quit hung (watchQuit) and the app ended anyway, as it must
				t.Logf("Fyne did not finish its quit; the watchdog ended the app:\n%s", out)
			default:
				t.Fatalf("helper: exit code %d\n%s", code, out)
			}
			if !strings.Contains(out, "session bus: dbus: ") {
				t.Errorf("godbus found a session bus or was not asked:\n%s", out)
			}
			if b, err := os.ReadFile(e.marker); err == nil {
				t.Errorf("dbus-launch ran %d time(s)", strings.Count(string(b), "ran"))
			}
			if entries, _ := os.ReadDir(e.home); len(entries) > 0 {
				var names []string
				for _, e := range entries {
					names = append(names, e.Name())
				}
				t.Errorf("the app wrote into $HOME: %v", names)
			}
		})
	}
}

// TestQuitEndsWhileFyneHoldsTheThread: the real app asked to quit while
// the Fyne thread never comes back (as in Fyne 2.7.1's own quit now and
// then) ends through Options.QuitStuck, bound by quitStuckAfter, instead
// of staying alive without a window.
func TestQuitEndsWhileFyneHoldsTheThread(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Xvfb and the real app")
	}
	e := newNoBusEnv(t)
	out, code := e.run(t, "hold", "")
	if code != quitStuckExit || !strings.Contains(out, "quit stuck: ended by the watchdog") {
		t.Fatalf("exit code %d, want %d from QuitStuck:\n%s", code, quitStuckExit, out)
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
