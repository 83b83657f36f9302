package worker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/earnings"
	"github.com/cocoon-desktop/cocoon-desktop/network"
)

// ErrLedgerNotDamaged: RebuildLedger was asked while the ledger is fine
// (or the core is not waiting for a rebuild).
var ErrLedgerNotDamaged = errors.New("the earnings ledger is not waiting to be rebuilt")

// rebuildMarker, beside the ledger, says the ledger was set aside and a new
// one is being filled from the proxy's receipts: the new file may be made
// although ledger.made exists, and the payouts the proxy reports as paid
// are recorded once the receipts are back. Its content is the damaged
// file's new name.
const rebuildMarker = "ledger.rebuild"

// earlierPayoutsID is the payout that stands for every payout made
// before a rebuild, as the proxy reports them (the damaged file keeps the
// details).
const earlierPayoutsID = "paid-before-rebuild"

type rebuildResult struct {
	aside string
	err   error
}

// SetAsideLedger moves a damaged ledger out of the way (to ledger.db.damaged-
// <UTC time>, never deleted) and marks the data dir so the next start makes a
// new ledger and fills it from the proxy's receipts. It returns the damaged
// file's new path. The app must not be running on dataDir.
func SetAsideLedger(dataDir string) (string, error) {
	path := filepath.Join(dataDir, LedgerFile)
	aside := path + ".damaged-" + time.Now().UTC().Format("20060102T150405Z")
	// The marker first: a crash before the rename leaves the damaged file in
	// place (found damaged again), a crash after it leaves a data dir that
	// makes the new ledger.
	if err := os.WriteFile(filepath.Join(dataDir, rebuildMarker), []byte(aside+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("worker: set the ledger aside: %w", err)
	}
	if err := os.Rename(path, aside); err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("worker: set the ledger aside: %w", err)
	}
	return aside, nil
}

// rebuilding reports whether the data dir's ledger is being rebuilt.
func rebuilding(dataDir string) bool {
	_, err := os.Stat(filepath.Join(dataDir, rebuildMarker))
	return err == nil
}

// RebuildLedger, while Run waits on a damaged ledger (Status.LedgerDamaged),
// sets the damaged file aside (SetAsideLedger), makes a new ledger and lets
// Run go on: the network client then fetches every receipt back from the
// proxy, and the proxy's paid total is recorded as one confirmed payout.
// It returns the damaged file's new path.
func (c *Core) RebuildLedger(ctx context.Context) (string, error) {
	c.mu.Lock()
	waiting := c.ledgerDamaged != ""
	c.mu.Unlock()
	if !waiting {
		return "", ErrLedgerNotDamaged
	}
	reply := make(chan rebuildResult, 1)
	select {
	case c.rebuildReq <- reply:
	case <-ctx.Done():
		return "", ctx.Err()
	case <-c.stopped:
		return "", ErrLedgerNotDamaged
	}
	select {
	case r := <-reply:
		return r.aside, r.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// awaitLedgerRebuild holds Run on a damaged ledger: nothing serves, the
// status says why, until RebuildLedger succeeds (nil) or ctx ends (nil; Run
// checks ctx).
func (c *Core) awaitLedgerRebuild(ctx context.Context) error {
	what := "is damaged"
	if errors.Is(c.openErr, earnings.ErrMissing) {
		what = "is missing or empty, although this computer had one"
	}
	// Plain words for the owner; the technical cause goes to the log.
	msg := "The earnings ledger (" + filepath.Join(c.ledgerDir(), LedgerFile) + ") " + what +
		", so Cocoon will not serve. Rebuild it from the receipts the network signed; the old file is kept."
	c.mu.Lock()
	c.ledgerDamaged = msg
	c.mu.Unlock()
	c.log.Error("earnings ledger damaged: waiting for a rebuild", "err", c.openErr)
	c.setStatus(StateError, msg, nil)
	for {
		select {
		case <-ctx.Done():
			return nil
		case reply := <-c.rebuildReq:
			aside, err := SetAsideLedger(c.ledgerDir())
			if err == nil {
				err = c.useLedger()
			}
			if err != nil {
				c.log.Error("ledger rebuild failed", "err", err)
				reply <- rebuildResult{aside, err}
				continue
			}
			c.log.Warn("earnings ledger set aside; a new one is filled from the proxy's receipts", "damaged_file", aside)
			c.openErr = nil // Run's own field: no lock
			c.mu.Lock()
			c.ledgerDamaged = ""
			c.mu.Unlock()
			c.rebuildPending.Store(true)
			c.setStatus(StateStopped, "", nil)
			reply <- rebuildResult{aside, nil}
			return nil
		}
	}
}

// finishRebuild, once a rebuilt ledger holds every receipt up to the
// proxy's newest, records what the proxy says was paid out before as one
// confirmed payout, so Available is right again, and clears the marker.
func (c *Core) finishRebuild(b network.Balance) {
	l := c.led()
	if l == nil || !c.rebuildPending.Load() {
		return
	}
	bal, err := l.Balance()
	if err != nil || bal.LastSeq < b.LastSeq {
		return // receipts still arriving
	}
	if gaps, err := l.Gaps(); err != nil || len(gaps) > 0 {
		return
	}
	if b.Paid > 0 {
		w := earnings.Payout{ID: earlierPayoutsID, Amount: b.Paid, Destination: "(payouts before the ledger was rebuilt)"}
		if err := l.BeginPayout(w); err != nil {
			c.log.Warn("recording the payouts made before the rebuild", "err", err)
			return
		}
		if err := l.MarkConfirmed(earlierPayoutsID, "reported by the proxy", time.Time{}); err != nil {
			c.log.Warn("recording the payouts made before the rebuild", "err", err)
			return
		}
	}
	if err := os.Remove(filepath.Join(c.ledgerDir(), rebuildMarker)); err != nil && !errors.Is(err, os.ErrNotExist) {
		c.log.Warn("clearing the rebuild marker", "err", err)
		return
	}
	c.rebuildPending.Store(false)
	c.log.Info("earnings ledger rebuilt from the proxy's receipts", "receipts", bal.Jobs, "earned_nanoton", bal.Earned, "paid_before_nanoton", b.Paid)
	c.refreshEarnings()
}
