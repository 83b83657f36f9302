package worker

import (
	"sync"
	"time"
)

// Bus is a small publish/subscribe hub. Publishing never blocks: a subscriber
// whose buffer is full misses that event, which is harmless because every
// event tells the subscriber to re-read Status, and a fuller buffer means a
// re-read is already pending.
type Bus struct {
	mu   sync.Mutex
	next int
	subs map[int]chan Event
}

// NewBus returns an empty Bus.
func NewBus() *Bus { return &Bus{subs: map[int]chan Event{}} }

// Subscribe returns a channel of events and a cancel func that closes it.
func (b *Bus) Subscribe(buffer int) (<-chan Event, func()) {
	if buffer < 1 {
		buffer = 1
	}
	ch := make(chan Event, buffer)
	b.mu.Lock()
	id := b.next
	b.next++
	b.subs[id] = ch
	b.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			b.mu.Lock()
			delete(b.subs, id)
			b.mu.Unlock()
			close(ch)
		})
	}
}

// Publish sends an event to every subscriber that has room for it.
func (b *Bus) Publish(t EventType, data any) {
	ev := Event{Type: t, Time: time.Now(), Data: data}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, ch := range b.subs {
		select {
		case ch <- ev:
		default:
		}
	}
}
