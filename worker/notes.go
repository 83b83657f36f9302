package worker

import (
	"slices"

	"github.com/cocoon-desktop/cocoon-desktop/idle"
)

// setNotes records the idle policy's notes (facts that do not stop
// serving, such as unreadable game controllers), publishing on change and
// logging a new set once.
func (c *Core) setNotes(notes []idle.Reason) {
	c.mu.Lock()
	changed := !slices.EqualFunc(c.notes, notes, func(a, b idle.Reason) bool { return a.Code == b.Code && a.Text == b.Text })
	if changed {
		c.notes = notes
	}
	c.mu.Unlock()
	if !changed {
		return
	}
	for _, n := range notes {
		c.log.Warn("owner priority", "note", n.Code, "text", n.Text)
	}
	c.bus.Publish(EventState, nil)
}
