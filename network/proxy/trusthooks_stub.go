package proxy

import "sync"

// This file stands in for the trust record (trust.go, owned by the trust
// work) so that the canary code can report verdicts; the lead deletes it
// when merging. Nothing but the three hook signatures may depend on it.

// stubTrustCounts is what the stub remembers about one worker.
type stubTrustCounts struct {
	disagreements, strikes, canariesPassed, canariesFailed int64
}

// stubTrust counts hook calls per proxy and worker (a package variable
// rather than a Proxy field, so deleting this file leaves nothing behind).
var stubTrust = struct {
	mu sync.Mutex
	m  map[*Proxy]map[string]*stubTrustCounts
}{m: map[*Proxy]map[string]*stubTrustCounts{}}

func stubTrustFor(p *Proxy, workerID string) *stubTrustCounts {
	byWorker := stubTrust.m[p]
	if byWorker == nil {
		byWorker = map[string]*stubTrustCounts{}
		stubTrust.m[p] = byWorker
	}
	c := byWorker[workerID]
	if c == nil {
		c = &stubTrustCounts{}
		byWorker[workerID] = c
	}
	return c
}

// noteMetering records that the worker's claimed token count for a job
// differed from the proxy's own count.
func (p *Proxy) noteMetering(w *workerConn, jobID, kind string, claimed, counted, billed int64) {
	stubTrust.mu.Lock()
	stubTrustFor(p, w.id).disagreements++
	stubTrust.mu.Unlock()
	w.log.Debug("trust: metering disagreement", "job", jobID, "kind", kind, "claimed", claimed, "counted", counted, "billed", billed)
}

// strike records a misbehaviour that cost the client or the proxy.
func (p *Proxy) strike(w *workerConn, jobID, reason string) {
	stubTrust.mu.Lock()
	stubTrustFor(p, w.id).strikes++
	stubTrust.mu.Unlock()
	w.log.Debug("trust: strike", "job", jobID, "reason", reason)
}

// noteCanary records a canary job's verdict.
func (p *Proxy) noteCanary(w *workerConn, jobID, model string, passed bool, evidence string) {
	stubTrust.mu.Lock()
	c := stubTrustFor(p, w.id)
	if passed {
		c.canariesPassed++
	} else {
		c.canariesFailed++
	}
	stubTrust.mu.Unlock()
	w.log.Debug("trust: canary verdict", "job", jobID, "model", model, "passed", passed, "evidence", evidence)
}
