package proxy

import "sync"

// This file stands in for the trust record (trust.go) until it is merged:
// the three hooks log at debug level and count per worker, and nothing else
// depends on it. The counts live beside the proxy, keyed by it, so the stub
// needs no field on Proxy; a process runs one proxy outside tests.

type stubTrustCounts struct {
	disagreements, strikes, canariesPassed, canariesFailed int64
}

var stubTrust = struct {
	mu sync.Mutex
	by map[*Proxy]map[string]*stubTrustCounts
}{by: map[*Proxy]map[string]*stubTrustCounts{}}

func stubTrustBump(p *Proxy, workerID string, f func(*stubTrustCounts)) {
	stubTrust.mu.Lock()
	defer stubTrust.mu.Unlock()
	ws := stubTrust.by[p]
	if ws == nil {
		ws = map[string]*stubTrustCounts{}
		stubTrust.by[p] = ws
	}
	c := ws[workerID]
	if c == nil {
		c = &stubTrustCounts{}
		ws[workerID] = c
	}
	f(c)
}

// noteMetering records that the worker's claimed token count for a job
// differed from the proxy's own count (kind is "prompt" or "completion";
// billed is what was billed).
func (p *Proxy) noteMetering(w *workerConn, jobID, kind string, claimed, counted, billed int64) {
	w.log.Debug("metering disagreement", "job", jobID, "kind", kind, "claimed", claimed, "counted", counted, "billed", billed)
	stubTrustBump(p, w.id, func(c *stubTrustCounts) { c.disagreements++ })
}

// strike records a misbehaviour that cost the client or the proxy; reason
// is short words, never prompt text.
func (p *Proxy) strike(w *workerConn, jobID, reason string) {
	w.log.Debug("strike", "job", jobID, "reason", reason)
	stubTrustBump(p, w.id, func(c *stubTrustCounts) { c.strikes++ })
}

// noteCanary records a canary job's verdict; evidence is short words and
// numbers, never the text.
func (p *Proxy) noteCanary(w *workerConn, jobID, model string, passed bool, evidence string) {
	w.log.Debug("canary", "job", jobID, "model", model, "passed", passed, "evidence", evidence)
	stubTrustBump(p, w.id, func(c *stubTrustCounts) {
		if passed {
			c.canariesPassed++
		} else {
			c.canariesFailed++
		}
	})
}
