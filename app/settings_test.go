package app

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cocoon-desktop/cocoon-desktop/ton"

	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/cocoon-desktop/cocoon-desktop/worker"
)

func TestSettingsParsePolicy(t *testing.T) {
	good := settingsForm{idleMin: "5", tempC: "0", powerW: "0", vramMB: "1024", pauseGPU: true, pauseFS: true}
	tests := []struct {
		name   string
		change func(*settingsForm)
		bad    []string // fields rejected
		says   string   // part of the first field's problem
	}{
		{"defaults", func(*settingsForm) {}, nil, ""},
		{"half a minute, comma", func(f *settingsForm) { f.idleMin = "0,5" }, nil, ""},
		{"empty caps are no caps", func(f *settingsForm) { f.tempC, f.powerW, f.vramMB = "", "", "" }, nil, ""},
		{"idle not a number", func(f *settingsForm) { f.idleMin = "five" }, []string{worker.FieldIdleMinutes}, "not a number"},
		{"idle empty", func(f *settingsForm) { f.idleMin = "" }, []string{worker.FieldIdleMinutes}, "at least 0.5"},
		{"idle too short", func(f *settingsForm) { f.idleMin = "0.2" }, []string{worker.FieldIdleMinutes}, "at least 0.5"},
		{"bad schedule", func(f *settingsForm) { f.schedule = "weekdays 9-5" }, []string{worker.FieldSchedule}, "weekdays"},
		{"good schedule", func(f *settingsForm) { f.schedule = "mon-fri 22:00-08:00; sat,sun 00:00-24:00" }, nil, ""},
		{"negative temperature cap", func(f *settingsForm) { f.tempC = "-5" }, []string{worker.FieldMaxTemp}, "negative"},
		{"fractional temperature", func(f *settingsForm) { f.tempC = "82.5" }, []string{worker.FieldMaxTemp}, "whole degrees"},
		{"negative power cap", func(f *settingsForm) { f.powerW = "-1" }, []string{worker.FieldMaxPower}, "negative"},
		{"power not a number", func(f *settingsForm) { f.powerW = "lots" }, []string{worker.FieldMaxPower}, "not a number of watts"},
		{"negative VRAM reserve", func(f *settingsForm) { f.vramMB = "-1" }, []string{worker.FieldVRAMReserve}, "negative"},
		{"fractional VRAM reserve", func(f *settingsForm) { f.vramMB = "1.5" }, []string{worker.FieldVRAMReserve}, "whole MB"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := good
			tc.change(&f)
			_, bad := parsePolicy(f)
			var got []string
			for k := range bad {
				got = append(got, k)
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.bad) {
				t.Fatalf("rejected %v (%v), want %v", got, bad, tc.bad)
			}
			if len(tc.bad) > 0 && !strings.Contains(bad[tc.bad[0]], tc.says) {
				t.Errorf("problem %q does not say %q", bad[tc.bad[0]], tc.says)
			}
		})
	}
}

