package app

import (
	"fmt"
	"strings"
	"syscall"
	"testing"

	"fyne.io/fyne/v2/test"

	"github.com/cocoon-desktop/cocoon-desktop/runtime/ollama"
	"github.com/cocoon-desktop/cocoon-desktop/worker"
)

// TestDeleteServedModelNeverStuck: deleting the served model while serving
// warns first; afterwards sharing is stopped with Start sharing on offer
// (not an error whose only button is Stop), and when it was the last
// model the built-in one is offered back and, once back, Start serves.
func TestDeleteServedModelNeverStuck(t *testing.T) {
	tests := []struct {
		name   string
		models []ollama.Model
		last   bool
	}{
		{"the last model", []ollama.Model{{Name: "llama3.2:1b", Size: 1_321_098_329}}, true},
		{"another one left", []ollama.Model{{Name: "llama3.2:1b", Size: 1_321_098_329}, {Name: "tiny-llama:test", Size: 812_000}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := noDriverStatus()
			st.State, st.Model, st.Models = worker.StateServing, "llama3.2:1b", tc.models
			core := newFakeCore(st)
			v, w, q := newTestView(t, core)
			if v.toggleBtn.Text != "Stop sharing" {
				t.Fatalf("serving: toggle %q", v.toggleBtn.Text)
			}

			test.Tap(v.dash.models.rows["llama3.2:1b"].del)
			top := w.Canvas().Overlays().Top()
			if v.dash.confirm == nil || top == nil || !containsText(top, "Deleting it stops sharing") {
				t.Fatal("no warning that deleting the served model stops sharing")
			}
			if got := containsText(top, "built-in cocoon-tiny back"); got != tc.last {
				t.Fatalf("warning offers the built-in model: %v, want %v", got, tc.last)
			}
			v.dash.confirm.Confirm()
			q.runUntil(t, "the row to go", func() bool { return v.dash.models.rows["llama3.2:1b"] == nil })

			// Not stuck: Start sharing is offered and enabled.
			if v.toggleBtn.Text != "Start sharing" || v.toggleBtn.Disabled() {
				t.Fatalf("after the delete: toggle %q (disabled %v), want an enabled Start sharing", v.toggleBtn.Text, v.toggleBtn.Disabled())
			}
			if !v.noticeRow.Visible() || !strings.Contains(v.notice.Text, "llama3.2:1b was deleted") {
				t.Fatalf("notice %q (shown %v)", v.notice.Text, v.noticeRow.Visible())
			}

			if !tc.last {
				if v.dash.builtin.dlg != nil || v.dash.builtin.obj.Visible() && containsText(v.dash.models.obj, "Download cocoon-tiny") {
					t.Fatal("the built-in model offered while another model is left")
				}
				test.Tap(v.toggleBtn)
				q.runUntil(t, "serving with the other model", func() bool { return v.status.State == worker.StateServing })
				return
			}
			// The last model: the offer is a dialog and a button in the empty list.
			if v.dash.builtin.dlg == nil || w.Canvas().Overlays().Top() == nil || !containsText(w.Canvas().Overlays().Top(), "Download cocoon-tiny") {
				t.Fatal("no offer of the built-in model after deleting the last one")
			}
			if !containsText(v.dash.models.obj, "Download cocoon-tiny (built in)") {
				t.Fatal("the empty model list has no way back to the built-in model")
			}
			// Start without a model says so in words and stays startable.
			v.dash.builtin.dlg.Dismiss()
			test.Tap(v.toggleBtn)
			q.runUntil(t, "the start to fail", func() bool {
				top := w.Canvas().Overlays().Top()
				return top != nil && containsText(top, "There is no model to serve.")
			})
			if top := w.Canvas().Overlays().Top(); containsText(top, "worker:") {
				t.Fatal("the error chain reached the dialog")
			}
			if v.toggleBtn.Text != "Start sharing" || v.toggleBtn.Disabled() {
				t.Fatalf("after a failed start: toggle %q (disabled %v)", v.toggleBtn.Text, v.toggleBtn.Disabled())
			}
			w.Canvas().Overlays().Top().Hide()
			w.Canvas().Overlays().Remove(w.Canvas().Overlays().Top())

			test.Tap(v.dash.builtin.btn)
			q.runUntil(t, "the built-in model back", func() bool { return v.dash.models.rows[worker.TinyModel] != nil })
			if core.restores != 1 || v.status.Model != worker.TinyModel {
				t.Fatalf("restores %d, model %q", core.restores, v.status.Model)
			}
			test.Tap(v.toggleBtn)
			q.runUntil(t, "serving the built-in model", func() bool { return v.status.State == worker.StateServing })
		})
	}
}

// TestCoreErrorEventInWords: an error the core publishes shows in the
// notice in the owner's words, not as its chain.
func TestCoreErrorEventInWords(t *testing.T) {
	v, _, _ := newTestView(t, newFakeCore(noDriverStatus()))
	v.handleEvent(worker.Event{Type: worker.EventError, Data: fmt.Errorf("worker: store a receipt: %w", fmt.Errorf("earnings: credit: %w", syscall.ENOSPC))})
	if !v.noticeRow.Visible() || !strings.Contains(v.notice.Text, "The disk is full.") || strings.Contains(v.notice.Text, "worker:") {
		t.Fatalf("notice %q (shown %v)", v.notice.Text, v.noticeRow.Visible())
	}
}
