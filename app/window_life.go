package app

import (
	"sync/atomic"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/cocoon-desktop/cocoon-desktop/worker"
)

// trayNoticePref is the preference (Fyne's app preferences, beside the
// app's other Fyne settings) remembering that the owner was told, once,
// that closing the window keeps the app running in the tray.
const trayNoticePref = "trayNoticeShown"

// Labels of the question asked when the window is closed while sharing and
// there is no tray to keep the app in.
const (
	closeAskTitle    = "Quit while sharing?"
	closeQuitLabel   = "Quit"
	closeKeepLabel   = "Keep sharing"
	closeCancelLabel = "Cancel"
)

// windowLife is what the main window does off screen: hidden in the tray
// it renders nothing (the tray and notifications still follow each
// status), and shown again it renders the latest status once.
type windowLife struct {
	// hidden is read by the telemetry ticker's goroutine too.
	hidden atomic.Bool
	// hiddenNow wakes runNaps when the window hides, shownNow the
	// telemetry ticker when it shows (capacity 1 each; nil in tests).
	hiddenNow, shownNow chan struct{}
	// stale says a status arrived while hidden and was not rendered.
	stale bool
	// tray says closing the window hides it into a tray icon.
	tray bool
	// prefs remembers trayNoticePref; nil: the notice is never sent.
	prefs fyne.Preferences
	// notify sends a desktop notification (nil: none).
	notify func(title, content string)
	// quit ends the app.
	quit func()
	// closeDlg is the quit-while-sharing question while it is open.
	closeDlg dialog.Dialog
}

// skipWhileHidden is refresh's first step: while the window is hidden it
// hands st to onRender only (the tray, notifications) and reports true,
// so that refresh renders nothing. The waiting state alone publishes a
// status a second (its reason counts the seconds since the last input):
// rendering every tab of a hidden window for each was most of the
// hidden app's CPU.
func (v *mainView) skipWhileHidden(st worker.Status) bool {
	if !v.life.hidden.Load() {
		return false
	}
	v.life.stale = true
	if v.onRender != nil {
		v.onRender(st, v.busy)
	}
	return true
}

// showWindow shows the window, first rendering what changed while it was hidden.
func (v *mainView) showWindow() {
	v.life.hidden.Store(false)
	select {
	case v.life.shownNow <- struct{}{}:
	default: // already told, or nobody listens (tests)
	}
	if v.life.stale {
		v.life.stale = false
		v.refresh(v.status)
	}
	v.win.Show()
}

// hideWindow hides the window; the app goes on in the tray (or, without
// one, until it is started again: a second launch shows the window).
func (v *mainView) hideWindow() {
	v.markHidden()
	v.win.Hide()
}

// closeRequested is the window's close intercept. With a tray the window
// hides into it (telling the owner so, the first time). Without one,
// closing quits, but while sharing it asks first: quit, keep sharing in
// the background, or cancel.
func (v *mainView) closeRequested() {
	if v.life.tray {
		v.hideWindow()
		v.trayNoticeOnce()
		return
	}
	if !startedState(v.status.State) {
		v.life.quit()
		return
	}
	v.askBeforeQuit()
}

// trayNoticeOnce tells the owner, the first time the window hides into the
// tray, that the app keeps running there.
func (v *mainView) trayNoticeOnce() {
	p := v.life.prefs
	if p == nil || v.life.notify == nil || p.Bool(trayNoticePref) {
		return
	}
	p.SetBool(trayNoticePref, true)
	v.life.notify("Cocoon Desktop is still running",
		"It keeps sharing from the tray icon, where you can open it again or quit.")
}

// askBeforeQuit asks whether to quit while sharing.
func (v *mainView) askBeforeQuit() {
	if v.life.closeDlg != nil {
		return
	}
	text := widget.NewLabel("Your GPU is being shared. Quitting stops sharing until you start Cocoon Desktop again.\n" +
		"Keep sharing hides the window and goes on earning; start Cocoon Desktop again to bring the window back.")
	text.Wrapping = fyne.TextWrapWord
	var d dialog.Dialog
	done := func(then func()) func() {
		return func() {
			d.Hide()
			if then != nil {
				then()
			}
		}
	}
	quit := widget.NewButtonWithIcon(closeQuitLabel, theme.LogoutIcon(), done(v.life.quit))
	keep := widget.NewButtonWithIcon(closeKeepLabel, theme.ConfirmIcon(), done(v.hideWindow))
	keep.Importance = widget.HighImportance
	cancel := widget.NewButtonWithIcon(closeCancelLabel, theme.CancelIcon(), done(nil))
	body := container.NewVBox(text, container.NewHBox(layout.NewSpacer(), cancel, quit, keep))
	d = dialog.NewCustomWithoutButtons(closeAskTitle, body, v.win)
	d.SetOnClosed(func() { v.life.closeDlg = nil })
	d.Resize(fyne.NewSize(520, 0))
	v.life.closeDlg = d
	d.Show()
}
