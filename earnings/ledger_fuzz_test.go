package earnings

import (
	"errors"
	"fmt"
	"testing"

	"github.com/cocoon-desktop/cocoon-desktop/receipt"
)

// FuzzCredit delivers receipts of one genuine proxy chain in any order, with
// repeats, mixed with receipts whose signed cumulative total is off by one.
// Every genuine receipt must be accepted exactly once whatever the order,
// the balance must follow the highest seq, the gaps must be the missing
// seqs, and Verify must find the ledger consistent after every step.
func FuzzCredit(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3})
	f.Add([]byte{4, 0, 2, 1, 3, 4})
	f.Add([]byte{9, 3, 240, 1, 0, 250, 7})
	const chainLen = 32
	chain := make([]receipt.Signed, chainLen)
	var cum int64
	for i := range chain {
		seq := int64(i + 1)
		r := rc(fmt.Sprint("job", seq), seq, withTokens(int64(i*37%500), int64(i*11%90), cum))
		cum = r.Cumulative
		chain[i] = sign(r)
	}
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) > 48 {
			ops = ops[:48]
		}
		l := openTest(t, "", Options{WorkerID: testWorker})
		delivered := map[int64]bool{}
		diverged := false // a corrupted receipt was accepted: the ledger no longer follows the genuine chain
		for step, op := range ops {
			seq := int64(op%chainLen) + 1
			if op >= 224 { // corrupted: another job id, cumulative + 1
				r := chain[seq-1].Receipt
				r.JobID, r.Cumulative = fmt.Sprint("bad", seq), r.Cumulative+1
				added, err := l.Credit(sign(r))
				if err != nil && !errors.Is(err, ErrTotalMismatch) {
					t.Fatalf("step %d: corrupted seq %d: unexpected error %v", step, seq, err)
				}
				if added {
					diverged = true
				}
			} else if !diverged {
				added, err := l.Credit(chain[seq-1])
				if err != nil || added == delivered[seq] {
					t.Fatalf("step %d: genuine seq %d: added %v, err %v (delivered before: %v)", step, seq, added, err, delivered[seq])
				}
				delivered[seq] = true
			}
			rep, err := l.Verify()
			if err != nil || !rep.OK() {
				t.Fatalf("step %d: Verify: %v %v", step, err, rep.Problems)
			}
			if diverged {
				continue
			}
			var max int64
			for s := range delivered {
				max = maxI(max, s)
			}
			b, _ := l.Balance()
			wantEarned := int64(0)
			if max > 0 {
				wantEarned = chain[max-1].Receipt.Cumulative
			}
			if b.Earned != wantEarned || b.Jobs != int64(len(delivered)) || b.Available != wantEarned {
				t.Fatalf("step %d: balance %+v, want earned %d jobs %d", step, b, wantEarned, len(delivered))
			}
			missing := 0
			for s := int64(1); s < max; s++ {
				if !delivered[s] {
					missing++
				}
			}
			gaps, _ := l.Gaps()
			n := 0
			for _, g := range gaps {
				n += int(g.ToSeq - g.FromSeq + 1)
				lo := int64(0)
				if g.FromSeq > 1 {
					lo = chain[g.FromSeq-2].Receipt.Cumulative
				}
				if g.Missing != chain[g.ToSeq-1].Receipt.Cumulative-lo {
					t.Fatalf("step %d: gap %+v, want missing %d", step, g, chain[g.ToSeq-1].Receipt.Cumulative-lo)
				}
			}
			if n != missing {
				t.Fatalf("step %d: gaps %+v cover %d seqs, %d are missing", step, gaps, n, missing)
			}
		}
	})
}

func maxI(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}
