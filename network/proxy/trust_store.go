package proxy

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
	"unicode"

	bolt "go.etcd.io/bbolt"

	"github.com/cocoon-desktop/cocoon-desktop/network"
)

// The trust record in the store: what the proxy knows of each worker's
// honesty (docs/trust.md), and the credits it holds back.

var (
	bktTrust            = []byte("trust")             // worker id → TrustRecord JSON
	bktTrustQuarantined = []byte("trust_quarantined") // worker id → "" while quarantined
)

// Limits of a trust record, so that it stays small however long a worker
// misbehaves or earns.
const (
	// maxTrustEvents is how many of the latest failures a record keeps as
	// evidence; enough to hold every failure that counts toward the largest
	// quarantine_after (16 at half a point each).
	maxTrustEvents = 32
	// maxTrustHolds bounds the held credits kept apart; past it the two
	// earliest merge into the later release time (holding longer, never less).
	maxTrustHolds = 256
	// maxEvidence bounds an event's words.
	maxEvidence = 200
)

// Kinds of TrustEvent.
const (
	EventCanaryFailed = "canary_failed"
	EventStrike       = "strike"
	EventOverClaim    = "over_claim"  // a token count over the proxy's own plus the tolerance
	EventQuarantined  = "quarantined" // points reached quarantine_after
	EventReleased     = "released"    // an operator lifted the quarantine
)

// TrustStore is the trust part of Store. Each method is one transaction.
type TrustStore interface {
	// Trust returns a worker's trust record; ok is false when the worker has
	// none yet (it is new, with nothing held).
	Trust(ctx context.Context, workerID string) (rec TrustRecord, ok bool, err error)
	// UpdateTrust runs f on the worker's record (a fresh one, WorkerID set,
	// when it has none) and stores the result, in one transaction; an
	// error from f changes nothing.
	UpdateTrust(ctx context.Context, workerID string, f func(*TrustRecord) error) (TrustRecord, error)
	// WorkerTrust reads the worker's balance (as Balance does) and its
	// trust record in one transaction, so held money and the balance agree.
	WorkerTrust(ctx context.Context, workerID string) (network.Balance, TrustRecord, error)
	// QuarantinedWorkers returns the records of every quarantined worker.
	QuarantinedWorkers(ctx context.Context) ([]TrustRecord, error)
}

// TrustRecord is one worker's trust record. Counters saturate at MaxInt64
// rather than fail: statistics never abort a write.
type TrustRecord struct {
	WorkerID string `json:"worker_id"`
	// Level is network.TrustNew (also ""), TrustTrusted or TrustQuarantined
	// as stored; the operator's trusted_workers list raises new to trusted
	// when read (TrustConfig.level).
	Level      string    `json:"level,omitempty"`
	LevelSince time.Time `json:"level_since,omitzero"`

	CanariesPassed int64 `json:"canaries_passed,omitempty"`
	CanariesFailed int64 `json:"canaries_failed,omitempty"`
	// Disagreements counts every job whose claimed token count differed
	// from the proxy's (either way); OverClaims those over the proxy's count
	// plus the tolerance (billed < claimed). WorstRatioMilli is the largest
	// claimed/counted × 1000 seen.
	Disagreements   int64 `json:"disagreements,omitempty"`
	OverClaims      int64 `json:"over_claims,omitempty"`
	WorstRatioMilli int64 `json:"worst_ratio_milli,omitempty"`
	Strikes         int64 `json:"strikes,omitempty"`
	// Releases counts the quarantines an operator lifted; CountFrom is the
	// last one: failures before it no longer count toward quarantine.
	Releases  int64     `json:"releases,omitempty"`
	CountFrom time.Time `json:"count_from,omitzero"`
	// Events are the latest failures (and quarantines, releases), oldest
	// first: the evidence shown to the operator.
	Events []TrustEvent `json:"events,omitempty"`
	// Holds are the held credits not yet released, by release time.
	Holds []TrustHold `json:"holds,omitempty"`
	// Day (days since 1970-01-01 UTC) and EarnedToday: a new worker's
	// credits that day, for the daily cap.
	Day         int64 `json:"day,omitempty"`
	EarnedToday int64 `json:"earned_today,omitempty"`
}

// TrustEvent is one piece of evidence: short words and numbers, never
// prompt or completion text.
type TrustEvent struct {
	Time     time.Time `json:"time"`
	Kind     string    `json:"kind"` // Event*
	JobID    string    `json:"job_id,omitempty"`
	Points   int64     `json:"half_points,omitempty"` // toward quarantine, in half failures
	Evidence string    `json:"evidence,omitempty"`
}

// TrustHold is credited nanoTON that cannot be paid out before Until.
type TrustHold struct {
	Until  time.Time `json:"until"`
	Amount int64     `json:"amount"`
}

