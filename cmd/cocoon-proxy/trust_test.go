package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/network"
	"github.com/cocoon-desktop/cocoon-desktop/network/proxy"
	"github.com/cocoon-desktop/cocoon-desktop/network/proxy/proxytest"
)

const (
	testAdminKey = "admin-0123456789abcdef"
	testAPIKey   = "sk-test-0123456789abcdef"
)

// writeConfig writes a proxy config (0600) named name in dir with data in
// dir/state, and returns its path. admin "": only the admin key's digest.
func writeConfig(t *testing.T, dir, name, apiAddr, admin string) string {
	t.Helper()
	cfg := map[string]any{
		"api_addr": apiAddr, "worker_addr": "127.0.0.1:0", "data_dir": "state",
		"models":   map[string]any{"tiny": map[string]int{"price_prompt": 1, "price_completion": 1}},
		"api_keys": []map[string]string{{"key": testAPIKey, "name": "test"}},
	}
	if admin != "" {
		cfg["admin_key"] = admin
	} else {
		cfg["admin_key_sha256"] = proxy.KeyDigest(testAdminKey)
	}
	b, _ := json.Marshal(cfg)
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// quarantine marks a worker quarantined in the store, as K failures would.
func quarantine(t *testing.T, dataDir, id string) {
	t.Helper()
	st, err := proxy.OpenBoltStore(dataDir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.UpdateTrust(context.Background(), id, func(r *proxy.TrustRecord) error {
		r.Level, r.Strikes = network.TrustQuarantined, 3
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func trustRecord(t *testing.T, dataDir, id string) proxy.TrustRecord {
	t.Helper()
	st, err := proxy.OpenBoltStore(dataDir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	r, _, err := st.Trust(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestTrustReleaseStopped: with the proxy stopped, `trust release` lifts
// the quarantine in the store (once); bad command lines are refused.
func TestTrustReleaseStopped(t *testing.T) {
	dir := t.TempDir()
	path := writeConfig(t, dir, "proxy.json", "127.0.0.1:0", testAdminKey)
	data := filepath.Join(dir, "state")
	_, id := proxytest.NewKey()
	_, other := proxytest.NewKey()
	quarantine(t, data, id)
	tests := []struct {
		name    string
		args    []string
		wantErr string
		wantOut string
	}{
		{name: "release", args: []string{"trust", "release", strings.ToUpper(id)}, wantOut: "level now new"},
		{name: "again", args: []string{"trust", "release", id}, wantErr: "not quarantined"},
		{name: "a worker never quarantined", args: []string{"trust", "release", other}, wantErr: "not quarantined"},
		{name: "not a worker id", args: []string{"trust", "release", "abc"}, wantErr: "not a worker id"},
		{name: "no id", args: []string{"trust", "release"}, wantErr: "usage"},
		{name: "unknown command", args: []string{"trust", "forgive", id}, wantErr: "usage"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(append([]string{"-config", path}, tt.args...), &out)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !strings.Contains(out.String(), tt.wantOut) {
				t.Fatalf("err %v, output %q", err, out.String())
			}
		})
	}
	if r := trustRecord(t, data, id); r.Level != network.TrustNew || r.Releases != 1 {
		t.Errorf("record after release: %+v", r)
	}
	if r := trustRecord(t, data, other); r.Level != "" || r.Releases != 0 {
		t.Errorf("untouched worker's record: %+v", r)
	}
}

// TestTrustReleaseRunning: while the proxy runs (its store locked), `trust
// release` asks it with the admin key, and the quarantined worker gets
// jobs and a fresh standing at once; without a key it says which to set.
func TestTrustReleaseRunning(t *testing.T) {
	dir := t.TempDir()
	path := writeConfig(t, dir, "proxy.json", "127.0.0.1:0", testAdminKey)
	data := filepath.Join(dir, "state")
	key, id := proxytest.NewKey()
	quarantine(t, data, id)
	cfg, err := proxy.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := proxy.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- p.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	// The commands read the config: now with the proxy's real address.
	live := writeConfig(t, dir, "live.json", p.APIAddr(), testAdminKey)
	hashed := writeConfig(t, dir, "hashed.json", p.APIAddr(), "")
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	w, err := proxytest.Dial(wctx, p.WorkerURL(), p.PublicKey(), proxytest.Options{Key: key, Models: proxytest.Models("tiny")})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	chat := func() int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, "http://"+p.APIAddr()+"/v1/chat/completions",
			strings.NewReader(`{"model":"tiny","messages":[{"role":"user","content":"hi"}]}`))
		req.Header.Set("Authorization", "Bearer "+testAPIKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := chat(); got != http.StatusServiceUnavailable {
		t.Fatalf("the quarantined worker's proxy answered %d", got)
	}

	t.Setenv(AdminKeyEnv, "")
	if err := run([]string{"-config", hashed, "trust", "release", id}, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), AdminKeyEnv) {
		t.Fatalf("without a key: %v", err)
	}
	t.Setenv(AdminKeyEnv, "admin-wrong-0123456789")
	if err := run([]string{"-config", hashed, "trust", "release", id}, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("with a wrong key: %v", err)
	}
	t.Setenv(AdminKeyEnv, "")
	var out bytes.Buffer
	if err := run([]string{"-config", live, "trust", "release", id}, &out); err != nil || !strings.Contains(out.String(), "by the running proxy") {
		t.Fatalf("release: %v, %q", err, out.String())
	}
	if _, err := w.WaitBalance(wctx, func(b network.Balance) bool {
		return b.Standing != nil && b.Standing.Level == network.TrustNew
	}); err != nil {
		t.Fatal(err)
	}
	if got := chat(); got != http.StatusOK || len(w.Jobs()) != 1 {
		t.Fatalf("after release: status %d, worker jobs %d", got, len(w.Jobs()))
	}
	err = run([]string{"-config", live, "trust", "release", id}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "not quarantined") {
		t.Fatalf("second release: %v", err)
	}
}
