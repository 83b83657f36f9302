package app

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/cocoon-desktop/cocoon-desktop/network"
	"github.com/cocoon-desktop/cocoon-desktop/network/proxy"
	"github.com/cocoon-desktop/cocoon-desktop/worker"
)

// fakeNetworks is the fake core's side of the Networks tab: previews ask a
// real proxy (network.FetchNetworkInfo); a join records the invite and
// shows the network as the worker's (the real move is worker's
// TestJoinNetwork).
type fakeNetworks struct {
	fixed   bool
	joined  []network.Invite
	local   int   // UseLocalNetwork calls
	joinErr error // JoinNetwork's answer
}

func (f *fakeCore) PreviewNetwork(ctx context.Context, inv network.Invite) (network.NetworkInfo, error) {
	return network.FetchNetworkInfo(ctx, inv, nil)
}

func (f *fakeCore) JoinNetwork(_ context.Context, inv network.Invite) error {
	f.mu.Lock()
	if f.nets.fixed {
		f.mu.Unlock()
		return worker.ErrNetworkFixed
	}
	if err := f.nets.joinErr; err != nil {
		f.mu.Unlock()
		return err
	}
	f.nets.joined = append(f.nets.joined, inv)
	f.st.Network = worker.NetworkStatus{URL: inv.URL, Name: inv.Name, Connected: true}
	f.mu.Unlock()
	f.publish(worker.Event{Type: worker.EventNetwork})
	return nil
}

func (f *fakeCore) UseLocalNetwork(context.Context) error {
	f.mu.Lock()
	f.nets.local++
	f.st.Network = localNetwork()
	f.mu.Unlock()
	f.publish(worker.Event{Type: worker.EventNetwork})
	return nil
}

func (f *fakeCore) CanSwitchNetwork() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return !f.nets.fixed
}

// startInviteProxy runs a real proxy with a name, two priced models and a
// commission, for previews.
func startInviteProxy(t *testing.T) *proxy.Proxy {
	t.Helper()
	cfg := proxy.DefaultConfig()
	cfg.APIAddr, cfg.WorkerAddr, cfg.DataDir = "127.0.0.1:0", "127.0.0.1:0", t.TempDir()
	cfg.Name, cfg.CommissionBPS = "Second Net", 1250
	cfg.Models = map[string]proxy.ModelPrice{
		"llama3.2:1b": {PricePrompt: 20, PriceCompletion: 80},
		"qwen2.5:7b":  {PricePrompt: 100, PriceCompletion: 400},
	}
	p, err := proxy.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return p
}

