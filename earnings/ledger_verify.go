package earnings

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"sync"

	bolt "go.etcd.io/bbolt"

	"github.com/cocoon-desktop/cocoon-desktop/receipt"
)

// Problem kinds in a Report.
const (
	ProblemRecord    = "record"    // a stored record cannot be read, or its key does not match it
	ProblemSignature = "signature" // the proxy signature does not verify
	ProblemAmount    = "amount"    // the amount does not match the receipt's factors
	ProblemWorker    = "worker"    // a receipt for another worker
	ProblemChain     = "chain"     // cumulative totals do not chain by seq, or a seq is stored twice
	ProblemIndex     = "index"     // an index entry is missing, extra or wrong
	ProblemGap       = "gap"       // the recorded gaps differ from the gaps in the chain
	ProblemTotals    = "totals"    // a stored running total differs from the sum of the records
	ProblemAggregate = "aggregate" // a quarter-hour aggregate differs from its jobs
	ProblemPayout    = "payout"    // a payout record or its totals are wrong
)

// maxProblems bounds Report.Problems; Report.More counts the rest.
const maxProblems = 100

// Problem is one inconsistency Verify found.
type Problem struct {
	Kind   string
	JobID  string // when it is about one job
	Seq    int64  // when it is about one receipt
	Detail string
}

func (p Problem) String() string {
	s := p.Kind
	if p.JobID != "" {
		s += " job " + p.JobID
	}
	if p.Seq != 0 {
		s += fmt.Sprintf(" seq %d", p.Seq)
	}
	return s + ": " + p.Detail
}

// Report is what Verify found.
type Report struct {
	Jobs    int64 // receipts checked
	Payouts int64
	Pinned  bool  // signatures were checked against Options.ProxyKey (else against each receipt's own key)
	Gaps    []Gap // seqs missing from the chain, with the nanoTON they carry
	// Problems are the inconsistencies, per-receipt ones by seq first, then
	// the totals; at most 100, More counts the rest.
	Problems []Problem
	More     int
}

// OK reports whether no inconsistency was found (gaps are not inconsistencies).
func (r Report) OK() bool { return len(r.Problems) == 0 }

// First is the first inconsistency, or nil.
func (r Report) First() *Problem {
	if len(r.Problems) == 0 {
		return nil
	}
	return &r.Problems[0]
}

