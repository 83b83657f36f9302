package proxy

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/cocoon-desktop/cocoon-desktop/receipt"
)

const limitsBase = `"data_dir":"d","models":{"m":{"price_prompt":1,"price_completion":1}}`

func TestParseLimits(t *testing.T) {
	tests := []struct {
		name    string
		json    string
		wantErr string // substring; "" means valid
		check   func(t *testing.T, c Config)
	}{
		{name: "defaults", json: `{` + limitsBase + `}`, check: func(t *testing.T, c Config) {
			if c.Limits != DefaultLimits() {
				t.Errorf("limits %+v, want the defaults %+v", c.Limits, DefaultLimits())
			}
		}},
		{name: "every field", json: `{` + limitsBase + `,"limits":{"read_header_timeout":"2s","read_timeout":"5s","idle_timeout":"1m",
			"stream_write_timeout":"3s","max_conns_per_ip":10,"max_worker_conns_per_ip":4,"max_queued":7,"max_concurrent_per_key":3,
			"prune_workers_after":"48h"},"api_keys":[{"key":"sk-0123456789abcdef","name":"a","max_concurrent":9}]}`,
			check: func(t *testing.T, c Config) {
				want := LimitsConfig{ReadHeaderTimeout: 2 * time.Second, ReadTimeout: 5 * time.Second, IdleTimeout: time.Minute,
					StreamWriteTimeout: 3 * time.Second, MaxConnsPerIP: 10, MaxWorkerConnsPerIP: 4, MaxQueued: 7,
					MaxConcurrentPerKey: 3, PruneWorkersAfter: 48 * time.Hour}
				if c.Limits != want {
					t.Errorf("limits %+v, want %+v", c.Limits, want)
				}
				if got := c.Limits.maxInflight(c.APIKeys[0]); got != 9 {
					t.Errorf("the key's own cap: %d, want 9", got)
				}
				if got := c.Limits.maxInflight(APIKey{}); got != 3 {
					t.Errorf("the default cap: %d, want 3", got)
				}
			}},
		{name: "some fields keep the other defaults", json: `{` + limitsBase + `,"limits":{"max_queued":1}}`, check: func(t *testing.T, c Config) {
			want := DefaultLimits()
			want.MaxQueued = 1
			if c.Limits != want {
				t.Errorf("limits %+v, want %+v", c.Limits, want)
			}
		}},
		{name: "unknown field", json: `{` + limitsBase + `,"limits":{"max_queue":1}}`, wantErr: "unknown field"},
		{name: "bad duration", json: `{` + limitsBase + `,"limits":{"read_timeout":"soon"}}`, wantErr: "read_timeout"},
		{name: "zero duration", json: `{` + limitsBase + `,"limits":{"stream_write_timeout":"0s"}}`, wantErr: "stream_write_timeout"},
		{name: "negative duration", json: `{` + limitsBase + `,"limits":{"idle_timeout":"-1s"}}`, wantErr: "idle_timeout"},
		{name: "huge duration", json: `{` + limitsBase + `,"limits":{"read_timeout":"2h"}}`, wantErr: "read_timeout"},
		{name: "header timeout over read timeout", json: `{` + limitsBase + `,"limits":{"read_header_timeout":"20s","read_timeout":"10s"}}`, wantErr: "read_header_timeout"},
		{name: "zero cap", json: `{` + limitsBase + `,"limits":{"max_conns_per_ip":0}}`, wantErr: "max_conns_per_ip"},
		{name: "negative queue", json: `{` + limitsBase + `,"limits":{"max_queued":-1}}`, wantErr: "max_queued"},
		{name: "cap wrong type", json: `{` + limitsBase + `,"limits":{"max_worker_conns_per_ip":"4"}}`, wantErr: "max_worker_conns_per_ip"},
		{name: "prune too soon", json: `{` + limitsBase + `,"limits":{"prune_workers_after":"1m"}}`, wantErr: "prune_workers_after"},
		{name: "negative key cap", json: `{` + limitsBase + `,"api_keys":[{"key":"sk-0123456789abcdef","name":"a","max_concurrent":-1}]}`, wantErr: "max_concurrent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseConfig([]byte(tt.json))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
	// An embedder's zero Limits take the defaults.
	if got := (Config{}).withDefaults().Limits; got != DefaultLimits() {
		t.Errorf("zero limits filled as %+v", got)
	}
}

func FuzzParseConfigLimits(f *testing.F) {
	for _, l := range []string{
		`{}`, `{"max_queued":1}`, `{"read_header_timeout":"1ms","read_timeout":"1ms"}`, `{"read_timeout":"-1s"}`,
		`{"max_conns_per_ip":1000001}`, `{"prune_workers_after":"720h","stream_write_timeout":"1h"}`, `{"idle_timeout":"9999999h"}`,
	} {
		f.Add([]byte(l))
	}
	f.Fuzz(func(t *testing.T, limits []byte) {
		c, err := ParseConfig([]byte(`{` + limitsBase + `,"limits":` + string(limits) + `}`))
		if err != nil {
			return
		}
		l := c.Limits
		if err := validateLimits(l, nil); err != nil {
			t.Fatalf("accepted limits that do not validate: %v", err)
		}
		if l.ReadHeaderTimeout <= 0 || l.ReadTimeout < l.ReadHeaderTimeout || l.StreamWriteTimeout <= 0 || l.IdleTimeout <= 0 ||
			l.MaxConnsPerIP < 1 || l.MaxWorkerConnsPerIP < 1 || l.MaxQueued < 1 || l.MaxConcurrentPerKey < 1 || l.PruneWorkersAfter < time.Hour {
			t.Fatalf("accepted unusable limits %+v", l)
		}
	})
}

// TestConfigFileMode: a config with keys in clear must not be readable by
// others; one with only digests may be.
func TestConfigFileMode(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows has no mode bits; ACLs are the owner's")
	}
	const digest = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	tests := []struct {
		name    string
		body    string
		mode    os.FileMode
		wantErr bool
	}{
		{"api key in clear, 0600", `"api_keys":[{"key":"sk-0123456789abcdef","name":"a"}]`, 0o600, false},
		{"api key in clear, 0644", `"api_keys":[{"key":"sk-0123456789abcdef","name":"a"}]`, 0o644, true},
		{"api key in clear, group-readable 0640", `"api_keys":[{"key":"sk-0123456789abcdef","name":"a"}]`, 0o640, true},
		{"admin key in clear, 0604", `"admin_key":"admin-0123456789abcdef"`, 0o604, true},
		{"digests only, 0644", `"api_keys":[{"key_sha256":"` + digest + `","name":"a"}],"admin_key_sha256":"` + strings.Repeat("ab", 32) + `"`, 0o644, false},
		{"no keys, 0644", `"commission_bps":500`, 0o644, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "proxy.json")
			if err := os.WriteFile(path, []byte(`{`+limitsBase+`,`+tt.body+`}`), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tt.mode); err != nil { // past the umask
				t.Fatal(err)
			}
			_, err := LoadConfig(path)
			if !tt.wantErr {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrConfigReadable) {
				t.Fatalf("err = %v, want ErrConfigReadable", err)
			}
			// The message names the file and the command that fixes it.
			if msg := err.Error(); !strings.Contains(msg, path) || !strings.Contains(msg, "chmod 600 "+path) {
				t.Errorf("message %q does not name the file and the chmod", msg)
			}
		})
	}
}

