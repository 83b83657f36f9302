package idle

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

const (
	minutesPerDay  = 24 * 60
	minutesPerWeek = 7 * minutesPerDay
)

// Schedule is a set of weekly windows, in local time and to the minute,
// when serving is allowed. A nil *Schedule allows every time.
type Schedule struct {
	bits [(minutesPerWeek + 63) / 64]uint64 // minute of the week (Sunday 00:00 = 0) → allowed
	text string
}

var dayNames = [7]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// ParseSchedule parses a compact weekly schedule such as
//
//	mon-fri 22:00-08:00; sat,sun 00:00-24:00
//
// Entries are separated by ";" or new lines. Each entry is a day list and
// one or more time ranges separated by ",". Days are mon tue wed thu fri
// sat sun (full names work too), ranges of days ("fri-mon" wraps over the
// weekend), or "daily". A time range is HH:MM-HH:MM with 24:00 allowed as
// an end; a range whose end is before its start crosses midnight and ends
// on the next day ("fri 22:00-08:00" runs Friday 22:00 to Saturday 08:00).
// Case and extra spaces do not matter.
//
// An empty (or all-blank) string returns a nil *Schedule, which allows
// every time.
func ParseSchedule(s string) (*Schedule, error) {
	entries := strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == '\n' })
	sched := &Schedule{}
	var canon []string
	for _, e := range entries {
		e = strings.TrimSpace(strings.ToLower(e))
		if e == "" {
			continue
		}
		fields := strings.Fields(e)
		if len(fields) < 2 {
			return nil, fmt.Errorf("idle: schedule entry %q: want days then times, e.g. \"mon-fri 22:00-08:00\"", e)
		}
		days, err := parseDays(fields[0])
		if err != nil {
			return nil, fmt.Errorf("idle: schedule entry %q: %w", e, err)
		}
		rangesText := strings.Join(fields[1:], "")
		var ranges []string
		for _, r := range strings.Split(rangesText, ",") {
			start, end, err := parseRange(r)
			if err != nil {
				return nil, fmt.Errorf("idle: schedule entry %q: %w", e, err)
			}
			ranges = append(ranges, fmtHM(start)+"-"+fmtHM(end))
			if end <= start {
				end += minutesPerDay // crosses midnight
			}
			for d := range 7 {
				if !days[d] {
					continue
				}
				for m := start; m < end; m++ {
					sched.set((d*minutesPerDay + m) % minutesPerWeek)
				}
			}
		}
		canon = append(canon, fmtDays(days)+" "+strings.Join(ranges, ","))
	}
	if len(canon) == 0 {
		return nil, nil
	}
	sched.text = strings.Join(canon, "; ")
	return sched, nil
}

func parseDays(s string) ([7]bool, error) {
	var days [7]bool
	if s == "daily" || s == "*" {
		for i := range days {
			days[i] = true
		}
		return days, nil
	}
	for _, part := range strings.Split(s, ",") {
		if part == "" {
			return days, fmt.Errorf("empty day in %q", s)
		}
		from, to, isRange := strings.Cut(part, "-")
		a, err := parseDay(from)
		if err != nil {
			return days, err
		}
		b := a
		if isRange {
			if b, err = parseDay(to); err != nil {
				return days, err
			}
		}
		for d := a; ; d = (d + 1) % 7 {
			days[d] = true
			if d == b {
				break
			}
		}
	}
	return days, nil
}

func parseDay(s string) (int, error) {
	full := [7]string{"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"}
	for i, n := range dayNames {
		if s == n || s == full[i] {
			return i, nil
		}
	}
	return 0, fmt.Errorf("unknown day %q (use mon tue wed thu fri sat sun)", s)
}

// parseRange parses "HH:MM-HH:MM" into minutes of the day.
func parseRange(s string) (start, end int, err error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return 0, 0, fmt.Errorf("time range %q: want HH:MM-HH:MM", s)
	}
	if start, err = parseHM(a); err != nil {
		return 0, 0, err
	}
	if end, err = parseHM(b); err != nil {
		return 0, 0, err
	}
	if start == minutesPerDay {
		return 0, 0, fmt.Errorf("time range %q: a window cannot start at 24:00", s)
	}
	if start == end {
		return 0, 0, fmt.Errorf("time range %q is empty (for a whole day write 00:00-24:00)", s)
	}
	return start, end, nil
}

func parseHM(s string) (int, error) {
	h, m, ok := strings.Cut(s, ":")
	if !ok || len(h) < 1 || len(h) > 2 || len(m) != 2 {
		return 0, fmt.Errorf("time %q: want HH:MM", s)
	}
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if err1 != nil || err2 != nil || hh < 0 || mm < 0 || mm > 59 || hh > 24 || (hh == 24 && mm != 0) ||
		h[0] == '+' || h[0] == '-' || m[0] == '+' || m[0] == '-' {
		return 0, fmt.Errorf("time %q: want HH:MM between 00:00 and 24:00", s)
	}
	return hh*60 + mm, nil
}

func fmtHM(m int) string { return fmt.Sprintf("%02d:%02d", m/60, m%60) }

func fmtDays(days [7]bool) string {
	var out []string
	for _, d := range []int{1, 2, 3, 4, 5, 6, 0} { // Monday first
		if days[d] {
			out = append(out, dayNames[d])
		}
	}
	if len(out) == 7 {
		return "daily"
	}
	return strings.Join(out, ",")
}

func (s *Schedule) set(m int)      { s.bits[m/64] |= 1 << (m % 64) }
func (s *Schedule) get(m int) bool { return s.bits[m/64]&(1<<(m%64)) != 0 }

func weekMinute(t time.Time) int {
	t = t.Local()
	return int(t.Weekday())*minutesPerDay + t.Hour()*60 + t.Minute()
}

// Allows reports whether t (taken in local time) falls in a window. A nil
// Schedule allows every time.
func (s *Schedule) Allows(t time.Time) bool {
	if s == nil {
		return true
	}
	return s.get(weekMinute(t))
}

// NextChange returns the first time after t when Allows changes value, to
// the minute (local wall clock; around a DST switch it may be an hour off,
// callers re-check). It returns the zero Time when Allows never changes.
func (s *Schedule) NextChange(t time.Time) time.Time {
	if s == nil {
		return time.Time{}
	}
	m0 := weekMinute(t)
	now := s.get(m0)
	for d := 1; d <= minutesPerWeek; d++ {
		if s.get((m0+d)%minutesPerWeek) != now {
			l := t.Local()
			return time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), l.Minute()+d, 0, 0, time.Local)
		}
	}
	return time.Time{}
}

// String returns the schedule in canonical form (lower case, Monday
// first); ParseSchedule(s.String()) gives the same schedule. A nil
// Schedule is "always".
func (s *Schedule) String() string {
	if s == nil {
		return "always"
	}
	return s.text
}
