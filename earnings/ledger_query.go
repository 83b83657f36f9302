package earnings

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/cocoon-desktop/cocoon-desktop/receipt"
)

// ErrBadCursor means a Jobs cursor is not one Jobs or CursorBefore made.
var ErrBadCursor = errors.New("invalid jobs cursor")

// Job is one credited job, as the history screen and the CSV show it.
type Job struct {
	JobID            string
	Model            string
	Time             time.Time // the signed receipt time (or the credited time if the receipt has none)
	CreditedAt       time.Time // when this ledger stored it (local clock)
	Seq              int64
	PromptTokens     int64
	CompletionTokens int64
	Amount           int64 // nanoTON
	Cumulative       int64 // nanoTON, the signed running total after this job
	EnergyMilliJ     int64 // measured GPU energy; 0 when not measured
	EnergyMeasured   bool
	Receipt          receipt.Signed // the evidence, as received
}

// Net is the job's amount less its electricity cost at t.
func (j Job) Net(t Tariff) int64 { return j.Amount - t.Cost(j.EnergyMilliJ) }

func jobOf(rec ledgerRecord) Job {
	r := rec.Receipt.Receipt
	j := Job{
		JobID: r.JobID, Model: r.Model, Seq: r.Seq,
		Time:         time.UnixMilli(rec.timeMS()),
		CreditedAt:   time.UnixMilli(rec.CreditedAt),
		PromptTokens: r.PromptTokens, CompletionTokens: r.CompletionTokens,
		Amount: r.Amount, Cumulative: r.Cumulative,
		Receipt: rec.Receipt,
	}
	if rec.EnergyMJ != nil {
		j.EnergyMilliJ, j.EnergyMeasured = *rec.EnergyMJ, true
	}
	return j
}

// Cursor is a position in the job history for Jobs; the empty Cursor is
// "the newest job".
type Cursor string

// CursorBefore is the cursor for jobs strictly before t.
func CursorBefore(t time.Time) Cursor { return Cursor(hex.EncodeToString(be64(t.UnixMilli()))) }

// Jobs returns up to limit jobs strictly before the cursor, newest first,
// and the cursor for the next page ("" when there is none). limit ≤ 0 means 50.
// Each page is one index seek plus limit reads.
func (l *Ledger) Jobs(before Cursor, limit int) ([]Job, Cursor, error) {
	if limit <= 0 {
		limit = 50
	}
	var seek []byte
	if before != "" {
		b, err := hex.DecodeString(string(before))
		if err != nil || len(b) < 8 {
			return nil, "", fmt.Errorf("earnings: jobs: %w", ErrBadCursor)
		}
		seek = b
	}
	var out []Job
	var next Cursor
	err := l.view(func(tx *bolt.Tx) error {
		s := newStore(tx)
		tl, err := s.timelineFrom(seek, true)
		if err != nil {
			return err
		}
		for {
			k, v, _, err := tl.next()
			if err != nil || k == nil {
				return err
			}
			if len(out) == limit {
				next = Cursor(hex.EncodeToString(out[len(out)-1].key()))
				return nil
			}
			rec, _, err := s.decode(k, v)
			if err != nil {
				return err
			}
			out = append(out, jobOf(rec))
		}
	})
	if err != nil {
		return nil, "", fmt.Errorf("earnings: jobs: %w", err)
	}
	return out, next, nil
}

func (j Job) key() []byte { return timeKey(j.Time.UnixMilli(), j.JobID) }

// Tariff is the electricity price, as an integer: nanoTON per kWh (convert
// the owner's local price to TON once, when it is set).
type Tariff struct {
	PerKWhNano int64
}

const milliJPerKWh = 3_600_000_000 // 1 kWh = 3.6 MJ

// Cost is the price of energyMilliJ millijoules at the tariff, in nanoTON,
// rounded to the nearest nanoTON. Exact (128-bit intermediate); saturates
// at MaxInt64. Negative inputs cost 0.
func (t Tariff) Cost(energyMilliJ int64) int64 {
	if energyMilliJ <= 0 || t.PerKWhNano <= 0 {
		return 0
	}
	hi, lo := bits.Mul64(uint64(energyMilliJ), uint64(t.PerKWhNano))
	lo, carry := bits.Add64(lo, milliJPerKWh/2, 0)
	hi += carry
	if hi >= milliJPerKWh {
		return math.MaxInt64
	}
	q, _ := bits.Div64(hi, lo, milliJPerKWh)
	if q > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(q)
}

