package proxy

import (
	"fmt"
	"net/http"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/network"
)

// Invite is what an owner pastes into the app to join this proxy's network
// (network.Invite): the public worker URL, the proxy key and the name.
func (p *Proxy) Invite() network.Invite {
	return InviteFor(p.cfg, p.workerURL, p.PublicKey())
}

// InviteFor is the invite of a proxy with cfg, whose listener's URL is
// workerURL (used when cfg.PublicWorkerURL is empty) and key is pub;
// `cocoon-proxy invite` prints it without starting the proxy.
func InviteFor(cfg Config, workerURL string, pub []byte) network.Invite {
	u := cfg.PublicWorkerURL
	if u == "" {
		u = workerURL
	}
	return network.Invite{URL: u, ProxyKey: append([]byte(nil), pub...), Name: cfg.Name}
}

// validateInvite checks name and public_worker_url: what an invite carries
// must parse in the app.
func (c Config) validateInvite() error {
	u := c.PublicWorkerURL
	if u == "" {
		u = "wss://example.invalid/v1/worker" // the listener's own URL is always valid
	}
	inv := network.Invite{URL: u, ProxyKey: make([]byte, 32), Name: c.Name}
	if _, err := network.ParseInvite(inv.String()); err != nil {
		return fmt.Errorf("proxy config: name or public_worker_url: %w", err)
	}
	return nil
}

// networkInfo is the signed description GET /v1/network serves.
func (p *Proxy) networkInfo() network.NetworkInfo {
	b := p.withSettings(network.Balance{})
	prices := b.Prices
	if prices == nil {
		prices = []network.ModelPrice{}
	}
	return network.NetworkInfo{
		Name: p.cfg.Name, ProtocolVersion: network.ProtocolVersion, CommissionBPS: b.CommissionBPS,
		Prices: prices, Payouts: b.Payouts, TONNetwork: b.Network, ServerTime: time.Now().UnixMilli(),
	}
}

// serveNetworkInfo answers GET /v1/network on the worker listener: public
// (an owner reads it before joining), signed with the proxy key.
func (p *Proxy) serveNetworkInfo(w http.ResponseWriter, r *http.Request) {
	body, err := network.SignNetworkInfo(p.key, p.networkInfo())
	if err != nil {
		p.log.Error("network info", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(body)
}
