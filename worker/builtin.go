package worker

import (
	"context"
	"fmt"
)

// RestoreBuiltInModel puts the built-in tiny model (TinyModel) back after
// the owner deleted it, so the local network works again without a
// download from the internet (it is written from code, not fetched). When
// no model is chosen it becomes the served one.
func (c *Core) RestoreBuiltInModel(ctx context.Context) error {
	select {
	case <-c.rt.Ready():
	default:
		return fmt.Errorf("worker: restore %s: %w", TinyModel, ErrNotReady)
	}
	if err := c.seedTinyModel(ctx); err != nil {
		return fmt.Errorf("worker: restore %s: %w", TinyModel, err)
	}
	if err := c.refreshModels(ctx); err != nil {
		return fmt.Errorf("worker: restore %s: %w", TinyModel, err)
	}
	c.bus.Publish(EventModels, nil)
	return nil
}
