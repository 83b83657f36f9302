package worker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/cocoon-desktop/cocoon-desktop/runtime/ollama"
)

// MaxModelCacheQuotaGB bounds the model cache quota setting (100 TB).
const MaxModelCacheQuotaGB = 100_000

// bytesPerGB is the quota's unit: decimal gigabytes, as the UI prints sizes.
const bytesPerGB = 1_000_000_000

// ModelCache describes where the local models live and how full the cache is.
type ModelCache struct {
	// Dir is the managed Ollama's model store; "" when Cocoon uses the
	// owner's own Ollama (Attached), which decides where models go.
	Dir      string
	Attached bool
	// Mount is the root of the filesystem (drive) holding Dir, e.g. "/home" or "C:\".
	Mount string
	// Free is the space left on that drive for this user, when FreeKnown.
	Free      uint64
	FreeKnown bool
	// Used is the total size of the local models (shared blobs counted once per model).
	Used int64
	// Quota is the model cache quota in bytes; 0: none.
	Quota int64
}

// ModelEviction is the Data of an EventModels published when models were
// deleted to keep the cache under its quota.
type ModelEviction struct {
	Models []string
	Freed  int64 // bytes, the sum of the evicted models' sizes
	Quota  int64
}

// ModelCache reports the model store's drive, free space, use and quota.
// It reads the filesystem (a statfs), so call it at UI pace, not in a loop.
func (c *Core) ModelCache() ModelCache {
	st := c.rt.Status()
	mc := ModelCache{Quota: c.modelQuota()}
	c.mu.Lock()
	for _, m := range c.models {
		mc.Used += m.Size
	}
	c.mu.Unlock()
	if st.Mode == ollama.ModeAttached {
		mc.Attached = true
		return mc
	}
	mc.Dir = c.rt.ModelsDir()
	if mc.Dir == "" { // not started yet: where the managed store will be
		if d := c.cfg.Runtime.Dir; d != "" {
			mc.Dir = filepath.Join(d, "models")
		}
	}
	if mc.Dir == "" {
		return mc
	}
	// The store may not exist yet: measure the nearest existing parent.
	p := mc.Dir
	for {
		if _, err := os.Stat(p); err == nil {
			break
		}
		parent := filepath.Dir(p)
		if parent == p {
			return mc
		}
		p = parent
	}
	if free, err := diskFree(p); err == nil {
		mc.Free, mc.FreeKnown = free, true
	}
	mc.Mount = mountPoint(p)
	return mc
}

// modelQuota is the quota in bytes (0: none).
func (c *Core) modelQuota() int64 {
	c.mu.Lock()
	override := c.quotaBytes
	c.mu.Unlock()
	if override > 0 {
		return override
	}
	gb := c.Settings().ModelCacheQuotaGB // a hand-edited file may hold anything
	if gb <= 0 {
		return 0
	}
	return min(gb, MaxModelCacheQuotaGB) * bytesPerGB
}

// SetModelCacheQuotaGB saves the model cache quota in GB (0: none). It is
// applied after each successful download: the least recently used models
// are deleted until the cache fits.
func (c *Core) SetModelCacheQuotaGB(gb int64) error {
	if gb < 0 || gb > MaxModelCacheQuotaGB {
		return fmt.Errorf("worker: model cache quota: %w: %d GB is out of range (0 to %d)", ErrBadSetting, gb, MaxModelCacheQuotaGB)
	}
	if err := c.updateSettings(func(st *Settings) error {
		st.ModelCacheQuotaGB = gb
		return nil
	}); err != nil {
		return err
	}
	c.log.Info("model cache quota set", "gb", gb)
	c.bus.Publish(EventModels, nil)
	return nil
}

// evictionPlan chooses the models to delete so that the local models fit in
// quota bytes: the least recently used first (oldest ModifiedAt, then by
// name), never the served model, a loaded one or one named in keep. It
// stops as soon as the total fits; when even deleting every candidate does
// not, it deletes them all. quota <= 0 means no quota.
func evictionPlan(models []ollama.Model, served string, quota int64, keep ...string) []string {
	if quota <= 0 {
		return nil
	}
	var total int64
	for _, m := range models {
		total += m.Size
	}
	if total <= quota {
		return nil
	}
	var cands []ollama.Model
	for _, m := range models {
		if m.Name == served || m.Loaded || slices.Contains(keep, m.Name) {
			continue
		}
		cands = append(cands, m)
	}
	slices.SortStableFunc(cands, func(a, b ollama.Model) int {
		if c := a.ModifiedAt.Compare(b.ModifiedAt); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	var plan []string
	for _, m := range cands {
		if total <= quota {
			break
		}
		plan = append(plan, m.Name)
		total -= m.Size
	}
	return plan
}

// enforceQuota deletes least recently used models until the local models
// fit in the quota, keeping the served model, loaded ones and keep (the
// model just downloaded). It only manages Cocoon's own store: the models
// of the owner's own Ollama are never deleted.
func (c *Core) enforceQuota(ctx context.Context, keep string) (ModelEviction, error) {
	quota := c.modelQuota()
	if quota <= 0 {
		return ModelEviction{}, nil
	}
	if c.rt.Status().Mode != ollama.ModeManaged {
		c.log.Debug("model cache quota not applied: Ollama is the owner's own")
		return ModelEviction{}, nil
	}
	c.quotaMu.Lock()
	defer c.quotaMu.Unlock()
	if err := c.refreshModels(ctx); err != nil {
		return ModelEviction{}, err
	}
	c.mu.Lock()
	models := append([]ollama.Model(nil), c.models...)
	served := c.model
	loaded := map[string]bool{}
	for _, l := range c.loaded {
		loaded[l.Name] = true
	}
	c.mu.Unlock()
	size := map[string]int64{}
	for i := range models {
		models[i].Loaded = models[i].Loaded || loaded[models[i].Name]
		size[models[i].Name] = models[i].Size
	}
	ev := ModelEviction{Quota: quota}
	var errs []error
	for _, name := range evictionPlan(models, served, quota, keep) {
		// The served model may have changed since the plan: check again.
		c.mu.Lock()
		nowServed := c.model == name
		c.mu.Unlock()
		if nowServed {
			continue
		}
		if err := c.rt.Delete(ctx, name); err != nil && !errors.Is(err, ollama.ErrModelNotFound) {
			errs = append(errs, fmt.Errorf("evict %s: %w", name, err))
			continue
		}
		c.mu.Lock()
		delete(c.pulls, name)
		c.mu.Unlock()
		ev.Models = append(ev.Models, name)
		ev.Freed += size[name]
	}
	if len(ev.Models) > 0 {
		c.log.Info("evicted least recently used models to stay under the model cache quota",
			"models", ev.Models, "freed_bytes", ev.Freed, "quota_bytes", quota)
		_ = c.refreshModels(ctx)
		c.bus.Publish(EventModels, ev)
	}
	if err := errors.Join(errs...); err != nil {
		c.log.Warn("model cache quota: could not delete every model", "err", err)
		return ev, fmt.Errorf("worker: model cache quota: %w", err)
	}
	return ev, nil
}
