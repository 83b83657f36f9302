package app

import (
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/cocoon-desktop/cocoon-desktop/worker"
)

// findButton returns the button labelled text under o, or nil.
func findButton(o fyne.CanvasObject, text string) *widget.Button {
	switch x := o.(type) {
	case *widget.Button:
		if x.Text == text {
			return x
		}
	case fyne.Widget:
		for _, c := range test.WidgetRenderer(x).Objects() {
			if b := findButton(c, text); b != nil {
				return b
			}
		}
	case *fyne.Container:
		for _, c := range x.Objects {
			if b := findButton(c, text); b != nil {
				return b
			}
		}
	}
	return nil
}

// TestCloseWindow: with a tray, closing hides the window and tells the
// owner once (remembered in the preferences); without one it quits, but
// while sharing it asks first, and each answer does what it says.
func TestCloseWindow(t *testing.T) {
	cases := []struct {
		name      string
		tray      bool
		state     worker.State
		noticed   bool   // the preference says the notice was shown before
		answer    string // button to press in the question ("" = no question expected)
		wantQuit  bool
		wantHide  bool
		wantNotes int
	}{
		{"tray: hides, tells once", true, worker.StateServing, false, "", false, true, 1},
		{"tray: told before", true, worker.StateWaiting, true, "", false, true, 0},
		{"no tray, stopped: quits at once", false, worker.StateStopped, false, "", true, false, 0},
		{"no tray, sharing: quit", false, worker.StateServing, false, closeQuitLabel, true, false, 0},
		{"no tray, waiting: keep sharing", false, worker.StateWaiting, false, closeKeepLabel, false, true, 0},
		{"no tray, paused: cancel", false, worker.StatePaused, false, closeCancelLabel, false, false, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := noDriverStatus()
			st.State = c.state
			v, w, _ := newTestView(t, newFakeCore(st))
			w.Show()
			quits, notes := 0, 0
			v.life.tray, v.life.quit = c.tray, func() { quits++ }
			v.life.prefs = fyne.CurrentApp().Preferences()
			v.life.prefs.SetBool(trayNoticePref, c.noticed)
			v.life.notify = func(title, content string) { notes++ }

			v.closeRequested()
			if c.answer != "" {
				top := w.Canvas().Overlays().Top()
				if top == nil || !containsText(top, closeAskTitle) {
					t.Fatal("no question asked")
				}
				b := findButton(top, c.answer)
				if b == nil {
					t.Fatalf("no %q button in the question", c.answer)
				}
				for _, other := range []string{closeQuitLabel, closeKeepLabel, closeCancelLabel} {
					if findButton(top, other) == nil {
						t.Errorf("the question lacks %q", other)
					}
				}
				test.Tap(b)
				if w.Canvas().Overlays().Top() != nil {
					t.Error("the question stayed open after the answer")
				}
			} else if w.Canvas().Overlays().Top() != nil {
				t.Error("a question was asked where none should be")
			}
			if (quits == 1) != c.wantQuit || quits > 1 {
				t.Errorf("quit called %d times, want %v", quits, c.wantQuit)
			}
			if v.life.hidden.Load() != c.wantHide {
				t.Errorf("hidden = %v, want %v", v.life.hidden.Load(), c.wantHide)
			}
			if c.tray { // a second close tells nothing new
				v.showWindow()
				v.closeRequested()
			}
			if notes != c.wantNotes {
				t.Errorf("%d notices, want %d", notes, c.wantNotes)
			}
			if c.tray && !v.life.prefs.Bool(trayNoticePref) {
				t.Error("the notice is not remembered")
			}
		})
	}
}

// TestHiddenWindowRendersNothing: statuses that arrive while the window is
// hidden reach the tray but render no widget; showing the window renders
// the latest one.
func TestHiddenWindowRendersNothing(t *testing.T) {
	core := newFakeCore(noDriverStatus())
	v, _, _ := newTestView(t, core)
	var rendered []worker.State
	v.onRender = func(st worker.Status, busy bool) { rendered = append(rendered, st.State) }
	v.hideWindow()

	st := noDriverStatus()
	st.State = worker.StateServing
	v.refresh(st)
	if got := v.stateBadge.txt.Text; got != stateWord(worker.StateStopped) {
		t.Errorf("hidden window re-rendered: badge %q", got)
	}
	if len(rendered) != 1 || rendered[0] != worker.StateServing {
		t.Errorf("the tray was not told while hidden: %v", rendered)
	}
	v.showWindow()
	if got := v.stateBadge.txt.Text; got != stateWord(worker.StateServing) {
		t.Errorf("shown window shows %q, want the latest status", got)
	}
	if v.life.hidden.Load() {
		t.Error("still marked hidden")
	}
}