// Period is the length of an Aggregate row.
type Period int

// Periods, aligned to the local calendar of the query's time zone.
const (
	PeriodDay   Period = iota + 1 // local midnight to midnight (23 or 25 hours across DST changes)
	PeriodWeek                    // ISO weeks, Monday 00:00 to Monday 00:00
	PeriodMonth                   // the 1st 00:00 to the next 1st 00:00
)

func (p Period) String() string {
	switch p {
	case PeriodDay:
		return "day"
	case PeriodWeek:
		return "week"
	case PeriodMonth:
		return "month"
	}
	return fmt.Sprintf("Period(%d)", int(p))
}

func (p Period) start(t time.Time) time.Time {
	y, m, d := t.Date()
	switch p {
	case PeriodWeek:
		back := (int(t.Weekday()) + 6) % 7 // days since Monday
		return time.Date(y, m, d-back, 0, 0, 0, 0, t.Location())
	case PeriodMonth:
		return time.Date(y, m, 1, 0, 0, 0, 0, t.Location())
	}
	return time.Date(y, m, d, 0, 0, 0, 0, t.Location())
}

func (p Period) next(start time.Time) time.Time {
	y, m, d := start.Date()
	switch p {
	case PeriodWeek:
		return time.Date(y, m, d+7, 0, 0, 0, 0, start.Location())
	case PeriodMonth:
		return time.Date(y, m+1, 1, 0, 0, 0, 0, start.Location())
	}
	return time.Date(y, m, d+1, 0, 0, 0, 0, start.Location())
}

// JobTotals are the sums over a set of jobs: used by PeriodTotal and ModelTotal.
type JobTotals struct {
	Jobs             int64
	Gross            int64 // nanoTON, the sum of the receipts' amounts
	PromptTokens     int64
	CompletionTokens int64
	EnergyMilliJ     int64 // measured energy of the jobs that have it
	MeteredJobs      int64 // jobs with an energy measurement
}

// EnergyKWh is the energy in kWh, for display.
func (t JobTotals) EnergyKWh() float64 { return float64(t.EnergyMilliJ) / milliJPerKWh }

func (t *JobTotals) add(s aggStats) {
	t.Jobs += s.Jobs
	t.Gross += s.Gross
	t.PromptTokens += s.Prompt
	t.CompletionTokens += s.Completion
	t.EnergyMilliJ += s.EnergyMJ
	t.MeteredJobs += s.Metered
}

// PeriodTotal is one row of Daily or Aggregate.
type PeriodTotal struct {
	Start, End time.Time // [Start, End) in the query's time zone
	JobTotals
	ElectricityCost int64 // nanoTON: EnergyMilliJ at the tariff
	Net             int64 // Gross − ElectricityCost (may be negative)
}

// DayTotal is a PeriodTotal of one local day.
type DayTotal = PeriodTotal

// ModelTotal is one row of ByModel.
type ModelTotal struct {
	Model string
	JobTotals
}

// Daily is Aggregate(PeriodDay, from, to, tariff).
func (l *Ledger) Daily(from, to time.Time, tariff Tariff) ([]DayTotal, error) {
	return l.Aggregate(PeriodDay, from, to, tariff)
}

