package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/network"
	"github.com/cocoon-desktop/cocoon-desktop/network/proxy"
)

// freePort is a loopback port free a moment ago (the proxy binds it next).
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

func writeInviteConfig(t *testing.T, dir string, extra map[string]any) string {
	t.Helper()
	cfg := map[string]any{
		"api_addr": "127.0.0.1:0", "worker_addr": "127.0.0.1:" + freePort(t), "data_dir": "state",
		"name": "Test GPU Net", "commission_bps": 1500,
		"models": map[string]any{"tiny": map[string]int{"price_prompt": 3, "price_completion": 7}},
	}
	for k, v := range extra {
		cfg[k] = v
	}
	b, _ := json.Marshal(cfg)
	path := filepath.Join(dir, "proxy.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestInviteRoundTrip: what `cocoon-proxy invite` prints (each form) parses
// in the app, carries the proxy's key, URL and name, and leads to that
// running proxy's signed network info with its prices and commission.
func TestInviteRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := writeInviteConfig(t, dir, nil)
	cfg, err := proxy.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := proxy.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	for _, tc := range []struct {
		name string
		args []string
	}{
		{"one string", []string{"-config", path, "invite", "-string"}},
		{"link", []string{"-config", path, "invite", "-link"}},
		{"text: the one-string line", []string{"-config", path, "invite"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := run(tc.args, &out); err != nil {
				t.Fatalf("run %v: %v", tc.args, err)
			}
			text := strings.TrimSpace(out.String())
			if strings.HasPrefix(text, "Network:") {
				if !strings.Contains(text, "Network: Test GPU Net") {
					t.Errorf("output does not name the network:\n%s", text)
				}
				for _, line := range strings.Split(text, "\n") {
					if strings.HasPrefix(line, network.InviteShortPrefix) {
						text = line
					}
				}
			}
			inv, err := network.ParseInvite(text)
			if err != nil {
				t.Fatalf("the app refuses the printed invite %q: %v", text, err)
			}
			if inv.URL != p.WorkerURL() || !inv.ProxyKey.Equal(p.PublicKey()) || inv.Name != "Test GPU Net" {
				t.Errorf("invite = %+v, want URL %s, the proxy's key, name Test GPU Net", inv, p.WorkerURL())
			}
			info, err := network.FetchNetworkInfo(ctx, inv, nil)
			if err != nil {
				t.Fatalf("network info: %v", err)
			}
			want := []network.ModelPrice{{Model: "tiny", PricePrompt: 3, PriceCompletion: 7}}
			if info.Name != "Test GPU Net" || info.CommissionBPS != 1500 || len(info.Prices) != 1 || info.Prices[0] != want[0] ||
				info.ProtocolVersion != network.ProtocolVersion || info.Payouts {
				t.Errorf("network info = %+v", info)
			}
		})
	}
}

// TestInviteConfig: public_worker_url is what the invite carries; a config
// whose invite the app would refuse does not load; an invite of another
// proxy's key fails the info's signature check.
func TestInviteConfig(t *testing.T) {
	dir := t.TempDir()
	path := writeInviteConfig(t, dir, map[string]any{"public_worker_url": "wss://gpu.example.net:443/v1/worker"})
	var out bytes.Buffer
	if err := run([]string{"-config", path, "invite", "-string"}, &out); err != nil {
		t.Fatal(err)
	}
	inv, err := network.ParseInvite(out.String())
	if err != nil || inv.URL != "wss://gpu.example.net:443/v1/worker" {
		t.Fatalf("invite = %+v, %v; want public_worker_url", inv, err)
	}
	for _, tc := range []struct {
		name  string
		extra map[string]any
		want  string
	}{
		{"plain ws to a remote host", map[string]any{"public_worker_url": "ws://gpu.example.net/v1/worker"}, "not encrypted"},
		{"name too long", map[string]any{"name": strings.Repeat("n", 65)}, "at most 64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := proxy.LoadConfig(writeInviteConfig(t, t.TempDir(), tc.extra))
			if !errors.Is(err, network.ErrBadInvite) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("LoadConfig = %v, want ErrBadInvite saying %q", err, tc.want)
			}
		})
	}
}

// TestNetworkInfoPinned: the info of a running proxy does not verify with
// another key (an invite whose key was changed on the way).
func TestNetworkInfoPinned(t *testing.T) {
	dir := t.TempDir()
	cfg, err := proxy.LoadConfig(writeInviteConfig(t, dir, nil))
	if err != nil {
		t.Fatal(err)
	}
	p, err := proxy.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	inv := p.Invite()
	inv.ProxyKey = append([]byte(nil), inv.ProxyKey...)
	inv.ProxyKey[0] ^= 1
	if _, err := network.FetchNetworkInfo(ctx, inv, nil); err == nil {
		t.Fatal("network info verified with another key")
	}
}