func TestSettingsTabValidatesSavesAndReloads(t *testing.T) {
	f := newFakeCore(servingStatus())
	v, _, q := newTestView(t, f)
	s := v.set
	if s.idleEntry.Text != "5" || !s.pauseGPU.Checked || !s.pauseFS.Checked || s.schedEntry.Text != "" || s.logLevel.Selected != "info" {
		t.Fatalf("defaults shown: idle %q gpu %v fs %v schedule %q log %q", s.idleEntry.Text, s.pauseGPU.Checked, s.pauseFS.Checked, s.schedEntry.Text, s.logLevel.Selected)
	}
	if !strings.Contains(s.networkText.Text, "Local test network") {
		t.Errorf("network = %q", s.networkText.Text)
	}

	// Bad values: nothing is saved, each field says why.
	s.idleEntry.SetText("0.1")
	s.schedEntry.SetText("weekdays 9-5")
	s.tempEntry.SetText("-3")
	s.addrEntry.SetText("not-an-address")
	s.tariffEntry.SetText("abc")
	s.currencyEntry.SetText("EUR")
	s.tonPriceEntry.SetText("3")
	if !strings.Contains(s.schedPreview.Text, "weekdays") {
		t.Errorf("schedule preview = %q", s.schedPreview.Text)
	}
	test.Tap(s.saveBtn)
	for _, field := range []string{worker.FieldIdleMinutes, worker.FieldSchedule, worker.FieldMaxTemp, fieldPayout, fieldPerKWh} {
		if m := s.msgs[field]; !m.Visible() || m.Text == "" || m.Importance != widget.DangerImportance {
			t.Errorf("%s: no message (%q)", field, m.Text)
		}
	}
	if m := s.msgs[worker.FieldMaxPower]; m.Visible() {
		t.Errorf("power cap flagged: %q", m.Text)
	}
	if !strings.Contains(s.status.Text, "Nothing was saved: 5 fields") {
		t.Errorf("status = %q", s.status.Text)
	}
	if len(f.policySets) != 0 {
		t.Fatal("saved despite bad fields")
	}

	// Good values: saved through the core, then shown back as the core has them.
	addr := "UQBnpOUoBy7TBuejGYV83KZB-J_qqf7eupIs1XuqjtjpN3W7"
	s.idleEntry.SetText("0.5")
	s.schedEntry.SetText("Mon-Fri 22:00-08:00")
	s.tempEntry.SetText("83")
	s.powerEntry.SetText("320")
	s.vramEntry.SetText("2048")
	s.pauseFS.SetChecked(false)
	s.addrEntry.SetText(addr)
	s.tariffEntry.SetText("0.05")
	s.currencyEntry.SetText("TON") // the price in TON: no TON price needed
	s.logLevel.SetSelected("debug")
	if !s.dirty() {
		t.Error("edits not seen as unsaved")
	}
	s.load(false) // a tab switch must not throw the edits away
	if s.idleEntry.Text != "0.5" {
		t.Fatalf("load(false) replaced an edit: %q", s.idleEntry.Text)
	}
	test.Tap(s.saveBtn)
	q.runUntil(t, "saved", func() bool { return strings.HasPrefix(s.status.Text, "Saved") })
	want := worker.IdleSettings{IdleMinutes: 0.5, PauseOnGPUUse: true, PauseOnFullScreen: false,
		Schedule: "mon,tue,wed,thu,fri 22:00-08:00", MaxTemperatureC: 83, MaxPowerW: 320, VRAMReserveMB: 2048}
	if got := f.IdleSettings(); got != want {
		t.Fatalf("saved policy %+v, want %+v", got, want)
	}
	set := f.Settings()
	if a, err := ton.ParseAddress(set.PayoutAddress, ton.Mainnet); err != nil || a.String() == "" || set.TariffNanoPerKWh != 50_000_000 || set.LogLevel != "debug" {
		t.Fatalf("settings = %+v (%v)", set, err)
	}
	for field, m := range s.msgs {
		if m.Visible() {
			t.Errorf("%s still shows %q", field, m.Text)
		}
	}
	if s.schedEntry.Text != "mon,tue,wed,thu,fri 22:00-08:00" || !strings.Contains(s.schedPreview.Text, "Serves only: mon,tue") {
		t.Errorf("schedule shown back as %q / %q", s.schedEntry.Text, s.schedPreview.Text)
	}
	if s.dirty() {
		t.Error("dirty right after saving")
	}
	if !strings.Contains(s.status.Text, "apply now") || !strings.Contains(s.status.Text, "log level applies the next time") {
		t.Errorf("status = %q", s.status.Text)
	}

	// Revert drops edits.
	s.powerEntry.SetText("999")
	test.Tap(s.revertBtn)
	if s.powerEntry.Text != "320" {
		t.Errorf("revert left %q", s.powerEntry.Text)
	}
}

// The worker's limits (its FieldErrors) land on their field.
func TestSettingsWorkerLimitShownOnField(t *testing.T) {
	f := newFakeCore(servingStatus())
	v, _, _ := newTestView(t, f)
	s := v.set
	s.vramEntry.SetText("999999999") // parses, but the worker's limit rejects it
	test.Tap(s.saveBtn)
	if m := s.msgs[worker.FieldVRAMReserve]; !m.Visible() || !strings.Contains(m.Text, "at most") {
		t.Fatalf("vram message = %q", m.Text)
	}
	if len(f.policySets) != 0 {
		t.Fatal("saved despite the bad field")
	}
}

func TestSettingsStartAtLogin(t *testing.T) {
	cfg := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", cfg)
	v, _, _ := newTestView(t, newFakeCore(servingStatus()))
	s := v.set
	if s.autostart.Checked {
		t.Fatal("start at login must be off by default")
	}
	entry := filepath.Join(cfg, "autostart", "cocoon-desktop.desktop")
	test.Tap(s.autostart)
	if b, err := os.ReadFile(entry); err != nil || !strings.Contains(string(b), "--start") {
		t.Fatalf("after ticking: %v %q", err, b)
	}
	test.Tap(s.autostart)
	if _, err := os.Stat(entry); !os.IsNotExist(err) {
		t.Fatalf("after unticking the entry is still there: %v", err)
	}
}
