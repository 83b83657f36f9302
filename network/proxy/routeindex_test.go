package proxy

import (
	"fmt"
	"math/rand"
	"slices"
	"testing"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/network"
)

// The reference scheduler: the linear scan the routing index replaced,
// kept as the oracle the index is checked against (and as the "before" of
// BenchmarkRouteDecisionScan).

// scanEligible reports whether w can take a client job for model now.
func scanEligible(w *workerConn, model string) (ok, loaded bool) {
	if !w.registered || w.state != network.Accepting || w.running >= w.reg.MaxConcurrent || w.trust.barred {
		return false, false
	}
	for _, m := range w.reg.Models {
		if m.Name == model {
			return true, m.Loaded
		}
	}
	return false, false
}

// scanChoose is the worker the routing rule picks, by scanning them all,
// among those at or below maxCoef (0: any).
func scanChoose(p *Proxy, model string, exclude map[*workerConn]bool, maxCoef int64) *workerConn {
	var best *workerConn
	var bestLoad float64
	var bestLoaded bool
	for _, w := range p.workers {
		if exclude[w] || (maxCoef > 0 && w.reg.CoefficientMilli > maxCoef) {
			continue
		}
		ok, loaded := scanEligible(w, model)
		if !ok {
			continue
		}
		load := float64(w.running) * w.avgMS
		better := best == nil
		if !better {
			switch {
			case load != bestLoad:
				better = load < bestLoad
			case w.reg.CoefficientMilli != best.reg.CoefficientMilli:
				better = w.reg.CoefficientMilli < best.reg.CoefficientMilli
			case w.running != best.running:
				better = w.running < best.running
			case loaded != bestLoaded:
				better = loaded
			case !w.since.Equal(best.since):
				better = w.since.Before(best.since)
			default:
				better = w.id < best.id
			}
		}
		if better {
			best, bestLoad, bestLoaded = w, load, loaded
		}
	}
	return best
}

// scanOffers reports whether w is registered, accepting, not barred by
// its trust and offers model.
func scanOffers(w *workerConn, model string) bool {
	if !w.registered || w.state != network.Accepting || w.trust.barred {
		return false
	}
	for _, m := range w.reg.Models {
		if m.Name == model {
			return true
		}
	}
	return false
}

// scanQueues says whether some accepting, not excluded worker at or below
// maxCoef (0: any) offers model.
func scanQueues(p *Proxy, model string, exclude map[*workerConn]bool, maxCoef int64) bool {
	for _, w := range p.workers {
		if !exclude[w] && (maxCoef <= 0 || w.reg.CoefficientMilli <= maxCoef) && scanOffers(w, model) {
			return true
		}
	}
	return false
}

// scanServable lists the priced models some accepting worker offers.
func scanServable(p *Proxy) []string {
	var out []string
	for _, n := range p.cfg.ModelNames() {
		if scanQueues(p, n, nil, 0) {
			out = append(out, n)
		}
	}
	return out
}

// indexChoose is the index's choice, without booking it.
func indexChoose(p *Proxy, model string, exclude map[*workerConn]bool, maxCoef int64) *workerConn {
	if mr := p.routes[model]; mr != nil {
		if e := mr.best(exclude, maxCoef); e != nil {
			return e.w
		}
	}
	return nil
}

