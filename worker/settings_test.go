package worker

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/idle"
)

func goodPolicy() IdleSettings {
	return IdleSettings{IdleMinutes: 2, PauseOnGPUUse: true, PauseOnFullScreen: true}
}

func TestSettingsIdlePolicyValidation(t *testing.T) {
	tests := []struct {
		name   string
		change func(*IdleSettings)
		fields []string // the fields rejected, in order; none: valid
		says   string   // part of the first problem
	}{
		{"defaults", func(*IdleSettings) {}, nil, ""},
		{"half a minute", func(p *IdleSettings) { p.IdleMinutes = 0.5 }, nil, ""},
		{"idle too short", func(p *IdleSettings) { p.IdleMinutes = 0.2 }, []string{FieldIdleMinutes}, "at least 0.5"},
		{"idle negative", func(p *IdleSettings) { p.IdleMinutes = -1 }, []string{FieldIdleMinutes}, "at least 0.5"},
		{"idle over a day", func(p *IdleSettings) { p.IdleMinutes = 2000 }, []string{FieldIdleMinutes}, "at most 1440"},
		{"good schedule", func(p *IdleSettings) { p.Schedule = "Mon-Fri 22:00-08:00; sat,sun 00:00-24:00" }, nil, ""},
		{"bad schedule", func(p *IdleSettings) { p.Schedule = "weekdays 9-5" }, []string{FieldSchedule}, "weekdays"},
		{"schedule without times", func(p *IdleSettings) { p.Schedule = "mon" }, []string{FieldSchedule}, "want days then times"},
		{"negative temperature cap", func(p *IdleSettings) { p.MaxTemperatureC = -5 }, []string{FieldMaxTemp}, "cannot be negative"},
		{"temperature cap too low", func(p *IdleSettings) { p.MaxTemperatureC = 20 }, []string{FieldMaxTemp}, "at least 40"},
		{"temperature cap too high", func(p *IdleSettings) { p.MaxTemperatureC = 150 }, []string{FieldMaxTemp}, "at most 100"},
		{"temperature cap", func(p *IdleSettings) { p.MaxTemperatureC = 80 }, nil, ""},
		{"negative power cap", func(p *IdleSettings) { p.MaxPowerW = -1 }, []string{FieldMaxPower}, "cannot be negative"},
		{"power cap too low", func(p *IdleSettings) { p.MaxPowerW = 5 }, []string{FieldMaxPower}, "at least 10"},
		{"power cap", func(p *IdleSettings) { p.MaxPowerW = 300 }, nil, ""},
		{"vram reserve too large", func(p *IdleSettings) { p.VRAMReserveMB = 1 << 30 }, []string{FieldVRAMReserve}, "at most"},
		{"several at once", func(p *IdleSettings) {
			p.IdleMinutes, p.Schedule, p.MaxPowerW = 0, "nope", -3
		}, []string{FieldIdleMinutes, FieldSchedule, FieldMaxPower}, "at least 0.5"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := goodPolicy()
			tc.change(&p)
			err := p.Validate()
			fes := FieldErrors(err)
			var got []string
			for _, fe := range fes {
				got = append(got, fe.Field)
			}
			if strings.Join(got, ",") != strings.Join(tc.fields, ",") {
				t.Fatalf("Validate(%+v) rejected %v (%v), want %v", p, got, err, tc.fields)
			}
			if len(tc.fields) == 0 {
				return
			}
			if !errors.Is(err, ErrBadSetting) {
				t.Errorf("error %v does not wrap ErrBadSetting", err)
			}
			if !strings.Contains(fes[0].Problem, tc.says) {
				t.Errorf("problem %q does not say %q", fes[0].Problem, tc.says)
			}
		})
	}
}

