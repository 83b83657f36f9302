package app

import (
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"

	"github.com/cocoon-desktop/cocoon-desktop/worker"
)

// trayMenu is the system-tray icon and its menu; it follows the worker state.
type trayMenu struct {
	desk   desktop.App
	menu   *fyne.Menu
	state  *fyne.MenuItem // disabled line: "Cocoon: running"
	toggle *fyne.MenuItem // Start / Stop
	icon   fyne.Resource
}

// newTrayMenu installs the tray. Only call it when TrayAvailable says so.
func newTrayMenu(desk desktop.App, v *mainView, show, quit func()) *trayMenu {
	t := &trayMenu{desk: desk}
	t.state = fyne.NewMenuItem(trayStateLine(worker.StateStopped, ""), nil)
	t.state.Disabled = true
	t.toggle = fyne.NewMenuItem("Start sharing", v.toggle)
	open := fyne.NewMenuItem("Open Cocoon Desktop", show)
	q := fyne.NewMenuItem("Quit", quit)
	q.IsQuit = true
	t.menu = fyne.NewMenu("Cocoon Desktop", t.state, fyne.NewMenuItemSeparator(), t.toggle, open, fyne.NewMenuItemSeparator(), q)
	desk.SetSystemTrayMenu(t.menu)
	t.setIcon(trayIcon(worker.StateStopped))
	return t
}

// update relabels the menu and swaps the icon, touching the tray only when
// something visible changed (a menu refresh rebuilds the whole native menu).
func (t *trayMenu) update(st worker.Status, busy bool) {
	stateLine := trayStateLine(st.State, st.Error)
	toggle := "Start sharing"
	if startedState(st.State) {
		toggle = "Stop sharing"
	}
	if busy {
		if startedState(st.State) {
			toggle = "Stopping…"
		} else {
			toggle = "Starting…"
		}
	}
	if t.state.Label != stateLine || t.toggle.Label != toggle || t.toggle.Disabled != busy {
		t.state.Label = stateLine
		t.toggle.Label = toggle
		t.toggle.Disabled = busy
		t.menu.Refresh()
	}
	t.setIcon(trayIcon(st.State))
}

func (t *trayMenu) setIcon(r fyne.Resource) {
	if t.icon == r {
		return
	}
	t.icon = r
	t.desk.SetSystemTrayIcon(r)
}

// trayStateLine is the menu's first, disabled line.
func trayStateLine(s worker.State, errText string) string {
	line := "Cocoon: " + stateWordLower(s)
	if s == worker.StateError && errText != "" {
		const max = 60
		r := []rune(errText)
		if len(r) > max {
			errText = string(r[:max-1]) + "…"
		}
		line += " — " + errText
	}
	return line
}

func stateWordLower(s worker.State) string { return strings.ToLower(stateWord(s)) }

// trayIcon is the tray icon for a worker state.
func trayIcon(s worker.State) fyne.Resource {
	switch s {
	case worker.StateServing:
		return trayRunningResource
	case worker.StateError:
		return trayErrorResource
	default:
		return trayStoppedResource
	}
}
