package app

import (
	"fmt"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"

	"github.com/cocoon-desktop/cocoon-desktop/runtime/ollama"
	"github.com/cocoon-desktop/cocoon-desktop/worker"
)

// TestDamagedLedgerOffersRebuild: on a damaged ledger the header says so,
// Start is disabled, and "Rebuild ledger…" asks before it rebuilds; after
// it, the button goes and Start is possible again.
func TestDamagedLedgerOffersRebuild(t *testing.T) {
	st := noDriverStatus()
	st.State, st.LedgerDamaged = worker.StateError, "The earnings ledger is damaged (invalid database). Cocoon will not serve on it."
	st.Error = st.LedgerDamaged
	core := newFakeCore(st)
	v, w, q := newTestView(t, core)
	if !v.rebuildBtn.Visible() || !v.toggleBtn.Disabled() || v.toggleBtn.Text != "Start sharing" || !v.stateError.Visible() {
		t.Fatalf("rebuild shown %v, %q disabled %v, error shown %v", v.rebuildBtn.Visible(), v.toggleBtn.Text, v.toggleBtn.Disabled(), v.stateError.Visible())
	}
	test.Tap(v.rebuildBtn)
	if v.rebuildDlg == nil || w.Canvas().Overlays().Top() == nil {
		t.Fatal("no confirmation before the rebuild")
	}
	v.rebuildDlg.Dismiss() // "Not now"
	if core.rebuilds != 0 {
		t.Fatal("rebuilt without the owner's yes")
	}
	test.Tap(v.rebuildBtn)
	v.rebuildDlg.Confirm()
	q.runUntil(t, "the rebuild to finish", func() bool { return !v.rebuildBtn.Visible() })
	if core.rebuilds != 1 || v.toggleBtn.Disabled() {
		t.Fatalf("rebuilds %d, start disabled %v", core.rebuilds, v.toggleBtn.Disabled())
	}
}

// TestFatalErrorShown: when the core stops for good, the header says so in
// words with what to do, a dialog shows it once, and Start is disabled.
func TestFatalErrorShown(t *testing.T) {
	core := newFakeCore(noDriverStatus())
	v, w, _ := newTestView(t, core)
	if w.Canvas().Overlays().Top() != nil {
		t.Fatal("a dialog before anything failed")
	}
	st := noDriverStatus()
	st.State, st.Error, st.Fatal = worker.StateError, "worker: model runtime: ollama not found", "worker: model runtime: ollama not found"
	st.FatalErr = fmt.Errorf("worker: model runtime: %w", ollama.ErrOllamaNotFound)
	v.refresh(st)
	if !v.stateError.Visible() || v.stateError.Text != "Cocoon Desktop has stopped: Ollama, the program that runs the models, was not found. Reinstall Cocoon Desktop, or install Ollama, then start Cocoon again." {
		t.Fatalf("header error %q (shown %v)", v.stateError.Text, v.stateError.Visible())
	}
	if strings.Contains(v.stateError.Text, "worker:") {
		t.Fatalf("the error chain reached the screen: %q", v.stateError.Text)
	}
	if w.Canvas().Overlays().Top() == nil {
		t.Fatal("no dialog for the stop")
	}
	w.Canvas().Overlays().Top().Hide()
	w.Canvas().Overlays().Remove(w.Canvas().Overlays().Top())
	v.refresh(st) // the same stop again: no second dialog
	if w.Canvas().Overlays().Top() != nil {
		t.Fatal("the same error shown twice")
	}
	if !v.toggleBtn.Disabled() {
		t.Fatal("Start is possible on a stopped core")
	}
}