func TestSettingsIdlePolicyRoundTrip(t *testing.T) {
	base := idle.DefaultConfig()
	base.IgnoreProcesses = []string{"mydesktop"}
	p := IdleSettings{IdleMinutes: 0.5, PauseOnGPUUse: false, PauseOnFullScreen: true,
		Schedule: "mon-fri 22:00-08:00", MaxTemperatureC: 83, MaxPowerW: 320, VRAMReserveMB: 2048}
	cfg, err := p.Apply(base)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.IdleAfter != 30*time.Second || cfg.PauseOnGPUProcesses || !cfg.PauseOnFullScreen ||
		cfg.MaxTemperatureC != 83 || cfg.MaxPowerW != 320 || cfg.VRAMReserve != 2048<<20 {
		t.Fatalf("Apply = %+v", cfg)
	}
	if cfg.Schedule.String() != "mon,tue,wed,thu,fri 22:00-08:00" { // canonical
		t.Errorf("schedule = %q", cfg.Schedule)
	}
	p.Schedule = cfg.Schedule.String()
	if len(cfg.IgnoreProcesses) != 1 || cfg.MinGPUProcessMemory != base.MinGPUProcessMemory {
		t.Errorf("fields the owner does not set were lost: %+v", cfg)
	}
	if back := IdlePolicyOf(cfg); back != p {
		t.Errorf("IdlePolicyOf(Apply(p)) = %+v, want %+v", back, p)
	}
	if got := IdlePolicyOf(idle.Config{}); got.IdleMinutes != 5 || got.Schedule != "" {
		t.Errorf("zero config shows %+v, want the 5-minute default and no schedule", got)
	}
}

// A saved policy is written to settings.json, read back by a new core and
// wins over the core's configured (flag) policy; a rejected one changes nothing.
func TestSettingsIdlePolicySavedAndReloaded(t *testing.T) {
	dir := t.TempDir()
	flags := idle.DefaultConfig()
	flags.IdleAfter = time.Minute
	c := New(Config{DataDir: dir, Idle: flags})
	if got := c.IdleSettings(); got.IdleMinutes != 1 || !got.PauseOnGPUUse {
		t.Fatalf("before saving: %+v, want the flags", got)
	}
	want := IdleSettings{IdleMinutes: 3, PauseOnGPUUse: false, PauseOnFullScreen: true,
		Schedule: " SAT,SUN  00:00-24:00 ", MaxTemperatureC: 80, MaxPowerW: 250, VRAMReserveMB: 1536}
	if err := c.SetIdleSettings(want); err != nil {
		t.Fatal(err)
	}
	want.Schedule = "sat,sun 00:00-24:00" // stored canonical
	if got := c.IdleSettings(); got != want {
		t.Fatalf("after saving: %+v, want %+v", got, want)
	}
	bad := want
	bad.MaxPowerW = -10
	if err := c.SetIdleSettings(bad); !errors.Is(err, ErrBadSetting) || len(FieldErrors(err)) != 1 {
		t.Fatalf("negative power cap: %v", err)
	}
	if err := c.SetLogLevel("DEBUG"); err != nil {
		t.Fatal(err)
	}
	if err := c.SetLogLevel("loud"); len(FieldErrors(err)) != 1 || FieldErrors(err)[0].Field != FieldLogLevel {
		t.Fatalf("bad log level: %v", err)
	}
	if err := c.SetTariff(100); err != nil { // other settings keep the policy
		t.Fatal(err)
	}

	b, err := os.ReadFile(filepath.Join(dir, SettingsFile))
	if err != nil {
		t.Fatal(err)
	}
	var onDisk Settings
	if err := json.Unmarshal(b, &onDisk); err != nil {
		t.Fatal(err)
	}
	if onDisk.Idle == nil || *onDisk.Idle != want || onDisk.LogLevel != "debug" || onDisk.TariffNanoPerKWh != 100 {
		t.Fatalf("settings.json = %s", b)
	}

	c2 := New(Config{DataDir: dir, Idle: flags})
	if got := c2.IdleSettings(); got != want {
		t.Fatalf("a new core reads %+v, want %+v", got, want)
	}
	cfg := c2.IdleConfig()
	if cfg.IdleAfter != 3*time.Minute || cfg.PauseOnGPUProcesses || cfg.VRAMReserve != 1536<<20 || cfg.Schedule.String() != want.Schedule {
		t.Fatalf("IdleConfig = %+v", cfg)
	}
	if s, err := LoadSettings(dir); err != nil || s.LogLevel != "debug" {
		t.Fatalf("LoadSettings = %+v, %v", s, err)
	}
}

