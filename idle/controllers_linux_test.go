//go:build linux

package idle

import (
	"encoding/binary"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The controller source reads real devices: /dev/uinput is what would make
// a virtual gamepad, and containers (CI included) have none, so these
// tests stand a FIFO in for /dev/input/js0 or eventN and write the
// kernel's own event records into it. The reader opens, polls and decodes
// it exactly as it does a device (O_NONBLOCK, read until EAGAIN).

// testClock is a clock the test moves.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// fakeDevice makes a FIFO at dir/name and opens its writing end (O_RDWR,
// so the reader never sees "no writer").
func fakeDevice(t *testing.T, dir, name string) *os.File {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := unix.Mkfifo(path, 0o600); err != nil {
		t.Fatalf("mkfifo %s: %v", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// jsEvent is a struct js_event.
func jsEvent(typ byte, number byte, value int16) []byte {
	b := make([]byte, jsEventSize)
	binary.LittleEndian.PutUint32(b[0:4], 12345)
	binary.LittleEndian.PutUint16(b[4:6], uint16(value))
	b[6], b[7] = typ, number
	return b
}

// evdevEvent is a struct input_event for this architecture.
func evdevEvent(typ, code uint16, value int32) []byte {
	b := make([]byte, evdevEventSize)
	rec := b[evdevEventSize-8:]
	binary.LittleEndian.PutUint16(rec[0:2], typ)
	binary.LittleEndian.PutUint16(rec[2:4], code)
	binary.LittleEndian.PutUint32(rec[4:8], uint32(value))
	return b
}

// sysCaps writes sys/eventN/device/capabilities/key.
func sysCaps(t *testing.T, sys, event, caps string) {
	t.Helper()
	d := filepath.Join(sys, event, "device", "capabilities")
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d, "key"), []byte(caps+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Key capabilities as sysfs prints them (64-bit words, most significant
// first): an Xbox pad has BTN_SOUTH (0x130) etc.; a keyboard KEY_A (30).
var (
	gamepadCaps  = "7fdb000000000000 0 0 0 0"           // bits 0x130–0x13e set in word 4 (from the right)
	keyboardCaps = "0 0 0 0 0 0 0 0 0 0 0 0 0 40000000" // KEY_A only
)

func write(t *testing.T, f *os.File, recs ...[]byte) {
	t.Helper()
	for _, r := range recs {
		if _, err := f.Write(r); err != nil {
			t.Fatal(err)
		}
	}
}

func TestControllers(t *testing.T) {
	type step struct {
		write   func(t *testing.T, dir string, devs map[string]*os.File)
		advance time.Duration
		want    time.Duration // ControllerIdle; -1 none seen
	}
	press := func(dev string, rec []byte) func(*testing.T, string, map[string]*os.File) {
		return func(t *testing.T, _ string, devs map[string]*os.File) { write(t, devs[dev], rec) }
	}
	cases := []struct {
		name  string
		devs  map[string]string // device name → key caps for event*, "" for js*
		steps []step
	}{
		{"joystick: init state is not input, a button is", map[string]string{"js0": ""}, []step{
			{want: -1},
			{write: func(t *testing.T, _ string, d map[string]*os.File) {
				write(t, d["js0"], jsEvent(jsEventButton|jsEventInit, 0, 0), jsEvent(jsEventAxis|jsEventInit, 0, 300))
			}, want: -1},
			{write: press("js0", jsEvent(jsEventButton, 0, 1)), want: 0},
			{advance: 10 * time.Second, want: 10 * time.Second},
			{write: press("js0", jsEvent(jsEventButton, 0, 0)), want: 0}, // the release is input too
		}},
		{"joystick: stick noise is not input, a push is", map[string]string{"js0": ""}, []step{
			{write: press("js0", jsEvent(jsEventAxis|jsEventInit, 1, 0)), want: -1},
			{write: press("js0", jsEvent(jsEventAxis, 1, 1200)), want: -1},                                 // drift: under 10 % of the range
			{write: press("js0", jsEvent(jsEventAxis, 1, -900)), want: -1},                                 // still noise around rest
			{write: press("js0", jsEvent(jsEventAxis, 1, 20000)), want: 0},                                 // the owner's thumb
			{advance: time.Minute, write: press("js0", jsEvent(jsEventAxis, 1, 19000)), want: time.Minute}, // held, a tremble
		}},
		{"evdev gamepad: a button press", map[string]string{"event5": gamepadCaps}, []step{
			{want: -1},
			{write: press("event5", evdevEvent(evKey, 0x130, 1)), want: 0}, // BTN_SOUTH
			{advance: 3 * time.Second, want: 3 * time.Second},
			{write: press("event5", evdevEvent(evAbs, absHat0X, -1)), want: 0}, // the d-pad
		}},
		{"evdev: an axis of unknown range counts (the safe side)", map[string]string{"event5": gamepadCaps}, []step{
			{write: press("event5", evdevEvent(evAbs, 0, 5)), want: 0},
		}},
		{"evdev keyboard is not a controller", map[string]string{"event3": keyboardCaps}, []step{
			{write: press("event3", evdevEvent(evKey, 30, 1)), want: -1},
		}},
		{"a controller plugged in later is found", map[string]string{}, []step{
			{want: -1},
			{write: func(t *testing.T, dir string, d map[string]*os.File) {
				d["js1"] = fakeDevice(t, dir, "js1")
			}, want: -1}, // not looked for yet: the rescan is due in 2 s
			{advance: DefaultControllerRescan, write: press("js1", jsEvent(jsEventButton, 3, 1)), want: 0},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir, sys := t.TempDir(), t.TempDir()
			devs := map[string]*os.File{}
			for name, caps := range tc.devs {
				devs[name] = fakeDevice(t, dir, name)
				if caps != "" {
					sysCaps(t, sys, name, caps)
				}
			}
			clock := &testClock{t: time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)}
			c := &Controllers{Dir: dir, SysDir: sys, Now: clock.now}
			t.Cleanup(func() { c.Close() })
			for i, st := range tc.steps {
				clock.add(st.advance)
				if st.write != nil {
					st.write(t, dir, devs)
				}
				got, err := c.ControllerIdle()
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				if got != st.want {
					t.Fatalf("step %d: ControllerIdle %v, want %v", i, got, st.want)
				}
			}
		})
	}
}

// Without permission to read a controller the source says so, with what
// to do, rather than seeing no input (as root this runs the check again
// as nobody, where the kernel refuses the open).
func TestControllersPermissionDenied(t *testing.T) {
	if os.Getenv("COCOON_CONTROLLER_HELPER") != "" {
		dir := os.Getenv("COCOON_CONTROLLER_DIR")
		c := &Controllers{Dir: dir, SysDir: filepath.Join(dir, "sys")}
		defer c.Close()
		_, err := c.ControllerIdle()
		if !errors.Is(err, ErrControllersUnreadable) {
			t.Fatalf("err %v, want ErrControllersUnreadable", err)
		}
		if !strings.Contains(err.Error(), filepath.Join(dir, "js0")) || !strings.Contains(err.Error(), "input group") {
			t.Fatalf("err %q: should name the device and the input group", err)
		}
		return
	}
	// A directory nobody may enter, holding a root-only "joystick".
	dir, err := os.MkdirTemp("", "cocoon-controllers-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	fakeDevice(t, dir, "js0") // mode 0600, owned by us
	if os.Geteuid() != 0 {
		t.Setenv("COCOON_CONTROLLER_DIR", dir)
		t.Setenv("COCOON_CONTROLLER_HELPER", "1")
		if err := os.Chmod(filepath.Join(dir, "js0"), 0); err != nil {
			t.Fatal(err)
		}
		TestControllersPermissionDenied(t)
		return
	}
	// Root opens anything: run the check as nobody, from a copy of this
	// test binary nobody may execute.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "idle.test")
	if err := copyFile(self, bin); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run", "^TestControllersPermissionDenied$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), "COCOON_CONTROLLER_HELPER=1", "COCOON_CONTROLLER_DIR="+dir, "GOCOVERDIR="+dir)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS") {
		t.Fatalf("as nobody: %v\n%s", err, out)
	}
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// The Watcher with the real source: a controller game pauses serving with
// the controller reason, and a stick's noise does not.
func TestWatcherControllerInput(t *testing.T) {
	dir := t.TempDir()
	js := fakeDevice(t, dir, "js0")
	clock := &testClock{t: time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)}
	pads := &Controllers{Dir: dir, SysDir: t.TempDir(), Now: clock.now}
	defer pads.Close()
	w := &Watcher{
		Policy:      NewPolicy(Config{IdleAfter: time.Minute}),
		Input:       InputIdlerFunc(func() (time.Duration, error) { return time.Hour, nil }), // keyboard untouched
		Controllers: pads,
		Now:         clock.now,
	}
	write(t, js, jsEvent(jsEventAxis|jsEventInit, 0, 0))
	if d := w.Poll(); !d.Serve {
		t.Fatalf("keyboard and controller idle: %+v", d.Reasons)
	}
	write(t, js, jsEvent(jsEventAxis, 0, 500))
	if d := w.Poll(); !d.Serve {
		t.Fatalf("stick noise paused serving: %+v", d.Reasons)
	}
	write(t, js, jsEvent(jsEventButton, 0, 1))
	d := w.Poll()
	if d.Serve || !d.Has(CodeControllerActive) || !d.Changed {
		t.Fatalf("a controller press: Serve=%v reasons %+v", d.Serve, d.Reasons)
	}
	clock.add(30 * time.Second)
	if d := w.Poll(); d.Serve || !d.Has(CodeControllerActive) {
		t.Fatalf("30 s after the press: Serve=%v reasons %+v", d.Serve, d.Reasons)
	}
}

func TestIsNumber(t *testing.T) {
	for s, want := range map[string]bool{"0": true, "12": true, "": false, "1a": false, "-1": false} {
		if isNumber(s) != want {
			t.Errorf("isNumber(%q) != %v", s, want)
		}
	}
}