// TestPruneNeverEarningWorkers: worker rows with no money that were not seen
// for PruneWorkersAfter are deleted when the proxy starts; the others stay.
func TestPruneNeverEarningWorkers(t *testing.T) {
	dir := t.TempDir()
	now := time.Now().UTC()
	old, recent := now.Add(-DefaultPruneWorkersAfter-time.Hour), now.Add(-time.Hour)
	rows := []struct {
		name      string
		rec       WorkerRecord
		wantStays bool
	}{
		{"never earned, unseen for long", WorkerRecord{ID: "idle-old", FirstSeen: old, LastSeen: old}, false},
		{"never earned, seen lately", WorkerRecord{ID: "idle-recent", FirstSeen: recent, LastSeen: recent}, true},
		{"earned, unseen for long", WorkerRecord{ID: "earned-old", Cumulative: 5, LastSeq: 1, FirstSeen: old, LastSeen: old}, true},
		{"paid out to zero, unseen for long", WorkerRecord{ID: "paid-old", Cumulative: 5, LastSeq: 1, Paid: 5, FirstSeen: old, LastSeen: old}, true},
		{"payout pending, unseen for long", WorkerRecord{ID: "pending-old", Cumulative: 5, LastSeq: 1, Pending: 5, FirstSeen: old, LastSeen: old}, true},
	}
	// Rows as an older proxy wrote them (it made one for every identity it saw).
	s, err := OpenBoltStore(dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.db.Update(func(tx *bolt.Tx) error {
		for _, r := range rows {
			if err := putJSON(tx.Bucket(bktWorkers), []byte(r.rec.ID), r.rec); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.APIAddr, cfg.WorkerAddr, cfg.DataDir = "127.0.0.1:0", "127.0.0.1:0", dir
	cfg.Models = map[string]ModelPrice{"m": {PricePrompt: 1, PriceCompletion: 1}}
	p, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			_, ok, err := p.Store().Worker(context.Background(), r.rec.ID)
			if err != nil || ok != r.wantStays {
				t.Errorf("record present = %v (%v), want %v", ok, err, r.wantStays)
			}
		})
	}
	// Pruning again finds nothing, and writes nothing.
	before := txID(t, p.store.(*BoltStore))
	if n, err := p.store.PruneWorkers(context.Background(), now.Add(-DefaultPruneWorkersAfter)); err != nil || n != 0 {
		t.Errorf("second prune: %d, %v", n, err)
	}
	if after := txID(t, p.store.(*BoltStore)); after != before {
		t.Errorf("a prune with nothing to do wrote %d transactions", after-before)
	}
}

// txID is the store's last committed write transaction id: it grows by one
// with every write.
func txID(t *testing.T, s *BoltStore) int {
	t.Helper()
	var id int
	if err := s.db.View(func(tx *bolt.Tx) error { id = tx.ID(); return nil }); err != nil {
		t.Fatal(err)
	}
	return id
}

// TestTouchWorkerWritesOnlyKnownWorkers: TouchWorker never makes a record;
// a worker's first credit does, and from then on TouchWorker updates it.
func TestTouchWorkerWritesOnlyKnownWorkers(t *testing.T) {
	ctx := context.Background()
	s, err := OpenBoltStore(t.TempDir(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	sign := func(r receipt.Receipt) receipt.Signed { return receipt.Sign(key, r) }
	const addr = "UQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAJKZ"
	before := txID(t, s)
	if err := s.TouchWorker(ctx, "fresh", addr, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.Worker(ctx, "fresh"); ok || txID(t, s) != before {
		t.Fatalf("a fresh identity got a record (%v) or a write (%d)", ok, txID(t, s)-before)
	}
	if _, _, err := s.RecordJob(ctx, testJob("j1", "fresh", 1, 1), sign); err != nil {
		t.Fatal(err)
	}
	seen := time.Now().Add(time.Minute)
	if err := s.TouchWorker(ctx, "fresh", addr, seen); err != nil {
		t.Fatal(err)
	}
	w, ok, err := s.Worker(ctx, "fresh")
	if err != nil || !ok || w.PayoutAddress != addr || !w.LastSeen.Equal(seen.UTC().Truncate(0)) || w.LastSeq != 1 {
		t.Errorf("after the first credit and a touch: %+v %v %v", w, ok, err)
	}
}
