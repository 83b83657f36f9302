package proxy

import (
	"slices"
	"strings"

	"github.com/cocoon-desktop/cocoon-desktop/network"
)

// Routing by feature: a job that needs a feature (network.Job.Features:
// tools, a format, stop strings, penalties) goes only to workers whose
// register announced it. A version 2 worker announces none and cannot
// decode the fields, so it gets plain jobs only.

// registeredFeatures is what the proxy routes a worker by: the known
// features of its register, each once; none from a version 2 worker, which
// could not decode a job that uses them whatever it says.
func registeredFeatures(version int, fs []string) []string {
	if version < 3 {
		return nil
	}
	var out []string
	for _, f := range network.KnownFeatures {
		if slices.Contains(fs, f) {
			out = append(out, f)
		}
	}
	return out
}

// excludeLacking adds to exclude every worker listed for model that lacks
// one of needs, so that reserve and queueFor pass over it; it returns how
// many there are. Without needs it does nothing (O(1)); with them it scans
// the connected workers.
func (p *Proxy) excludeLacking(model string, needs []string, exclude map[*workerConn]bool) int {
	if len(needs) == 0 {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, w := range p.workers {
		if w.listedFor(model) && !network.Supports(w.reg.Features, needs) {
			exclude[w] = true
			n++
		}
	}
	return n
}

// noCapableWorkerMessage is the 503's message when workers serve the model
// but none can run what the job needs.
func noCapableWorkerMessage(model string, needs []string) string {
	return "no worker serving model " + truncateStr(model, 64) + " can run " + strings.Join(needs, ", ") +
		" right now (the connected ones run an older version of the worker); retry later or leave those parameters out"
}
