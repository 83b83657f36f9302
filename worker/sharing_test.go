package worker

import (
	"testing"
	"time"
)

// TestSharingRemembered: Start, Start now and Pause for record that sharing
// is on (a pause with its end), Stop records that it is off, and Unload (a
// shutdown) records nothing; a new core on the data dir reads the same.
func TestSharingRemembered(t *testing.T) {
	var dir string
	c := startCore(t, func(cfg *Config) { dir = cfg.DataDir })
	ctx := testCtx(t)
	if err := c.WaitModels(ctx); err != nil {
		t.Fatal(err)
	}
	saved := func() Settings {
		s, err := LoadSettings(dir)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	steps := []struct {
		name     string
		do       func() error
		sharing  bool
		paused   bool // a pause end is saved
		unloaded bool
	}{
		{"start", func() error { return c.Start(ctx) }, true, false, false},
		{"pause for an hour", func() error { return c.PauseFor(ctx, time.Hour) }, true, true, false},
		{"start now ends the pause", func() error { return c.StartNow(ctx) }, true, false, false},
		{"unload for a shutdown keeps it", func() error { return c.Unload(ctx) }, true, false, true},
		{"stop", func() error { return c.Stop(ctx) }, false, false, false},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		got := saved()
		if got.Sharing != s.sharing || (got.PausedUntilMS > 0) != s.paused {
			t.Fatalf("%s: saved sharing %v, paused until %d", s.name, got.Sharing, got.PausedUntilMS)
		}
		if s.paused {
			if left := time.Until(time.UnixMilli(got.PausedUntilMS)); left < 59*time.Minute || left > time.Hour {
				t.Fatalf("%s: the pause ends in %v", s.name, left)
			}
		}
	}
}

func TestResumeSharing(t *testing.T) {
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		s     Settings
		start bool
		pause time.Duration
	}{
		{"never shared", Settings{}, false, 0},
		{"stopped by the owner", Settings{Sharing: false, PausedUntilMS: now.Add(time.Hour).UnixMilli()}, false, 0},
		{"left sharing on", Settings{Sharing: true}, true, 0},
		{"paused, 20 min left", Settings{Sharing: true, PausedUntilMS: now.Add(20 * time.Minute).UnixMilli()}, true, 20 * time.Minute},
		{"a pause that ended while off", Settings{Sharing: true, PausedUntilMS: now.Add(-time.Minute).UnixMilli()}, true, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start, pause := ResumeSharing(tc.s, now)
			if start != tc.start || pause != tc.pause {
				t.Fatalf("ResumeSharing = %v, %v; want %v, %v", start, pause, tc.start, tc.pause)
			}
		})
	}
}
