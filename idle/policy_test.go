package idle

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/gpu"
)

const (
	gib = 1 << 30
	mib = 1 << 20
)

// t0 is a Wednesday noon, local time.
var t0 = time.Date(2026, 3, 4, 12, 0, 0, 0, time.Local)

type step struct {
	at    time.Duration // since t0
	sig   Signals
	serve bool
	codes []ReasonCode // exact reason codes, in order
	check func(t *testing.T, d Decision)
}

func idleFor(d time.Duration) Signals { return Signals{InputIdle: d} }

func withGPU(s Signals, procs ...gpu.Process) Signals {
	s.GPU = gpu.Snapshot{State: gpu.StateOK, Devices: []gpu.Device{{
		Index: 0, MemoryTotal: 12 * gib, MemoryFree: 8 * gib, TemperatureC: 50, PowerW: 30, Processes: procs,
	}}}
	return s
}

func withDev(s Signals, f func(*gpu.Device)) Signals {
	if len(s.GPU.Devices) == 0 {
		s = withGPU(s)
	}
	f(&s.GPU.Devices[0])
	return s
}

func own(s Signals) Signals { s.OwnPIDs = ours; return s }

func with(s Signals, f func(*Signals)) Signals { f(&s); return s }

var (
	game   = gpu.Process{PID: 4242, Name: "Cyberpunk2077.exe", MemoryUsed: 6 * gib}
	ollama = gpu.Process{PID: 100, Name: "ollama", MemoryUsed: 5 * gib}
	runner = gpu.Process{PID: 101, Name: "ollama_llama_server", MemoryUsed: 2 * gib}
	xorg   = gpu.Process{PID: 1, Name: "/usr/lib/xorg/Xorg", MemoryUsed: 300 * mib}
	tiny   = gpu.Process{PID: 7, Name: "firefox", MemoryUsed: 20 * mib}
	ours   = map[uint32]bool{100: true, 101: true}
)

func cfg(f func(*Config)) Config {
	c := DefaultConfig()
	if f != nil {
		f(&c)
	}
	return c
}

