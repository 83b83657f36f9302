package app

import (
	"context"
	"log/slog"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/dialog"

	"github.com/cocoon-desktop/cocoon-desktop/worker"
)

// tabEnv is all a part of the window (a tab, the Dashboard, the first-run
// wizard) gets from the window: the core it drives, the window for its
// dialogs, the logger, the way back to the Fyne thread, the tooltips and a
// way to show a fresh Status everywhere. The parts never see mainView.
//
// There is one tabEnv per window, shared by pointer: mainView embeds it, so
// what Run sets after newMainView (ctx, log) and what tests swap (do) is
// what every part reads, at call time.
type tabEnv struct {
	ctx  context.Context
	core Core
	// win is the parent of dialogs; nil in some tests (then no dialog).
	win fyne.Window
	log *slog.Logger
	// do runs fn on the Fyne thread; v.fyneDo (fyne.Do that ends a nap) in the app, a queue in tests.
	do func(fn func())
	// tips is the window's tooltip layer.
	tips *tipLayer
	// render shows st in the whole window (header, every tab, the tray);
	// parts call it with the core's Status after a Core call of theirs.
	render func(st worker.Status)
}

// showError says err in the owner's words (ownerwords.go) under title; the
// error chain itself goes to the log. A cancelled operation shows nothing.
func (e *tabEnv) showError(title string, err error) {
	w := wordsFor(err)
	if w.Sentence == "" {
		return
	}
	e.log.Warn("shown to the owner: "+title, "kind", w.Kind, "err", err)
	if e.win == nil {
		return
	}
	msg := wrapLabel(w.Sentence + "\n\n" + w.Action)
	d := dialog.NewCustom(title, "OK", msg, e.win)
	d.Resize(fyne.NewSize(480, 0))
	d.Show()
}
