//go:build linux

package idle

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"

	"github.com/cocoon-desktop/cocoon-desktop/internal/testx"
)

// TestX11FullScreen plays the window manager's part on Xvfb (which has
// none): a second client creates a window, sets its _NET_WM_STATE and
// _NET_WM_NAME and names it the root's _NET_ACTIVE_WINDOW, as an EWMH
// window manager does for a full-screen game or movie.
func TestX11FullScreen(t *testing.T) {
	display := testx.StartXvfb(t)
	wm, err := xgb.NewConnDisplay(display)
	if err != nil {
		t.Fatal(err)
	}
	defer wm.Close() // its windows go with it
	screen := xproto.Setup(wm).DefaultScreen(wm)
	atom := func(name string) xproto.Atom {
		r, err := xproto.InternAtom(wm, false, uint16(len(name)), name).Reply()
		if err != nil {
			t.Fatalf("intern %s: %v", name, err)
		}
		return r.Atom
	}
	atoms := func(as ...xproto.Atom) []byte {
		b := make([]byte, 4*len(as))
		for i, a := range as {
			xgb.Put32(b[4*i:], uint32(a))
		}
		return b
	}
	fs, above := atom("_NET_WM_STATE_FULLSCREEN"), atom("_NET_WM_STATE_ABOVE")

	x, err := NewX11(display)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()

	tests := []struct {
		name      string
		state     []byte // _NET_WM_STATE of the active window
		noActive  bool   // _NET_ACTIVE_WINDOW is None
		wantFull  bool
		wantTitle string
		noPID     bool // the window has no _NET_WM_PID
	}{
		{"full screen", atoms(fs), false, true, "Movie.mkv - VLC", false},
		{"full screen among other states", atoms(above, fs), false, true, "Movie.mkv - VLC", false},
		{"full screen, no _NET_WM_PID", atoms(fs), false, true, "Movie.mkv - VLC", true},
		{"other states only", atoms(above), false, false, "", false},
		{"no state", nil, false, false, "", false},
		{"full screen but not active", atoms(fs), true, false, "", false},
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			win, err := xproto.NewWindowId(wm)
			if err != nil {
				t.Fatal(err)
			}
			if err := xproto.CreateWindowChecked(wm, screen.RootDepth, win, screen.Root, 0, 0, 100, 100, 0,
				xproto.WindowClassInputOutput, screen.RootVisual, 0, nil).Check(); err != nil {
				t.Fatal(err)
			}
			defer xproto.DestroyWindow(wm, win)
			title := "Movie.mkv - VLC"
			set := func(w xproto.Window, prop, typ xproto.Atom, format byte, data []byte) {
				t.Helper()
				n := uint32(len(data))
				if format == 32 {
					n /= 4
				}
				if err := xproto.ChangePropertyChecked(wm, xproto.PropModeReplace, w, prop, typ, format, n, data).Check(); err != nil {
					t.Fatal(err)
				}
			}
			set(win, atom("_NET_WM_NAME"), atom("UTF8_STRING"), 8, []byte(title))
			set(win, atom("_NET_WM_STATE"), xproto.AtomAtom, 32, tc.state)
			if !tc.noPID { // this test process stands in for the game
				pid := make([]byte, 4)
				xgb.Put32(pid, uint32(os.Getpid()))
				set(win, atom("_NET_WM_PID"), xproto.AtomCardinal, 32, pid)
			}
			active := win
			if tc.noActive {
				active = 0
			}
			set(screen.Root, atom("_NET_ACTIVE_WINDOW"), xproto.AtomWindow, 32, atoms(xproto.Atom(active)))

			full, got, err := x.FullScreen()
			if err != nil || full != tc.wantFull || got != tc.wantTitle {
				t.Errorf("FullScreen() = %v %q %v, want %v %q nil", full, got, err, tc.wantFull, tc.wantTitle)
			}
			wantProgram := ""
			if tc.wantFull && !tc.noPID {
				wantProgram = filepath.Base(self)
			}
			info, err := x.FullScreenDetail()
			want := FullScreenInfo{On: tc.wantFull, Title: tc.wantTitle, Program: wantProgram}
			if err != nil || info != want {
				t.Errorf("FullScreenDetail() = %+v %v, want %+v", info, err, want)
			}
		})
	}
}
