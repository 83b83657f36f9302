package app

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/earnings"
	"github.com/cocoon-desktop/cocoon-desktop/idle"
	"github.com/cocoon-desktop/cocoon-desktop/worker"
)

// liveReason is a reason as the idle policy words it at second sec: the
// texts count seconds, degrees and watts, so they change at every poll.
func liveReason(code idle.ReasonCode, sec int) idle.Reason {
	texts := map[idle.ReasonCode]string{
		idle.CodeOwnerActive: "You used the keyboard or mouse %d s ago; serving starts after 5 min without input",
		idle.CodeGPUInUse:    "Cleared %d s ago (steam.exe is using the GPU); waiting 30 s more to be sure before serving again",
		idle.CodeTooHot:      "RTX 4070 at 8%d °C, above your 80 °C limit",
		idle.CodePowerCap:    "RTX 4070 draws 2%d W, above your 200 W limit",
		idle.CodeVRAMLow:     "Video memory is short: %d.2 GB free (you keep 2 GB for yourself)",
		idle.CodeFullScreen:  "Cleared %d s ago (a full-screen window is active); waiting 30 s more",
		idle.CodeIdleUnknown: "Cannot read the idle time (%d failures); not serving to be safe",
		idle.CodeSchedule:    "Outside your hours; serving starts in %d min",
	}
	return idle.Reason{Code: code, Text: fmt.Sprintf(texts[code], sec%10)}
}

func day(jobs, gross int64) earnings.DayTotal {
	return earnings.DayTotal{JobTotals: earnings.JobTotals{Jobs: jobs, Gross: gross}}
}

func TestTrayReasonIsStable(t *testing.T) {
	codes := []idle.ReasonCode{idle.CodeOwnerActive, idle.CodeGPUInUse, idle.CodeTooHot, idle.CodePowerCap,
		idle.CodeVRAMLow, idle.CodeFullScreen, idle.CodeIdleUnknown, idle.CodeSchedule}
	for _, code := range codes {
		t.Run(string(code), func(t *testing.T) {
			first := trayReason(liveReason(code, 1))
			if first == "" || strings.ContainsAny(first, "0123456789") {
				t.Fatalf("line %q: want a few words without figures", first)
			}
			for sec := 2; sec < 10; sec++ {
				if got := trayReason(liveReason(code, sec)); got != first {
					t.Errorf("second %d: %q, first %q", sec, got, first)
				}
			}
		})
	}
	// Reasons without live figures keep their own words.
	if got := trayReason(idle.Reason{Code: idle.CodePausedUntil, Text: "You paused serving until Mon 15:04"}); got != "you paused serving until Mon 15:04" {
		t.Errorf("paused until: %q", got)
	}
}

// TestTrayResendsOnlyOnChange plays a minute of waiting, one status a
// second as the core publishes them, through the tray: the menu must not be
// re-sent (each re-send rebuilds the native menu), and the tooltip only set
// when its words change. Then a job earns and the menu is re-sent once.
func TestTrayResendsOnlyOnChange(t *testing.T) {
	core := newFakeCore(noDriverStatus())
	v, _, _ := newTestView(t, core)
	desk := &fakeDesk{}
	tray := newTrayMenu(desk, v, func() {}, func() {})
	var tips []string
	tray.showTooltips(func(s string) { tips = append(tips, s) })

	codes := []idle.ReasonCode{idle.CodeOwnerActive, idle.CodeGPUInUse, idle.CodeTooHot, idle.CodeSchedule}
	for _, code := range codes {
		t.Run(string(code), func(t *testing.T) {
			st := noDriverStatus()
			st.State = worker.StateWaiting
			st.Reasons = []idle.Reason{liveReason(code, 0)}
			tray.update(st, false)
			before, tipsBefore := tray.refreshes, len(tips)
			line := tray.state.Label
			for sec := 1; sec <= 60; sec++ {
				st.Reasons = []idle.Reason{liveReason(code, sec)}
				st.GPU.Time = time.Unix(int64(sec), 0)
				tray.update(st, false)
				if sec%10 == 0 { // the Earnings tab re-reads the ledger now and then
					tray.setToday(earnings.DayTotal{})
				}
			}
			if n := tray.refreshes - before; n != 0 {
				t.Errorf("menu re-sent %d times in a minute of waiting (line %q → %q)", n, line, tray.state.Label)
			}
			if n := len(tips) - tipsBefore; n != 0 {
				t.Errorf("tooltip set %d times in a minute of waiting: %q", n, tips[tipsBefore:])
			}
		})
	}

	before := tray.refreshes
	tray.setToday(day(3, 1_200_000))
	if tray.refreshes != before+1 {
		t.Errorf("a new day total re-sent the menu %d times, want 1", tray.refreshes-before)
	}
	if got, want := menuLabels(desk.menu), "Cocoon: waiting for idle — outside your serving hours|Today: 0.0012 TON · 3 jobs|Network: none|"+
		"Stop sharing|Start now|Pause for 1 hour|Open Cocoon Desktop|Quit"; got != want {
		t.Errorf("menu = %s\nwant   %s", got, want)
	}
	if got, want := tips[len(tips)-1], "Cocoon Desktop: waiting for idle · today 0.0012 TON"; got != want {
		t.Errorf("tooltip = %q, want %q", got, want)
	}
	tray.setToday(day(3, 1_200_000))
	if tray.refreshes != before+1 {
		t.Error("the same day total re-sent the menu")
	}
}

func TestTrayTooltip(t *testing.T) {
	cases := []struct {
		name  string
		state worker.State
		day   earnings.DayTotal
		want  string
	}{
		{"stopped, nothing today", worker.StateStopped, earnings.DayTotal{}, "Cocoon Desktop: stopped · today 0 TON"},
		{"serving", worker.StateServing, day(12, 34_500_000), "Cocoon Desktop: serving · today 0.0345 TON"},
		{"paused", worker.StatePaused, day(1, 1), "Cocoon Desktop: paused · today 0.000000001 TON"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := trayTooltip(c.state, c.day); got != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}
