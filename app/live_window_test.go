package app

import (
	"context"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// recWindow is a test window that records what the test driver's window
// forgets (icon, close intercept) and the calls it gets.
type recWindow struct {
	fyne.Window
	icon                          fyne.Resource
	intercept                     func()
	shows, hides, focuses, closes int
}

func (w *recWindow) SetIcon(r fyne.Resource)    { w.icon = r; w.Window.SetIcon(r) }
func (w *recWindow) SetCloseIntercept(f func()) { w.intercept = f; w.Window.SetCloseIntercept(f) }
func (w *recWindow) Show()                      { w.shows++; w.Window.Show() }
func (w *recWindow) Hide()                      { w.hides++; w.Window.Hide() }
func (w *recWindow) RequestFocus()              { w.focuses++; w.Window.RequestFocus() }
func (w *recWindow) Close()                     { w.closes++; w.Window.Close() }

// recApp is the test app, its windows recWindows, in the order made.
type recApp struct {
	fyne.App
	windows []*recWindow
}

func (a *recApp) NewWindow(title string) fyne.Window {
	w := &recWindow{Window: a.App.NewWindow(title)}
	a.windows = append(a.windows, w)
	return w
}

// newRecApp is a test app whose windows are closed when the test ends (the
// test driver outlives the app and would count them in later tests).
func newRecApp(t *testing.T) *recApp {
	a := &recApp{App: test.NewTempApp(t)}
	t.Cleanup(func() {
		for _, w := range a.windows {
			if w.closes == 0 {
				w.Window.Close()
			}
		}
	})
	return a
}

// trayKeeper makes the window Fyne keeps while a tray is set up (its
// "SystrayMonitor"): with it the app's window is not the driver's last.
func (a *recApp) trayKeeper(t *testing.T) {
	w := a.App.NewWindow("SystrayMonitor")
	t.Cleanup(w.Close)
}

// TestLiveWindowDropAndShow: a dropped window is closed and left alone
// (Hide and RequestFocus do not reach it); shown again, it is a new window
// with the same title, icon, close intercept and content, at the size the
// owner last gave it.
func TestLiveWindowDropAndShow(t *testing.T) {
	a := newRecApp(t)
	a.trayKeeper(t)
	lw := newLiveWindow(a, "Cocoon Desktop")
	intercepted := 0
	content := widget.NewLabel("the tabs")
	lw.SetIcon(theme.InfoIcon())
	lw.SetCloseIntercept(func() { intercepted++ })
	lw.SetContent(content)
	lw.Resize(fyne.NewSize(1180, 720))
	lw.Show()
	first := a.windows[0]
	first.Window.Resize(fyne.NewSize(1024, 640)) // the owner's resize, not through lw
	lw.Hide()

	if !lw.drop() {
		t.Fatal("drop refused for a hidden, shown, non-master window")
	}
	if first.closes != 1 {
		t.Fatalf("dropped window closed %d times, want 1", first.closes)
	}
	hides, focuses := first.hides, first.focuses
	lw.Hide()
	lw.RequestFocus()
	if first.hides != hides || first.focuses != focuses {
		t.Error("Hide or RequestFocus reached the closed window")
	}
	if lw.drop() {
		t.Error("a dropped window dropped again")
	}

	lw.Show()
	if len(a.windows) != 2 {
		t.Fatalf("%d windows made, want a second one on Show", len(a.windows))
	}
	again := a.windows[1]
	if lw.Window != fyne.Window(again) || again.shows != 1 {
		t.Fatalf("the live window is not the new one, shown once (shows %d)", again.shows)
	}
	if got := again.Title(); got != "Cocoon Desktop" {
		t.Errorf("title %q", got)
	}
	if again.icon != theme.InfoIcon() {
		t.Error("the icon did not follow")
	}
	if again.Content() != content {
		t.Error("the content did not follow")
	}
	if again.intercept == nil {
		t.Fatal("no close intercept on the new window")
	}
	again.intercept()
	if intercepted != 1 {
		t.Error("the new window's close intercept is not the app's")
	}
	if got := again.Canvas().Size(); got != fyne.NewSize(1024, 640) {
		t.Errorf("shown again at %v, want the owner's 1024x640", got)
	}
	lw.Hide()
	if again.hides != 1 {
		t.Error("Hide did not reach the new window")
	}
}

// TestLiveWindowKeeps: the cases where dropping would lose something.
func TestLiveWindowKeeps(t *testing.T) {
	cases := []struct {
		name   string
		noTray bool // no other window: closing the app's would quit
		setUp  func(lw *liveWindow)
	}{
		{"never shown", false, func(lw *liveWindow) {}},
		{"master", false, func(lw *liveWindow) { lw.SetMaster(); lw.Show(); lw.Hide() }},
		{"dialog open", false, func(lw *liveWindow) {
			lw.Show()
			lw.Canvas().Overlays().Add(widget.NewLabel("a question"))
			lw.Hide()
		}},
		{"the driver's last window", true, func(lw *liveWindow) { lw.Show(); lw.Hide() }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := newRecApp(t)
			if c.noTray {
				// The test driver makes a window of its own; without it
				// the app's window is the last, as with no tray.
				for _, w := range a.Driver().AllWindows() {
					w.Close()
				}
			} else {
				a.trayKeeper(t)
			}
			lw := newLiveWindow(a, "Cocoon Desktop")
			lw.SetContent(widget.NewLabel("the tabs"))
			c.setUp(lw)
			if lw.drop() {
				t.Fatal("dropped")
			}
			if a.windows[0].closes != 0 || len(a.windows) != 1 {
				t.Errorf("closes %d, windows %d; want the one window untouched", a.windows[0].closes, len(a.windows))
			}
		})
	}
}

// TestDropWindowOnlyWhileHidden: the hidden-window trim drops a live
// window that is hidden, not one shown again, and leaves a plain window
// (the tests' own) alone.
func TestDropWindowOnlyWhileHidden(t *testing.T) {
	a := newRecApp(t)
	a.trayKeeper(t)
	lw := newLiveWindow(a, "Cocoon Desktop")
	v := newMainView(newFakeCore(noDriverStatus()), lw)
	lw.SetContent(v.content)
	lw.Show()
	ctx := context.Background()
	if v.dropWindow(ctx) {
		t.Fatal("dropped a shown window")
	}
	v.markHidden()
	lw.Hide()
	if !v.dropWindow(ctx) {
		t.Fatal("a hidden window was not dropped")
	}
	if a.windows[0].closes != 1 {
		t.Errorf("closes %d, want 1", a.windows[0].closes)
	}

	plain, _, _ := newTestView(t, newFakeCore(noDriverStatus()))
	plain.markHidden()
	if plain.dropWindow(ctx) {
		t.Error("a window that cannot be dropped was")
	}
}
