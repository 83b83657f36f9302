package app

import (
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"

	"github.com/cocoon-desktop/cocoon-desktop/earnings"
	"github.com/cocoon-desktop/cocoon-desktop/idle"
	"github.com/cocoon-desktop/cocoon-desktop/worker"
)

func TestTrayStatusLine(t *testing.T) {
	st := func(s worker.State, fn func(*worker.Status)) worker.Status {
		x := worker.Status{State: s}
		if fn != nil {
			fn(&x)
		}
		return x
	}
	reason := func(text string) func(*worker.Status) {
		return func(s *worker.Status) {
			s.Reasons = []idle.Reason{{Code: "x", Text: text}, {Code: "y", Text: "second reason"}}
		}
	}
	tests := []struct {
		name string
		st   worker.Status
		want string
	}{
		{"stopped", st(worker.StateStopped, nil), "Cocoon: stopped"},
		{"serving, no jobs", st(worker.StateServing, nil), "Cocoon: serving"},
		{"serving, 1 job", st(worker.StateServing, func(s *worker.Status) { s.Jobs.Completed = 1 }), "Cocoon: serving · 1 job"},
		{"serving, 12 jobs", st(worker.StateServing, func(s *worker.Status) { s.Jobs.Completed = 12 }), "Cocoon: serving · 12 jobs"},
		{"paused", st(worker.StatePaused, reason("You are using the PC")), "Cocoon: paused — you are using the PC"},
		{"paused, acronym kept", st(worker.StatePaused, reason("GPU is too hot.")), "Cocoon: paused — GPU is too hot"},
		{"waiting, first clause", st(worker.StateWaiting, reason("A schedule allows serving from 22:00; outside it Cocoon waits")),
			"Cocoon: waiting for idle — a schedule allows serving from 22:00"},
		{"waiting for the owner to leave: no live seconds", st(worker.StateWaiting, func(s *worker.Status) {
			s.Reasons = []idle.Reason{{Code: idle.CodeOwnerActive, Text: "You used the keyboard or mouse 2 s ago; serving starts after 5 min without input"}}
		}), "Cocoon: waiting for idle — you are using the computer"},
		{"waiting for a controller: no live seconds", st(worker.StateWaiting, func(s *worker.Status) {
			s.Reasons = []idle.Reason{{Code: idle.CodeControllerActive, Text: "You used a game controller 1 s ago; serving starts after 5 min without input"}}
		}), "Cocoon: waiting for idle — a game controller is in use"},
		{"paused for a Steam game, by name", st(worker.StatePaused, func(s *worker.Status) {
			s.Reasons = []idle.Reason{{Code: idle.CodeSteamGame, Text: "(not parsed)", Programs: []string{"Half-Life 2"}}}
		}), "Cocoon: paused — playing Half-Life 2"},
		{"paused for a full-screen program, by name", st(worker.StatePaused, func(s *worker.Status) {
			s.Reasons = []idle.Reason{{Code: idle.CodeFullScreen, Text: "(not parsed)", Programs: []string{"game.exe"}}}
		}), "Cocoon: paused — full screen: game.exe"},
		{"waiting, no reason", st(worker.StateWaiting, nil), "Cocoon: waiting for idle"},
		{"error", st(worker.StateError, func(s *worker.Status) { s.Error = "Ollama is not running yet" }), "Cocoon: error — Ollama is not running yet"},
	}
	for _, tt := range tests {
		if got := trayStatusLine(tt.st); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
	long := trayStatusLine(st(worker.StatePaused, reason("Cyberpunk2077.exe, steam.exe, obs64.exe and discord.exe are using the GPU")))
	if n := len([]rune(long)); n > len("Cocoon: paused — ")+50 || !strings.HasSuffix(long, "…") || !strings.HasPrefix(long, "Cocoon: paused — cyberpunk2077.exe") {
		t.Errorf("long reason not shortened well: %q (%d runes)", long, n)
	}
}

func menuLabels(m *fyne.Menu) string {
	var out []string
	for _, it := range m.Items {
		if !it.IsSeparator {
			out = append(out, it.Label)
		}
	}
	return strings.Join(out, "|")
}

func TestTrayMenuPerState(t *testing.T) {
	core := newFakeCore(noDriverStatus())
	v, _, q := newTestView(t, core)
	desk := &fakeDesk{}
	tray := newTrayMenu(desk, v, func() {}, func() {})
	v.onRender = tray.update // as Run wires it
	tests := []struct {
		state worker.State
		busy  bool
		want  string
	}{
		{worker.StateStopped, false, "Cocoon: stopped|Network: none|Start sharing|Open Cocoon Desktop|Quit"},
		{worker.StateStopped, true, "Cocoon: stopped|Network: none|Starting…|Open Cocoon Desktop|Quit"},
		{worker.StateWaiting, false, "Cocoon: waiting for idle|Network: none|Stop sharing|Start now|Pause for 1 hour|Open Cocoon Desktop|Quit"},
		{worker.StateServing, false, "Cocoon: serving|Network: none|Stop sharing|Pause for 1 hour|Open Cocoon Desktop|Quit"},
		{worker.StateServing, true, "Cocoon: serving|Network: none|Stopping…|Open Cocoon Desktop|Quit"},
		{worker.StatePaused, false, "Cocoon: paused|Network: none|Stop sharing|Start now|Pause for 1 hour|Open Cocoon Desktop|Quit"},
		{worker.StateError, false, "Cocoon: error|Network: none|Stop sharing|Open Cocoon Desktop|Quit"},
	}
	for _, tt := range tests {
		st := noDriverStatus()
		st.State = tt.state
		tray.update(st, tt.busy)
		if got := menuLabels(desk.menu); got != tt.want {
			t.Errorf("%s busy=%v: menu = %s\nwant %s", tt.state, tt.busy, got, tt.want)
		}
		if tray.toggle.Disabled != tt.busy {
			t.Errorf("%s busy=%v: toggle disabled = %v", tt.state, tt.busy, tray.toggle.Disabled)
		}
	}

	// The network in use has its line.
	joined := noDriverStatus()
	joined.Network = worker.NetworkStatus{URL: "wss://gpu.example:8443/v1/worker", Name: "Second Net", Connected: true}
	tray.update(joined, false)
	if got := menuLabels(desk.menu); !strings.Contains(got, "|Network: Second Net|") {
		t.Errorf("menu on a joined network = %s, want a line Network: Second Net", got)
	}
	joined.Network = worker.NetworkStatus{URL: "wss://127.0.0.1:1/v1/worker", Local: true}
	tray.update(joined, false)
	if got := menuLabels(desk.menu); !strings.Contains(got, "|Network: "+worker.LocalNetworkName+"|") {
		t.Errorf("menu on the local network = %s", got)
	}

	// The actions reach the core.
	st := noDriverStatus()
	st.State = worker.StateWaiting
	core.set(func(s *worker.Status) { s.State = worker.StateWaiting })
	v.refresh(st)
	tray.update(st, false)
	tray.startNow.Action()
	q.runUntil(t, "StartNow", func() bool {
		core.mu.Lock()
		defer core.mu.Unlock()
		return core.startNows == 1
	})
	q.runUntil(t, "serving menu", func() bool {
		return menuLabels(desk.menu) == "Cocoon: serving|Network: none|Stop sharing|Pause for 1 hour|Open Cocoon Desktop|Quit"
	})

	tray.pause.Action()
	q.runUntil(t, "PauseFor", func() bool { return len(core.pauseCalls()) == 1 })
	if d := core.pauseCalls()[0]; d != time.Hour {
		t.Errorf("PauseFor(%s), want 1h", d)
	}
	q.runUntil(t, "paused menu", func() bool {
		return strings.HasPrefix(tray.state.Label, "Cocoon: paused — you paused serving until ")
	})

	tray.toggle.Action() // Stop
	q.runUntil(t, "Stop", func() bool { _, stops, _, _ := core.counts(); return stops == 1 })
	q.runUntil(t, "stopped menu", func() bool {
		return menuLabels(desk.menu) == "Cocoon: stopped|Network: none|Start sharing|Open Cocoon Desktop|Quit"
	})
}

func TestNotificationsFor(t *testing.T) {
	day1 := time.Date(2026, 3, 9, 10, 0, 0, 0, time.Local) // a Monday
	at := func(day int, hh int) time.Time {
		return time.Date(2026, 3, 9+day, hh, 0, 0, 0, time.Local)
	}
	_ = day1
	const dest = "UQBvW8Z5huBkMJYdnfAEM5JqTNkuWX3diqYENkWsIL0XggGG"
	wd := func(id string, s earnings.PayoutState) earnings.Payout {
		return earnings.Payout{ID: id, Amount: 1_500_000_000, Fee: 5_000_000, Destination: dest, State: s}
	}
	type step struct {
		at   time.Time
		st   func(*worker.Status)
		want []string // "Title: Content"
	}
	serving := func(jobs int, earned int64) func(*worker.Status) {
		return func(s *worker.Status) { s.State, s.Jobs.Completed, s.Earned = worker.StateServing, jobs, earned }
	}
	withWd := func(ws ...earnings.Payout) func(*worker.Status) {
		return func(s *worker.Status) { s.Earnings.Payouts = ws }
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"quiet start", []step{
			{at(0, 10), serving(0, 0), nil},
			{at(0, 11), serving(3, 3000), nil},
		}},
		{"error entering, once", []step{
			{at(0, 10), func(s *worker.Status) { s.State = worker.StateWaiting }, nil},
			{at(0, 10), func(s *worker.Status) { s.State, s.Error = worker.StateError, "Ollama is not running yet" },
				[]string{"Cocoon Desktop needs you: Ollama is not running yet"}},
			{at(0, 10), func(s *worker.Status) { s.State, s.Error = worker.StateError, "Ollama is not running yet" }, nil},
			{at(0, 11), func(s *worker.Status) { s.State = worker.StateServing }, nil},
			{at(0, 12), func(s *worker.Status) { s.State = worker.StateError }, []string{"Cocoon Desktop needs you: Something needs your attention."}},
		}},
		{"error at start", []step{
			{at(0, 10), func(s *worker.Status) { s.State, s.Error = worker.StateError, "No model" }, []string{"Cocoon Desktop needs you: No model"}},
		}},
		{"payout confirmed once", []step{
			{at(0, 10), withWd(wd("old", earnings.PayoutConfirmed), wd("w1", earnings.PayoutPending)), nil},
			{at(0, 10), withWd(wd("old", earnings.PayoutConfirmed), wd("w1", earnings.PayoutSent)), nil},
			{at(0, 11), withWd(wd("w1", earnings.PayoutConfirmed), wd("old", earnings.PayoutConfirmed)),
				[]string{"Payout confirmed: 1.495 TON arrived at " + shortAddress(dest)}},
			{at(0, 12), withWd(wd("w1", earnings.PayoutConfirmed), wd("old", earnings.PayoutConfirmed)), nil},
			{at(0, 12), withWd(), nil},                                                                       // list reloading
			{at(0, 12), withWd(wd("w1", earnings.PayoutSent)), nil},                                          // odd flip back
			{at(0, 12), withWd(wd("w1", earnings.PayoutConfirmed)), nil},                                     // already announced
			{at(0, 12), withWd(wd("w1", earnings.PayoutConfirmed), wd("w2", earnings.PayoutFailed)), nil},    // failed: no
			{at(0, 12), withWd(wd("w1", earnings.PayoutConfirmed), wd("w3", earnings.PayoutConfirmed)), nil}, // history appearing
		}},
		{"history loaded late is not announced", []step{
			{at(0, 10), nil, nil},
			{at(0, 10), withWd(wd("a", earnings.PayoutConfirmed), wd("b", earnings.PayoutConfirmed)), nil},
		}},
		{"daily summary after the first job of the next day", []step{
			{at(0, 9), serving(0, 0), nil},
			{at(0, 12), serving(20, 5_000_000), nil},
			{at(0, 23), serving(45, 12_300_000), nil},
			{at(1, 0), serving(45, 12_300_000), nil}, // midnight passes, no job yet
			{at(1, 8), func(s *worker.Status) { s.State = worker.StatePaused; s.Jobs.Completed, s.Earned = 45, 12_300_000 }, nil},
			{at(1, 9), serving(46, 12_600_000), []string{"Cocoon Desktop earnings: Yesterday: 0.0123 TON from 45 jobs"}},
			{at(1, 10), serving(47, 12_900_000), nil}, // once a day
			{at(2, 10), serving(48, 13_000_000), []string{"Cocoon Desktop earnings: Yesterday: 0.0006 TON from 2 jobs"}},
			{at(5, 10), serving(49, 13_100_000), []string{"Cocoon Desktop earnings: On Wed 11 Mar: 0.0001 TON from 1 job"}},
		}},
		{"no summary for a day without jobs", []step{
			{at(0, 9), serving(0, 0), nil},
			{at(1, 9), serving(1, 100), nil},
			{at(2, 9), serving(2, 200), []string{"Cocoon Desktop earnings: Yesterday: 0.0000001 TON from 1 job"}},
		}},
		{"counters restart", []step{
			{at(0, 9), serving(10, 1000), nil},
			{at(0, 10), serving(0, 1000), nil}, // core restarted its job count
			{at(0, 11), serving(4, 1400), nil},
			{at(1, 9), serving(5, 1500), []string{"Cocoon Desktop earnings: Yesterday: 0.0000004 TON from 4 jobs"}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newNotifier()
			var prev worker.Status
			for i, s := range tt.steps {
				next := worker.Status{State: worker.StateStopped}
				if s.st != nil {
					s.st(&next)
				}
				var got []string
				for _, x := range n.notificationsFor(prev, next, s.at) {
					got = append(got, x.Title+": "+x.Content)
				}
				if strings.Join(got, "\n") != strings.Join(s.want, "\n") {
					t.Errorf("step %d: got %q, want %q", i, got, s.want)
				}
				prev = next
			}
		})
	}
}