// JobHold is what crediting a job adds to the worker's trust record, in
// RecordJob's transaction (zero: nothing, the worker is trusted).
type JobHold struct {
	Now   time.Time // the proxy's clock at the credit (the day it counts toward)
	Until time.Time // hold the amount until then; zero: not held
	Daily bool      // count the amount toward today's cap
}

func (h JobHold) isZero() bool { return h.Until.IsZero() && !h.Daily }

// satAdd adds without overflow, saturating at the int64 bounds.
func satAdd(a, b int64) int64 {
	if b > 0 && a > math.MaxInt64-b {
		return math.MaxInt64
	}
	if b < 0 && a < math.MinInt64-b {
		return math.MinInt64
	}
	return a + b
}

// unixDay is the UTC day number of t.
func unixDay(t time.Time) int64 {
	s := t.Unix()
	d := s / 86400
	if s%86400 < 0 {
		d--
	}
	return d
}

// HeldAt is the nanoTON held at now by the record's holds (quarantine
// aside; see TrustConfig.standing), saturating.
func (r *TrustRecord) HeldAt(now time.Time) int64 {
	var held int64
	for _, h := range r.Holds {
		if h.Until.After(now) {
			held = satAdd(held, h.Amount)
		}
	}
	return held
}

// heldUntil is when the last hold releases (zero: nothing held at now).
func (r *TrustRecord) heldUntil(now time.Time) time.Time {
	var last time.Time
	for _, h := range r.Holds {
		if h.Until.After(now) && h.Until.After(last) {
			last = h.Until
		}
	}
	return last
}

// nextRelease is the earliest hold after now (zero: none).
func (r *TrustRecord) nextRelease(now time.Time) time.Time {
	var next time.Time
	for _, h := range r.Holds {
		if h.Until.After(now) && (next.IsZero() || h.Until.Before(next)) {
			next = h.Until
		}
	}
	return next
}

// hold adds amount released at until, merging with a hold of the same time.
func (r *TrustRecord) hold(amount int64, until time.Time) {
	if amount <= 0 {
		return
	}
	i := sort.Search(len(r.Holds), func(i int) bool { return !r.Holds[i].Until.Before(until) })
	if i < len(r.Holds) && r.Holds[i].Until.Equal(until) {
		r.Holds[i].Amount = satAdd(r.Holds[i].Amount, amount)
		return
	}
	r.Holds = append(r.Holds, TrustHold{})
	copy(r.Holds[i+1:], r.Holds[i:])
	r.Holds[i] = TrustHold{Until: until.UTC(), Amount: amount}
	for len(r.Holds) > maxTrustHolds {
		r.Holds[1].Amount = satAdd(r.Holds[1].Amount, r.Holds[0].Amount)
		r.Holds = r.Holds[1:]
	}
}

// pruneHolds forgets holds released by now.
func (r *TrustRecord) pruneHolds(now time.Time) {
	kept := r.Holds[:0]
	for _, h := range r.Holds {
		if h.Until.After(now) {
			kept = append(kept, h)
		}
	}
	r.Holds = kept
	if len(r.Holds) == 0 {
		r.Holds = nil
	}
}

// addEvent appends evidence, keeping the latest maxTrustEvents.
func (r *TrustRecord) addEvent(e TrustEvent) {
	e.Time = e.Time.UTC()
	e.Evidence = cleanEvidence(e.Evidence)
	if len(e.JobID) > network.MaxJobIDLength {
		e.JobID = e.JobID[:network.MaxJobIDLength]
	}
	e.JobID = strings.ToValidUTF8(e.JobID, "?")
	r.Events = append(r.Events, e)
	if n := len(r.Events) - maxTrustEvents; n > 0 {
		r.Events = append([]TrustEvent(nil), r.Events[n:]...)
	}
}

// failurePoints sums the half points of failures within the window
// (now − window or later) and after the last release.
func (r *TrustRecord) failurePoints(now time.Time, window time.Duration) int64 {
	from := now.Add(-window)
	var pts int64
	for _, e := range r.Events {
		if e.Points > 0 && !e.Time.Before(from) && e.Time.After(r.CountFrom) {
			pts = satAdd(pts, e.Points)
		}
	}
	return pts
}

// cleanEvidence keeps evidence to one short line of printable text.
func cleanEvidence(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
	return truncateStr(strings.TrimSpace(s), maxEvidence)
}

