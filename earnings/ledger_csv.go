package earnings

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
)

// CSVHeader is the first row ExportCSV writes. kind is "job" or
// "payout"; columns that do not apply to a kind are empty.
var CSVHeader = []string{
	"kind", "time", "id", "seq", "model", "prompt_tokens", "completion_tokens",
	"amount_ton", "cumulative_ton", "energy_wh", "fee_ton", "destination", "state", "msg_hash", "tx_hash",
}

// ExportCSV writes the jobs (by receipt time) and the payouts (by
// created time) in [from, to) as CSV, merged oldest first, after a header
// row (CSVHeader). Amounts are TON with exactly 9 decimals ("12.000000345"),
// times RFC 3339 in from's time zone, energy watt-hours with 3 decimals.
// It reads one consistent snapshot of the ledger.
func (l *Ledger) ExportCSV(w io.Writer, from, to time.Time) error {
	cw := csv.NewWriter(w)
	loc := from.Location()
	err := l.view(func(tx *bolt.Tx) error {
		if err := cw.Write(CSVHeader); err != nil {
			return err
		}
		fromK, toK := be64(from.UnixMilli()), be64(to.UnixMilli())
		s := newStore(tx)
		wds := tx.Bucket(bucketPayouts)
		jobs, err := s.timelineFrom(fromK, false)
		if err != nil {
			return err
		}
		wc := tx.Bucket(bucketPayoutsByTime).Cursor()
		inRange := func(k []byte) bool { return k != nil && bytes.Compare(k[:8], toK) < 0 }
		jk, jv, jo, err := jobs.next()
		if err != nil {
			return err
		}
		wk, _ := wc.Seek(fromK)
		for inRange(jo) || inRange(wk) {
			if inRange(jo) && (!inRange(wk) || bytes.Compare(jo[:8], wk[:8]) <= 0) {
				rec, _, err := s.decode(jk, jv)
				if err != nil {
					return err
				}
				if err := cw.Write(jobRow(jobOf(rec), loc)); err != nil {
					return err
				}
				if jk, jv, jo, err = jobs.next(); err != nil {
					return err
				}
				continue
			}
			wd, err := getPayout(wds, string(wk[8:]))
			if err != nil {
				return err
			}
			if err := cw.Write(payoutRow(wd, loc)); err != nil {
				return err
			}
			wk, _ = wc.Next()
		}
		cw.Flush()
		return cw.Error()
	})
	if err != nil {
		return fmt.Errorf("earnings: export csv: %w", err)
	}
	return nil
}

func jobRow(j Job, loc *time.Location) []string {
	energy := ""
	if j.EnergyMeasured {
		energy = formatMilliWh(j.EnergyMilliJ)
	}
	return []string{
		"job", j.Time.In(loc).Format(time.RFC3339), j.JobID, strconv.FormatInt(j.Seq, 10), j.Model,
		strconv.FormatInt(j.PromptTokens, 10), strconv.FormatInt(j.CompletionTokens, 10),
		formatNanoTON(j.Amount), formatNanoTON(j.Cumulative), energy, "", "", "", "", "",
	}
}

func payoutRow(w Payout, loc *time.Location) []string {
	return []string{
		"payout", w.Created.In(loc).Format(time.RFC3339), w.ID, "", "", "", "",
		formatNanoTON(w.Amount), "", "", formatNanoTON(w.Fee), w.Destination, string(w.State), w.MsgHash, w.TxHash,
	}
}

// formatNanoTON writes nanoTON as TON with exactly 9 decimals.
func formatNanoTON(n int64) string {
	sign, u := "", uint64(n)
	if n < 0 {
		sign, u = "-", -uint64(n) // also right for MinInt64
	}
	return fmt.Sprintf("%s%d.%09d", sign, u/1_000_000_000, u%1_000_000_000)
}

// formatMilliWh writes millijoules as watt-hours with 3 decimals (rounded).
func formatMilliWh(mj int64) string {
	if mj < 0 {
		mj = 0
	}
	mwh := (mj + 1800) / 3600 // 1 mWh = 3.6 J
	return fmt.Sprintf("%d.%03d", mwh/1000, mwh%1000)
}
