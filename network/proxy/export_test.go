package proxy

// PayoutHooks are the payout code's kill points, for tests in proxy_test.
type PayoutHooks = payoutHooks

// ErrHalted is what the payout code returns after a hook stopped it.
var ErrHalted = errHalted

// SetPayoutHooks installs kill points; call it before Run.
func SetPayoutHooks(p *Proxy, h PayoutHooks) {
	if p.payouts != nil {
		p.payouts.hooks = h
	}
}

// PayoutsHalted is closed once a hook stopped payout processing.
func PayoutsHalted(p *Proxy) <-chan struct{} { return p.payouts.dead }

// trustCounts reads what the trust hooks recorded about a worker.
func trustCounts(p *Proxy, workerID string) (disagreements, strikes, canariesPassed, canariesFailed int64) {
	stubTrust.mu.Lock()
	defer stubTrust.mu.Unlock()
	c := stubTrust.m[p][workerID]
	if c == nil {
		return 0, 0, 0, 0
	}
	return c.disagreements, c.strikes, c.canariesPassed, c.canariesFailed
}

// TrustCounts is trustCounts for tests in proxy_test.
var TrustCounts = trustCounts
