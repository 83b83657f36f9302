package app

import (
	"testing"
	"time"
)

func TestWatchQuit(t *testing.T) {
	cases := []struct {
		name          string
		begin, finish bool
		bound         time.Duration // long where stuck must not be called: a loaded machine may pause the test
		wantStuck     bool
	}{
		{"quit never began, GUI finished", false, true, time.Minute, false},
		{"quit began, GUI finished", true, true, time.Minute, false},
		{"quit began, GUI held", true, false, 50 * time.Millisecond, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := newQuitStart()
			finished := make(chan struct{})
			stuck := make(chan struct{}, 1)
			returned := make(chan struct{})
			go func() {
				defer close(returned)
				watchQuit(q.c, finished, c.bound, func() { stuck <- struct{}{} })
			}()
			if c.begin {
				q.begin()
				q.begin() // more than once is fine
			}
			if c.finish {
				close(finished)
			}
			select {
			case <-returned:
			case <-time.After(2 * time.Minute):
				t.Fatal("watchQuit did not return")
			}
			if got := len(stuck) == 1; got != c.wantStuck {
				t.Fatalf("stuck called: %v, want %v", got, c.wantStuck)
			}
		})
	}
}