// trustCredit applies a credited job's hold and daily count to its worker's
// trust record, inside RecordJob's transaction: a credit never exists
// without its hold. Only a corrupt record fails it; sums saturate.
func trustCredit(tx *bolt.Tx, j JobRecord) error {
	if j.Hold.isZero() {
		return nil
	}
	b := tx.Bucket(bktTrust)
	var r TrustRecord
	if _, err := getJSON(b, []byte(j.WorkerID), &r); err != nil {
		return err
	}
	r.WorkerID = j.WorkerID
	r.pruneHolds(j.Hold.Now)
	if !j.Hold.Until.IsZero() && j.Hold.Until.After(j.Hold.Now) {
		r.hold(j.Amount, j.Hold.Until)
	}
	if j.Hold.Daily {
		if d := unixDay(j.Hold.Now); d != r.Day {
			r.Day, r.EarnedToday = d, 0
		}
		r.EarnedToday = satAdd(r.EarnedToday, j.Amount)
	}
	return putJSON(b, []byte(j.WorkerID), r)
}

// heldInTx is the worker's held nanoTON at now, within a transaction: all
// of unpaid when quarantined, else its unreleased holds (at most unpaid).
func heldInTx(tx *bolt.Tx, workerID string, unpaid int64, now time.Time) (int64, error) {
	var r TrustRecord
	if _, err := getJSON(tx.Bucket(bktTrust), []byte(workerID), &r); err != nil {
		return 0, err
	}
	return r.held(now, unpaid), nil
}

// held is the nanoTON of unpaid held at now.
func (r *TrustRecord) held(now time.Time, unpaid int64) int64 {
	if unpaid <= 0 {
		return 0
	}
	if r.Level == network.TrustQuarantined {
		return unpaid
	}
	return min(r.HeldAt(now), unpaid)
}

// clock is the store's time for hold checks (a test seam; see SetClock).
func (s *BoltStore) clock() time.Time {
	if s.now != nil {
		return s.now()
	}
	return time.Now()
}

// Trust implements TrustStore.
func (s *BoltStore) Trust(ctx context.Context, workerID string) (TrustRecord, bool, error) {
	var r TrustRecord
	var ok bool
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		ok, err = getJSON(tx.Bucket(bktTrust), []byte(workerID), &r)
		return err
	})
	return r, ok, err
}

// UpdateTrust implements TrustStore.
func (s *BoltStore) UpdateTrust(ctx context.Context, workerID string, f func(*TrustRecord) error) (TrustRecord, error) {
	if workerID == "" {
		return TrustRecord{}, errors.New("proxy store: empty worker id")
	}
	var out TrustRecord
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bktTrust)
		var r TrustRecord
		if _, err := getJSON(b, []byte(workerID), &r); err != nil {
			return err
		}
		r.WorkerID = workerID
		if err := f(&r); err != nil {
			return err
		}
		switch r.Level {
		case "", network.TrustNew, network.TrustTrusted, network.TrustQuarantined:
		default:
			return fmt.Errorf("proxy store: trust level %q", truncateStr(r.Level, 32))
		}
		r.WorkerID = workerID
		if err := putJSON(b, []byte(workerID), r); err != nil {
			return err
		}
		qb := tx.Bucket(bktTrustQuarantined)
		var err error
		if r.Level == network.TrustQuarantined {
			err = qb.Put([]byte(workerID), nil)
		} else {
			err = qb.Delete([]byte(workerID))
		}
		out = r
		return err
	})
	if err != nil {
		return TrustRecord{}, fmt.Errorf("proxy store: trust of %s: %w", truncateStr(workerID, 16), err)
	}
	return out, nil
}

// WorkerTrust implements TrustStore.
func (s *BoltStore) WorkerTrust(ctx context.Context, workerID string) (network.Balance, TrustRecord, error) {
	var w WorkerRecord
	var r TrustRecord
	err := s.db.View(func(tx *bolt.Tx) error {
		if _, err := getJSON(tx.Bucket(bktWorkers), []byte(workerID), &w); err != nil {
			return err
		}
		_, err := getJSON(tx.Bucket(bktTrust), []byte(workerID), &r)
		return err
	})
	r.WorkerID = workerID
	return network.Balance{Cumulative: w.Cumulative, LastSeq: w.LastSeq, Paid: w.Paid, Pending: w.Pending}, r, err
}

// QuarantinedWorkers implements TrustStore.
func (s *BoltStore) QuarantinedWorkers(ctx context.Context) ([]TrustRecord, error) {
	var out []TrustRecord
	err := s.db.View(func(tx *bolt.Tx) error {
		tb := tx.Bucket(bktTrust)
		return tx.Bucket(bktTrustQuarantined).ForEach(func(k, _ []byte) error {
			var r TrustRecord
			ok, err := getJSON(tb, k, &r)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("proxy store: quarantined worker %q indexed but has no record", k)
			}
			out = append(out, r)
			return nil
		})
	})
	return out, err
}
