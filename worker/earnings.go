package worker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/earnings"
	"github.com/cocoon-desktop/cocoon-desktop/network"
)

// Sentinel errors of withdrawals.
var (
	// ErrPayoutsUnavailable: the proxy has not said where and how it pays
	// (not connected yet, or a network without payouts, like the local one).
	ErrPayoutsUnavailable = errors.New("withdrawals are not available on this network right now")
	// ErrBelowMinimum: the amount is under the proxy's minimum payout.
	ErrBelowMinimum = errors.New("amount is below the minimum withdrawal")
)

// EarningsStatus is the money part of Status.
type EarningsStatus struct {
	Balance earnings.Balance
	// Proxy is the proxy's view of this worker's money, nil until it sent one.
	Proxy *network.Balance
	// Mismatch says how the proxy's signed total and the ledger disagree ("" when they agree).
	Mismatch    string
	Withdrawals []earnings.Withdrawal // newest first
}

// LedgerFile is the ledger's file name in the data dir.
const LedgerFile = "ledger.db"

// openLedger opens the earnings ledger, adopting the receipts file of
// earlier versions (the ledger migrates its layout).
func (c *Core) openLedger(proxyKey []byte) (Ledger, error) {
	path := filepath.Join(c.cfg.DataDir, LedgerFile)
	old := filepath.Join(c.cfg.DataDir, "receipts.db")
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		if _, err := os.Stat(old); err == nil {
			if err := os.Rename(old, path); err != nil {
				return nil, fmt.Errorf("worker: adopt %s: %w", old, err)
			}
		}
	}
	l, err := earnings.Open(path, earnings.Options{ProxyKey: proxyKey})
	if err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	return l, nil
}

// EarningsLedger is the full ledger for history queries and CSV export
// (nil when the core runs with another Ledger or has not started).
func (c *Core) EarningsLedger() *earnings.Ledger {
	l, _ := c.ledger.(*earnings.Ledger)
	return l
}

// refreshEarnings re-reads the balance and recent withdrawals.
func (c *Core) refreshEarnings() {
	l := c.EarningsLedger()
	if l == nil {
		return
	}
	bal, err := l.Balance()
	if err != nil {
		c.log.Warn("read balance", "err", err)
		return
	}
	ws, err := l.Withdrawals(20)
	if err != nil {
		c.log.Warn("read withdrawals", "err", err)
		return
	}
	c.mu.Lock()
	c.money.Balance, c.money.Withdrawals = bal, ws
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
			"the next receipt carries the total, so nothing is lost", p.LastSeq-b.LastSeq, earnings.FormatTON(p.Cumulative), earnings.FormatTON(b.Earned))
	default:
		return fmt.Sprintf("this computer's ledger (total %s TON, receipt %d) is ahead of the proxy's (total %s TON, receipt %d): "+
			"the proxy may have lost data; keep the ledger file", earnings.FormatTON(b.Earned), b.LastSeq, earnings.FormatTON(p.Cumulative), p.LastSeq)
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
	c.resendPendingPayouts()
}

// PayoutQuote says what a withdrawal of amount would pay: the fee, what the
// wallet receives and the minimum, from the proxy's terms.
func (c *Core) PayoutQuote() (minimum, fee int64, net earnings.Network, err error) {
	c.mu.Lock()
	p := c.money.Proxy
	c.mu.Unlock()
	if p == nil || !p.Payouts {
		return 0, 0, 0, ErrPayoutsUnavailable
	}
	n, err := earnings.ParseNetwork(p.Network)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("worker: %w: %v", ErrPayoutsUnavailable, err)
	}
	return p.MinPayout, p.PayoutFee, n, nil
}

// Withdraw starts a one-click withdrawal of amount nanoTON to dest: it checks
// the address and the amount, records the withdrawal as pending (one ledger
// transaction, before anything is sent), and sends the signed request. The
// proxy's answers move it to sent, confirmed or failed. A crash at any point
// is safe: pending withdrawals are sent again on every connect, and the proxy
// pays a payout id at most once.
func (c *Core) Withdraw(ctx context.Context, amount int64, dest string) (earnings.Withdrawal, error) {
	l := c.EarningsLedger()
	if l == nil || c.client == nil {
		return earnings.Withdrawal{}, ErrPayoutsUnavailable
	}
	minimum, fee, netw, err := c.PayoutQuote()
	if err != nil {
		return earnings.Withdrawal{}, err
	}
	addr, err := earnings.ParseAddress(dest, netw)
	if err != nil {
		return earnings.Withdrawal{}, fmt.Errorf("worker: withdraw: %w", err)
	}
	if amount < minimum || amount <= fee {
		return earnings.Withdrawal{}, fmt.Errorf("worker: withdraw: %w: %s TON, minimum %s TON", ErrBelowMinimum,
			earnings.FormatTON(amount), earnings.FormatTON(max(minimum, fee+1)))
	}
	id, err := newPayoutID()
	if err != nil {
		return earnings.Withdrawal{}, err
	}
	w := earnings.Withdrawal{ID: id, Amount: amount, Fee: fee, Destination: addr.String(), Created: time.Now()}
	if err := l.BeginWithdrawal(w); err != nil {
		return earnings.Withdrawal{}, fmt.Errorf("worker: withdraw: %w", err)
	}
	stored, err := l.Withdrawal(id)
	if err != nil {
		return earnings.Withdrawal{}, fmt.Errorf("worker: withdraw: %w", err)
	}
	c.log.Info("withdrawal recorded", "payout_id", id, "amount_nanoton", amount, "destination", addr.Short())
	c.refreshEarnings()
	if c.crashAfterRecord != nil && c.crashAfterRecord() { // tests: the app dies before sending
		return stored, nil
	}
	if err := c.client.RequestPayout(payoutRequest(stored)); err != nil {
		// Not lost: it is pending in the ledger and goes out on the next connect.
		c.log.Warn("withdrawal not sent yet", "payout_id", id, "err", err)
	}
	return stored, nil
}

func payoutRequest(w earnings.Withdrawal) network.PayoutRequest {
	return network.PayoutRequest{PayoutID: w.ID, Amount: w.Amount, Destination: w.Destination, Created: w.Created.UnixMilli()}
}

func newPayoutID() (string, error) {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("worker: payout id: %w", err)
	}
	return "po-" + hex.EncodeToString(b), nil
}

// resendPendingPayouts sends every not-yet-final withdrawal again; the
// proxy answers each with its current status (it never pays an id twice).
func (c *Core) resendPendingPayouts() {
	l := c.EarningsLedger()
	if l == nil || c.client == nil {
		return
	}
	ws, err := l.Withdrawals(0)
	if err != nil {
		return
	}
	for _, w := range ws {
		if w.State == earnings.WithdrawalPending || w.State == earnings.WithdrawalSent {
			if err := c.client.RequestPayout(payoutRequest(w)); err != nil {
				return
			}
		}
	}
}

// onPayoutStatus moves a withdrawal along as the proxy reports it.
func (c *Core) onPayoutStatus(s network.PayoutStatus) {
	l := c.EarningsLedger()
	if l == nil {
		return
	}
	if c.dropPayoutStatus != nil && c.dropPayoutStatus(s) { // tests: the app dies before storing the answer
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
		c.bus.Publish(EventError, "withdrawal "+s.PayoutID+": "+err.Error())
	}
	c.mu.Lock()
	b := s.Balance
	c.money.Proxy = &b
	c.mu.Unlock()
	c.refreshEarnings()
}
