package worker

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cocoon-desktop/cocoon-desktop/earnings"
	"github.com/cocoon-desktop/cocoon-desktop/network"
)

// Joining a network from the app: the owner pastes an invite
// (network.ParseInvite), sees the network's signed description
// (PreviewNetwork), confirms (JoinNetwork): the running worker leaves its
// network and connects to the new one, with a ledger of its own, and the
// choice is saved (Settings.Network) for the next launch. UseLocalNetwork
// goes back to the local test network. A network given on the command line
// (Config.NetworkFixed) wins over both.

// JoinedNetwork is a network joined in the app, as saved in settings.json.
type JoinedNetwork struct {
	Name     string `json:"name,omitempty"`
	URL      string `json:"url"`
	ProxyKey string `json:"proxy_key"` // hex
}

// LocalNetworkName is how the local test network is named on screen.
const LocalNetworkName = "Local test network"

// Network switching errors.
var (
	// ErrNetworkFixed: the network was given on the command line (--network),
	// which wins over a choice made in the app.
	ErrNetworkFixed = errors.New("the network was set on the command line (--network)")
	// ErrNoLocalNetwork: this run has no local test network to go back to.
	ErrNoLocalNetwork = errors.New("no local test network in this run")
)

// switchRequest asks runNetwork to move to another network.
type switchRequest struct {
	to    NetworkConfig
	reply chan error
}

// chooseNetwork applies the network saved in settings (New calls it): the
// configured local network stays the way back.
func (c *Core) chooseNetwork() {
	c.switchReq = make(chan switchRequest)
	c.keyFile = c.cfg.Network.KeyFile
	if c.cfg.Network.Local {
		local := c.cfg.Network
		local.Name = LocalNetworkName
		c.cfg.Network, c.localNet = local, &local
		c.netStat.Name = LocalNetworkName
	}
	if c.cfg.NetworkFixed || c.cfg.DataDir == "" {
		return
	}
	j := c.Settings().Network
	if j == nil {
		return
	}
	n, err := c.joinedConfig(*j)
	if err != nil { // a hand-edited settings file: say so and stay local
		c.log.Warn("the saved network is not usable; using the local test network", "err", err)
		return
	}
	c.cfg.Network = n
	c.netStat = NetworkStatus{URL: n.URL, Name: n.Name}
}

// joinedConfig is the NetworkConfig of a joined network: its own ledger
// under DataDir/networks/<the proxy key's first 16 hex digits>.
func (c *Core) joinedConfig(j JoinedNetwork) (NetworkConfig, error) {
	key, err := hex.DecodeString(j.ProxyKey)
	if err != nil || len(key) != ed25519.PublicKeySize {
		return NetworkConfig{}, fmt.Errorf("worker: network %q: %w: the proxy key is not 64 hex digits", j.Name, ErrBadSetting)
	}
	inv, err := network.ParseInvite(network.Invite{URL: j.URL, ProxyKey: key, Name: j.Name}.String())
	if err != nil {
		return NetworkConfig{}, fmt.Errorf("worker: network %q: %w", j.Name, err)
	}
	return NetworkConfig{
		URL: inv.URL, ProxyKey: inv.ProxyKey, Name: inv.Name, KeyFile: c.keyFile,
		LedgerDir: filepath.Join(c.cfg.DataDir, "networks", j.ProxyKey[:16]),
	}, nil
}

// ledgerDir is where the current network's ledger lives.
func (c *Core) ledgerDir() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cfg.Network.LedgerDir != "" {
		return c.cfg.Network.LedgerDir
	}
	return c.cfg.DataDir
}

// cl is the current network client (nil without a network).
func (c *Core) cl() *network.Client { return c.client.Load() }

// PreviewNetwork fetches an invite's signed network description (name,
// prices, commission, protocol version) without joining it.
func (c *Core) PreviewNetwork(ctx context.Context, inv network.Invite) (network.NetworkInfo, error) {
	info, err := network.FetchNetworkInfo(ctx, inv, nil)
	if err != nil {
		return info, fmt.Errorf("worker: preview network: %w", err)
	}
	return info, nil
}

// JoinNetwork moves the running worker to the invite's network and saves
// the choice. Jobs running on the old network are cancelled (its proxy
// retries them elsewhere); sharing stays as it was. A bad invite, or a
// network whose ledger cannot be opened, changes nothing.
func (c *Core) JoinNetwork(ctx context.Context, inv network.Invite) error {
	if c.cfg.NetworkFixed {
		return fmt.Errorf("worker: join network: %w", ErrNetworkFixed)
	}
	j := JoinedNetwork{Name: inv.Name, URL: inv.URL, ProxyKey: hex.EncodeToString(inv.ProxyKey)}
	n, err := c.joinedConfig(j)
	if err != nil {
		return fmt.Errorf("worker: join network: %w", err)
	}
	// The proxy must answer for the invite's key before anything changes:
	// a wrong key, an unreachable proxy or another protocol refuse the join.
	if _, err := c.PreviewNetwork(ctx, inv); err != nil {
		return fmt.Errorf("worker: join network: %w", err)
	}
	if err := c.switchTo(ctx, n); err != nil {
		return fmt.Errorf("worker: join network %q: %w", n.Name, err)
	}
	if err := c.updateSettings(func(s *Settings) error { s.Network = &j; return nil }); err != nil {
		return fmt.Errorf("worker: join network: remember the choice: %w", err)
	}
	c.log.Info("joined a network", "name", n.Name, "url", n.URL)
	return nil
}

