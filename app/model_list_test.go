package app

import (
	"testing"
)

// TestModelListDrawnOnceForBoth checks that the Dashboard and the wizard
// draw the same models with the same row code, each in its mode: the
// Dashboard badges the chosen model and offers Delete; the wizard's
// button says "Chosen" and deletes nothing.
func TestModelListDrawnOnceForBoth(t *testing.T) {
	f := newFakeCore(noDriverStatus()) // llama3.2:1b is chosen; tiny-llama:test is loaded
	v, o, _ := newOnboardingView(t, f)
	cases := []struct {
		name       string
		list       *modelList
		chosenText string // the chosen model's button
		badge      bool   // the "Selected" badge on the chosen model
		del        bool   // a Delete button on each row
	}{
		{name: "Dashboard", list: v.dash.models, chosenText: "Use", badge: true, del: true},
		{name: "wizard", list: o.models, chosenText: "Chosen", badge: false, del: false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if len(tc.list.rows) != 2 || len(tc.list.order) != 2 {
				t.Fatalf("%d rows, order %v", len(tc.list.rows), tc.list.order)
			}
			chosen, other := tc.list.rows["llama3.2:1b"], tc.list.rows["tiny-llama:test"]
			if chosen.serve.Text != tc.chosenText || !chosen.serve.Disabled() || other.serve.Disabled() {
				t.Errorf("Use buttons: chosen %q disabled=%v, other disabled=%v", chosen.serve.Text, chosen.serve.Disabled(), other.serve.Disabled())
			}
			if chosen.serving.obj.Visible() != tc.badge || other.serving.obj.Visible() {
				t.Errorf("Selected badge: chosen %v, other %v; want %v, false", chosen.serving.obj.Visible(), other.serving.obj.Visible(), tc.badge)
			}
			if (chosen.del != nil) != tc.del {
				t.Errorf("Delete button present = %v, want %v", chosen.del != nil, tc.del)
			}
			if !other.loaded.obj.Visible() || other.detailSeg.Text == "" || other.fit.txt.Text != "no GPU: runs on the CPU" {
				t.Errorf("other row: loaded %v, details %q, fit %q", other.loaded.obj.Visible(), other.detailSeg.Text, other.fit.txt.Text)
			}
		})
	}
}
