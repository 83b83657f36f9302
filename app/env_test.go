package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/cocoon-desktop/cocoon-desktop/runtime/ollama"
)

// TestTabEnvShowError checks the one way a tab shows an error: in the
// owner's words (ownerwords.go) in a dialog, with the chain in the log
// only; a cancelled operation shows nothing.
func TestTabEnvShowError(t *testing.T) {
	notFound := fmt.Errorf("worker: download nosuch:latest: %w", ollama.ErrModelNotFound)
	cases := []struct {
		name       string
		err        error
		wantDialog bool
	}{
		{name: "a known kind, in the owner's words", err: notFound, wantDialog: true},
		{name: "an unknown error points at the log", err: errors.New("proxy: frobnicate: bad wobble"), wantDialog: true},
		{name: "cancelled shows nothing", err: fmt.Errorf("worker: download: %w", context.Canceled)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeCore(noDriverStatus())
			v, w, _ := newTestView(t, f)
			var logged bytes.Buffer
			v.log = slog.New(slog.NewTextHandler(&logged, nil)) // read at call time, as Run sets it
			v.dash.env.showError("Could not download", tc.err)
			top := w.Canvas().Overlays().Top()
			if !tc.wantDialog {
				if top != nil {
					t.Fatalf("a dialog for a cancelled operation: %T", top)
				}
				if logged.Len() != 0 {
					t.Errorf("logged for a cancelled operation: %s", logged.String())
				}
				return
			}
			if top == nil {
				t.Fatal("no dialog")
			}
			words := wordsFor(tc.err)
			if !containsText(top, words.Sentence) || !containsText(top, "Could not download") {
				t.Errorf("dialog lacks the owner's words %q", words.Sentence)
			}
			if containsText(top, tc.err.Error()) {
				t.Errorf("dialog shows the error chain %q", tc.err.Error())
			}
			if !strings.Contains(logged.String(), tc.err.Error()) {
				t.Errorf("the log lacks the chain: %s", logged.String())
			}
		})
	}
}
