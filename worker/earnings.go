package worker

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/ton"

	"github.com/cocoon-desktop/cocoon-desktop/earnings"
	"github.com/cocoon-desktop/cocoon-desktop/network"
)

// Sentinel errors of payouts.
var (
	// ErrPayoutsUnavailable: the proxy has not said where and how it pays
	// (not connected yet, or a network without payouts, like the local one).
	ErrPayoutsUnavailable = errors.New("payouts are not available on this network right now")
)

// EarningsStatus is the money part of Status.
type EarningsStatus struct {
	Balance earnings.Balance
	// Proxy is the proxy's view of this worker's money, nil until it sent one.
	Proxy *network.Balance
	// Mismatch says how the proxy's signed total and the ledger disagree ("" when they agree).
	Mismatch string
	Payouts  []earnings.Payout // newest first
	// Rate is the TON/hour estimate over recent serving time (earnrate.go).
	Rate EarnRate
}

func (e EarningsStatus) withRate(r EarnRate) EarningsStatus { e.Rate = r; return e }

// LedgerFile is the ledger's file name in the data dir.
const LedgerFile = "ledger.db"

// openLedger opens the earnings ledger, adopting the receipts file of
// earlier versions (the ledger migrates its layout).
func (c *Core) openLedger(dir string, proxyKey []byte) (*earnings.Ledger, error) {
	path := filepath.Join(dir, LedgerFile)
	old := filepath.Join(dir, "receipts.db")
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		if _, err := os.Stat(old); err == nil {
			if err := os.Rename(old, path); err != nil {
				return nil, fmt.Errorf("worker: adopt %s: %w", old, err)
			}
		}
	}
	// The marker says a ledger was made in this data dir: from then on a
	// missing or empty ledger file is an error, not a fresh start at zero.
	marker := filepath.Join(dir, ledgerMarker)
	_, merr := os.Stat(marker)
	made := merr == nil
	rebuild := rebuilding(dir) // set aside: a new ledger is made and filled from the proxy
	l, err := earnings.Open(path, earnings.Options{ProxyKey: proxyKey, MustExist: made && !rebuild})
	if err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	if rebuild {
		c.rebuildPending.Store(true)
	}
	if !made {
		if err := os.WriteFile(marker, []byte(time.Now().UTC().Format(time.RFC3339)+"\n"), 0o600); err != nil {
			l.Close()
			return nil, fmt.Errorf("worker: %w", err)
		}
	}
	return l, nil
}

// ledgerMarker is written beside the ledger when it is first made.
const ledgerMarker = "ledger.made"

// ErrNoLedger: the core has no earnings ledger (it runs without a data dir,
// or the ledger could not be opened; Status says why).
var ErrNoLedger = errors.New("the earnings ledger is not open")

// EarningsHistory is the Earnings tab's view of the ledger.
type EarningsHistory struct {
	Balance earnings.Balance
	Jobs    []earnings.Job    // newest first
	Payouts []earnings.Payout // newest first
}

// EarningsHistory reads the balance, the newest jobs and the newest
// payouts (limits ≤ 0: all).
func (c *Core) EarningsHistory(jobs, payouts int) (EarningsHistory, error) {
	l := c.led()
	if l == nil {
		return EarningsHistory{}, ErrNoLedger
	}
	var h EarningsHistory
	var err error
	if h.Balance, err = l.Balance(); err != nil {
		return h, fmt.Errorf("worker: balance: %w", err)
	}
	if h.Jobs, _, err = l.Jobs("", jobs); err != nil {
		return h, fmt.Errorf("worker: jobs: %w", err)
	}
	if h.Payouts, err = l.Payouts(payouts); err != nil {
		return h, fmt.Errorf("worker: payouts: %w", err)
	}
	return h, nil
}

// DailyEarnings is the earnings per local day in [from, to), net of
// electricity at tariff.
func (c *Core) DailyEarnings(from, to time.Time, tariff earnings.Tariff) ([]earnings.DayTotal, error) {
	l := c.led()
	if l == nil {
		return nil, ErrNoLedger
	}
	return l.Daily(from, to, tariff)
}

