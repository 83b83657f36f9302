package app

import (
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"github.com/cocoon-desktop/cocoon-desktop/idle"
	"github.com/cocoon-desktop/cocoon-desktop/worker"
)

func TestNetworkPanel(t *testing.T) {
	tests := []struct {
		name      string
		mutate    func(*worker.Status)
		wantPill  string
		wantTexts []string
	}{
		{"no network", func(s *worker.Status) {}, "No network", []string{"none configured", "0 jobs · 0 tokens", "0 TON in 0 receipts"}},
		{"local, connected, earning", func(s *worker.Status) {
			s.Network = worker.NetworkStatus{Local: true, URL: "wss://127.0.0.1:4000/v1/worker", Connected: true, WorkerID: "ab12cd34ef56aa77bb88",
				APIURL: "http://127.0.0.1:8484/v1", APIKey: "cocoon-local-123"}
			s.Jobs = worker.JobStats{Completed: 3, Tokens: 480, Running: 1, LastTokensPS: 2500}
			s.Earned, s.Receipts = 1_234_500, 3
			s.LastPause = &worker.PauseRecord{Took: 312 * time.Millisecond, Reason: "You moved the mouse"}
		}, "Connected", []string{"local test network", "ab12cd…bb88", "http://127.0.0.1:8484/v1", "cocoon-local-123",
			"1 running · 3 jobs · 480 tokens · 2500 tok/s", "0.0012345 TON in 3 receipts (test TON)", "GPU freed in 312 ms"}},
		{"remote, disconnected", func(s *worker.Status) {
			s.Network = worker.NetworkStatus{URL: "wss://proxy.example:443/v1/worker", Error: "auth failed: proxy key mismatch"}
		}, "Not connected", []string{"wss://proxy.example:443/v1/worker", "auth failed: proxy key mismatch"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := noDriverStatus()
			tc.mutate(&st)
			v, _, _ := newTestView(t, newFakeCore(st))
			if got := v.dash.net.pill.txt.Text; got != tc.wantPill {
				t.Errorf("pill = %q, want %q", got, tc.wantPill)
			}
			all := strings.Join([]string{v.dash.net.where.Text, v.dash.net.api.Text, v.dash.net.key.Text, v.dash.net.served.Text,
				v.dash.net.earned.Text, v.dash.net.lastStop.Text, v.dash.net.err.Text}, "\n")
			for _, want := range tc.wantTexts {
				if !strings.Contains(all, want) {
					t.Errorf("network panel lacks %q:\n%s", want, all)
				}
			}
		})
	}
}

func TestReasonsShownWhileWaitingOrPaused(t *testing.T) {
	st := noDriverStatus()
	st.State = worker.StatePaused
	st.Reasons = []idle.Reason{
		{Code: idle.CodeOwnerActive, Text: "You used the mouse 2 s ago"},
		{Code: idle.CodeGPUInUse, Text: "game.exe is using the GPU (6.0 GB)"},
	}
	v, _, _ := newTestView(t, newFakeCore(st))
	if !v.reasons.Visible() || !strings.Contains(v.reasons.Text, "game.exe is using the GPU") || !strings.Contains(v.reasons.Text, "mouse") {
		t.Fatalf("reasons = %q (visible %v)", v.reasons.Text, v.reasons.Visible())
	}
	if v.stateBadge.txt.Text != "Paused" {
		t.Fatalf("badge = %q", v.stateBadge.txt.Text)
	}
	st.State, st.Reasons = worker.StateServing, nil
	v.refresh(st)
	if v.reasons.Visible() {
		t.Fatal("reasons still shown while serving")
	}
}

func TestTonText(t *testing.T) {
	for in, want := range map[int64]string{0: "0", 1: "0.000000001", 1_000_000_000: "1", 1_500_000_000: "1.5", -2_000_000: "-0.002"} {
		if got := tonText(in); got != want {
			t.Errorf("tonText(%d) = %q, want %q", in, got, want)
		}
	}
}

func TestStartNowWhileWaiting(t *testing.T) {
	st := noDriverStatus()
	st.State = worker.StateWaiting
	st.Reasons = []idle.Reason{{Code: idle.CodeOwnerActive, Text: "You used the mouse 1 s ago; serving starts after 5 min without input"}}
	core := newFakeCore(st)
	v, _, q := newTestView(t, core)
	if !v.startNowBtn.Visible() {
		t.Fatal("no Start now button while waiting for idle")
	}
	test.Tap(v.startNowBtn)
	q.runUntil(t, "StartNow called", func() bool {
		core.mu.Lock()
		defer core.mu.Unlock()
		return core.startNows == 1
	})
	st.State = worker.StateServing
	v.refresh(st)
	if v.startNowBtn.Visible() {
		t.Fatal("Start now still shown while serving")
	}
}
