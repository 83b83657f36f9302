package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/network/proxy"
)

// AdminKeyEnv names the admin key for commands that ask a running proxy,
// when the config holds only its digest (admin_key_sha256).
const AdminKeyEnv = "COCOON_PROXY_ADMIN_KEY"

// storeTryLock is how long a command waits for the store's lock before
// concluding that the proxy runs and asking it instead.
const storeTryLock = 500 * time.Millisecond

// errUsage: a command line that names no known command.
var errUsage = errors.New("usage: cocoon-proxy -config FILE trust release WORKER_ID | escrow deploy|status|withdraw ...")

// runCommand runs the command after the flags.
func runCommand(cfg proxy.Config, args []string, stdout io.Writer) error {
	if len(args) > 0 && args[0] == "escrow" {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		return runEscrow(ctx, cfg, args[1:], stdout, nil) // escrow.go
	}
	if len(args) != 3 || args[0] != "trust" || args[1] != "release" {
		return errUsage
	}
	id := strings.ToLower(strings.TrimSpace(args[2]))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := proxy.OpenBoltStore(cfg.DataDir, storeTryLock)
	switch {
	case errors.Is(err, proxy.ErrStoreLocked):
		return releaseLive(ctx, cfg, id, stdout)
	case err != nil:
		return err
	}
	defer st.Close()
	rec, err := proxy.ReleaseQuarantine(ctx, st, cfg.Trust, id, time.Now())
	if err != nil {
		return fmt.Errorf("trust release: %w", err)
	}
	level := rec.Level
	if level == "" {
		level = "new"
	}
	fmt.Fprintf(stdout, "worker %s released from quarantine (in the store); level now %s\n", id, level)
	return nil
}

// releaseLive asks the running proxy to lift the quarantine, so that it
// takes effect at once (routing, the worker's standing).
func releaseLive(ctx context.Context, cfg proxy.Config, id string, stdout io.Writer) error {
	key := os.Getenv(AdminKeyEnv)
	if key == "" {
		key = cfg.AdminKey
	}
	if key == "" {
		return fmt.Errorf("trust release: the proxy is running (its store is locked) and asking it needs the admin key: set %s (the config holds only admin_key_sha256)", AdminKeyEnv)
	}
	host, port, err := net.SplitHostPort(cfg.APIAddr)
	if err != nil {
		return fmt.Errorf("trust release: api_addr: %w", err)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	body, _ := json.Marshal(proxy.TrustReleaseRequest{WorkerID: id})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+net.JoinHostPort(host, port)+proxy.TrustReleasePath, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("trust release: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("trust release: the store is locked but the proxy does not answer: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("trust release: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error struct {
				Message string `json:"message"`
				Code    string `json:"code"`
			} `json:"error"`
		}
		_ = json.Unmarshal(b, &e)
		return fmt.Errorf("trust release: the proxy answered %s: %s", resp.Status, e.Error.Message)
	}
	var ts proxy.TrustStatus
	if err := json.Unmarshal(b, &ts); err != nil {
		return fmt.Errorf("trust release: the proxy's answer: %w", err)
	}
	fmt.Fprintf(stdout, "worker %s released from quarantine (by the running proxy); level now %s\n", ts.WorkerID, ts.Level)
	return nil
}