// ExportEarningsCSV writes every job and payout in [from, to) as CSV.
func (c *Core) ExportEarningsCSV(w io.Writer, from, to time.Time) error {
	l := c.led()
	if l == nil {
		return ErrNoLedger
	}
	return l.ExportCSV(w, from, to)
}

// VerifyLedger re-checks every signature and total in the ledger offline.
func (c *Core) VerifyLedger() (earnings.Report, error) {
	l := c.led()
	if l == nil {
		return earnings.Report{}, ErrNoLedger
	}
	return l.Verify()
}

// refreshEarnings re-reads the balance and recent payouts.
func (c *Core) refreshEarnings() {
	l := c.led()
	if l == nil {
		return
	}
	bal, err := l.Balance()
	if err != nil {
		c.log.Warn("read balance", "err", err)
		return
	}
	ws, err := l.Payouts(20)
	if err != nil {
		c.log.Warn("read payouts", "err", err)
		return
	}
	c.mu.Lock()
	c.money.Balance, c.money.Payouts = bal, ws
	c.earned, c.receipts = bal.Earned, int(bal.Jobs)
	c.money.Mismatch = mismatch(bal, c.money.Proxy)
	c.mu.Unlock()
	c.bus.Publish(EventEarnings, nil)
}

// mismatch compares the ledger with the proxy's signed view.
func mismatch(b earnings.Balance, p *network.Balance) string {
	switch {
	case p == nil:
		return ""
	case p.Cumulative == b.Earned && p.LastSeq == b.LastSeq:
		return ""
	case p.LastSeq > b.LastSeq:
		return fmt.Sprintf("the proxy has %d receipt(s) this computer has not stored (its total %s TON, ours %s TON); "+
			"the next receipt carries the total, so nothing is lost", p.LastSeq-b.LastSeq, ton.Format(p.Cumulative), ton.Format(b.Earned))
	default:
		return fmt.Sprintf("this computer's ledger (total %s TON, receipt %d) is ahead of the proxy's (total %s TON, receipt %d): "+
			"the proxy may have lost data; keep the ledger file", ton.Format(b.Earned), b.LastSeq, ton.Format(p.Cumulative), p.LastSeq)
	}
}

// onBalance records the proxy's view and reconciles it with the ledger; a
// mismatch is shown and logged, never silently overwritten.
func (c *Core) onBalance(b network.Balance) {
	c.mu.Lock()
	c.money.Proxy = &b
	c.mu.Unlock()
	c.refreshEarnings()
	if m := c.Status().Earnings.Mismatch; m != "" {
		c.log.Warn("ledger and proxy disagree", "detail", m)
	}
	c.requestMissingReceipts(b)
	c.resendPendingPayouts()
	c.finishRebuild(b)
}

// requestMissingReceipts asks the proxy again for the receipts the ledger
// lacks: its gaps, and those past its newest up to the proxy's last_seq (a
// crash or a full disk between signing and storing). The balance was right
// all along — each receipt carries the running total — but the per-job
// history catches up, and a full disk's receipts arrive once space returns
// (every connect asks again).
func (c *Core) requestMissingReceipts(b network.Balance) {
	l := c.led()
	if l == nil || c.cl() == nil {
		return
	}
	ranges, err := missingRanges(l, b.LastSeq)
	if err != nil {
		c.log.Warn("read the ledger's gaps", "err", err)
		return
	}
	if len(ranges) == 0 {
		return
	}
	if err := c.cl().RequestReceipts(ranges); err != nil {
		c.log.Warn("asking the proxy for missing receipts", "err", err)
		return
	}
	c.resyncTo.Store(ranges[len(ranges)-1].Last)
	c.log.Info("asked the proxy for missing receipts", "ranges", len(ranges), "first", ranges[0].First)
}

