package worker

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ollama/ollama/api"

	"github.com/cocoon-desktop/cocoon-desktop/runtime/ollama"
)

func TestEvictionPlan(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	m := func(name string, gb int64, ageDays int, loaded bool) ollama.Model {
		return ollama.Model{Name: name, Size: gb * bytesPerGB, ModifiedAt: t0.AddDate(0, 0, -ageDays), Loaded: loaded}
	}
	models := []ollama.Model{
		m("new:7b", 4, 1, false),
		m("old:3b", 2, 30, false),
		m("mid:8b", 5, 10, false),
		m("served:1b", 1, 60, false),
		m("loaded:1b", 1, 90, true),
	} // 13 GB in all
	tests := []struct {
		name   string
		models []ollama.Model
		served string
		quota  int64
		keep   []string
		want   []string
	}{
		{"no quota", models, "served:1b", 0, nil, nil},
		{"negative quota is none", models, "served:1b", -1, nil, nil},
		{"under quota", models, "served:1b", 13 * bytesPerGB, nil, nil},
		{"oldest first, stops once it fits", models, "served:1b", 11 * bytesPerGB, nil, []string{"old:3b"}},
		{"just over: one is enough", models, "served:1b", 13*bytesPerGB - 1, nil, []string{"old:3b"}},
		{"two needed", models, "served:1b", 7 * bytesPerGB, nil, []string{"old:3b", "mid:8b"}},
		{"never served or loaded, even when it cannot fit", models, "served:1b", 1, nil, []string{"old:3b", "mid:8b", "new:7b"}},
		{"keep the fresh download", models, "served:1b", 1, []string{"new:7b"}, []string{"old:3b", "mid:8b"}},
		{"served changes the choice", models, "old:3b", 11 * bytesPerGB, nil, []string{"served:1b", "mid:8b"}},
		{"nothing evictable", []ollama.Model{m("a", 5, 1, true), m("b", 5, 2, false)}, "b", bytesPerGB, nil, nil},
		{"same time: by name", []ollama.Model{m("b", 1, 1, false), m("a", 1, 1, false)}, "", bytesPerGB, nil, []string{"a"}},
		{"empty", nil, "", bytesPerGB, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := evictionPlan(tt.models, tt.served, tt.quota, tt.keep...)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("evictionPlan = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSetModelCacheQuota(t *testing.T) {
	dir := t.TempDir()
	c := New(Config{DataDir: dir, Runtime: ollama.Config{NoAttach: true, Binary: "/nonexistent/ollama"}})
	for _, bad := range []int64{-1, MaxModelCacheQuotaGB + 1} {
		if err := c.SetModelCacheQuotaGB(bad); !errors.Is(err, ErrBadSetting) {
			t.Errorf("SetModelCacheQuotaGB(%d) = %v, want ErrBadSetting", bad, err)
		}
	}
	if err := c.SetModelCacheQuotaGB(50); err != nil {
		t.Fatal(err)
	}
	if q := c.modelQuota(); q != 50*bytesPerGB {
		t.Fatalf("modelQuota = %d, want 50 GB", q)
	}
	s, err := LoadSettings(dir)
	if err != nil || s.ModelCacheQuotaGB != 50 {
		t.Fatalf("saved settings = %+v, %v; want the quota", s, err)
	}
	mc := c.ModelCache()
	if mc.Quota != 50*bytesPerGB || mc.Attached || mc.Dir != filepath.Join(dir, "ollama", "models") {
		t.Fatalf("ModelCache = %+v", mc)
	}
	if !mc.FreeKnown || mc.Free == 0 || mc.Mount == "" {
		t.Fatalf("ModelCache has no drive: %+v", mc)
	}
	// A hand-edited negative quota is no quota.
	if err := os.WriteFile(filepath.Join(dir, SettingsFile), []byte(`{"model_cache_quota_gb": -5}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if q := New(Config{DataDir: dir}).modelQuota(); q != 0 {
		t.Fatalf("negative setting: quota %d, want 0", q)
	}
}

// TestQuotaEvictsLeastRecentlyUsed runs the eviction on a real managed
// Ollama: three copies of the tiny model, a quota that fits two.
func TestQuotaEvictsLeastRecentlyUsed(t *testing.T) {
	c := startCore(t, nil)
	ctx := testCtx(t)
	if err := c.WaitModels(ctx); err != nil {
		t.Fatal(err)
	}
	client, err := c.Runtime().Client()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"old-copy:latest", "new-copy:latest"} {
		time.Sleep(1100 * time.Millisecond) // distinct modification times
		if err := client.Copy(ctx, &api.CopyRequest{Source: TinyModel, Destination: name}); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.RefreshModels(ctx); err != nil {
		t.Fatal(err)
	}
	st := c.Status()
	if len(st.Models) != 3 || st.Model != TinyModel {
		t.Fatalf("models %+v serving %q, want 3 models serving the tiny one", st.Models, st.Model)
	}
	size := st.Models[0].Size
	events, unsubscribe := c.Subscribe(64)
	defer unsubscribe()

	c.mu.Lock()
	c.quotaBytes = 2*size + size/2 // room for two
	c.mu.Unlock()
	// The oldest is the served tiny model; the new copy is "just downloaded".
	ev, err := c.enforceQuota(ctx, "new-copy:latest")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ev.Models, []string{"old-copy:latest"}) || ev.Freed != size {
		t.Fatalf("evicted %+v, want old-copy", ev)
	}
	var names []string
	for _, m := range c.Status().Models {
		names = append(names, m.Name)
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{TinyModel, "new-copy:latest"}) {
		t.Fatalf("models after eviction = %q", names)
	}
	mc := c.ModelCache()
	if mc.Used != 2*size || mc.Quota != 2*size+size/2 || !mc.FreeKnown {
		t.Fatalf("ModelCache = %+v", mc)
	}
	published := false
	for len(events) > 0 {
		if e := <-events; e.Type == EventModels {
			if got, ok := e.Data.(ModelEviction); ok && slices.Equal(got.Models, ev.Models) {
				published = true
			}
		}
	}
	if !published {
		t.Fatal("no EventModels carried the eviction")
	}
	// Under quota now: nothing more goes.
	if ev, err := c.enforceQuota(ctx, ""); err != nil || len(ev.Models) != 0 {
		t.Fatalf("second enforce = %+v, %v; want nothing", ev, err)
	}
}
