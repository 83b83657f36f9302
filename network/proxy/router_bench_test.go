package proxy

import (
	"fmt"
	"testing"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/network"
)

var benchWorkerCounts = []int{1, 100, 1000, 10000, 100000}

// benchProxy connects n registered, accepting workers of which every tenth
// serves model "m", with uneven load. indexed: through the routing index's
// setters, as the reader does; else by filling the fields alone (what the
// reference scan reads).
func benchProxy(n int, indexed bool) *Proxy {
	p := &Proxy{workers: map[string]*workerConn{}}
	for i := 0; i < n; i++ {
		model := "other"
		if i%10 == 0 {
			model = "m"
		}
		reg := network.Register{MaxConcurrent: 4, Models: []network.ModelInfo{{Name: model, Loaded: i%20 == 0}}}
		w := &workerConn{
			id: fmt.Sprint(i), since: time.Unix(int64(i), 0), state: network.Paused,
			running: i % 3, avgMS: float64(100 + i%50), jobs: map[string]*attempt{},
		}
		if !indexed {
			w.registered, w.reg, w.state = true, reg, network.Accepting
			p.workers[w.id] = w
			continue
		}
		p.addWorkerLocked(w)
		p.setRegLocked(w, reg)
		p.setStateLocked(w, network.Accepting)
	}
	return p
}

// BenchmarkRouteDecision measures one routing decision (reserve + release)
// among n connected workers of which every tenth serves the model, with
// uneven load. `make bench` reports it; the tests never run it.
func BenchmarkRouteDecision(b *testing.B) {
	for _, n := range benchWorkerCounts {
		b.Run(fmt.Sprintf("workers=%d", n), func(b *testing.B) {
			p := benchProxy(n, true)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				a := p.reserve("m", nil)
				if a == nil {
					b.Fatal("no worker chosen")
				}
				p.release(a, true)
			}
		})
	}
}

// BenchmarkRouteDecisionPriceCap is BenchmarkRouteDecision with half the
// workers (every other one) over the client's price cap, so the choice
// searches the heap below the ones it skips.
func BenchmarkRouteDecisionPriceCap(b *testing.B) {
	for _, n := range benchWorkerCounts {
		b.Run(fmt.Sprintf("workers=%d", n), func(b *testing.B) {
			p := benchProxy(n, true)
			p.mu.Lock()
			i := 0
			for _, w := range p.workers {
				reg := w.reg
				reg.CoefficientMilli = 1000 + 1000*int64(i%2)
				p.setRegLocked(w, reg)
				i++
			}
			p.mu.Unlock()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				a := p.reserveCapped("m", nil, 1500)
				if a == nil || a.coefficient > 1500 {
					b.Fatal("no worker under the cap chosen")
				}
				p.release(a, true)
			}
		})
	}
}

// BenchmarkRouteDecisionScan is BenchmarkRouteDecision with the scheduler
// the index replaced (a scan of every worker under the lock, the tests'
// oracle), so `make bench` shows both in one run.
func BenchmarkRouteDecisionScan(b *testing.B) {
	for _, n := range benchWorkerCounts {
		b.Run(fmt.Sprintf("workers=%d", n), func(b *testing.B) {
			p := benchProxy(n, false)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				a := scanReserve(p, "m", nil)
				if a == nil {
					b.Fatal("no worker chosen")
				}
				scanRelease(p, a, true)
			}
		})
	}
}

// scanReserve and scanRelease are reserve and release as they were before
// the routing index.
func scanReserve(p *Proxy, model string, exclude map[*workerConn]bool) *attempt {
	p.mu.Lock()
	defer p.mu.Unlock()
	best := scanChoose(p, model, exclude, 0)
	if best == nil {
		return nil
	}
	a := &attempt{
		jobID:       newJobID(),
		w:           best,
		coefficient: best.reg.CoefficientMilli,
		started:     time.Now(),
		notify:      make(chan struct{}, 1),
	}
	best.running++
	best.jobs[a.jobID] = a
	p.jobsRunning++
	return a
}

func scanRelease(p *Proxy, a *attempt, ok bool) {
	p.release(a, ok) // the release's index update is ~1 µs of the scan's cost
}
