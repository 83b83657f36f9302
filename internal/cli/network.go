package cli

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/cocoon-desktop/cocoon-desktop/internal/paths"
	"github.com/cocoon-desktop/cocoon-desktop/network"
	"github.com/cocoon-desktop/cocoon-desktop/network/proxy"
	"github.com/cocoon-desktop/cocoon-desktop/worker"
)

// DefaultLocalAPIAddr is where the local network's OpenAI-compatible API
// listens, so the README's curl works as printed.
const DefaultLocalAPIAddr = "127.0.0.1:8484"

// LocalPrices are the local test network's prices in nanoTON per token:
// test TON, so the owner can watch earnings appear.
var LocalPrices = map[string]proxy.ModelPrice{
	"cocoon-tiny": {PricePrompt: 100, PriceCompletion: 400},
}

// networkFlags pick the network: the embedded local one by default.
type networkFlags struct {
	url       string
	proxyKey  string
	apiAddr   string
	tonNet    string // the escrow's TON network (claims)
	tonConfig string // liteserver config; "": ton.org's
}

// setupNetwork returns the worker's network config and, for the local
// network, the embedded proxy (already listening, not yet running).
func setupNetwork(f networkFlags, dirs paths.Dirs, logger *slog.Logger) (worker.NetworkConfig, *proxy.Proxy, error) {
	if f.url != "" {
		key, err := parseProxyKey(f.proxyKey)
		if err != nil {
			return worker.NetworkConfig{}, nil, err
		}
		if !strings.HasPrefix(f.url, "wss://") && !strings.HasPrefix(f.url, "ws://") {
			return worker.NetworkConfig{}, nil, fmt.Errorf("--network %q: want a wss:// URL of the proxy's worker endpoint", f.url)
		}
		return worker.NetworkConfig{URL: f.url, ProxyKey: key}, nil, nil
	}
	dir := filepath.Join(dirs.Data, "local-network")
	apiKey, err := localAPIKey(filepath.Join(dir, "api-key"))
	if err != nil {
		return worker.NetworkConfig{}, nil, err
	}
	cfg := proxy.DefaultConfig()
	cfg.APIAddr, cfg.WorkerAddr, cfg.DataDir = f.apiAddr, "127.0.0.1:0", dir
	cfg.Models = LocalPrices
	cfg.APIKeys = []proxy.APIKey{{Key: apiKey, Name: "local"}}
	// The local network is the owner's own: it vouches for this computer's
	// worker, so the app does not call its own worker "new" (docs/trust.md).
	wkey, err := network.LoadOrCreateKey(filepath.Join(dirs.Data, "keys", "worker.key"))
	if err != nil {
		return worker.NetworkConfig{}, nil, fmt.Errorf("local network: %w", err)
	}
	cfg.Trust.TrustedWorkers = []string{network.WorkerID(wkey.Public().(ed25519.PublicKey))}
	cfg.Metering.OllamaModels = localModelsDirs(dirs)
	if cfg.APIAddr == "" {
		cfg.APIAddr = DefaultLocalAPIAddr
	}
	p, err := proxy.New(cfg, logger.With("component", "local-proxy"))
	if err != nil && f.apiAddr == "" && isAddrInUse(err) {
		// Another program has the usual port: take any free one, the UI shows which.
		logger.Warn("local API port busy; using another", "addr", cfg.APIAddr)
		cfg.APIAddr = "127.0.0.1:0"
		p, err = proxy.New(cfg, logger.With("component", "local-proxy"))
	}
	if err != nil {
		return worker.NetworkConfig{}, nil, fmt.Errorf("local network: %w", err)
	}
	api := "http://" + p.APIAddr() + "/v1"
	logger.Info("local test network ready: send OpenAI requests here", "api", api, "api_key", apiKey, "models", "cocoon-tiny")
	return worker.NetworkConfig{
		URL: p.WorkerURL(), ProxyKey: p.PublicKey(), Local: true, APIURL: api, APIKey: apiKey,
	}, p, nil
}

// localModelsDirs are where the local network's model lies, for the
// embedded proxy to count its tokens: the managed Ollama's models (the
// worker's data dir/ollama, runtime/ollama's Dir/models), then the owner's
// own Ollama's ($OLLAMA_MODELS or ~/.ollama/models) when the app attaches
// to it. The worker creates the model after the proxy starts; the proxy
// looks for it again at its jobs until it is there.
func localModelsDirs(dirs paths.Dirs) []string {
	out := []string{filepath.Join(dirs.Data, "ollama", "models")}
	if d := os.Getenv("OLLAMA_MODELS"); d != "" {
		out = append(out, d)
	} else if home, err := os.UserHomeDir(); err == nil {
		out = append(out, filepath.Join(home, ".ollama", "models"))
	}
	return out
}

func isAddrInUse(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && strings.Contains(err.Error(), "address already in use")
}

func parseProxyKey(s string) (ed25519.PublicKey, error) {
	b, err := hex.DecodeString(strings.TrimSpace(s))
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("--proxy-key: want the proxy's ed25519 public key as 64 hex characters (cocoon-proxy -print-key prints it)")
	}
	return ed25519.PublicKey(b), nil
}

// localAPIKey reads the local network's API key, creating it (0600) once.
func localAPIKey(path string) (string, error) {
	if b, err := os.ReadFile(path); err == nil {
		if k := strings.TrimSpace(string(b)); strings.HasPrefix(k, "cocoon-local-") {
			return k, nil
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", fmt.Errorf("local network: %w", err)
	}
	raw := make([]byte, 16)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	k := "cocoon-local-" + hex.EncodeToString(raw)
	if err := os.WriteFile(path, []byte(k+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("local network: %w", err)
	}
	return k, nil
}
