package worker

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// The TON/hour estimate is earnings over the most recent serving time: the
// nanoTON credited while serving, divided by the time spent serving, over
// the last EarnRateWindow of serving (not of wall-clock time: hours spent
// stopped or paused neither count nor age it). Serving time is kept in
// slots of earnRateSlot, oldest first, and the oldest go once the rest
// still cover the window. Waiting for jobs counts as serving, so the
// estimate says what sharing earns per hour, demand included; one job adds
// its amount to hours of serving, so it moves the estimate by little.
// The slots are kept in EarnRateFile, so a restart keeps the estimate.
const (
	// EarnRateWindow is how much recent serving time the estimate averages.
	EarnRateWindow = 24 * time.Hour
	// EarnRateMinServing is the least serving time the estimate needs
	// before it is shown (Known): less says little about demand.
	EarnRateMinServing = 15 * time.Minute
	// EarnRateFile holds the slots in the data dir (0600, written atomically).
	EarnRateFile = "earnrate.json"

	earnRateSlot = 15 * time.Minute
	// earnRateLate is how long after serving ends a credit still counts:
	// the receipt of the last job arrives after the pause began.
	earnRateLate = 2 * time.Minute
	// earnRateSaveEvery bounds how often credits rewrite the file while
	// serving; leaving the serving state always writes it.
	earnRateSaveEvery = time.Minute
)

// EarnRate is the TON/hour estimate (see EarnRateWindow).
type EarnRate struct {
	// NanoPerHour is nanoTON earned per hour of serving, over Serving.
	NanoPerHour int64 `json:"nano_per_hour"`
	// Serving is the serving time the estimate covers; Earned what was
	// credited in it.
	Serving time.Duration `json:"serving"`
	Earned  int64         `json:"earned"`
	// Known says enough serving time (EarnRateMinServing) is behind it.
	Known bool `json:"known"`
}

// rateSlot is up to earnRateSlot of serving time and what it earned.
type rateSlot struct {
	ServingMS int64 `json:"serving_ms"`
	Earned    int64 `json:"earned"`
}

// rateFile is EarnRateFile's content.
type rateFile struct {
	Version int        `json:"version"`
	Slots   []rateSlot `json:"slots"`
}

// earnRate tracks serving time and credits; safe for concurrent use.
type earnRate struct {
	mu           sync.Mutex
	path         string // "" : kept in memory only
	now          func() time.Time
	slots        []rateSlot
	servingSince time.Time // zero while not serving
	servedUntil  time.Time // when serving last ended
	savedAt      time.Time
	dirty        bool
}

// openEarnRate reads the slots from path ("" : none). A damaged file is
// set aside (renamed, never deleted) and the estimate starts again.
func openEarnRate(path string, now func() time.Time, log *slog.Logger) *earnRate {
	r := &earnRate{path: path, now: now}
	if path == "" {
		return r
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return r
	}
	var f rateFile
	if err == nil {
		err = json.Unmarshal(b, &f)
	}
	if err == nil {
		err = checkSlots(f.Slots)
	}
	if err != nil {
		aside := path + ".bad"
		log.Warn("earnings estimate unreadable; starting it again", "file", path, "set_aside", aside, "err", err)
		_ = os.Rename(path, aside)
		return r
	}
	r.slots = f.Slots
	return r
}

func checkSlots(slots []rateSlot) error {
	for i, s := range slots {
		if s.ServingMS < 0 || s.ServingMS > earnRateSlot.Milliseconds() || s.Earned < 0 {
			return fmt.Errorf("worker: earnings estimate: slot %d out of range (%d ms, %d nanoTON)", i, s.ServingMS, s.Earned)
		}
	}
	return nil
}

// setServing records that serving started or ended now; an end writes the
// file (the error is the caller's to log: the estimate is not money).
func (r *earnRate) setServing(on bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	switch {
	case on && r.servingSince.IsZero():
		r.servingSince = now
		return nil
	case !on && !r.servingSince.IsZero():
		r.accrueLocked(now)
		r.servingSince, r.servedUntil = time.Time{}, now
		return r.saveLocked(now)
	}
	return nil
}

