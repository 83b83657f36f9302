package gpu

import (
	"context"
	"sync"
	"time"
)

// DefaultSampleInterval is the Sampler's interval when none is given.
const DefaultSampleInterval = time.Second

// Sampler takes a Snapshot from a Detector at a fixed interval and hands each
// one to a publish function. One ticker, no busy loop.
type Sampler struct {
	d        *Detector
	interval time.Duration
	publish  func(Snapshot)
	// every carries SetInterval's changes to Run (capacity 1: the latest wins).
	every chan time.Duration

	mu     sync.RWMutex
	latest Snapshot
}

// NewSampler returns a Sampler over d. An interval <= 0 means
// DefaultSampleInterval; publish may be nil (then only Latest is updated).
func NewSampler(d *Detector, interval time.Duration, publish func(Snapshot)) *Sampler {
	if interval <= 0 {
		interval = DefaultSampleInterval
	}
	return &Sampler{d: d, interval: interval, publish: publish, every: make(chan time.Duration, 1)}
}

// SetInterval changes the interval of a running (or later) Run from its
// next sample on; d <= 0 stops the ticks: then only SampleNow samples.
// NVML calls cost milliseconds each, and every wake of an idle process
// costs more than its work: an idle app samples when it looks anyway.
func (s *Sampler) SetInterval(d time.Duration) {
	if d < 0 {
		d = 0
	}
	for {
		select {
		case s.every <- d:
			return
		default:
			select { // replace the pending change: the latest wins
			case <-s.every:
			default:
			}
		}
	}
}

// Run takes a snapshot immediately and then once per interval, publishing
// each, until ctx is done; it then returns nil. Run one Run per Sampler.
func (s *Sampler) Run(ctx context.Context) error {
	if ctx.Err() != nil {
		return nil
	}
	s.sample()
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			s.sample()
		case d := <-s.every:
			if d != s.interval {
				s.interval = d
				if d == 0 {
					t.Stop()
				} else {
					t.Reset(d)
				}
			}
		}
	}
}

// SampleNow takes and publishes a snapshot now, on the caller's goroutine.
func (s *Sampler) SampleNow() { s.sample() }

func (s *Sampler) sample() {
	snap := s.d.Snapshot()
	s.mu.Lock()
	s.latest = snap
	s.mu.Unlock()
	if s.publish != nil {
		s.publish(snap)
	}
}

// Latest returns the most recent snapshot; before the first one its State is "".
func (s *Sampler) Latest() Snapshot {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.latest
}
