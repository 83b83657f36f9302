package worker

import (
	"time"

	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cocoon-desktop/cocoon-desktop/network"
	"github.com/cocoon-desktop/cocoon-desktop/receipt"
)

// open creates the data dir and opens the earnings ledger and, when a
// network is configured, the worker identity and the network client. New
// calls it, so both exist before anything can read them.
func (c *Core) open() error {
	if c.cfg.DataDir == "" {
		return nil
	}
	if err := os.MkdirAll(c.cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("worker: data dir: %w", err)
	}
	// The client is made even when the ledger cannot be opened: a damaged
	// ledger is rebuilt from the receipts the proxy sends it.
	ledgerErr := c.useLedger()
	if err := c.openClient(); err != nil {
		return err
	}
	return ledgerErr
}

// useLedger opens the ledger and makes it the core's.
func (c *Core) useLedger() error {
	l, err := c.openLedger(c.ledgerDir(), c.cfg.Network.ProxyKey)
	if err != nil {
		return err
	}
	cum, n, err := l.Totals()
	if err != nil {
		l.Close()
		return fmt.Errorf("worker: read the ledger: %w", err)
	}
	c.mu.Lock()
	c.earned, c.receipts = cum, n
	c.mu.Unlock()
	c.ledger.Store(l)
	return nil
}

// openClient makes the network client (nil without a network).
func (c *Core) openClient() error {
	cl, err := c.makeClient(c.cfg.Network, c.netGen.Load())
	if err != nil {
		return err
	}
	c.client.Store(cl)
	return nil
}

// makeClient makes a client for n (nil without a URL) that is current while
// netGen is gen. Its callbacks are dropped once a join replaced it, so a late
// balance of the old network never shows as the new one's.
func (c *Core) makeClient(n NetworkConfig, gen int64) (*network.Client, error) {
	if n.URL == "" {
		return nil, nil
	}
	keyFile := n.KeyFile
	if keyFile == "" {
		keyFile = filepath.Join(c.cfg.DataDir, "keys", "worker.key")
	}
	key, err := network.LoadOrCreateKey(keyFile)
	if err != nil {
		return nil, fmt.Errorf("worker: identity key: %w", err)
	}
	current := func() bool { return c.netGen.Load() == gen }
	return network.NewClient(network.ClientConfig{
		URL:       n.URL,
		ProxyKey:  n.ProxyKey,
		Key:       key,
		Handler:   c,
		OnReceipt: c.onReceipt,
		OnEvent: func(e network.ClientEvent) {
			if current() {
				c.onClientEvent(e)
			}
		},
		OnBalance: func(b network.Balance) {
			c.later(func() {
				if current() {
					c.onBalance(b)
				}
			})
		},
		OnPayoutStatus: func(s network.PayoutStatus) {
			c.later(func() {
				if current() {
					c.onPayoutStatus(s)
				}
			})
		},
		OnVoucher: func(v network.Voucher) {
			c.later(func() {
				if current() {
					c.onVoucher(v)
				}
			})
		},
		Logger:     c.cfg.Logger.With("component", "network"),
		AppVersion: "cocoon-desktop",
	}), nil
}

// later queues f for the goroutine that Run owns (runCallbacks), which runs
// queued functions one at a time in order: a newer balance is never
// overwritten by an older one, and none runs after Run closed the ledger.
// The client's callbacks call it; it blocks only while the queue is full,
// and drops f once Run is stopping.
func (c *Core) later(f func()) {
	select {
	case c.callbacks <- f:
	case <-c.stopping:
	}
}

// runCallbacks runs queued callbacks until ctx ends.
func (c *Core) runCallbacks(ctx context.Context) {
	defer close(c.stopping)
	for {
		select {
		case <-ctx.Done():
			return
		case f := <-c.callbacks:
			f()
		}
	}
}

// onReceipt stores a receipt the client has verified (signature, worker id, amount).
func (c *Core) onReceipt(r receipt.Signed) error {
	if c.led() == nil {
		return fmt.Errorf("worker: no ledger for receipt %s", r.Receipt.JobID)
	}
	if c.loseReceipt != nil && c.loseReceipt(r) { // tests: lost between signing and storing
		return nil
	}
	added, err := c.credit(r)
	if err != nil {
		c.bus.Publish(EventError, fmt.Errorf("worker: store a receipt: %w", err))
		return err
	}
	if added {
		c.mu.Lock()
		c.earned = r.Receipt.Cumulative
		c.receipts++
		c.mu.Unlock()
		c.log.Info("receipt stored", "job", r.Receipt.JobID, "amount_nanoton", r.Receipt.Amount, "cumulative_nanoton", r.Receipt.Cumulative)
		if err := c.rate.credit(r.Receipt.Amount, time.UnixMilli(r.Receipt.Time)); err != nil {
			c.log.Warn("could not save the earnings estimate", "err", err)
		}
		c.bus.Publish(EventReceipt, r)
		c.refreshEarnings()
		c.resyncStep(r.Receipt.Seq)
	}
	return nil
}

// credit stores a receipt with the energy its job used, when measured.
func (c *Core) credit(r receipt.Signed) (added bool, err error) {
	l := c.led()
	joules := c.takeEnergy(r.Receipt.JobID)
	if joules > 0 {
		added, err = l.CreditWithEnergy(r, joules)
	} else {
		added, err = l.Credit(r)
	}
	c.mu.Lock()
	was := c.ledgerErr
	c.ledgerErr = nil
	if isDiskFull(err) {
		c.ledgerErr = err
	}
	now := c.ledgerErr
	c.mu.Unlock()
	if (was == nil) != (now == nil) {
		c.bus.Publish(EventState, nil) // the disk-full note appears or clears
	}
	return added, err
}

// onClientEvent mirrors the connection state into Status. It must not block.
func (c *Core) onClientEvent(e network.ClientEvent) {
	c.mu.Lock()
	switch e.Kind {
	case network.EventConnected:
		c.netStat.Connected, c.netStat.WorkerID, c.netStat.Error = true, e.WorkerID, ""
	case network.EventDisconnected:
		c.netStat.Connected, c.netStat.Error, c.netStat.Err = false, e.Reason, e.Err
	case network.EventAuthFailed:
		c.netStat.Connected, c.netStat.Error = false, e.String()
	case network.EventRTT:
		c.netStat.RTT = e.RTT
		c.mu.Unlock()
		return // not worth waking the UI
	default:
		c.mu.Unlock()
		return
	}
	ns := c.netStat
	c.mu.Unlock()
	c.bus.Publish(EventNetwork, ns)
}