// credit adds a job's amount if it was earned while serving: a receipt
// fetched again later (a resync, a rebuild) is not this hour's earning.
func (r *earnRate) credit(amount int64, at time.Time) error {
	if amount <= 0 {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	serving := !r.servingSince.IsZero()
	if !serving && now.Sub(r.servedUntil) > earnRateLate {
		return nil
	}
	if now.Sub(at) > earnRateSlot {
		return nil
	}
	r.accrueLocked(now)
	if len(r.slots) == 0 {
		r.slots = append(r.slots, rateSlot{})
	}
	last := &r.slots[len(r.slots)-1]
	if last.Earned > math.MaxInt64-amount {
		last.Earned = math.MaxInt64 // saturates; the estimate is not money
	} else {
		last.Earned += amount
	}
	r.dirty = true
	if now.Sub(r.savedAt) >= earnRateSaveEvery {
		return r.saveLocked(now)
	}
	return nil
}

// accrueLocked moves serving time up to now into the slots.
func (r *earnRate) accrueLocked(now time.Time) {
	if r.servingSince.IsZero() {
		return
	}
	ms := now.Sub(r.servingSince).Milliseconds()
	if ms <= 0 {
		return
	}
	r.servingSince = r.servingSince.Add(time.Duration(ms) * time.Millisecond)
	slot := earnRateSlot.Milliseconds()
	for ms > 0 {
		if len(r.slots) == 0 || r.slots[len(r.slots)-1].ServingMS >= slot {
			r.slots = append(r.slots, rateSlot{})
		}
		last := &r.slots[len(r.slots)-1]
		add := min(ms, slot-last.ServingMS)
		last.ServingMS += add
		ms -= add
	}
	// Drop the oldest slots while the rest still cover the window.
	total := int64(0)
	for _, s := range r.slots {
		total += s.ServingMS
	}
	for len(r.slots) > 1 && total-r.slots[0].ServingMS >= EarnRateWindow.Milliseconds() {
		total -= r.slots[0].ServingMS
		r.slots = r.slots[1:]
	}
	r.dirty = true
}

// estimate is the rate now, the serving in progress included.
func (r *earnRate) estimate() EarnRate {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.accrueLocked(r.now())
	var ms int64
	earned := new(big.Int)
	for _, s := range r.slots {
		ms += s.ServingMS
		earned.Add(earned, big.NewInt(s.Earned))
	}
	e := EarnRate{Serving: time.Duration(ms) * time.Millisecond, Known: time.Duration(ms)*time.Millisecond >= EarnRateMinServing}
	e.Earned = clampInt64(earned)
	if ms > 0 {
		// nano per hour = earned × 3 600 000 / ms, exact, then clamped.
		perHour := new(big.Int).Mul(earned, big.NewInt(time.Hour.Milliseconds()))
		e.NanoPerHour = clampInt64(perHour.Quo(perHour, big.NewInt(ms)))
	}
	return e
}

func clampInt64(n *big.Int) int64 {
	if !n.IsInt64() {
		return math.MaxInt64
	}
	return n.Int64()
}

// save writes the slots now (at shutdown).
func (r *earnRate) save() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	r.accrueLocked(now)
	return r.saveLocked(now)
}

func (r *earnRate) saveLocked(now time.Time) error {
	if r.path == "" || !r.dirty {
		return nil
	}
	b, err := json.Marshal(rateFile{Version: 1, Slots: r.slots})
	if err != nil {
		return fmt.Errorf("worker: save earnings estimate: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(r.path), 0o700); err != nil {
		return fmt.Errorf("worker: save earnings estimate: %w", err)
	}
	tmp := r.path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("worker: save earnings estimate: %w", err)
	}
	if err := os.Rename(tmp, r.path); err != nil {
		return fmt.Errorf("worker: save earnings estimate: %w", err)
	}
	r.savedAt, r.dirty = now, false
	return nil
}

// dataFile is name in the data dir, "" without one (tests: memory only).
func dataFile(dir, name string) string {
	if dir == "" {
		return ""
	}
	return filepath.Join(dir, name)
}
