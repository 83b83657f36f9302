package proxy

import (
	"github.com/cocoon-desktop/cocoon-desktop/network"
)

// The routing index: per model name, a binary min-heap of the workers that
// can take a job for it now, ordered by the routing rule, plus a count of
// the accepting workers that offer it (busy or not), by price coefficient.
// A routing decision reads the heap's top instead of scanning every
// connected worker.
//
// Invariant, under Proxy.mu: for every model m,
//   - routes[m].accepting = #workers w with listed(w) that offer m
//   - routes[m].heap holds exactly the entries of those w that are also
//     below MaxConcurrent,
//
// where listed(w) = p.workers[w.id] == w && w.registered && w.state ==
// Accepting && !w.trust.barred. Every change to one of those inputs
// (p.workers, registered, reg, state, running, avgMS, trust.barred) is
// followed by p.routeUpdateLocked(w), or goes through setRegLocked, which
// does it (a coefficient only changes there).

// routeEntry is one worker's place under one model it offers.
type routeEntry struct {
	w      *workerConn
	model  string
	loaded bool
	coef   int64       // the coefficient counted in mr.byCoef while listed
	mr     *modelRoute // set while the worker is listed; nil otherwise
	pos    int         // index in mr.heap; -1 when not in it
}

// modelRoute is the index of one model.
type modelRoute struct {
	accepting int
	byCoef    map[int64]int // accepting workers by coefficient_milli, for clients' price caps
	heap      []*routeEntry
}

// acceptingAtMost counts the accepting workers at or below a coefficient
// (maxCoef 0: all); O(distinct coefficients).
func (mr *modelRoute) acceptingAtMost(maxCoef int64) int {
	if maxCoef <= 0 {
		return mr.accepting
	}
	n := 0
	for c, k := range mr.byCoef {
		if c <= maxCoef {
			n += k
		}
	}
	return n
}

// routeBefore reports whether a gets the next job ahead of b: lower
// running × average job time, then the cheaper (lower coefficient), then
// fewer running, then the model already loaded, then the older
// connection, then the lower id. It is a strict
// total order over the workers of one model, so the heap's top is the
// worker a scan over all of them would pick.
func routeBefore(a, b *routeEntry) bool {
	wa, wb := a.w, b.w
	la, lb := float64(wa.running)*wa.avgMS, float64(wb.running)*wb.avgMS
	switch {
	case la != lb:
		return la < lb
	case wa.reg.CoefficientMilli != wb.reg.CoefficientMilli:
		return wa.reg.CoefficientMilli < wb.reg.CoefficientMilli
	case wa.running != wb.running:
		return wa.running < wb.running
	case a.loaded != b.loaded:
		return a.loaded
	case !wa.since.Equal(wb.since):
		return wa.since.Before(wb.since)
	default:
		return wa.id < wb.id
	}
}

func (mr *modelRoute) swap(i, j int) {
	h := mr.heap
	h[i], h[j] = h[j], h[i]
	h[i].pos, h[j].pos = i, j
}

func (mr *modelRoute) up(i int) {
	for i > 0 {
		parent := (i - 1) / 2
		if !routeBefore(mr.heap[i], mr.heap[parent]) {
			return
		}
		mr.swap(i, parent)
		i = parent
	}
}

func (mr *modelRoute) down(i int) bool {
	start, n := i, len(mr.heap)
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		least := l
		if r := l + 1; r < n && routeBefore(mr.heap[r], mr.heap[l]) {
			least = r
		}
		if !routeBefore(mr.heap[least], mr.heap[i]) {
			break
		}
		mr.swap(i, least)
		i = least
	}
	return i > start
}

func (mr *modelRoute) push(e *routeEntry) {
	e.pos = len(mr.heap)
	mr.heap = append(mr.heap, e)
	mr.up(e.pos)
}

// fix restores the order after e's key changed.
func (mr *modelRoute) fix(e *routeEntry) {
	if !mr.down(e.pos) {
		mr.up(e.pos)
	}
}

func (mr *modelRoute) remove(e *routeEntry) {
	i, last := e.pos, len(mr.heap)-1
	if i != last {
		mr.swap(i, last)
	}
	mr.heap[last] = nil
	mr.heap = mr.heap[:last]
	if i != last {
		mr.fix(mr.heap[i])
	}
	e.pos = -1
}

