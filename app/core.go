package app

import (
	"context"

	"github.com/cocoon-desktop/cocoon-desktop/worker"
)

// Core is what the GUI drives. *worker.Core satisfies it; tests use a fake.
//
// Status must be cheap and safe to call from any goroutine. Events only say
// that something changed: the GUI re-reads Status after each one.
type Core interface {
	Status() worker.Status
	Subscribe(buffer int) (events <-chan worker.Event, cancel func())
	// Start begins sharing: the worker serves once the owner is away.
	Start(ctx context.Context) error
	// StartNow serves at once, without waiting for the owner to be away.
	StartNow(ctx context.Context) error
	Stop(ctx context.Context) error
	// PullModel blocks until the download is done; progress arrives as EventPull events.
	PullModel(ctx context.Context, name string) error
	DeleteModel(ctx context.Context, name string) error
	// SetModel chooses which local model the worker serves.
	SetModel(name string) error
}
