package ollama_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/runtime/ollama"
)

// runSupervisor runs sup until the test ends; Run must then return nil.
func runSupervisor(t *testing.T, sup *ollama.Supervisor) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sup.Run(ctx) }()
	var stopped bool
	stop = func() {
		t.Helper()
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run() = %v after cancel, want nil", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("Run() did not return within 20 s of cancel")
		}
	}
	t.Cleanup(stop)
	return stop
}

// waitFor polls cond every 10 ms until it holds, failing the test after d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitServing waits for a server other than the one with pid prev to answer
// and returns its pid.
func waitServing(t *testing.T, sup *ollama.Supervisor, prev int) int {
	t.Helper()
	var pid int
	waitFor(t, 30*time.Second, "a (new) server to answer", func() bool {
		pid = sup.PID()
		if pid == 0 || pid == prev {
			return false
		}
		select {
		case <-sup.Ready():
			return sup.PID() == pid // still the same one
		default:
			return false
		}
	})
	return pid
}

// TestBackoffResetsOnceServed crashes a server that had answered five times
// in a row: each restart must come after MinBackoff, not after a delay that
// doubled with every crash (the fifth would have cost 16 × MinBackoff).
func TestBackoffResetsOnceServed(t *testing.T) {
	sup, rec := fakeSupervisor(t, "serve")
	sup.MinBackoff, sup.MaxBackoff = 100*time.Millisecond, 10*time.Second
	runSupervisor(t, sup)
	pid := 0
	const crashes = 5
	for i := range crashes {
		pid = waitServing(t, sup, pid)
		resp, err := http.Get(sup.Addr() + "/crash")
		if err == nil {
			resp.Body.Close()
		}
		waitFor(t, 10*time.Second, "the crash to be noticed", func() bool { return len(rec.restarts()) > i })
	}
	waitServing(t, sup, pid)
	for i, r := range rec.restarts() {
		if got := r["backoff"].Duration(); got != sup.MinBackoff {
			t.Errorf("restart %d after a served crash: backoff %v, want %v", i+1, got, sup.MinBackoff)
		}
		if !r["served"].Bool() {
			t.Errorf("restart %d: served = false, want true", i+1)
		}
	}
	if got := sup.Restarts(); got != crashes {
		t.Errorf("Restarts() = %d, want %d", got, crashes)
	}
}

// TestBackoffDoublesWhileStartsFail: a server that dies before answering is
// a crash loop: the delay doubles up to MaxBackoff.
func TestBackoffDoublesWhileStartsFail(t *testing.T) {
	sup, rec := fakeSupervisor(t, "fail")
	sup.MinBackoff, sup.MaxBackoff = 10*time.Millisecond, 40*time.Millisecond
	stop := runSupervisor(t, sup)
	want := []time.Duration{10, 20, 40, 40, 40}
	waitFor(t, 30*time.Second, "five failed starts", func() bool { return len(rec.restarts()) >= len(want) })
	stop()
	for i, r := range rec.restarts()[:len(want)] {
		if got := r["backoff"].Duration(); got != want[i]*time.Millisecond {
			t.Errorf("restart %d: backoff %v, want %v", i+1, got, want[i]*time.Millisecond)
		}
		if r["served"].Bool() {
			t.Errorf("restart %d: served = true for a server that never answered", i+1)
		}
	}
	if sup.LastError() == nil {
		t.Error("LastError() = nil after failed starts")
	}
}
