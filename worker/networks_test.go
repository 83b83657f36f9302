package worker

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/cocoon-desktop/cocoon-desktop/gpu"
	"github.com/cocoon-desktop/cocoon-desktop/gpu/gputest"
	"github.com/cocoon-desktop/cocoon-desktop/internal/testollama"
	"github.com/cocoon-desktop/cocoon-desktop/network"
	"github.com/cocoon-desktop/cocoon-desktop/network/proxy"
	"github.com/cocoon-desktop/cocoon-desktop/runtime/ollama"
)

// startNamedProxy starts another proxy pricing the tiny model, named name.
func startNamedProxy(t *testing.T, ctx context.Context, name, apiKey string, commission int64) *proxy.Proxy {
	t.Helper()
	pcfg := proxy.DefaultConfig()
	pcfg.APIAddr, pcfg.WorkerAddr, pcfg.DataDir = "127.0.0.1:0", "127.0.0.1:0", t.TempDir()
	pcfg.Name, pcfg.CommissionBPS = name, commission
	pcfg.Models = map[string]proxy.ModelPrice{"cocoon-tiny": {PricePrompt: 2_000, PriceCompletion: 5_000}}
	pcfg.APIKeys = []proxy.APIKey{{Key: apiKey, Name: "join-test"}}
	p, err := proxy.New(pcfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	pctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(pctx) }()
	t.Cleanup(func() { stop(); <-done })
	return p
}

// workersOn is how many workers proxy p has, and whether the first accepts.
func workersOn(ctx context.Context, p *proxy.Proxy) (int, bool) {
	st, err := p.Status(ctx)
	if err != nil || len(st.Workers) == 0 {
		return 0, false
	}
	return len(st.Workers), st.Workers[0].State == network.Accepting
}

func chat(t *testing.T, ctx context.Context, p *proxy.Proxy, apiKey string) {
	t.Helper()
	client := openai.NewClient(option.WithBaseURL("http://"+p.APIAddr()+"/v1/"), option.WithAPIKey(apiKey), option.WithMaxRetries(0))
	if _, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model: "cocoon-tiny", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("earn")}, MaxTokens: openai.Int(20),
	}); err != nil {
		t.Fatal(err)
	}
}

// TestJoinNetwork: a running, serving worker joins a second real proxy from
// its invite: it leaves the first, registers on the second and serves its
// jobs into a ledger of that network's own; the choice survives a restart;
// going back to the local network finds the first ledger as it was; bad
// invites (a wrong key, a plain ws:// to another host) and a --network
// fixed run change nothing.
func TestJoinNetwork(t *testing.T) {
	if testollama.Binary() == "" {
		testollama.Skip(t)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	ol, local, localKey := startNetworkOnTiny(t, ctx)
	const secondKey = "second-network-api-key"
	second := startNamedProxy(t, ctx, "Second Net", secondKey, 1500)

	dir := t.TempDir()
	start := func(fixed bool) (*Core, func()) {
		c := New(Config{
			DataDir: dir, SeedTinyModel: true,
			Runtime:      ollama.Config{AttachAddr: ol.Host(), NoManage: true},
			GPU:          gpu.NewDetector(gputest.Library(gputest.RTX4090())),
			Network:      NetworkConfig{URL: local.WorkerURL(), ProxyKey: local.PublicKey(), Local: true},
			NetworkFixed: fixed,
		})
		cctx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- c.Run(cctx) }()
		return c, func() {
			stop()
			if err := <-done; err != nil {
				t.Errorf("Run = %v", err)
			}
		}
	}
	c, stop := start(false)
	serveJobs(t, ctx, c, local, localKey, 1, 20)
	waitFor(t, "the local receipt", func() bool { return c.Status().Earnings.Balance.Jobs == 1 })
	localEarned := c.Status().Earned
	if got := c.Status().Network.Name; got != LocalNetworkName {
		t.Errorf("network name = %q, want %q", got, LocalNetworkName)
	}

	// Bad invites change nothing.
	wrongKey := second.Invite()
	wrongKey.ProxyKey = local.PublicKey()
	for _, tc := range []struct {
		name string
		inv  network.Invite
	}{
		{"the key of another proxy", wrongKey},
		{"plain ws to another host", network.Invite{URL: "ws://gpu.example/v1/worker", ProxyKey: second.PublicKey()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := c.JoinNetwork(ctx, tc.inv); err == nil {
				t.Fatal("joined with a bad invite")
			}
			if n, _ := workersOn(ctx, second); n != 0 || c.Status().Network.Name != LocalNetworkName || c.Settings().Network != nil {
				t.Fatalf("a refused join changed something: %d workers on the second proxy, network %+v, saved %+v", n, c.Status().Network, c.Settings().Network)
			}
		})
	}

	// The preview, then the join.
	info, err := c.PreviewNetwork(ctx, second.Invite())
	if err != nil || info.Name != "Second Net" || info.CommissionBPS != 1500 || len(info.Prices) != 1 || info.Prices[0].PriceCompletion != 5_000 {
		t.Fatalf("preview = %+v, %v", info, err)
	}
	if err := c.JoinNetwork(ctx, second.Invite()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "accepting on the second network", func() bool { _, ok := workersOn(ctx, second); return ok })
	waitFor(t, "gone from the first network", func() bool { n, _ := workersOn(ctx, local); return n == 0 })
	if st := c.Status(); st.Network.Name != "Second Net" || st.Network.Local || st.Earned != 0 {
		t.Fatalf("after the join: network %+v, earned %d (a new network starts a ledger of its own)", st.Network, st.Earned)
	}
	chat(t, ctx, second, secondKey)
	waitFor(t, "the second network's receipt", func() bool { return c.Status().Earnings.Balance.Jobs == 1 && c.Status().Earned > 0 })
	tot, err := second.Store().Totals(ctx)
	if err != nil || tot.PaidToWorkers != c.Status().Earned {
		t.Fatalf("second proxy signed %d, the ledger has %d (%v)", tot.PaidToWorkers, c.Status().Earned, err)
	}
	stop()

	// The choice survives a restart.
	c, stop = start(false)
	if st := c.Status(); st.Network.Name != "Second Net" || st.Network.URL != second.WorkerURL() {
		t.Fatalf("after a restart: network %+v, want the second one", st.Network)
	}
	if err := c.WaitModels(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.StartNow(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "accepting on the second network after a restart", func() bool { _, ok := workersOn(ctx, second); return ok })

	// Back to the local network: its ledger is as it was.
	if err := c.UseLocalNetwork(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "accepting on the local network again", func() bool { _, ok := workersOn(ctx, local); return ok })
	waitFor(t, "the local ledger back", func() bool { return c.Status().Earned == localEarned })
	if c.Settings().Network != nil || c.Status().Network.Name != LocalNetworkName {
		t.Fatalf("after going back: saved %+v, network %+v", c.Settings().Network, c.Status().Network)
	}
	stop()

	// --network fixes the network: joins are refused.
	c, stop = start(true)
	defer stop()
	if err := c.JoinNetwork(ctx, second.Invite()); !errors.Is(err, ErrNetworkFixed) {
		t.Fatalf("JoinNetwork on a fixed network = %v, want ErrNetworkFixed", err)
	}
}