// TestNetworksTab drives the Networks tab with Fyne's test driver: a bad
// invite is explained under the field and the explanation goes when the
// field changes; a good one shows the real proxy's signed name, prices (TON
// per 1M tokens) and commission before anything changes; Join moves the
// worker and the tab, the tray line and "Why not earning?" name the new
// network; one click goes back to the local network; a key that does not
// match and a --network run refuse in words.
func TestNetworksTab(t *testing.T) {
	p := startInviteProxy(t)
	core := newFakeCore(gpuOKStatus())
	core.st.Network = localNetwork()
	v, _, q := newTestView(t, core)
	n := v.nets
	if n.current.Text != worker.LocalNetworkName || n.useLocal.Visible() {
		t.Fatalf("start: current %q, back-to-local shown %v", n.current.Text, n.useLocal.Visible())
	}

	for _, tc := range []struct {
		name, text, want string
	}{
		{"empty", "", "it is empty"},
		{"a proxy URL without its key", p.WorkerURL(), "without its key"},
		{"a web link", "https://example.com/invite", "must start with cocoon://join? or cocoon1."},
		{"a short key", "cocoon://join?url=wss%3A%2F%2Fa%2Fv1%2Fworker&key=abcd", "2 bytes, want 32"},
	} {
		t.Run("bad invite: "+tc.name, func(t *testing.T) {
			test.Type(n.entry, "x") // a previous problem clears on edit
			n.entry.SetText(tc.text)
			test.Tap(n.joinBtn)
			if !n.problem.Visible() || !strings.Contains(n.problem.Text, tc.want) || !strings.HasPrefix(n.problem.Text, "That is not a Cocoon invite") {
				t.Fatalf("problem = %q (shown %v), want it to say %q", n.problem.Text, n.problem.Visible(), tc.want)
			}
			if n.card.Visible() || len(core.nets.joined) != 0 {
				t.Fatal("a bad invite showed a preview or joined")
			}
			test.Type(n.entry, " ")
			if n.problem.Visible() {
				t.Fatal("the problem stayed after the field changed")
			}
		})
	}

	// An invite whose key is not the proxy's: refused in words, nothing joined.
	wrong := p.Invite()
	wrong.ProxyKey = make([]byte, 32)
	wrong.ProxyKey[0] = 1
	n.entry.SetText(wrong.String())
	test.Tap(n.joinBtn)
	q.runUntil(t, "the refusal", func() bool { return n.problem.Visible() })
	if !strings.Contains(n.problem.Text, "did not prove it is the one in the invite") || n.card.Visible() {
		t.Fatalf("wrong key: problem %q, card %v", n.problem.Text, n.card.Visible())
	}

	// The preview: name, prices per model, commission; nothing joined yet.
	n.entry.SetText(p.Invite().Link())
	test.Tap(n.joinBtn)
	q.runUntil(t, "the preview", func() bool { return n.card.Visible() })
	var prices []string
	for _, o := range n.cardPrices.Objects {
		prices = append(prices, richOrLabelText(o))
	}
	wantPrices := []string{
		"llama3.2:1b — 0.02 TON prompt · 0.08 TON completion per 1M tokens",
		"qwen2.5:7b — 0.1 TON prompt · 0.4 TON completion per 1M tokens",
	}
	if n.cardName.Text != "Second Net" || strings.Join(prices, "\n") != strings.Join(wantPrices, "\n") ||
		n.cardFee.Text != "12.5 % to the network · you keep 87.5 %" || n.confirm.Text != "Join Second Net" {
		t.Fatalf("preview: name %q, prices %q, fee %q, button %q", n.cardName.Text, prices, n.cardFee.Text, n.confirm.Text)
	}
	if len(core.nets.joined) != 0 {
		t.Fatal("joined before the owner confirmed")
	}

	// Join.
	test.Tap(n.confirm)
	q.runUntil(t, "joined", func() bool { return n.current.Text == "Second Net" })
	if len(core.nets.joined) != 1 || core.nets.joined[0].URL != p.WorkerURL() {
		t.Fatalf("joined %+v", core.nets.joined)
	}
	if n.card.Visible() || n.entry.Text != "" || !n.useLocal.Visible() || !strings.HasPrefix(n.checking.Text, "Joined Second Net") {
		t.Fatalf("after the join: card %v, entry %q, back-to-local %v, note %q", n.card.Visible(), n.entry.Text, n.useLocal.Visible(), n.checking.Text)
	}
	if got := v.why.sub.text(); !strings.HasPrefix(got, "Network: Second Net") {
		t.Errorf("Why not earning? says %q, want the network named", got)
	}
	if got := v.dash.net.where.Text; !strings.HasPrefix(got, "Second Net · wss://") {
		t.Errorf("the dashboard's network line = %q", got)
	}

	// Back to the local network in one click.
	test.Tap(n.useLocal)
	q.runUntil(t, "back on the local network", func() bool { return n.current.Text == worker.LocalNetworkName })
	if core.nets.local != 1 || n.useLocal.Visible() {
		t.Fatalf("UseLocalNetwork calls %d, button shown %v", core.nets.local, n.useLocal.Visible())
	}

	// A failing join says so under the field and keeps the network.
	core.nets.joinErr = errors.New("worker: join network: dial tcp: connection refused")
	n.entry.SetText(p.Invite().String())
	test.Tap(n.joinBtn)
	q.runUntil(t, "the preview", func() bool { return n.card.Visible() })
	test.Tap(n.confirm)
	q.runUntil(t, "the join's failure", func() bool { return n.problem.Visible() })
	if !strings.Contains(n.problem.Text, "Could not reach the network") || n.current.Text != worker.LocalNetworkName {
		t.Fatalf("failed join: problem %q, current %q", n.problem.Text, n.current.Text)
	}
}

// TestNetworksTabFixed: with --network the tab names the network and says
// why it cannot be changed here.
func TestNetworksTabFixed(t *testing.T) {
	core := newFakeCore(gpuOKStatus())
	core.nets.fixed = true
	core.st.Network = worker.NetworkStatus{URL: "wss://gpu.example:8443/v1/worker", Connected: true}
	v, _, _ := newTestView(t, core)
	n := v.nets
	if n.current.Text != "gpu.example" || !n.fixed.Visible() || n.useLocal.Visible() || !n.entry.Disabled() || !n.joinBtn.Disabled() {
		t.Fatalf("fixed: current %q, note %v, back-to-local %v, entry disabled %v", n.current.Text, n.fixed.Visible(), n.useLocal.Visible(), n.entry.Disabled())
	}
}

func richOrLabelText(o fyne.CanvasObject) string {
	switch w := o.(type) {
	case *tipped:
		return richOrLabelText(w.content)
	case *widget.Label:
		return w.Text
	}
	return ""
}