// checkIndex fails unless every heap is ordered, its positions are right,
// and every model's heap and count hold exactly what a scan finds.
func checkIndex(t *testing.T, p *Proxy, models []string) {
	t.Helper()
	for m, mr := range p.routes {
		if mr.accepting <= 0 {
			t.Fatalf("model %q kept with %d accepting workers", m, mr.accepting)
		}
		byCoef := 0
		for c, k := range mr.byCoef {
			if k <= 0 {
				t.Fatalf("model %q: %d workers at coefficient %d kept", m, k, c)
			}
			byCoef += k
		}
		if byCoef != mr.accepting {
			t.Fatalf("model %q: %d accepting, %d by coefficient", m, mr.accepting, byCoef)
		}
		for i, e := range mr.heap {
			if e.pos != i || e.mr != mr || e.model != m {
				t.Fatalf("model %q: entry %d of worker %s says pos %d model %q", m, i, e.w.id, e.pos, e.model)
			}
			if i > 0 && routeBefore(e, mr.heap[(i-1)/2]) {
				t.Fatalf("model %q: heap order broken at %d", m, i)
			}
		}
	}
	for _, m := range models {
		var accepting, eligible []string
		for _, w := range p.workers {
			if scanOffers(w, m) {
				accepting = append(accepting, w.id)
			}
			if ok, _ := scanEligible(w, m); ok {
				eligible = append(eligible, w.id)
			}
		}
		var gotAccepting int
		var gotEligible []string
		if mr := p.routes[m]; mr != nil {
			gotAccepting = mr.accepting
			for _, e := range mr.heap {
				gotEligible = append(gotEligible, e.w.id)
			}
		}
		slices.Sort(eligible)
		slices.Sort(gotEligible)
		if gotAccepting != len(accepting) || !slices.Equal(gotEligible, eligible) {
			t.Fatalf("model %q: index has %d accepting, eligible %v; scan finds %d, %v", m, gotAccepting, gotEligible, len(accepting), eligible)
		}
	}
}

