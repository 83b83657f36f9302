package proxy

import (
	"crypto/rand"
	"encoding/hex"
	"sync"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/network"
)

// Event kinds an attempt receives from its worker's reader.
const (
	evDelta = iota + 1
	evDone
	evJobError
	evGone     // the worker disconnected
	evOversize // the job's text passed its byte bound (meter.go)
)

type event struct {
	kind   int
	delta  network.Delta
	done   network.Done
	jobErr network.JobError
	reason string
	pieces int // non-empty worker deltas merged into this one (follow); 0: it is one delta
}

// attempt is one try of a request on one worker. The worker's reader pushes
// events; the request's handler pops them. The queue never blocks the
// worker's reader (and its heartbeats) on a slow app developer; its text is
// bounded by the job's byte bound (maxBytes), past which deltas are dropped.
type attempt struct {
	jobID       string
	w           *workerConn
	coefficient int64
	started     time.Time

	mu       sync.Mutex
	q        []event
	maxBytes int64 // text the job may relay; 0: unbounded (meter.go)
	received int64 // text pushed so far
	oversize bool  // received passed maxBytes: later deltas are dropped
	// Log probabilities: at most maxLogprobs tokens (max_tokens) and
	// maxLogprobBytes of them (chatmeter.go); 0: none may come.
	maxLogprobs, maxLogprobBytes int64
	logprobs, logprobBytes       int64
	notify                       chan struct{}
	released                     bool // guarded by Proxy.mu
}

func (a *attempt) push(e event) {
	a.mu.Lock()
	e, keep := a.boundLocked(e)
	if keep {
		a.q = append(a.q, e)
	}
	a.mu.Unlock()
	select {
	case a.notify <- struct{}{}:
	default:
	}
}

func (a *attempt) pop() []event {
	a.mu.Lock()
	defer a.mu.Unlock()
	q := a.q
	a.q = nil
	return q
}

func newJobID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return "job-" + hex.EncodeToString(b)
}

// reserve picks the eligible worker with the lowest running × average job
// time (ties: the cheaper, then fewer running, then the model already
// loaded, then the older connection, then the id) that is not in exclude,
// and books a slot on it. It returns nil when none is eligible. The choice
// reads the model's routing index (routeindex.go) rather than scanning the
// workers.
func (p *Proxy) reserve(model string, exclude map[*workerConn]bool) *attempt {
	return p.reserveCapped(model, exclude, 0)
}

// reserveCapped is reserve among the workers whose coefficient is at most
// maxCoef (0: any), a client's price cap.
func (p *Proxy) reserveCapped(model string, exclude map[*workerConn]bool, maxCoef int64) *attempt {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closing {
		return nil
	}
	mr := p.routes[model]
	if mr == nil {
		return nil
	}
	e := mr.best(exclude, maxCoef)
	if e == nil {
		return nil
	}
	return p.bookLocked(e.w)
}

// bookLocked books a slot for a new job on w.
func (p *Proxy) bookLocked(w *workerConn) *attempt {
	a := &attempt{
		jobID:       newJobID(),
		w:           w,
		coefficient: w.reg.CoefficientMilli,
		started:     time.Now(),
		notify:      make(chan struct{}, 1),
	}
	w.running++
	w.jobs[a.jobID] = a
	p.jobsRunning++
	p.routeUpdateLocked(w)
	return a
}

// wakeQueuedLocked wakes every request waiting for a slot.
func (p *Proxy) wakeQueuedLocked() {
	if p.slotFreed != nil {
		close(p.slotFreed)
	}
	p.slotFreed = make(chan struct{})
}

// queueFor says whether a request for model may wait for a slot: some
// accepting worker (not excluded) offers it but is at max concurrency. It
// returns the channel closed when a slot frees up.
func (p *Proxy) queueFor(model string, exclude map[*workerConn]bool) (<-chan struct{}, bool) {
	return p.queueForCapped(model, exclude, 0)
}

// queueForCapped is queueFor among the workers whose coefficient is at
// most maxCoef (0: any).
func (p *Proxy) queueForCapped(model string, exclude map[*workerConn]bool, maxCoef int64) (<-chan struct{}, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closing {
		return nil, false
	}
	if p.slotFreed == nil {
		p.slotFreed = make(chan struct{})
	}
	mr := p.routes[model]
	if mr == nil {
		return nil, false
	}
	n := mr.acceptingAtMost(maxCoef)
	for w := range exclude {
		if w.listedFor(model) && (maxCoef <= 0 || w.reg.CoefficientMilli <= maxCoef) {
			n--
		}
	}
	if n <= 0 {
		return nil, false
	}
	return p.slotFreed, true
}

// release frees the attempt's slot (idempotent).
func (p *Proxy) release(a *attempt, ok bool) {
	p.mu.Lock()
	p.releaseLocked(a, ok)
	p.mu.Unlock()
}

func (p *Proxy) releaseLocked(a *attempt, ok bool) {
	if a.released {
		return
	}
	a.released = true
	w := a.w
	delete(w.jobs, a.jobID)
	w.ended.add(a.jobID)
	w.running--
	p.jobsRunning--
	p.wakeQueuedLocked()
	if ok {
		ms := float64(time.Since(a.started).Milliseconds())
		if w.jobsDone == 0 {
			w.avgMS = ms
		} else {
			w.avgMS = 0.8*w.avgMS + 0.2*ms
		}
		w.jobsDone++
	}
	p.routeUpdateLocked(w)
}

// servableModels lists the priced models that some registered, accepting
// worker offers now.
func (p *Proxy) servableModels() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, n := range p.cfg.ModelNames() {
		if mr := p.routes[n]; mr != nil && mr.accepting > 0 {
			out = append(out, n)
		}
	}
	return out
}
