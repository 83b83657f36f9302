package app

import "fyne.io/fyne/v2"

// liveWindow is the main window as the app holds it: a fyne.Window whose
// window-system window, and with it its GL context (the renderer's heap,
// shaders and the textures of every text drawn), can be dropped while the
// app lives in the tray, and is made again, with the same content, size,
// title, icon and close intercept, when it is shown. The rest of the app
// keeps this one value (tabEnv.win); its methods go to the window of the
// moment. All of them run on the Fyne thread.
type liveWindow struct {
	fyne.Window // the window of the moment (closed while dropped)

	app       fyne.App
	title     string
	icon      fyne.Resource
	content   fyne.CanvasObject
	size      fyne.Size
	intercept func()
	master    bool
	// shown: the window was shown at least once. Before, it has no
	// window-system window (the driver makes it on the first Show) and
	// nothing to drop.
	shown   bool
	dropped bool
}

func newLiveWindow(a fyne.App, title string) *liveWindow {
	return &liveWindow{Window: a.NewWindow(title), app: a, title: title}
}

func (lw *liveWindow) SetTitle(title string)      { lw.title = title; lw.Window.SetTitle(title) }
func (lw *liveWindow) SetIcon(icon fyne.Resource) { lw.icon = icon; lw.Window.SetIcon(icon) }
func (lw *liveWindow) SetContent(c fyne.CanvasObject) {
	lw.content = c
	lw.Window.SetContent(c)
}
func (lw *liveWindow) Resize(s fyne.Size) { lw.size = s; lw.Window.Resize(s) }
func (lw *liveWindow) SetCloseIntercept(f func()) {
	lw.intercept = f
	lw.Window.SetCloseIntercept(f)
}

// SetMaster: a master window quits the app when closed, so it is never dropped.
func (lw *liveWindow) SetMaster() { lw.master = true; lw.Window.SetMaster() }

// Show makes the window again if it was dropped, then shows it.
func (lw *liveWindow) Show() {
	if lw.dropped {
		w := lw.app.NewWindow(lw.title)
		if lw.icon != nil {
			w.SetIcon(lw.icon)
		}
		if lw.intercept != nil {
			w.SetCloseIntercept(lw.intercept)
		}
		if lw.content != nil {
			w.SetContent(lw.content)
		}
		if lw.size.Width > 0 && lw.size.Height > 0 {
			w.Resize(lw.size)
		}
		lw.Window, lw.dropped = w, false
	}
	lw.shown = true
	lw.Window.Show()
}

// Hide hides the window; a dropped one is hidden already.
func (lw *liveWindow) Hide() {
	if !lw.dropped {
		lw.Window.Hide()
	}
}

// RequestFocus asks for the focus; a dropped window has nothing to focus.
func (lw *liveWindow) RequestFocus() {
	if !lw.dropped {
		lw.Window.RequestFocus()
	}
}

// drop closes the hidden window's window-system window (the driver frees
// its GL context a frame later) and reports whether it did. It keeps the
// window when that would lose something: a master window and the driver's
// last window (closing either quits the app — with a tray, Fyne keeps a
// window of its own, "SystrayMonitor", so the app's is not the last), one
// with a dialog or pop-up open (those live on its canvas and would not
// follow the content to the new window), and one never shown.
func (lw *liveWindow) drop() bool {
	if lw.dropped || !lw.shown || lw.master || lw.Canvas().Overlays().Top() != nil ||
		len(lw.app.Driver().AllWindows()) < 2 {
		return false
	}
	if s := lw.Canvas().Size(); s.Width > 0 && s.Height > 0 {
		lw.size = s // the owner's size, not the first one
	}
	lw.Window.Close()
	lw.dropped = true
	return true
}