// best returns the first entry in routing order whose worker is not in
// exclude and charges at most maxCoef (0: any), or nil. A heap node's
// subtree never beats the node, so the search only descends below nodes
// it skips: it visits O(len(exclude)) nodes without a price cap, and with
// one also the workers over the cap that route ahead of the answer.
func (mr *modelRoute) best(exclude map[*workerConn]bool, maxCoef int64) *routeEntry {
	if len(mr.heap) == 0 {
		return nil
	}
	if len(exclude) == 0 && (maxCoef <= 0 || mr.heap[0].w.reg.CoefficientMilli <= maxCoef) {
		return mr.heap[0]
	}
	var best *routeEntry
	var buf [16]int
	stack := append(buf[:0], 0)
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		e := mr.heap[i]
		if best != nil && !routeBefore(e, best) {
			continue
		}
		if !exclude[e.w] && (maxCoef <= 0 || e.w.reg.CoefficientMilli <= maxCoef) {
			best = e
			continue
		}
		for _, c := range [2]int{2*i + 1, 2*i + 2} {
			if c < len(mr.heap) {
				stack = append(stack, c)
			}
		}
	}
	return best
}

// routeEntriesFor builds a worker's entries from its registration: one per
// distinct model name (the first listing of a name counts, as a scan of
// the list would find it first).
func routeEntriesFor(w *workerConn, models []network.ModelInfo) []routeEntry {
	out := make([]routeEntry, 0, len(models))
	seen := make(map[string]bool, len(models))
	for _, m := range models {
		if seen[m.Name] {
			continue
		}
		seen[m.Name] = true
		out = append(out, routeEntry{w: w, model: m.Name, loaded: m.Loaded, pos: -1})
	}
	return out
}

// listedLocked reports whether w counts as an accepting worker for the
// models it offers (a worker its trust bars from client jobs does not).
func (p *Proxy) listedLocked(w *workerConn) bool {
	return w.registered && w.state == network.Accepting && p.workers[w.id] == w && !w.trust.barred
}

// routeUpdateLocked brings the index in line with w's current fields.
func (p *Proxy) routeUpdateLocked(w *workerConn) {
	listed := p.listedLocked(w)
	p.routeSetLocked(w, listed, listed && w.running < w.reg.MaxConcurrent)
}

func (p *Proxy) routeSetLocked(w *workerConn, listed, eligible bool) {
	for i := range w.routes {
		e := &w.routes[i]
		if listed && e.mr == nil {
			if p.routes == nil {
				p.routes = map[string]*modelRoute{}
			}
			e.mr = p.routes[e.model]
			if e.mr == nil {
				e.mr = &modelRoute{}
				p.routes[e.model] = e.mr
			}
			e.mr.accepting++
			if e.mr.byCoef == nil {
				e.mr.byCoef = map[int64]int{}
			}
			e.coef = w.reg.CoefficientMilli
			e.mr.byCoef[e.coef]++
		}
		switch {
		case eligible && e.pos < 0:
			e.mr.push(e)
		case eligible:
			e.mr.fix(e)
		case e.pos >= 0:
			e.mr.remove(e)
		}
		if !listed && e.mr != nil {
			if e.mr.byCoef[e.coef]--; e.mr.byCoef[e.coef] == 0 {
				delete(e.mr.byCoef, e.coef)
			}
			if e.mr.accepting--; e.mr.accepting == 0 {
				// Workers name models freely: forget the ones nobody offers.
				delete(p.routes, e.model)
			}
			e.mr = nil
		}
	}
}

// setRegLocked records a (re-)registration and re-indexes w under its new
// models.
func (p *Proxy) setRegLocked(w *workerConn, reg network.Register) {
	p.routeSetLocked(w, false, false)
	w.registered = true
	w.reg = reg
	w.routes = withFeatureRoutes(w, routeEntriesFor(w, p.pinnedLocked(w, reg.Models))) // jobkinds.go
	p.routeUpdateLocked(w)
}

// setStateLocked records a worker's availability.
func (p *Proxy) setStateLocked(w *workerConn, state string) {
	w.state = state
	p.routeUpdateLocked(w)
}

// addWorkerLocked makes w the connected worker of its id and returns the
// connection it replaces, if any.
func (p *Proxy) addWorkerLocked(w *workerConn) (old *workerConn) {
	old = p.workers[w.id]
	p.workers[w.id] = w
	if old != nil {
		p.routeUpdateLocked(old)
	}
	p.routeUpdateLocked(w)
	return old
}

// removeWorkerLocked forgets w if it is still its id's connected worker.
func (p *Proxy) removeWorkerLocked(w *workerConn) {
	if p.workers[w.id] == w {
		delete(p.workers, w.id)
	}
	p.routeUpdateLocked(w)
}

// listedFor reports whether w is counted in model's accepting workers.
func (w *workerConn) listedFor(model string) bool {
	for i := range w.routes {
		if w.routes[i].model == model {
			return w.routes[i].mr != nil
		}
	}
	return false
}
