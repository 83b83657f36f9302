package main

import (
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"

	"github.com/cocoon-desktop/cocoon-desktop/network"
	"github.com/cocoon-desktop/cocoon-desktop/network/proxy"
)

// inviteCmd prints the invite that lets an owner join this network from
// the app: `cocoon-proxy -config proxy.json invite [-link|-string]`. The
// URL is public_worker_url, else wss://public_host-or-worker_addr/v1/worker.
func inviteCmd(cfg proxy.Config, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("invite", flag.ContinueOnError)
	fs.SetOutput(stderr)
	linkOnly := fs.Bool("link", false, "print only the cocoon://join link")
	stringOnly := fs.Bool("string", false, "print only the one-string form (cocoon1.…)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 || (*linkOnly && *stringOnly) {
		return errors.New("usage: cocoon-proxy -config FILE invite [-link | -string]")
	}
	key, err := proxy.LoadOrCreateIdentity(cfg.DataDir)
	if err != nil {
		return err
	}
	listenerURL, local, err := workerURLOf(cfg)
	if err != nil {
		return err
	}
	inv := proxy.InviteFor(cfg, listenerURL, key.Public().(ed25519.PublicKey))
	// What is printed must be what the app accepts.
	if _, err := network.ParseInvite(inv.String()); err != nil {
		return fmt.Errorf("invite: %w", err)
	}
	if cfg.PublicWorkerURL == "" && local {
		fmt.Fprintf(stderr, "cocoon-proxy: warning: the invite's URL %s is this computer only; set \"public_worker_url\" (or \"public_host\") in the config for workers elsewhere\n", inv.URL)
	}
	switch {
	case *linkOnly:
		fmt.Fprintln(stdout, inv.Link())
	case *stringOnly:
		fmt.Fprintln(stdout, inv.String())
	default:
		name := cfg.Name
		if name == "" {
			name = "(no name: set \"name\" in the config)"
		}
		fmt.Fprintf(stdout, "Network: %s\nWorker URL: %s\n\nInvite (paste into Cocoon Desktop → Network → Networks):\n%s\n\nAs a link:\n%s\n",
			name, inv.URL, inv.String(), inv.Link())
	}
	return nil
}

// workerURLOf is the URL the proxy's worker listener will have (as
// Proxy.WorkerURL), without binding it; local says it names this host only.
func workerURLOf(cfg proxy.Config) (u string, local bool, err error) {
	host, port, err := net.SplitHostPort(cfg.WorkerAddr)
	if err != nil || port == "0" || port == "" {
		return "", false, fmt.Errorf("invite: worker_addr %q has no fixed port; set public_worker_url", cfg.WorkerAddr)
	}
	if cfg.PublicHost != "" {
		host = cfg.PublicHost
	}
	ip := net.ParseIP(host)
	if host == "" || (ip != nil && ip.IsUnspecified()) {
		host, local = "127.0.0.1", true
	} else if host == "localhost" || (ip != nil && ip.IsLoopback()) {
		local = true
	}
	return "wss://" + net.JoinHostPort(host, port) + "/v1/worker", local, nil
}