// UseLocalNetwork moves the running worker back to the local test network
// and saves the choice.
func (c *Core) UseLocalNetwork(ctx context.Context) error {
	if c.cfg.NetworkFixed {
		return fmt.Errorf("worker: use the local network: %w", ErrNetworkFixed)
	}
	if c.localNet == nil {
		return fmt.Errorf("worker: use the local network: %w", ErrNoLocalNetwork)
	}
	if err := c.switchTo(ctx, *c.localNet); err != nil {
		return fmt.Errorf("worker: use the local network: %w", err)
	}
	if err := c.updateSettings(func(s *Settings) error { s.Network = nil; return nil }); err != nil {
		return fmt.Errorf("worker: use the local network: remember the choice: %w", err)
	}
	c.log.Info("back on the local test network")
	return nil
}

// CanSwitchNetwork says whether the app may change the network (not when
// --network fixed it).
func (c *Core) CanSwitchNetwork() bool { return !c.cfg.NetworkFixed }

// switchTo hands the move to runNetwork and waits for it.
func (c *Core) switchTo(ctx context.Context, n NetworkConfig) error {
	req := switchRequest{to: n, reply: make(chan error, 1)}
	select {
	case c.switchReq <- req:
	case <-ctx.Done():
		return ctx.Err()
	case <-c.stopped:
		return errors.New("the worker has stopped")
	}
	select {
	case err := <-req.reply:
		return err
	case <-ctx.Done(): // the move still completes; the caller stops waiting
		return ctx.Err()
	}
}

// runNetwork runs the current network client and moves to another network
// on request, until ctx ends. It returns the client's error when its
// configuration can never work.
func (c *Core) runNetwork(ctx context.Context) error {
	// The worker joins the network once its models are known.
	select {
	case <-ctx.Done():
		return nil
	case <-c.modelsReady:
	}
	for {
		cl := c.cl()
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		if cl != nil {
			cl.SetRegistration(c.registration())
			cl.SetAvailability(c.availability())
			go func() { done <- cl.Run(runCtx) }()
		}
		stop := func() {
			cancel()
			if cl != nil {
				<-done
			}
		}
	serve:
		for {
			select {
			case <-ctx.Done():
				stop()
				return nil
			case err := <-done:
				cancel()
				return err
			case req := <-c.switchReq:
				// The new network is made ready while the old one still
				// serves: a network that cannot be opened changes nothing.
				next, led, err := c.prepareNetwork(req.to)
				if err != nil {
					req.reply <- err
					continue
				}
				stop()
				c.useNetwork(req.to, next, led)
				req.reply <- nil
				break serve
			}
		}
	}
}

// prepareNetwork opens n's ledger and makes its client, touching nothing of
// the current network; the same network is refused.
func (c *Core) prepareNetwork(n NetworkConfig) (*network.Client, *earnings.Ledger, error) {
	cur := c.currentNetwork()
	if cur.URL == n.URL && cur.ProxyKey.Equal(n.ProxyKey) {
		return nil, nil, errors.New("already on this network")
	}
	dir := n.LedgerDir
	if dir == "" {
		dir = c.cfg.DataDir
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("worker: network data dir: %w", err)
	}
	l, err := c.openLedger(dir, n.ProxyKey)
	if err != nil {
		return nil, nil, err
	}
	cl, err := c.makeClient(n, c.netGen.Load()+1)
	if err != nil {
		l.Close()
		return nil, nil, err
	}
	return cl, l, nil
}

// useNetwork makes n current with its client and ledger, after the old
// client stopped.
func (c *Core) useNetwork(n NetworkConfig, cl *network.Client, l *earnings.Ledger) {
	c.netGen.Add(1) // the old client's late callbacks are dropped from here on
	old := c.ledger.Swap(l)
	c.client.Store(cl)
	c.mu.Lock()
	c.cfg.Network = n
	c.netStat = NetworkStatus{Local: n.Local, URL: n.URL, Name: n.Name, APIURL: n.APIURL, APIKey: n.APIKey}
	c.money = EarningsStatus{}
	ns := c.netStat
	c.mu.Unlock()
	if old != nil {
		old.Close()
	}
	c.refreshEarnings()
	c.bus.Publish(EventNetwork, ns)
	c.bus.Publish(EventEarnings, nil)
}

// currentNetwork is the network in use.
func (c *Core) currentNetwork() NetworkConfig {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cfg.Network
}

// availability is what a freshly started client tells its proxy: accepting
// while serving, else paused.
func (c *Core) availability() network.Availability {
	c.mu.Lock()
	serving := c.state == StateServing
	c.mu.Unlock()
	if serving && !c.restarting.Load() {
		return network.Availability{State: network.Accepting}
	}
	return network.Availability{State: network.Paused, Reason: "not started"}
}