// resyncStep runs when a receipt the worker asked for arrives: when it
// was the last of the request, it asks for the next batch (one request
// carries at most network.MaxReceiptsResent) and finishes a rebuild.
func (c *Core) resyncStep(seq int64) {
	if seq != c.resyncTo.Load() {
		return
	}
	c.mu.Lock()
	p := c.money.Proxy
	c.mu.Unlock()
	if p == nil {
		return
	}
	b := *p
	c.later(func() {
		c.requestMissingReceipts(b)
		c.finishRebuild(b)
	})
}

// missingRanges are the seq ranges the ledger lacks up to proxyLast, cut to
// what one receipts_request may ask (the rest follows on the next connect).
func missingRanges(l *earnings.Ledger, proxyLast int64) ([]network.SeqRange, error) {
	gaps, err := l.Gaps()
	if err != nil {
		return nil, err
	}
	bal, err := l.Balance()
	if err != nil {
		return nil, err
	}
	var ranges []network.SeqRange
	for _, g := range gaps {
		ranges = append(ranges, network.SeqRange{First: g.FromSeq, Last: g.ToSeq})
	}
	if proxyLast > bal.LastSeq {
		ranges = append(ranges, network.SeqRange{First: bal.LastSeq + 1, Last: proxyLast})
	}
	var out []network.SeqRange
	budget := int64(network.MaxReceiptsResent)
	for _, r := range ranges {
		if len(out) == network.MaxReceiptRanges || budget == 0 {
			break
		}
		r.Last = min(r.Last, r.First+budget-1)
		budget -= r.Last - r.First + 1
		out = append(out, r)
	}
	return out, nil
}

// PayoutQuote says what a payout of amount would pay: the fee, what the
// wallet receives and the minimum, from the proxy's terms.
func (c *Core) PayoutQuote() (minimum, fee int64, net ton.Net, err error) {
	c.mu.Lock()
	p := c.money.Proxy
	c.mu.Unlock()
	if p == nil || !p.Payouts {
		return 0, 0, 0, ErrPayoutsUnavailable
	}
	n, err := ton.ParseNet(p.Network)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("worker: %w: %v", ErrPayoutsUnavailable, err)
	}
	return p.MinPayout, p.PayoutFee, n, nil
}

func payoutRequest(w earnings.Payout) network.PayoutRequest {
	return network.PayoutRequest{PayoutID: w.ID, Amount: w.Amount, Destination: w.Destination, Created: w.Created.UnixMilli()}
}

// resendPendingPayouts sends every not-yet-final payout of an older
// version (the push path is gone: nothing new is requested) again, so the
// proxy's answer settles it: a proxy that sent it reports it confirmed;
// a current proxy refuses it, which releases the amount in the ledger.
func (c *Core) resendPendingPayouts() {
	l := c.led()
	if l == nil || c.cl() == nil {
		return
	}
	ws, err := l.Payouts(0)
	if err != nil {
		return
	}
	for _, w := range ws {
		if w.State == earnings.PayoutPending || w.State == earnings.PayoutSent {
			if err := c.cl().RequestPayout(payoutRequest(w)); err != nil {
				return
			}
		}
	}
}

// onPayoutStatus moves a payout along as the proxy reports it.
func (c *Core) onPayoutStatus(s network.PayoutStatus) {
	l := c.led()
	if l == nil {
		return
	}
	var err error
	switch s.State {
	case network.PayoutSent:
		err = l.MarkSent(s.PayoutID, s.MsgHash)
	case network.PayoutConfirmed:
		err = l.MarkConfirmed(s.PayoutID, s.TxHash, time.Now())
	case network.PayoutFailed, network.PayoutRejected:
		err = l.MarkFailed(s.PayoutID, s.Reason)
	}
	if err != nil {
		c.log.Warn("payout status not applied", "payout_id", s.PayoutID, "state", s.State, "err", err)
		c.bus.Publish(EventError, fmt.Errorf("worker: payout %s: %w", s.PayoutID, err))
	}
	c.mu.Lock()
	b := s.Balance
	c.money.Proxy = &b
	c.mu.Unlock()
	c.refreshEarnings()
}
