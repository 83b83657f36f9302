package idle

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/gpu"
)

// controllerAt is keyboard/mouse idle for long, a controller used at t0+at.
func controllerAt(input, at time.Duration) Signals {
	return Signals{InputIdle: input, LastController: t0.Add(at)}
}

func steam(s Signals, id uint32, name string) Signals {
	s.Steam = SteamGame{AppID: id, Name: name}
	return s
}

func wantReason(code ReasonCode, text string, programs ...string) func(*testing.T, Decision) {
	return func(t *testing.T, d Decision) {
		t.Helper()
		for _, r := range d.Reasons {
			if r.Code != code {
				continue
			}
			if text != "" && r.Text != text {
				t.Errorf("%s text %q, want %q", code, r.Text, text)
			}
			if !slices.Equal(r.Programs, programs) {
				t.Errorf("%s programs %q, want %q", code, r.Programs, programs)
			}
			return
		}
		t.Errorf("no %s reason in %+v", code, d.Reasons)
	}
}

// TestGamerRules: a controller counts as the owner's input, and a Steam
// game, a full-screen program or a presentation pause with the program's
// name as data (Reason.Programs), not only in the text.
func TestGamerRules(t *testing.T) {
	m, s := time.Minute, time.Second
	cases := []struct {
		name  string
		cfg   Config
		steps []step
	}{
		{"controller input resets idle", cfg(nil), []step{
			// Keyboard untouched for 10 min, but the controller was used now.
			{at: 0, sig: controllerAt(10*m, 0), codes: []ReasonCode{CodeControllerActive}, check: func(t *testing.T, d Decision) {
				if d.NextCheck != 5*m {
					t.Errorf("NextCheck %v, want 5m (the idle wait restarts at the controller input)", d.NextCheck)
				}
				wantReason(CodeControllerActive, "You used a game controller 0 s ago; serving starts after 5 min without input")(t, d)
			}},
			{at: 4 * m, sig: controllerAt(14*m, 0), codes: []ReasonCode{CodeControllerActive}},
			{at: 5 * m, sig: controllerAt(15*m, 0), serve: true},
		}},
		{"a controller game pauses serving at once", cfg(nil), []step{
			{at: 0, sig: idleFor(10 * m), serve: true},
			{at: 10 * s, sig: controllerAt(10*m+10*s, 10*s), codes: []ReasonCode{CodeControllerActive}, check: changed(true)},
			// Still playing: each press restarts the wait.
			{at: 3 * m, sig: controllerAt(13*m, 3*m-s), codes: []ReasonCode{CodeControllerActive}},
		}},
		{"keyboard and controller both listed", cfg(nil), []step{
			{at: 0, sig: controllerAt(s, 0), codes: []ReasonCode{CodeOwnerActive, CodeControllerActive}},
		}},
		{"Start now serves despite the controller", cfg(nil), []step{
			{at: 0, sig: with(controllerAt(10*m, 0), func(s *Signals) { s.ManualOverride = ForceOn() }), serve: true},
		}},
		{"Steam game pauses with its name", cfg(nil), []step{
			{at: 0, sig: idleFor(10 * m), serve: true},
			{at: s, sig: steam(idleFor(10*m), 220, "Half-Life 2"), codes: []ReasonCode{CodeSteamGame},
				check: wantReason(CodeSteamGame, "Steam game running: Half-Life 2", "Half-Life 2")},
		}},
		{"Steam game without a name in the registry", cfg(nil), []step{
			{at: 0, sig: steam(idleFor(10*m), 440, ""), codes: []ReasonCode{CodeSteamGame},
				check: wantReason(CodeSteamGame, "Steam game running: Steam app 440", "Steam app 440")},
		}},
		{"Wallpaper Engine is not a game", cfg(nil), []step{
			{at: 0, sig: steam(idleFor(10*m), 431960, "Wallpaper Engine"), serve: true},
		}},
		{"the owner's own list of Steam tools", cfg(func(c *Config) { c.IgnoreSteamApps = []uint32{220} }), []step{
			{at: 0, sig: steam(idleFor(10*m), 220, "Half-Life 2"), serve: true},
			{at: s, sig: steam(idleFor(10*m), 431960, "Wallpaper Engine"), codes: []ReasonCode{CodeSteamGame}},
		}},
		{"Steam game ignored when other programs may share the GPU", cfg(func(c *Config) { c.PauseOnGPUProcesses = false }), []step{
			{at: 0, sig: steam(idleFor(10*m), 220, "Half-Life 2"), serve: true},
		}},
		{"full-screen program named", cfg(nil), []step{
			{at: 0, sig: with(idleFor(10*m), func(s *Signals) { s.FullScreen, s.FullScreenProgram = true, "game.exe" }),
				codes: []ReasonCode{CodeFullScreen}, check: wantReason(CodeFullScreen, "Full-screen program: game.exe", "game.exe")},
		}},
		{"full-screen program and title", cfg(nil), []step{
			{at: 0, sig: with(idleFor(10*m), func(s *Signals) {
				s.FullScreen, s.FullScreenProgram, s.FullScreenTitle = true, "vlc.exe", "Movie"
			}), codes: []ReasonCode{CodeFullScreen}, check: wantReason(CodeFullScreen, `Full-screen program: vlc.exe ("Movie")`, "vlc.exe")},
		}},
		{"presentation mode", cfg(nil), []step{
			{at: 0, sig: with(idleFor(10*m), func(s *Signals) { s.Presentation, s.FullScreenProgram = true, "POWERPNT.EXE" }),
				codes: []ReasonCode{CodePresentation}, check: wantReason(CodePresentation, "Presentation mode is on", "POWERPNT.EXE")},
		}},
		{"presentation ignored with Pause on full screen off", cfg(func(c *Config) { c.PauseOnFullScreen = false }), []step{
			{at: 0, sig: with(idleFor(10*m), func(s *Signals) { s.Presentation, s.FullScreen = true, true }), serve: true},
		}},
		{"GPU users named as data, largest first", cfg(nil), []step{
			{at: 0, sig: withGPU(idleFor(10*m), gpu.Process{PID: 9, Name: "obs64.exe", MemoryUsed: gib}, game), codes: []ReasonCode{CodeGPUInUse},
				check: wantReason(CodeGPUInUse, "", "Cyberpunk2077.exe", "obs64.exe")},
		}},
		{"after a Steam game the wait keeps its name and says it waits", cfg(nil), []step{
			{at: 0, sig: idleFor(10 * m), serve: true},
			{at: s, sig: steam(idleFor(10*m), 220, "Half-Life 2"), codes: []ReasonCode{CodeSteamGame}},
			{at: 2 * s, sig: idleFor(10 * m), codes: []ReasonCode{CodeSteamGame}, check: func(t *testing.T, d Decision) {
				r := d.Reasons[0]
				if !r.Waiting || r.Until.IsZero() || !slices.Equal(r.Programs, []string{"Half-Life 2"}) {
					t.Errorf("waiting reason %+v: want Waiting, Until and the game's name", r)
				}
			}},
		}},
		{"unreadable controllers are a note, not a pause", cfg(nil), []step{
			{at: 0, sig: with(idleFor(10*m), func(s *Signals) {
				s.ControllerErr = fmt.Errorf("open /dev/input/js0: %w", ErrControllersUnreadable)
			}), serve: true, check: func(t *testing.T, d Decision) {
				if len(d.Notes) != 1 || d.Notes[0].Code != CodeControllersUnreadable || d.Notes[0].Text != ErrControllersUnreadable.Error() {
					t.Errorf("notes %+v, want one controllers_unreadable saying what to do", d.Notes)
				}
			}},
			{at: s, sig: idleFor(10 * m), serve: true, check: func(t *testing.T, d Decision) {
				if len(d.Notes) != 0 {
					t.Errorf("notes %+v after the error cleared", d.Notes)
				}
			}},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := NewPolicy(tc.cfg)
			for i, st := range tc.steps {
				d := p.Update(t0.Add(st.at), st.sig)
				var codes []ReasonCode
				for _, r := range d.Reasons {
					codes = append(codes, r.Code)
				}
				if d.Serve != st.serve || !slices.Equal(codes, st.codes) {
					t.Fatalf("step %d (+%v): Serve=%v reasons=%v, want Serve=%v reasons=%v\n%+v", i, st.at, d.Serve, codes, st.serve, st.codes, d.Reasons)
				}
				if st.check != nil {
					st.check(t, d)
				}
			}
		})
	}
}

func TestReasonCodeIsPresence(t *testing.T) {
	for _, c := range []ReasonCode{CodeOwnerActive, CodeControllerActive} {
		if !c.IsPresence() {
			t.Errorf("%s should be presence", c)
		}
	}
	for _, c := range []ReasonCode{CodeSteamGame, CodeFullScreen, CodeGPUInUse, CodeManualStop} {
		if c.IsPresence() {
			t.Errorf("%s should not be presence", c)
		}
	}
	if !errors.Is(fmt.Errorf("x: %w", ErrControllersUnreadable), ErrControllersUnreadable) {
		t.Fatal("wrapping")
	}
}