func TestPolicy(t *testing.T) {
	m := time.Minute
	s := time.Second
	cases := []struct {
		name  string
		cfg   Config
		steps []step
	}{
		{"starts after IdleAfter", cfg(nil), []step{
			{at: 0, sig: idleFor(0), codes: []ReasonCode{CodeOwnerActive}, check: func(t *testing.T, d Decision) {
				if !d.Changed {
					t.Error("the first decision should be Changed")
				}
				if d.NextCheck != 5*m {
					t.Errorf("NextCheck = %v, want 5m", d.NextCheck)
				}
			}},
			{at: 4*m + 59*s, sig: idleFor(4*m + 59*s), codes: []ReasonCode{CodeOwnerActive}, check: func(t *testing.T, d Decision) {
				if d.NextCheck != s || d.Changed {
					t.Errorf("NextCheck = %v, Changed = %v; want 1s, false", d.NextCheck, d.Changed)
				}
				if txt := d.Reasons[0].Text; !strings.Contains(txt, "4 min 59 s ago") || !strings.Contains(txt, "after 5 min") {
					t.Errorf("text %q", txt)
				}
				if want := t0.Add(5 * m); !d.Reasons[0].Until.Equal(want) {
					t.Errorf("Until %v, want %v", d.Reasons[0].Until, want)
				}
			}},
			{at: 5 * m, sig: idleFor(5 * m), serve: true, check: changed(true)},
			{at: 6 * m, sig: idleFor(6 * m), serve: true, check: changed(false)},
		}},
		{"input resets the idle wait", cfg(nil), []step{
			{at: 0, sig: idleFor(4 * m), codes: []ReasonCode{CodeOwnerActive}},
			{at: 1 * m, sig: idleFor(10 * s), codes: []ReasonCode{CodeOwnerActive}},
			{at: 5 * m, sig: idleFor(4*m + 10*s), codes: []ReasonCode{CodeOwnerActive}},
			{at: 5*m + 50*s, sig: idleFor(5 * m), serve: true},
		}},
		{"an idle wait under the resume delay keeps serving without input", cfg(func(c *Config) {
			c.IdleAfter, c.ResumeHysteresis = 6*s, 30*s
		}), []step{
			{at: 0, sig: idleFor(s), codes: []ReasonCode{CodeOwnerActive}},
			{at: 5 * s, sig: idleFor(6 * s), serve: true, check: changed(true)},
			// Serving, nobody touches anything: no pause (the resume delay
			// is for coming back after a pause, not for staying on).
			{at: 5*s + 250*time.Millisecond, sig: idleFor(6*s + 250*time.Millisecond), serve: true, check: changed(false)},
			{at: 20 * s, sig: idleFor(21 * s), serve: true},
			// Input pauses at once; resuming then needs the longer delay.
			{at: 21 * s, sig: idleFor(0), codes: []ReasonCode{CodeOwnerActive}},
			{at: 28 * s, sig: idleFor(7 * s), codes: []ReasonCode{CodeOwnerActive}},
			{at: 51 * s, sig: idleFor(30 * s), serve: true},
		}},
		{"owner returns: pause at once", cfg(nil), []step{
			{at: 0, sig: idleFor(10 * m), serve: true},
			{at: 250 * time.Millisecond, sig: idleFor(100 * time.Millisecond), codes: []ReasonCode{CodeOwnerActive}, check: func(t *testing.T, d Decision) {
				changed(true)(t, d)
				if !strings.Contains(d.Reasons[0].Text, "0 s ago") {
					t.Errorf("text %q", d.Reasons[0].Text)
				}
			}},
		}},
		{"resume waits for ResumeHysteresis; flapping input does not flap Serve",
			cfg(func(c *Config) { c.IdleAfter = m; c.ResumeHysteresis = 2 * m }), []step{
				{at: 0, sig: idleFor(m), serve: true},
				{at: 10 * s, sig: idleFor(0), codes: []ReasonCode{CodeOwnerActive}, check: changed(true)},
				{at: 70 * s, sig: idleFor(m), codes: []ReasonCode{CodeOwnerActive}, check: func(t *testing.T, d Decision) {
					changed(false)(t, d)
					if d.NextCheck != m {
						t.Errorf("NextCheck %v, want 1m (2 min away needed after a pause)", d.NextCheck)
					}
				}},
				{at: 80 * s, sig: idleFor(2 * s), codes: []ReasonCode{CodeOwnerActive}, check: changed(false)},
				{at: 140 * s, sig: idleFor(62 * s), codes: []ReasonCode{CodeOwnerActive}, check: changed(false)},
				{at: 141 * s, sig: idleFor(0), codes: []ReasonCode{CodeOwnerActive}, check: changed(false)},
				{at: 261 * s, sig: idleFor(2 * m), serve: true, check: changed(true)},
			}},
		{"hysteresis is never below 30 s", cfg(func(c *Config) { c.IdleAfter = s }), []step{
			{at: 0, sig: idleFor(s), serve: true},
			{at: s, sig: idleFor(0), codes: []ReasonCode{CodeOwnerActive}},
			{at: 3 * s, sig: idleFor(2 * s), codes: []ReasonCode{CodeOwnerActive}},
			{at: 31 * s, sig: idleFor(30 * s), serve: true},
		}},
		{"a game on the GPU pauses; resume after hysteresis", cfg(nil), []step{
			{at: 0, sig: own(withGPU(idleFor(10*m), ollama)), serve: true},
			{at: s, sig: own(withGPU(idleFor(11*m), ollama, game)), codes: []ReasonCode{CodeGPUInUse}, check: func(t *testing.T, d Decision) {
				changed(true)(t, d)
				if want := "Cyberpunk2077.exe (6.0 GB) is using the GPU"; d.Reasons[0].Text != want {
					t.Errorf("text %q, want %q", d.Reasons[0].Text, want)
				}
			}},
			{at: 2 * m, sig: own(withGPU(idleFor(13*m), ollama, game)), codes: []ReasonCode{CodeGPUInUse}},
			// The game closes; the gamepad player is still idle by keyboard.
			{at: 3 * m, sig: own(withGPU(idleFor(14*m), ollama)), codes: []ReasonCode{CodeGPUInUse}, check: func(t *testing.T, d Decision) {
				if want := t0.Add(2*m + 5*m); !d.Reasons[0].Until.Equal(want) {
					t.Errorf("Until %v, want %v", d.Reasons[0].Until, want)
				}
				if d.NextCheck != 4*m {
					t.Errorf("NextCheck %v, want 4m", d.NextCheck)
				}
				if !strings.Contains(d.Reasons[0].Text, "Cleared 1 min ago") {
					t.Errorf("text %q", d.Reasons[0].Text)
				}
			}},
			// A loading screen: the game shows up again and restarts the wait.
			{at: 4 * m, sig: own(withGPU(idleFor(15*m), ollama, game)), codes: []ReasonCode{CodeGPUInUse}},
			{at: 8 * m, sig: withGPU(idleFor(19 * m)), codes: []ReasonCode{CodeGPUInUse}},
			{at: 9 * m, sig: withGPU(idleFor(20 * m)), serve: true},
		}},
		{"our own Ollama processes do not count", cfg(nil), []step{
			{at: 0, sig: with(withGPU(idleFor(10*m), ollama, runner), func(s *Signals) { s.OwnPIDs = ours }), serve: true},
			{at: s, sig: withGPU(idleFor(10*m), ollama, runner), codes: []ReasonCode{CodeGPUInUse}, check: func(t *testing.T, d Decision) {
				if want := "ollama (5.0 GB) and ollama_llama_server (2.0 GB) are using the GPU"; d.Reasons[0].Text != want {
					t.Errorf("without OwnPIDs: text %q, want %q", d.Reasons[0].Text, want)
				}
			}},
		}},
		{"the desktop and small processes are ignored", cfg(nil), []step{
			{at: 0, sig: withGPU(idleFor(10*m), xorg, tiny,
				gpu.Process{PID: 8, Name: `C:\Windows\explorer.EXE`, MemoryUsed: 200 * mib},
				gpu.Process{PID: 9, Name: "steamwebhelper", MemoryUsed: 0}), serve: true},
			{at: s, sig: withGPU(idleFor(10*m), gpu.Process{PID: 9, Name: "", MemoryUsed: 100 * mib}), codes: []ReasonCode{CodeGPUInUse},
				check: func(t *testing.T, d Decision) {
					if want := "Program 9 (100 MB) is using the GPU"; d.Reasons[0].Text != want {
						t.Errorf("text %q", d.Reasons[0].Text)
					}
				}},
		}},
		{"GPU processes can be allowed", cfg(func(c *Config) { c.PauseOnGPUProcesses = false }), []step{
			{at: 0, sig: withGPU(idleFor(10*m), game), serve: true},
		}},
		{"unknown-memory processes count when asked", cfg(func(c *Config) { c.CountUnknownMemory = true }), []step{
			{at: 0, sig: withGPU(idleFor(10*m), gpu.Process{PID: 9, Name: "game.exe"}), codes: []ReasonCode{CodeGPUInUse}},
		}},
		{"full screen pauses", cfg(nil), []step{
			{at: 0, sig: idleFor(10 * m), serve: true},
			{at: s, sig: Signals{InputIdle: 10 * m, FullScreen: true, FullScreenTitle: "Movie.mkv - VLC"}, codes: []ReasonCode{CodeFullScreen},
				check: func(t *testing.T, d Decision) {
					if want := `"Movie.mkv - VLC" is full screen`; d.Reasons[0].Text != want {
						t.Errorf("text %q", d.Reasons[0].Text)
					}
				}},
		}},
		{"full screen can be allowed", cfg(func(c *Config) { c.PauseOnFullScreen = false }), []step{
			{at: 0, sig: Signals{InputIdle: 10 * m, FullScreen: true}, serve: true},
		}},
		{"temperature cap with hysteresis", cfg(func(c *Config) { c.MaxTemperatureC = 80; c.ResumeHysteresis = 30 * s }), []step{
			{at: 0, sig: withDev(idleFor(10*m), func(d *gpu.Device) { d.TemperatureC = 80 }), serve: true},
			{at: s, sig: withDev(idleFor(10*m), func(d *gpu.Device) { d.TemperatureC = 81 }), codes: []ReasonCode{CodeTooHot},
				check: func(t *testing.T, d Decision) {
					if want := "GPU 0 is at 81 °C, above your 80 °C limit; serving resumes below 75 °C"; d.Reasons[0].Text != want {
						t.Errorf("text %q", d.Reasons[0].Text)
					}
				}},
			{at: m, sig: withDev(idleFor(11*m), func(d *gpu.Device) { d.TemperatureC = 78 }), codes: []ReasonCode{CodeTooHot}},
			{at: 2 * m, sig: withDev(idleFor(12*m), func(d *gpu.Device) { d.TemperatureC = 75 }), codes: []ReasonCode{CodeTooHot}},
			{at: 2*m + 10*s, sig: withDev(idleFor(13*m), func(d *gpu.Device) { d.TemperatureC = 74 }), codes: []ReasonCode{CodeTooHot}}, // cooled; hysteresis wait
			{at: 2*m + 29*s, sig: withDev(idleFor(13*m), func(d *gpu.Device) { d.TemperatureC = 79 }), codes: []ReasonCode{CodeTooHot}},
			{at: 2*m + 30*s, sig: withDev(idleFor(13*m), func(d *gpu.Device) { d.TemperatureC = 79 }), serve: true},
		}},
		{"power cap with hysteresis", cfg(func(c *Config) { c.MaxPowerW = 200 }), []step{
			{at: 0, sig: withDev(idleFor(10*m), func(d *gpu.Device) { d.PowerW = 250 }), codes: []ReasonCode{CodePowerCap}},
			{at: s, sig: withDev(idleFor(10*m), func(d *gpu.Device) { d.PowerW = 190 }), codes: []ReasonCode{CodePowerCap}},
			{at: 2 * s, sig: withDev(idleFor(10*m), func(d *gpu.Device) { d.PowerW = 150 }), serve: true}, // first start: no hysteresis
		}},
		{"VRAM reserve counts our own memory as free", cfg(func(c *Config) { c.VRAMReserve = 2 * gib }), []step{
			{at: 0, sig: with(withDev(idleFor(10*m), func(d *gpu.Device) {
				d.MemoryFree = 1 * gib
				d.Processes = []gpu.Process{ollama}
			}), func(s *Signals) { s.OwnPIDs = ours }), serve: true, check: func(t *testing.T, d Decision) {
				if d.VRAMReserve != 2*gib || d.VRAMAvailable != 4*gib {
					t.Errorf("VRAMReserve %d VRAMAvailable %d, want 2 GiB and 4 GiB", d.VRAMReserve, d.VRAMAvailable)
				}
			}},
			{at: s, sig: withDev(idleFor(10*m), func(d *gpu.Device) { d.MemoryFree = 1 * gib }), codes: []ReasonCode{CodeVRAMLow},
				check: func(t *testing.T, d Decision) {
					if want := "Video memory is short: only 1.0 GB free on GPU 0 (you keep 2.0 GB for yourself)"; d.Reasons[0].Text != want {
						t.Errorf("text %q", d.Reasons[0].Text)
					}
				}},
		}},
		{"ForceOff always wins", cfg(nil), []step{
			{at: 0, sig: with(withGPU(idleFor(time.Hour), game), func(s *Signals) { s.ManualOverride = ForceOff() }), codes: []ReasonCode{CodeManualStop},
				check: func(t *testing.T, d Decision) {
					if d.NextCheck != 0 {
						t.Errorf("NextCheck %v, want 0", d.NextCheck)
					}
				}},
			{at: s, sig: with(idleFor(time.Hour), func(s *Signals) { s.ManualOverride = ForceOff() }), codes: []ReasonCode{CodeManualStop}},
		}},
		{"ForceOn serves without waiting for idle, schedule or hysteresis",
			cfg(func(c *Config) { c.Schedule = mustSchedule("sat 00:00-01:00") }), []step{
				{at: 0, sig: idleFor(0), codes: []ReasonCode{CodeOwnerActive, CodeSchedule}},
				{at: s, sig: with(idleFor(0), func(s *Signals) { s.ManualOverride = ForceOn() }), serve: true},
				{at: 2 * s, sig: with(idleFor(0), func(s *Signals) { s.ManualOverride = ForceOn(); s.InputErr = errors.New("x") }), serve: true},
			}},
		{"ForceOn still yields to a game, full screen and heat",
			cfg(func(c *Config) { c.MaxTemperatureC = 85; c.ResumeHysteresis = m }), []step{
				{at: 0, sig: with(withGPU(idleFor(0), game), func(s *Signals) { s.ManualOverride = ForceOn() }), codes: []ReasonCode{CodeGPUInUse}},
				{at: s, sig: with(idleFor(0), func(s *Signals) { s.ManualOverride = ForceOn() }), serve: true}, // never served: first start
				{at: 2 * s, sig: with(idleFor(0), func(s *Signals) { s.ManualOverride = ForceOn(); s.FullScreen = true }), codes: []ReasonCode{CodeFullScreen}},
				{at: 3 * s, sig: with(withDev(idleFor(0), func(d *gpu.Device) { d.TemperatureC = 90 }), func(s *Signals) { s.ManualOverride = ForceOn() }), codes: []ReasonCode{CodeTooHot}},
				{at: 4 * s, sig: with(idleFor(0), func(s *Signals) { s.ManualOverride = ForceOn() }), codes: []ReasonCode{CodeTooHot}}, // hysteresis
				{at: 3*s + m, sig: with(idleFor(0), func(s *Signals) { s.ManualOverride = ForceOn() }), serve: true},
				// Leaving ForceOn returns to the idle rule at once.
				{at: 4*s + m, sig: idleFor(5 * s), codes: []ReasonCode{CodeOwnerActive}},
			}},
		{"a fresh ForceOn skips the resume wait", cfg(nil), []step{
			{at: 0, sig: idleFor(10 * m), serve: true},
			{at: s, sig: Signals{InputIdle: 10 * m, FullScreen: true}, codes: []ReasonCode{CodeFullScreen}},
			{at: 2 * s, sig: idleFor(10 * m), codes: []ReasonCode{CodeFullScreen}},
			{at: 3 * s, sig: with(idleFor(0), func(s *Signals) { s.ManualOverride = ForceOn() }), serve: true},
		}},
		{"PauseUntil pauses, then the policy decides again", cfg(nil), []step{
			{at: 0, sig: with(idleFor(10*m), func(s *Signals) { s.ManualOverride = PauseUntil(t0.Add(time.Hour)) }), codes: []ReasonCode{CodePausedUntil},
				check: func(t *testing.T, d Decision) {
					if d.NextCheck != time.Hour || !d.Reasons[0].Until.Equal(t0.Add(time.Hour)) {
						t.Errorf("NextCheck %v Until %v", d.NextCheck, d.Reasons[0].Until)
					}
				}},
			{at: 30 * m, sig: with(idleFor(s), func(s *Signals) { s.ManualOverride = PauseUntil(t0.Add(time.Hour)) }), codes: []ReasonCode{CodePausedUntil, CodeOwnerActive}},
			{at: time.Hour, sig: with(idleFor(20*m), func(s *Signals) { s.ManualOverride = PauseUntil(t0.Add(time.Hour)) }), serve: true},
		}},
		{"unknown idle does not serve", cfg(nil), []step{
			{at: 0, sig: Signals{InputIdle: -1, InputErr: errors.New("X server gone")}, codes: []ReasonCode{CodeIdleUnknown},
				check: func(t *testing.T, d Decision) {
					if !strings.Contains(d.Reasons[0].Text, "X server gone") {
						t.Errorf("text %q", d.Reasons[0].Text)
					}
				}},
			{at: s, sig: Signals{InputIdle: -1}, codes: []ReasonCode{CodeIdleUnknown}},
			{at: 2 * s, sig: Signals{InputIdle: 10 * m, InputErr: errors.New("timeout")}, codes: []ReasonCode{CodeIdleUnknown}},
			{at: 3 * s, sig: idleFor(10 * m), serve: true}, // never served: no hysteresis
			{at: 4 * s, sig: Signals{InputIdle: -1, InputErr: errors.New("flake")}, codes: []ReasonCode{CodeIdleUnknown}},
			{at: 5 * s, sig: idleFor(10 * m), codes: []ReasonCode{CodeIdleUnknown}}, // hysteresis after a pause
		}},
		{"multiple reasons are listed together, in order",
			cfg(func(c *Config) {
				c.MaxTemperatureC = 80
				c.MaxPowerW = 100
				c.VRAMReserve = 20 * gib
				c.Schedule = mustSchedule("sat 00:00-01:00")
			}), []step{
				{at: 0, sig: with(withDev(withGPU(idleFor(s), game), func(d *gpu.Device) { d.TemperatureC = 90; d.PowerW = 300 }),
					func(s *Signals) { s.FullScreen = true; s.ManualOverride = PauseUntil(t0.Add(m)) }),
					codes: []ReasonCode{CodePausedUntil, CodeOwnerActive, CodeGPUInUse, CodeFullScreen, CodeSchedule, CodeTooHot, CodePowerCap, CodeVRAMLow},
					check: func(t *testing.T, d Decision) {
						for _, r := range d.Reasons {
							if r.Text == "" {
								t.Errorf("%s has no text", r.Code)
							}
						}
						if d.NextCheck != m {
							t.Errorf("NextCheck %v, want 1m (the pause ends first)", d.NextCheck)
						}
					}},
			}},
		{"schedule window ends and reopens", cfg(func(c *Config) { c.Schedule = mustSchedule("wed 11:00-12:30") }), []step{
			{at: 0, sig: idleFor(10 * m), serve: true, check: func(t *testing.T, d Decision) {
				if d.NextCheck != 30*m {
					t.Errorf("NextCheck %v, want 30m (window end)", d.NextCheck)
				}
			}},
			{at: 30 * m, sig: idleFor(40 * m), codes: []ReasonCode{CodeSchedule}, check: func(t *testing.T, d Decision) {
				want := time.Date(2026, 3, 11, 11, 0, 0, 0, time.Local)
				if !d.Reasons[0].Until.Equal(want) {
					t.Errorf("Until %v, want %v", d.Reasons[0].Until, want)
				}
				if !strings.Contains(d.Reasons[0].Text, "next window opens Wed 11:00") {
					t.Errorf("text %q", d.Reasons[0].Text)
				}
			}},
			{at: 7*24*time.Hour - time.Hour, sig: idleFor(time.Hour), serve: true}, // next Wednesday 11:00, no hysteresis
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
				if d.Serve && len(d.Reasons) != 0 {
					t.Fatalf("step %d: serving with reasons %v", i, d.Reasons)
				}
				if st.check != nil {
					st.check(t, d)
				}
			}
		})
	}
}

