//go:build linux

package idle

import (
	"fmt"
	"log"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/screensaver"
	"github.com/jezek/xgb/xproto"
)

func init() {
	// xgb logs to stderr on its own (e.g. "Could not get authority info" on
	// every connect without ~/.Xauthority, which is normal under Xvfb and
	// many sessions); its lines go to the app's log at debug level instead.
	xgb.Logger = log.New(xgbLog{}, "", 0)
}

// xgbLog writes xgb's log lines to slog's default logger, at debug level.
type xgbLog struct{}

func (xgbLog) Write(p []byte) (int, error) {
	slog.Debug("xgb", "msg", strings.TrimSpace(string(p)))
	return len(p), nil
}

// extInitMu serialises xgb extension initialisation: screensaver.Init
// writes package-level maps inside xgb without a lock.
var extInitMu sync.Mutex

// X11 reads the time since the last keyboard/mouse input from an X server
// (MIT-SCREEN-SAVER QueryInfo) and whether the active window is full screen
// (EWMH _NET_ACTIVE_WINDOW and _NET_WM_STATE_FULLSCREEN). It keeps one
// connection open; each query is one round trip to the server.
//
// Its methods are safe for concurrent use.
type X11 struct {
	display string
	conn    *xgb.Conn
	root    xproto.Window

	mu     sync.Mutex // guards atoms and closed
	atoms  map[string]xproto.Atom
	closed bool
	done   chan struct{} // closed when the connection has shut down
}

// NewX11 connects to the X display (e.g. ":0"); an empty display means
// $DISPLAY. It fails with ErrNoDisplay when there is no display to use and
// with ErrNoScreenSaverExtension when the server cannot report idle time.
func NewX11(display string) (*X11, error) {
	if display == "" {
		display = os.Getenv("DISPLAY")
	}
	if display == "" {
		return nil, ErrNoDisplay
	}
	conn, err := xgb.NewConnDisplay(display)
	if err != nil {
		return nil, fmt.Errorf("idle: connect to X display %q: %w", display, err)
	}
	extInitMu.Lock()
	err = screensaver.Init(conn)
	extInitMu.Unlock()
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("%w (display %q): %v", ErrNoScreenSaverExtension, display, err)
	}
	x := &X11{
		display: display,
		conn:    conn,
		root:    xproto.Setup(conn).DefaultScreen(conn).Root,
		atoms:   map[string]xproto.Atom{},
		done:    make(chan struct{}),
	}
	// Drain events and asynchronous errors: xgb's reader blocks when its
	// event queue is full, which would stall every later reply.
	go func() {
		defer close(x.done)
		for {
			ev, xerr := conn.WaitForEvent()
			if ev == nil && xerr == nil {
				return // connection closed
			}
		}
	}()
	return x, nil
}

// Display is the display this source is connected to, e.g. ":0".
func (x *X11) Display() string { return x.display }

// InputIdle returns how long ago the X server last saw keyboard or mouse
// input (from any client: XTEST input counts too).
func (x *X11) InputIdle() (time.Duration, error) {
	r, err := screensaver.QueryInfo(x.conn, xproto.Drawable(x.root)).Reply()
	if err != nil {
		return -1, fmt.Errorf("idle: X11 screen saver query on %q: %w", x.display, err)
	}
	return time.Duration(r.MsSinceUserInput) * time.Millisecond, nil
}

// FullScreen reports whether the active window (_NET_ACTIVE_WINDOW) has
// _NET_WM_STATE_FULLSCREEN, and that window's title. Without an EWMH
// window manager there is no active window: it returns false, "", nil.
func (x *X11) FullScreen() (bool, string, error) {
	win, full, err := x.fullScreenWindow()
	if err != nil || !full {
		return false, "", err
	}
	return true, x.title(win), nil
}

// FullScreenDetail is FullScreen with the program that owns the window:
// _NET_WM_PID's executable (/proc/<pid>/exe, else its comm), "" when the
// window does not say or the process is not readable.
func (x *X11) FullScreenDetail() (FullScreenInfo, error) {
	win, full, err := x.fullScreenWindow()
	if err != nil || !full {
		return FullScreenInfo{}, err
	}
	return FullScreenInfo{On: true, Title: x.title(win), Program: x.program(win)}, nil
}

