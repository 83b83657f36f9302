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

	mu     sync.RWMutex
	latest Snapshot
}

// NewSampler returns a Sampler over d. An interval <= 0 means
// DefaultSampleInterval; publish may be nil (then only Latest is updated).
func NewSampler(d *Detector, interval time.Duration, publish func(Snapshot)) *Sampler {
	if interval <= 0 {
		interval = DefaultSampleInterval
	}
	return &Sampler{d: d, interval: interval, publish: publish}
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
		}
	}
}

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
