package worker

import (
	"fmt"
	"path/filepath"

	"github.com/cocoon-desktop/cocoon-desktop/network"
)

// openNetwork opens the receipts ledger and, when a network is configured,
// the worker identity and the network client.
func (c *Core) openNetwork() error {
	c.ledger = c.cfg.Ledger
	if c.ledger == nil && c.cfg.DataDir != "" {
		l, err := c.openLedger(c.cfg.Network.ProxyKey)
		if err != nil {
			return err
		}
		c.ledger = l
	}
	if c.ledger != nil {
		cum, n, err := c.ledger.Totals()
		if err != nil {
			return fmt.Errorf("worker: read the ledger: %w", err)
		}
		c.mu.Lock()
		c.earned, c.receipts = cum, n
		c.mu.Unlock()
		c.refreshEarnings()
	}
	if c.cfg.Network.URL == "" {
		return nil
	}
	keyFile := c.cfg.Network.KeyFile
	if keyFile == "" {
		keyFile = filepath.Join(c.cfg.DataDir, "keys", "worker.key")
	}
	key, err := network.LoadOrCreateKey(keyFile)
	if err != nil {
		return fmt.Errorf("worker: identity key: %w", err)
	}
	c.client = network.NewClient(network.ClientConfig{
		URL:            c.cfg.Network.URL,
		ProxyKey:       c.cfg.Network.ProxyKey,
		Key:            key,
		Handler:        c,
		OnReceipt:      c.onReceipt,
		OnEvent:        c.onClientEvent,
		OnBalance:      func(b network.Balance) { go c.onBalance(b) },
		OnPayoutStatus: func(s network.PayoutStatus) { go c.onPayoutStatus(s) },
		Logger:         c.cfg.Logger.With("component", "network"),
		AppVersion:     "cocoon-desktop",
	})
	return nil
}

// onReceipt stores a receipt the client has verified (signature, worker id, amount).
func (c *Core) onReceipt(r network.SignedReceipt) error {
	if c.ledger == nil {
		return fmt.Errorf("worker: no ledger for receipt %s", r.Receipt.JobID)
	}
	added, err := c.credit(r)
	if err != nil {
		c.bus.Publish(EventError, "a receipt could not be stored: "+err.Error())
		return err
	}
	if added {
		c.mu.Lock()
		c.earned = r.Receipt.Cumulative
		c.receipts++
		c.mu.Unlock()
		c.log.Info("receipt stored", "job", r.Receipt.JobID, "amount_nanoton", r.Receipt.Amount, "cumulative_nanoton", r.Receipt.Cumulative)
		c.bus.Publish(EventReceipt, r)
		c.refreshEarnings()
	}
	return nil
}

// credit stores a receipt with the energy its job used, when measured.
func (c *Core) credit(r network.SignedReceipt) (bool, error) {
	joules := c.takeEnergy(r.Receipt.JobID)
	if l := c.EarningsLedger(); l != nil && joules > 0 {
		return l.CreditWithEnergy(r, joules)
	}
	return c.ledger.Credit(r)
}

// onClientEvent mirrors the connection state into Status. It must not block.
func (c *Core) onClientEvent(e network.ClientEvent) {
	c.mu.Lock()
	switch e.Kind {
	case network.EventConnected:
		c.netStat.Connected, c.netStat.WorkerID, c.netStat.Error = true, e.WorkerID, ""
	case network.EventDisconnected:
		c.netStat.Connected, c.netStat.Error = false, e.Reason
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