// program names the process of a window's _NET_WM_PID.
func (x *X11) program(win xproto.Window) string {
	pidAtom, err := x.atom("_NET_WM_PID")
	if err != nil {
		return ""
	}
	p, err := xproto.GetProperty(x.conn, false, win, pidAtom, xproto.AtomCardinal, 0, 1).Reply()
	if err != nil || p.Format != 32 || len(p.Value) < 4 {
		return ""
	}
	pid := xgb.Get32(p.Value)
	if pid == 0 {
		return ""
	}
	if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); err == nil {
		return filepath.Base(strings.TrimSuffix(exe, " (deleted)"))
	}
	if comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); err == nil {
		return strings.TrimSpace(string(comm))
	}
	return ""
}

// fullScreenWindow returns the active window and whether it is full screen.
func (x *X11) fullScreenWindow() (xproto.Window, bool, error) {
	active, err := x.atom("_NET_ACTIVE_WINDOW")
	if err != nil {
		return 0, false, err
	}
	p, err := xproto.GetProperty(x.conn, false, x.root, active, xproto.AtomWindow, 0, 1).Reply()
	if err != nil {
		return 0, false, fmt.Errorf("idle: read _NET_ACTIVE_WINDOW: %w", err)
	}
	if p.Format != 32 || len(p.Value) < 4 {
		return 0, false, nil // no window manager, or nothing focused
	}
	win := xproto.Window(xgb.Get32(p.Value))
	if win == 0 {
		return 0, false, nil
	}
	stateAtom, err := x.atom("_NET_WM_STATE")
	if err != nil {
		return 0, false, err
	}
	fsAtom, err := x.atom("_NET_WM_STATE_FULLSCREEN")
	if err != nil {
		return 0, false, err
	}
	st, err := xproto.GetProperty(x.conn, false, win, stateAtom, xproto.AtomAtom, 0, 64).Reply()
	if err != nil {
		// The window may have closed between the two queries (BadWindow).
		return 0, false, nil
	}
	full := false
	if st.Format == 32 {
		for i := 0; i+4 <= len(st.Value); i += 4 {
			if xproto.Atom(xgb.Get32(st.Value[i:])) == fsAtom {
				full = true
				break
			}
		}
	}
	return win, full, nil
}

// title returns _NET_WM_NAME (UTF-8), else WM_NAME, else "".
func (x *X11) title(win xproto.Window) string {
	if name, err := x.atom("_NET_WM_NAME"); err == nil {
		if p, err := xproto.GetProperty(x.conn, false, win, name, xproto.GetPropertyTypeAny, 0, 256).Reply(); err == nil && len(p.Value) > 0 {
			if s := string(p.Value); utf8.ValidString(s) {
				return s
			}
		}
	}
	if p, err := xproto.GetProperty(x.conn, false, win, xproto.AtomWmName, xproto.GetPropertyTypeAny, 0, 256).Reply(); err == nil {
		return string(p.Value)
	}
	return ""
}

// atom interns name once per connection.
func (x *X11) atom(name string) (xproto.Atom, error) {
	x.mu.Lock()
	a, ok := x.atoms[name]
	x.mu.Unlock()
	if ok {
		return a, nil
	}
	r, err := xproto.InternAtom(x.conn, false, uint16(len(name)), name).Reply()
	if err != nil {
		return 0, fmt.Errorf("idle: intern X atom %s: %w", name, err)
	}
	x.mu.Lock()
	x.atoms[name] = r.Atom
	x.mu.Unlock()
	return r.Atom, nil
}

// Close closes the connection to the X server and waits (up to a second)
// for it to shut down. Later queries fail.
func (x *X11) Close() error {
	x.mu.Lock()
	first := !x.closed
	x.closed = true
	x.mu.Unlock()
	if first {
		x.conn.Close()
	}
	select {
	case <-x.done:
	case <-time.After(time.Second):
	}
	return nil
}