// Verify re-checks the whole ledger offline, in one read transaction:
// every stored receipt's signature (against Options.ProxyKey; without one,
// against the key in the receipt) and amount, that each receipt is this
// worker's, that the cumulative totals chain by seq, that the indexes, the
// gaps, the quarter-hour aggregates and the running totals match the records,
// and that the payout totals match the payouts. Inconsistencies are
// in the Report; the error is for failing to read the file.
func (l *Ledger) Verify() (Report, error) {
	var rep Report
	var problems []Problem
	add := func(p Problem) { problems = append(problems, p) }
	err := l.view(func(tx *bolt.Tx) error {
		rep.Pinned = len(l.opts.ProxyKey) > 0
		meta := tx.Bucket(bucketMeta)
		bal := readBalance(meta)
		wantWorker := bal.WorkerID
		if l.opts.WorkerID != "" {
			wantWorker = l.opts.WorkerID
		}

		// Signatures are the slow part: check them on every core.
		sigs := make(chan receipt.Signed, 256)
		var mu sync.Mutex
		var sigProblems []Problem
		var wg sync.WaitGroup
		for range runtime.GOMAXPROCS(0) {
			wg.Go(func() {
				for s := range sigs {
					key := l.opts.ProxyKey
					if len(key) == 0 {
						key = s.ProxyKey
					}
					if err := verifySigned(s, key); err != nil {
						kind := ProblemSignature
						if !isSigErr(err) {
							kind = ProblemAmount
						}
						mu.Lock()
						sigProblems = append(sigProblems, Problem{Kind: kind, JobID: s.Receipt.JobID, Seq: s.Receipt.Seq, Detail: err.Error()})
						mu.Unlock()
					}
				}
			})
		}

		st := newStore(tx)
		aggs := map[string]aggStats{}
		var sumAmount, sumEnergy, strays int64
		prevSeq, prevCum := int64(0), int64(0)
		var gaps []Gap
		var prevOrder []byte // the time key of the last in-order record
		orderLast := int64(0)
		err := st.recs.ForEach(func(k, v []byte) error {
			rep.Jobs++
			rec, h, err := st.decode(k, v)
			if err != nil {
				add(Problem{Kind: ProblemRecord, JobID: h.jobID, Seq: beInt(k), Detail: fmt.Sprintf("cannot read the record: %v", err)})
				return nil
			}
			r := rec.Receipt.Receipt
			sigs <- rec.Receipt
			if wantWorker != "" && r.WorkerID != wantWorker {
				add(Problem{Kind: ProblemWorker, JobID: r.JobID, Seq: r.Seq, Detail: fmt.Sprintf("receipt is for worker %q, ledger is %q", r.WorkerID, wantWorker)})
			}
			// Indexes.
			if seqs, err := st.findJob(r.JobID); err != nil {
				add(Problem{Kind: ProblemIndex, JobID: r.JobID, Seq: r.Seq, Detail: fmt.Sprintf("job id index: %v", err)})
			} else if len(seqs) != 1 || seqs[0] != r.Seq {
				add(Problem{Kind: ProblemIndex, JobID: r.JobID, Seq: r.Seq, Detail: fmt.Sprintf("job id index does not point at this record alone (it names seqs %v)", seqs)})
			}
			okey := h.orderKey()
			switch {
			case h.stray():
				strays++
				if got := st.strays.Get(okey); got == nil || beInt(got) != r.Seq {
					add(Problem{Kind: ProblemIndex, JobID: r.JobID, Seq: r.Seq, Detail: "time index has no entry for this record"})
				}
			case r.Seq < 1 || prevOrder != nil && bytes.Compare(okey, prevOrder) <= 0:
				add(Problem{Kind: ProblemIndex, JobID: r.JobID, Seq: r.Seq, Detail: "record out of time order is not in the time index"})
			default:
				prevOrder, orderLast = okey, r.Seq
			}
			// The chain, in seq order (the bucket is keyed by seq).
			switch {
			case r.Seq == prevSeq:
				add(Problem{Kind: ProblemChain, JobID: r.JobID, Seq: r.Seq, Detail: "another receipt has the same seq"})
			case r.Seq == prevSeq+1:
				if r.Cumulative != prevCum+r.Amount {
					add(Problem{Kind: ProblemChain, JobID: r.JobID, Seq: r.Seq, Detail: fmt.Sprintf("cumulative %d ≠ previous %d + amount %d", r.Cumulative, prevCum, r.Amount)})
				}
			case r.Seq > prevSeq+1:
				g := Gap{FromSeq: prevSeq + 1, ToSeq: r.Seq - 1, Missing: r.Cumulative - r.Amount - prevCum}
				gaps = append(gaps, g)
				if g.Missing < 0 {
					add(Problem{Kind: ProblemChain, JobID: r.JobID, Seq: r.Seq, Detail: fmt.Sprintf("cumulative %d goes backwards after seq %d's %d", r.Cumulative, prevSeq, prevCum)})
				}
			}
			prevSeq, prevCum = r.Seq, r.Cumulative
			sumAmount += r.Amount
			if rec.EnergyMJ != nil {
				sumEnergy += *rec.EnergyMJ
			}
			ak := string(aggKey(rec.timeMS(), r.Model))
			s := aggs[ak]
			s.add(statsOf(&rec))
			aggs[ak] = s
			return nil
		})
		close(sigs)
		wg.Wait()
		if err != nil {
			return err
		}
		problems = append(sigProblems, problems...)
		sort.SliceStable(problems, func(i, j int) bool { return problems[i].Seq < problems[j].Seq })
		rep.Gaps = gaps

		// Index sizes: entries that point at nothing.
		if n, err := st.indexEntries(); err != nil {
			add(Problem{Kind: ProblemIndex, Detail: fmt.Sprintf("job id index: %v", err)})
		} else if n != rep.Jobs {
			add(Problem{Kind: ProblemIndex, Detail: fmt.Sprintf("job id index has %d entries for %d records", n, rep.Jobs)})
		}
		if n := int64(st.strays.Stats().KeyN); n != strays {
			add(Problem{Kind: ProblemIndex, Detail: fmt.Sprintf("time index has %d entries for %d records out of time order", n, strays)})
		}
		if n := getI64(meta, metaOrderLast); n != orderLast {
			add(Problem{Kind: ProblemIndex, Detail: fmt.Sprintf("stored last seq in time order %d, the records give %d", n, orderLast)})
		}
		// Recorded gaps.
		var recorded []Gap
		_ = tx.Bucket(bucketGaps).ForEach(func(k, v []byte) error {
			recorded = append(recorded, Gap{FromSeq: beInt(k), ToSeq: beInt(v)})
			return nil
		})
		if !sameGaps(recorded, gaps) {
			add(Problem{Kind: ProblemGap, Detail: fmt.Sprintf("recorded gaps %v, the chain has %v", gapRanges(recorded), gapRanges(gaps))})
		}
		// Aggregates.
		seen := 0
		_ = tx.Bucket(bucketAgg).ForEach(func(k, v []byte) error {
			want, ok := aggs[string(k)]
			if ok {
				seen++
			}
			if got, err := decodeAgg(v); err != nil {
				add(Problem{Kind: ProblemAggregate, Detail: fmt.Sprintf("quarter %d model %q: %v", beInt(k), k[8:], err)})
			} else if got != want {
				add(Problem{Kind: ProblemAggregate, Detail: fmt.Sprintf("quarter %d model %q: stored %+v, jobs sum to %+v", beInt(k), k[8:], got, want)})
			}
			return nil
		})
		if seen != len(aggs) {
			add(Problem{Kind: ProblemAggregate, Detail: fmt.Sprintf("%d quarter-hour aggregates are missing", len(aggs)-seen)})
		}
		// Totals.
		check := func(name string, stored, want int64) {
			if stored != want {
				add(Problem{Kind: ProblemTotals, Detail: fmt.Sprintf("stored %s %d, the records give %d", name, stored, want)})
			}
		}
		check("job count", bal.Jobs, rep.Jobs)
		check("credited sum", bal.Credited, sumAmount)
		check("energy", bal.EnergyMilliJ, sumEnergy)
		check("last seq", bal.LastSeq, prevSeq)
		check("earned (latest cumulative)", bal.Earned, prevCum)
		if n := rejectCount(tx); n > 0 {
			add(Problem{Kind: ProblemRecord, Detail: fmt.Sprintf("%d old receipts could not be read during migration (kept in %s)", n, bucketRejects)})
		}
		// Payouts.
		var paidOut, pending int64
		wbt := tx.Bucket(bucketPayoutsByTime)
		_ = tx.Bucket(bucketPayouts).ForEach(func(k, v []byte) error {
			rep.Payouts++
			var w Payout
			if err := json.Unmarshal(v, &w); err != nil || w.ID != string(k) {
				add(Problem{Kind: ProblemPayout, Detail: fmt.Sprintf("payout %q cannot be read (%v)", k, err)})
				return nil
			}
			switch w.State {
			case PayoutConfirmed:
				paidOut += w.Amount
			case PayoutPending, PayoutSent:
				pending += w.Amount
			case PayoutFailed:
			default:
				add(Problem{Kind: ProblemPayout, Detail: fmt.Sprintf("payout %s has unknown state %q", w.ID, w.State)})
			}
			if wbt.Get(timeKey(w.Created.UnixMilli(), w.ID)) == nil {
				add(Problem{Kind: ProblemIndex, Detail: fmt.Sprintf("payout %s is not in the time index", w.ID)})
			}
			return nil
		})
		if n := int64(wbt.Stats().KeyN); n != rep.Payouts {
			add(Problem{Kind: ProblemIndex, Detail: fmt.Sprintf("payout time index has %d entries for %d payouts", n, rep.Payouts)})
		}
		check("paid out", bal.PaidOut, paidOut)
		check("pending", bal.Pending, pending)
		if bal.Available < 0 {
			add(Problem{Kind: ProblemPayout, Detail: fmt.Sprintf("payouts exceed the earnings by %d nanoTON", -bal.Available)})
		}
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("earnings: verify: %w", err)
	}
	if len(problems) > maxProblems {
		rep.More = len(problems) - maxProblems
		problems = problems[:maxProblems]
	}
	rep.Problems = problems
	return rep, nil
}

func isSigErr(err error) bool { return errors.Is(err, receipt.ErrBadSignature) }

func rejectCount(tx *bolt.Tx) int {
	if b := tx.Bucket(bucketRejects); b != nil {
		return b.Stats().KeyN
	}
	return 0
}

func sameGaps(a, b []Gap) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].FromSeq != b[i].FromSeq || a[i].ToSeq != b[i].ToSeq {
			return false
		}
	}
	return true
}

func gapRanges(gs []Gap) string {
	var b bytes.Buffer
	for i, g := range gs {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "%d-%d", g.FromSeq, g.ToSeq)
	}
	return "[" + b.String() + "]"
}
