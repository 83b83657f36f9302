package proxy

import (
	"fmt"
	"testing"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/network"
)

// BenchmarkRouteDecision measures one routing decision (reserve + release)
// among n connected workers of which every tenth serves the model, with
// uneven load. `make bench` reports it; the tests never run it.
func BenchmarkRouteDecision(b *testing.B) {
	for _, n := range []int{1, 100, 1000, 10000} {
		b.Run(fmt.Sprintf("workers=%d", n), func(b *testing.B) {
			p := &Proxy{workers: map[string]*workerConn{}}
			for i := 0; i < n; i++ {
				model := "other"
				if i%10 == 0 {
					model = "m"
				}
				p.workers[fmt.Sprint(i)] = &workerConn{
					id: fmt.Sprint(i), since: time.Unix(int64(i), 0), registered: true, state: network.Accepting,
					reg:     network.Register{MaxConcurrent: 4, Models: []network.ModelInfo{{Name: model, Loaded: i%20 == 0}}},
					running: i % 3, avgMS: float64(100 + i%50), jobs: map[string]*attempt{},
				}
			}
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
