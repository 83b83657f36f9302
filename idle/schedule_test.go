package idle

import (
	"testing"
	"time"
)

// at returns a local time in the week of Monday 2026-03-02.
func at(day string, hh, mm int) time.Time {
	off := map[string]int{"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}[day]
	return time.Date(2026, 3, 2+off, hh, mm, 0, 0, time.Local)
}

func TestParseSchedule(t *testing.T) {
	type probe struct {
		day    string
		hh, mm int
		want   bool
	}
	cases := []struct {
		name, in, canon string
		probes          []probe
	}{
		{"weeknights crossing midnight and whole weekend", "mon-fri 22:00-08:00; sat,sun 00:00-24:00",
			"mon,tue,wed,thu,fri 22:00-08:00; sat,sun 00:00-24:00", []probe{
				{"mon", 7, 59, false}, // Sunday's window is 00:00-24:00, Monday's starts at 22:00
				{"mon", 21, 59, false}, {"mon", 22, 0, true}, {"tue", 7, 59, true}, {"tue", 8, 0, false},
				{"fri", 23, 0, true}, {"sat", 7, 0, true}, {"sat", 12, 0, true}, {"sun", 23, 59, true},
				{"wed", 12, 0, false},
			}},
		{"friday night runs into saturday", "fri 22:00-08:00", "fri 22:00-08:00", []probe{
			{"fri", 21, 59, false}, {"fri", 22, 0, true}, {"sat", 7, 59, true}, {"sat", 8, 0, false}, {"thu", 23, 0, false},
		}},
		{"sunday night wraps to monday", "Sunday 23:00-01:00", "sun 23:00-01:00", []probe{
			{"sun", 23, 30, true}, {"mon", 0, 59, true}, {"mon", 1, 0, false},
		}},
		{"day range wraps over the weekend, several ranges", "fri-mon 09:00-10:00, 18:00-19:30", "mon,fri,sat,sun 09:00-10:00,18:00-19:30", []probe{
			{"sat", 9, 30, true}, {"mon", 19, 29, true}, {"mon", 19, 30, false}, {"tue", 9, 30, false},
		}},
		{"daily", "daily 01:00-05:00\n", "daily 01:00-05:00", []probe{{"wed", 4, 59, true}, {"wed", 5, 0, false}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := ParseSchedule(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if s.String() != tc.canon {
				t.Errorf("String() = %q, want %q", s, tc.canon)
			}
			for _, p := range tc.probes {
				if got := s.Allows(at(p.day, p.hh, p.mm)); got != p.want {
					t.Errorf("Allows(%s %02d:%02d) = %v, want %v", p.day, p.hh, p.mm, got, p.want)
				}
			}
		})
	}

	for _, bad := range []string{"mon", "22:00-08:00", "xyz 10:00-11:00", "mon 25:00-26:00", "mon 10:00-10:00",
		"mon 24:00-01:00", "mon 10:0-11:00", "mon 10:00", "mon,,tue 10:00-11:00", "mon 10:60-11:00", "mon +1:00-02:00"} {
		if _, err := ParseSchedule(bad); err == nil {
			t.Errorf("ParseSchedule(%q) succeeded, want an error", bad)
		}
	}
	if s, err := ParseSchedule("  ;  "); s != nil || err != nil || !s.Allows(t0) || s.String() != "always" {
		t.Errorf("blank schedule: %v %v", s, err)
	}
}

func TestScheduleNextChange(t *testing.T) {
	s := mustSchedule("fri 22:00-08:00")
	if got, want := s.NextChange(at("wed", 12, 0)), at("fri", 22, 0); !got.Equal(want) {
		t.Errorf("NextChange = %v, want %v", got, want)
	}
	if got, want := s.NextChange(at("fri", 23, 30).Add(15*time.Second)), at("sat", 8, 0); !got.Equal(want) {
		t.Errorf("NextChange = %v, want %v", got, want)
	}
	if got := mustSchedule("daily 00:00-24:00").NextChange(t0); !got.IsZero() {
		t.Errorf("always-on schedule: NextChange = %v, want zero", got)
	}
}

func FuzzParseSchedule(f *testing.F) {
	for _, s := range []string{"mon-fri 22:00-08:00; sat,sun 00:00-24:00", "fri-mon 09:00-10:00,18:00-19:30",
		"daily 00:00-24:00", "sun 23:00-01:00", "", "mon 24:00-01:00", "tue 1:05-2:00\nwed 00:00-00:01"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		s, err := ParseSchedule(in)
		if err != nil || s == nil {
			return
		}
		again, err := ParseSchedule(s.String())
		if err != nil {
			t.Fatalf("canonical form %q of %q does not parse: %v", s, in, err)
		}
		if again.bits != s.bits {
			t.Fatalf("canonical form %q of %q is a different schedule", s, in)
		}
		now := at("wed", 12, 0)
		if next := s.NextChange(now); !next.IsZero() && (!next.After(now) || s.Allows(next) == s.Allows(now)) {
			t.Fatalf("%q: NextChange(%v) = %v does not change Allows", s, now, next)
		}
	})
}
