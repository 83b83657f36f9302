package proxy_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/network"
	"github.com/cocoon-desktop/cocoon-desktop/network/proxy"
	"github.com/cocoon-desktop/cocoon-desktop/network/proxy/proxytest"
)

// earn runs n chat completions through the proxy, all on w.
func earn(t *testing.T, tp *testProxy, w *proxytest.Worker, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		if _, err := tp.client().Chat.Completions.New(testCtx(t), chatParams()); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.WaitReceipts(testCtx(t), n); err != nil {
		t.Fatal(err)
	}
}

func waitCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func storeBalance(t *testing.T, st proxy.Store, workerID string) network.Balance {
	t.Helper()
	b, err := st.Balance(context.Background(), workerID)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestPayoutRequestRefused: an old worker's payout_request is refused by
// every proxy, with a reason that says where the money is, and the balance
// it gets back still holds all it earned (nothing reserved, nothing paid).
func TestPayoutRequestRefused(t *testing.T) {
	for _, tc := range []struct {
		name       string
		mod        func(*proxy.Config)
		wantReason string
	}{
		{"no escrow", nil, proxy.ReasonNoEscrow},
		{"escrow", withEscrow(randomAddr(true)), proxy.ReasonPaysByEscrow},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tp := startProxy(t, "", tc.mod)
			owner := randomAddr(false)
			w := tp.worker(t, proxytest.Options{PayoutAddress: owner})
			earn(t, tp, w, 1)
			st, err := w.RequestPayout(waitCtx(t, 30*time.Second), w.NewPayoutRequest("po-old-app", 1_000, owner))
			if err != nil {
				t.Fatal(err)
			}
			if st.State != network.PayoutRejected || st.Reason != tc.wantReason {
				t.Fatalf("payout_request: %+v, want rejected with %q", st, tc.wantReason)
			}
			if st.Balance.Payouts || st.Balance.Cumulative <= 0 || st.Balance.Pending != 0 || st.Balance.Paid != 0 {
				t.Errorf("balance after the refusal %+v: want the earnings, nothing pending or paid, payouts off", st.Balance)
			}
		})
	}
}

// TestConfigPayoutsRetired: a config file that still has "payouts" does
// not load, and the error names escrow as the replacement.
func TestConfigPayoutsRetired(t *testing.T) {
	for _, tc := range []struct {
		name    string
		payouts string
	}{
		{"full object", `{"network": "testnet", "wallet_seed_file": "seed.txt", "min_payout": 100000000}`},
		{"empty object", `{}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "proxy.json")
			cfg := `{"data_dir": "d", "models": {"m": {"price_prompt": 1, "price_completion": 1}}, "payouts": ` + tc.payouts + `}`
			if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := proxy.LoadConfig(path)
			if !errors.Is(err, proxy.ErrPayoutsRetired) || !strings.Contains(err.Error(), `"escrow"`) {
				t.Fatalf("LoadConfig with payouts: %v, want ErrPayoutsRetired naming escrow", err)
			}
		})
	}
}
