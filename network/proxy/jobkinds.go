package proxy

import (
	"strings"

	"github.com/cocoon-desktop/cocoon-desktop/network"
)

// Jobs of a kind beyond chat (completions, embeddings) need a worker that
// lists the kind's feature in its register. The routing index keeps such
// workers under a second key per model, routeKey(model, feature), so the
// choice of a worker, the queue for a busy model and the "no worker" answer
// work for them exactly as for chat, and an older worker (no features) is
// never sent a job it would refuse.

// routedFeatures are the features the proxy routes by.
var routedFeatures = []string{network.FeatureCompletions, network.FeatureEmbeddings}

// routeKey is the routing index's key of model's jobs needing feature ("":
// chat, the model's own name).
func routeKey(model, feature string) string {
	if feature == "" {
		return model
	}
	return model + "\x00" + feature
}

// withFeatureRoutes adds w's entries under the feature keys of each model
// it offers, for each routed feature it lists.
func withFeatureRoutes(w *workerConn, entries []routeEntry) []routeEntry {
	n := len(entries)
	for _, f := range routedFeatures {
		if !w.reg.HasFeature(f) {
			continue
		}
		for _, e := range entries[:n] {
			if strings.ContainsRune(e.model, 0) {
				continue // a name that could pose as another model's feature key
			}
			e.model = routeKey(e.model, f)
			entries = append(entries, e)
		}
	}
	return entries
}

// route is the routing index's key of the completion's jobs.
func (c *completion) route() string {
	return routeKey(c.model, network.FeatureOf(c.kind))
}

// noFeatureWorkerMessage is the 503's message when workers serve the model
// but none (at the client's price cap) runs the job's kind.
func (p *Proxy) noWorkerFor(c *completion) string {
	feature := network.FeatureOf(c.kind)
	if feature == "" {
		return noWorkerMessage(c.model, c.maxCoef)
	}
	p.mu.Lock()
	mr := p.routes[c.model]
	serving := mr != nil && mr.accepting > 0
	p.mu.Unlock()
	if serving {
		return "no worker available for model " + truncateStr(c.model, 64) + " runs " + feature +
			" jobs (the workers serving it run an older Cocoon); retry later"
	}
	return noWorkerMessage(c.model, c.maxCoef)
}