// Aggregate returns one row per period (day, week, month in from's time zone)
// that overlaps [from, to), oldest first, including periods without jobs.
// Each row covers its whole period. The cost is O(rows × 96 + models) index
// reads: it reads the quarter-hour aggregates, never the jobs (except at
// the edges of a range that does not fall on quarter hours).
func (l *Ledger) Aggregate(p Period, from, to time.Time, tariff Tariff) ([]PeriodTotal, error) {
	if p < PeriodDay || p > PeriodMonth {
		return nil, fmt.Errorf("earnings: aggregate: unknown period %d", int(p))
	}
	if !to.After(from) {
		return nil, nil
	}
	to = to.In(from.Location())
	var out []PeriodTotal
	err := l.view(func(tx *bolt.Tx) error {
		for s := p.start(from); s.Before(to); s = p.next(s) {
			e := p.next(s)
			var row PeriodTotal
			row.Start, row.End = s, e
			err := sumRange(tx, s.UnixMilli(), e.UnixMilli(), func(_ []byte, st aggStats) { row.add(st) })
			if err != nil {
				return err
			}
			row.ElectricityCost = tariff.Cost(row.EnergyMilliJ)
			row.Net = row.Gross - row.ElectricityCost
			out = append(out, row)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("earnings: aggregate: %w", err)
	}
	return out, nil
}

// ByModel returns the totals per model of the jobs in [from, to) (exact to
// the millisecond), highest gross first.
func (l *Ledger) ByModel(from, to time.Time) ([]ModelTotal, error) {
	per := map[string]*JobTotals{}
	err := l.view(func(tx *bolt.Tx) error {
		return sumRange(tx, from.UnixMilli(), to.UnixMilli(), func(model []byte, s aggStats) {
			t := per[string(model)] // no copy for the lookup
			if t == nil {
				t = &JobTotals{}
				per[string(model)] = t
			}
			t.add(s)
		})
	})
	if err != nil {
		return nil, fmt.Errorf("earnings: by model: %w", err)
	}
	out := make([]ModelTotal, 0, len(per))
	for m, t := range per {
		out = append(out, ModelTotal{Model: m, JobTotals: *t})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Gross != out[j].Gross {
			return out[i].Gross > out[j].Gross
		}
		return out[i].Model < out[j].Model
	})
	return out, nil
}

// sumRange feeds add the per-model stats of the jobs in [fromMS, toMS): the
// whole quarter-hours from the aggregate bucket, the partial quarter-hours at
// either edge from the jobs themselves. The model is only valid during the
// call (it may point into the file).
func sumRange(tx *bolt.Tx, fromMS, toMS int64, add func(model []byte, s aggStats)) error {
	if fromMS < 0 {
		fromMS = 0
	}
	if toMS <= fromMS {
		return nil
	}
	q0 := floorDiv(fromMS+quarterMS-1, quarterMS) // first whole quarter
	q1 := floorDiv(toMS, quarterMS)               // end of the whole quarters
	if q0 >= q1 {
		return scanJobs(tx, fromMS, toMS, add)
	}
	if err := scanJobs(tx, fromMS, q0*quarterMS, add); err != nil {
		return err
	}
	c := tx.Bucket(bucketAgg).Cursor()
	end := be64(q1)
	for k, v := c.Seek(be64(q0)); k != nil && bytes.Compare(k[:8], end) < 0; k, v = c.Next() {
		st, err := decodeAgg(v)
		if err != nil {
			return fmt.Errorf("quarter %d model %q: %w", beInt(k), k[8:], err)
		}
		add(k[8:], st)
	}
	return scanJobs(tx, q1*quarterMS, toMS, add)
}

// scanJobs feeds add each job in [fromMS, toMS), in time order.
func scanJobs(tx *bolt.Tx, fromMS, toMS int64, add func(model []byte, s aggStats)) error {
	if toMS <= fromMS {
		return nil
	}
	s := newStore(tx)
	tl, err := s.timelineFrom(be64(fromMS), false)
	if err != nil {
		return err
	}
	end := be64(toMS)
	for {
		k, v, okey, err := tl.next()
		if err != nil || k == nil || bytes.Compare(okey[:8], end) >= 0 {
			return err
		}
		rec, _, err := s.decode(k, v)
		if err != nil {
			return err
		}
		add([]byte(rec.Receipt.Receipt.Model), statsOf(&rec))
	}
}

// Gap is a run of receipts the ledger never received.
type Gap struct {
	FromSeq, ToSeq int64 // inclusive
	// Missing is the nanoTON those receipts carry, known from the signed
	// cumulative totals around the gap. It is part of Earned already.
	Missing int64
}

// Gaps returns the recorded gaps, lowest seq first.
func (l *Ledger) Gaps() ([]Gap, error) {
	var out []Gap
	err := l.view(func(tx *bolt.Tx) error {
		s := newStore(tx)
		return tx.Bucket(bucketGaps).ForEach(func(k, v []byte) error {
			g := Gap{FromSeq: beInt(k), ToSeq: beInt(v)}
			lo := int64(0)
			if g.FromSeq > 1 {
				rec, _, ok, err := s.get(g.FromSeq - 1)
				if err != nil {
					return err
				}
				if ok {
					lo = rec.Receipt.Receipt.Cumulative
				}
			}
			hi, _, ok, err := s.get(g.ToSeq + 1)
			if err != nil {
				return err
			}
			if ok {
				g.Missing = hi.Receipt.Receipt.Cumulative - hi.Receipt.Receipt.Amount - lo
			}
			out = append(out, g)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("earnings: gaps: %w", err)
	}
	return out, nil
}
