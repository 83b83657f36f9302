package app

import (
	"context"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"

	"github.com/cocoon-desktop/cocoon-desktop/runtime/ollama"
	"github.com/cocoon-desktop/cocoon-desktop/worker"
)

// TestDownloadsSharedByDashboardAndWizard starts a download in one place
// and watches it in the other: both draw the one downloads state, so the
// progress shows in both, and Cancel in the other place stops it.
func TestDownloadsSharedByDashboardAndWizard(t *testing.T) {
	const name = "qwen2.5:7b"
	cases := []struct {
		name string
		// start begins the download of name in one place; cancelIn is the
		// list the test cancels it from (the other place).
		start    func(v *mainView, o *onboarding)
		cancelIn func(v *mainView, o *onboarding) *pullList
	}{
		{
			name: "started in the wizard, cancelled on the Dashboard",
			start: func(v *mainView, o *onboarding) {
				test.Type(o.pullEntry, name)
				test.Tap(o.pullBtn)
			},
			cancelIn: func(v *mainView, o *onboarding) *pullList { return v.dash.pulls },
		},
		{
			name: "started on the Dashboard, cancelled in the wizard",
			start: func(v *mainView, o *onboarding) {
				test.Type(v.dash.pullEntry, name)
				test.Tap(v.dash.pullBtn)
			},
			cancelIn: func(v *mainView, o *onboarding) *pullList { return o.pulls },
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeCore(noDriverStatus())
			ended := make(chan error, 1)
			f.pullFn = func(ctx context.Context, model string) error {
				f.publish(worker.Event{Type: worker.EventPull, Data: ollama.PullProgress{
					Model: model, Status: "pulling", Completed: 400 << 20, Total: 1000 << 20, Percent: 40}})
				<-ctx.Done()
				ended <- ctx.Err()
				return ctx.Err()
			}
			v, o, q := newOnboardingView(t, f)
			test.Tap(o.nextBtn) // the model step
			startWatch(t, v, f, q)

			tc.start(v, o)
			lists := map[string]*pullList{"Dashboard": v.dash.pulls, "wizard": o.pulls}
			q.runUntil(t, "the progress in both places", func() bool {
				for _, l := range lists {
					if r := l.rows[name]; r == nil || r.bar.Value < 0.39 {
						return false
					}
				}
				return true
			})
			for where, l := range lists {
				r := l.rows[name]
				if !strings.HasPrefix(r.barText, "40%") || !r.cancel.Visible() || r.cancel.Disabled() {
					t.Errorf("%s: bar %q, Cancel visible=%v disabled=%v", where, r.barText, r.cancel.Visible(), r.cancel.Disabled())
				}
			}
			if !v.dash.pullBtn.Disabled() && v.dash.pullEntry.Text == name {
				t.Error("the Dashboard offers to download what already downloads")
			}

			test.Tap(tc.cancelIn(v, o).rows[name].cancel)
			q.runUntil(t, "both rows to go", func() bool { return len(v.dash.pulls.rows) == 0 && len(o.pulls.rows) == 0 })
			if err := <-ended; err == nil {
				t.Error("PullModel ran on after Cancel")
			}
			if v.downloads.running(name) {
				t.Error("the download still counts as running")
			}
		})
	}
}