func changed(want bool) func(*testing.T, Decision) {
	return func(t *testing.T, d Decision) {
		t.Helper()
		if d.Changed != want {
			t.Errorf("Changed = %v, want %v", d.Changed, want)
		}
	}
}

func mustSchedule(s string) *Schedule {
	sc, err := ParseSchedule(s)
	if err != nil {
		panic(err)
	}
	return sc
}

// TestPolicyFlappingInput drives the policy at the watcher's 250 ms rate
// with input every few seconds for ten minutes: Serve must change once
// (the pause), never back and forth.
func TestPolicyFlappingInput(t *testing.T) {
	p := NewPolicy(DefaultConfig())
	if d := p.Update(t0, idleFor(time.Hour)); !d.Serve {
		t.Fatal("should serve after an hour idle")
	}
	changes := 0
	lastInput := t0
	for now := t0.Add(250 * time.Millisecond); now.Before(t0.Add(10 * time.Minute)); now = now.Add(250 * time.Millisecond) {
		if now.Sub(t0)%(7*time.Second) < 250*time.Millisecond {
			lastInput = now
		}
		if p.Update(now, idleFor(now.Sub(lastInput))).Changed {
			changes++
		}
	}
	if changes != 1 {
		t.Errorf("Serve changed %d times, want 1", changes)
	}
}

func TestHuman(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0 s", 12 * time.Second: "12 s", 5 * time.Minute: "5 min", 270 * time.Second: "4 min 30 s",
		time.Hour: "1 h", 65 * time.Minute: "1 h 5 min", -time.Second: "0 s",
	} {
		if got := human(d); got != want {
			t.Errorf("human(%v) = %q, want %q", d, got, want)
		}
	}
}
