//go:build linux && cgo

package gpu_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/gpu"
	"github.com/cocoon-desktop/cocoon-desktop/gpu/gputest"
)

// TestSamplerSetInterval: a running Sampler takes a new interval at once
// (the worker samples with its control loop while it does not serve): from
// no ticks to every few milliseconds, samples follow one another; with no
// ticks, SampleNow still samples.
func TestSamplerSetInterval(t *testing.T) {
	d := gpu.NewDetector(gputest.Library(gputest.RTX4090()))
	defer d.Close()
	var samples atomic.Int32
	s := gpu.NewSampler(d, time.Hour, func(gpu.Snapshot) { samples.Add(1) })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
	}()
	s.SetInterval(0)
	s.SampleNow()
	if got := samples.Load(); got < 1 {
		t.Fatalf("SampleNow took %d samples", got)
	}
	s.SetInterval(5 * time.Millisecond)
	s.SetInterval(2 * time.Millisecond) // the latest wins
	deadline := time.Now().Add(10 * time.Second)
	for samples.Load() < 5 {
		if time.Now().After(deadline) {
			t.Fatalf("%d samples after SetInterval, want the new interval in force", samples.Load())
		}
		time.Sleep(time.Millisecond)
	}
}
