package app

import (
	"sync"
	"time"
)

// quitStuckAfter is how long Run may take, from the start of a quit, to
// come back out of Fyne and finish its clean-up before the program is ended
// without it (Options.QuitStuck). A quit normally takes well under a second.
var quitStuckAfter = 15 * time.Second

// quitStart is closed when a quit begins (the Quit menu, the window's close,
// or Run's context ending); begin may be called any number of times.
type quitStart struct {
	once sync.Once
	c    chan struct{}
}

func newQuitStart() *quitStart { return &quitStart{c: make(chan struct{})} }

func (q *quitStart) begin() { q.once.Do(func() { close(q.c) }) }

// watchQuit calls stuck when a quit began (began closed) and finished has
// not been closed within bound of it. It returns when finished is closed
// or after calling stuck.
//
// Why: Fyne 2.7.1 can hang in its own quit. Its run loop drains the queue
// of functions waiting for the Fyne thread and then closes it, and the
// lifecycle's "stopped" event, queued just before, can reach that queue
// after the drain: nobody ever runs it, and Run's goroutine waits for it
// in Fyne for good (seen once in 80 quits under load, in
// TestNoSessionBusIsStarted). A window the owner quit must not leave a
// process behind that goes on taking network jobs.
func watchQuit(began, finished <-chan struct{}, bound time.Duration, stuck func()) {
	select {
	case <-finished:
		return
	case <-began:
	}
	t := time.NewTimer(bound)
	defer t.Stop()
	select {
	case <-finished:
	case <-t.C:
		stuck()
	}
}