// A hand-edited, invalid policy in settings.json falls back to the flags.
func TestSettingsInvalidSavedPolicyKeepsFlags(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, SettingsFile), []byte(`{"idle":{"idle_minutes":0.1,"schedule":"never"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	flags := idle.DefaultConfig()
	flags.IdleAfter = 2 * time.Minute
	c := New(Config{DataDir: dir, Idle: flags})
	if got := c.IdleConfig(); got.IdleAfter != 2*time.Minute || got.Schedule != nil {
		t.Fatalf("IdleConfig = %+v, want the flags", got)
	}
}

// A running worker applies a new idle policy within a poll, without Start:
// a schedule that excludes now pauses it, clearing it serves again.
func TestSettingsIdlePolicyAppliesWhileServing(t *testing.T) {
	c := startCore(t, nil)
	ctx := testCtx(t)
	if err := c.WaitModels(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "serving", func() bool { return c.Status().State == StateServing })

	other := time.Now().Add(72 * time.Hour).Weekday().String()[:3] // a day that is not today
	p := c.IdleSettings()
	p.Schedule = other + " 00:00-24:00"
	changed := time.Now()
	if err := c.SetIdleSettings(p); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "paused by the schedule", func() bool {
		s := c.Status()
		return s.State == StatePaused && len(s.Reasons) == 1 && s.Reasons[0].Code == idle.CodeSchedule
	})
	t.Logf("new schedule → paused in %v", time.Since(changed))
	p.Schedule = ""
	if err := c.SetIdleSettings(p); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "serving again", func() bool { return c.Status().State == StateServing })
}

// The first-run wizard's flag is saved, kept by other settings and read by a new core.
func TestSettingsOnboardedPersists(t *testing.T) {
	dir := t.TempDir()
	c := New(Config{DataDir: dir})
	if c.Settings().Onboarded {
		t.Fatal("a fresh data dir counts as onboarded")
	}
	if err := c.SetOnboarded(); err != nil {
		t.Fatal(err)
	}
	if err := c.SetTariff(7); err != nil { // other settings keep the flag
		t.Fatal(err)
	}
	if err := c.SetOnboarded(); err != nil { // again: a no-op
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, SettingsFile))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"onboarded": true`) {
		t.Fatalf("settings.json = %s", b)
	}
	if s := New(Config{DataDir: dir}).Settings(); !s.Onboarded || s.TariffNanoPerKWh != 7 {
		t.Fatalf("a new core reads %+v", s)
	}
	if s, err := LoadSettings(dir); err != nil || !s.Onboarded {
		t.Fatalf("LoadSettings = %+v, %v", s, err)
	}
}

// TestSettingsConcurrentSavesKeepEveryChange saves two different settings
// from many goroutines at once: each read-modify-write must see the other's
// change, so both survive (without the lock one is lost now and then).
func TestSettingsConcurrentSavesKeepEveryChange(t *testing.T) {
	dir := t.TempDir()
	c := New(Config{DataDir: dir})
	const rounds = 50
	var wg sync.WaitGroup
	for i := 1; i <= rounds; i++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			if err := c.SetTariff(int64(i)); err != nil {
				t.Error(err)
			}
		}()
		go func() {
			defer wg.Done()
			if err := c.SetLogLevel([]string{"debug", "info"}[i%2]); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if err := c.SetOnboarded(); err != nil {
		t.Fatal(err)
	}
	s, err := LoadSettings(dir)
	if err != nil {
		t.Fatal(err)
	}
	if s.TariffNanoPerKWh == 0 || s.LogLevel == "" || !s.Onboarded {
		t.Fatalf("a concurrent save lost a change: %+v", s)
	}
}
