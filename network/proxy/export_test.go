package proxy

import bolt "go.etcd.io/bbolt"

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

// StoreWrites is how many write transactions the proxy's bbolt store has
// committed over its life (its meta page's transaction id).
func StoreWrites(p *Proxy) (int, error) {
	var id int
	err := p.store.(*BoltStore).db.View(func(tx *bolt.Tx) error { id = tx.ID(); return nil })
	return id, err
}

// RefusedConns is how many connections the per-IP caps closed (API, worker).
func RefusedConns(p *Proxy) (api, worker int64) { return p.apiLimit.Refused(), p.wrkLimit.Refused() }