// TestRouteIndexMatchesScan drives the scheduler through random sequences
// of connects (some replacing a connection with the same id), (re-)
// registrations at various coefficients, availability changes, trust bars
// (quarantine, daily cap) set and lifted, reservations (some under a
// client's price cap), releases and disconnects, and checks after each
// step that the index chooses what the reference scan chooses, for every
// model, several exclude sets and price caps, and that queueing and the
// servable model list agree too.
func TestRouteIndexMatchesScan(t *testing.T) {
	models := []string{"a", "b", "c", "x", "unoffered"}
	states := []string{network.Accepting, network.Accepting, network.Accepting, network.Paused, network.Draining}
	coefs := []int64{500, 1000, 1000, 1000, 2000, 3000}
	caps := []int64{0, 0, 500, 999, 1000, 2000}
	tests := []struct {
		name      string
		ids       int // distinct worker ids (few: connections replace each other)
		ops       int
		seed      int64
		sinceSpan int64 // connection times drawn from this many seconds: ties happen
	}{
		{name: "few workers, many replacements", ids: 3, ops: 3000, seed: 1, sinceSpan: 2},
		{name: "some workers", ids: 12, ops: 3000, seed: 2, sinceSpan: 3},
		{name: "many workers", ids: 60, ops: 3000, seed: 3, sinceSpan: 1000},
		{name: "all connected at once", ids: 20, ops: 3000, seed: 4, sinceSpan: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rng := rand.New(rand.NewSource(tt.seed))
			p := &Proxy{workers: map[string]*workerConn{}, cfg: Config{Models: map[string]ModelPrice{"a": {}, "b": {}, "x": {}, "unoffered": {}}}}
			var alive, all []*workerConn // alive: not yet disconnected (its reader still runs)
			var running []*attempt
			pick := func(ws []*workerConn) *workerConn { return ws[rng.Intn(len(ws))] }
			randomExclude := func() map[*workerConn]bool {
				ex := map[*workerConn]bool{}
				for k := rng.Intn(4); k > 0 && len(all) > 0; k-- {
					ex[pick(all)] = true
				}
				return ex
			}
			for op := 0; op < tt.ops; op++ {
				var what string
				switch r := rng.Intn(100); {
				case r < 10 || len(alive) == 0:
					w := &workerConn{
						id: fmt.Sprintf("w%d", rng.Intn(tt.ids)), since: time.Unix(rng.Int63n(tt.sinceSpan), 0),
						state: network.Paused, avgMS: defaultAvgMS, jobs: map[string]*attempt{},
					}
					what = "connect " + w.id
					p.mu.Lock()
					p.addWorkerLocked(w)
					p.mu.Unlock()
					alive, all = append(alive, w), append(all, w)
				case r < 25:
					w := pick(alive)
					reg := network.Register{MaxConcurrent: 1 + rng.Intn(3), CoefficientMilli: coefs[rng.Intn(len(coefs))]}
					for k := rng.Intn(5); k > 0; k-- { // a name may repeat: the first listing counts
						reg.Models = append(reg.Models, network.ModelInfo{Name: models[rng.Intn(4)], Loaded: rng.Intn(2) == 0})
					}
					what = fmt.Sprintf("register %s %+v", w.id, reg.Models)
					p.mu.Lock()
					p.setRegLocked(w, reg)
					p.mu.Unlock()
				case r < 40:
					w := pick(alive)
					if !w.registered {
						continue // the reader refuses availability before register
					}
					s := states[rng.Intn(len(states))]
					what = "state " + w.id + " " + s
					p.mu.Lock()
					p.setStateLocked(w, s)
					p.mu.Unlock()
				case r < 45:
					w := pick(alive)
					barred := rng.Intn(4) == 0
					what = fmt.Sprintf("barred %s %v", w.id, barred)
					p.mu.Lock()
					p.setBarredLocked(w, barred)
					p.mu.Unlock()
				case r < 70:
					m, ex, maxCoef := models[rng.Intn(len(models))], randomExclude(), caps[rng.Intn(len(caps))]
					p.mu.Lock()
					want := scanChoose(p, m, ex, maxCoef)
					p.mu.Unlock()
					a := p.reserveCapped(m, ex, maxCoef)
					what = "reserve " + m
					switch {
					case a == nil && want != nil:
						t.Fatalf("op %d: reserve %s chose nothing; the scan chooses %s", op, m, want.id)
					case a != nil && a.w != want:
						t.Fatalf("op %d: reserve %s chose %s (%p); the scan chooses %v", op, m, a.w.id, a.w, want)
					case a != nil:
						// Jobs of different lengths, so average times differ.
						a.started = a.started.Add(-time.Duration(rng.Intn(5)) * 100 * time.Millisecond)
						running = append(running, a)
					}
				case r < 92:
					if len(running) == 0 {
						continue
					}
					i := rng.Intn(len(running))
					a := running[i]
					what = "release on " + a.w.id
					p.release(a, rng.Intn(3) > 0)
					if rng.Intn(4) == 0 {
						p.release(a, true) // releasing twice is a no-op
					}
					running = slices.Delete(running, i, i+1)
				default:
					i := rng.Intn(len(alive))
					w := alive[i]
					what = "disconnect " + w.id
					p.mu.Lock()
					p.removeWorkerLocked(w)
					p.mu.Unlock()
					alive = slices.Delete(alive, i, i+1)
				}

				p.mu.Lock()
				checkIndex(t, p, models)
				for _, m := range models {
					for k := 0; k < 3; k++ {
						ex := map[*workerConn]bool(nil)
						if k > 0 {
							ex = randomExclude()
						}
						maxCoef := caps[rng.Intn(len(caps))]
						if got, want := indexChoose(p, m, ex, maxCoef), scanChoose(p, m, ex, maxCoef); got != want {
							t.Fatalf("after op %d (%s): model %s exclude %d cap %d: index chooses %v, scan %v", op, what, m, len(ex), maxCoef, got, want)
						}
						p.mu.Unlock()
						_, got := p.queueForCapped(m, ex, maxCoef)
						p.mu.Lock()
						if want := scanQueues(p, m, ex, maxCoef); got != want {
							t.Fatalf("after op %d (%s): model %s cap %d: queueFor %v, scan %v", op, what, m, maxCoef, got, want)
						}
					}
				}
				want := scanServable(p)
				p.mu.Unlock()
				if got := p.servableModels(); !slices.Equal(got, want) {
					t.Fatalf("after op %d (%s): servable %v, scan %v", op, what, got, want)
				}
			}
		})
	}
}
