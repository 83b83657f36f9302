package proxy

import (
	"context"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// trustCounts reads a worker's trust counters: what its record holds plus
// what is tallied in memory and not stored yet.
func trustCounts(p *Proxy, workerID string) (disagreements, strikes, canariesPassed, canariesFailed int64) {
	r, _, err := p.store.Trust(context.Background(), workerID)
	if err != nil {
		panic(err)
	}
	p.trust.mu.Lock()
	t := p.trust.tally[workerID]
	p.trust.mu.Unlock()
	return satAdd(r.Disagreements, t.n), r.Strikes, r.CanariesPassed, r.CanariesFailed
}

// TrustCounts is trustCounts for tests in proxy_test.
var TrustCounts = trustCounts

// SetClock sets the clock of holds and UTC days, the proxy's and its
// store's; call it before Run.
func SetClock(p *Proxy, now func() time.Time) {
	p.trust.now = now
	if bs, ok := p.store.(*BoltStore); ok {
		bs.now = now
	}
}

// TrustTick runs a pass of the trust loop now (after the test clock moved).
func TrustTick(p *Proxy) { p.trustTick() }

// connected is the worker's current connection, or an error.
func connected(p *Proxy, workerID string) (*workerConn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if w := p.workers[workerID]; w != nil {
		return w, nil
	}
	return nil, fmt.Errorf("worker %s is not connected", workerID)
}

// NoteCanary calls the noteCanary hook for a connected worker.
func NoteCanary(p *Proxy, workerID, jobID, model string, passed bool, evidence string) error {
	w, err := connected(p, workerID)
	if err == nil {
		p.noteCanary(w, jobID, model, passed, evidence)
	}
	return err
}

// Strike calls the strike hook for a connected worker.
func Strike(p *Proxy, workerID, jobID, reason string) error {
	w, err := connected(p, workerID)
	if err == nil {
		p.strike(w, jobID, reason)
	}
	return err
}

// NoteMetering calls the noteMetering hook for a connected worker.
func NoteMetering(p *Proxy, workerID, jobID, kind string, claimed, counted, billed int64) error {
	w, err := connected(p, workerID)
	if err == nil {
		p.noteMetering(w, jobID, kind, claimed, counted, billed)
	}
	return err
}

// CanaryAllowed reports whether a canary may go to the worker now.
func CanaryAllowed(p *Proxy, workerID string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	w := p.workers[workerID]
	return w != nil && p.canaryAllowedLocked(w)
}

// StoreWrites is how many write transactions the proxy's bbolt store has
// committed over its life (its meta page's transaction id).
func StoreWrites(p *Proxy) (int, error) {
	var id int
	err := p.store.(*BoltStore).db.View(func(tx *bolt.Tx) error { id = tx.ID(); return nil })
	return id, err
}

// RefusedConns is how many connections the per-IP caps closed (API, worker).
func RefusedConns(p *Proxy) (api, worker int64) { return p.apiLimit.Refused(), p.wrkLimit.Refused() }
