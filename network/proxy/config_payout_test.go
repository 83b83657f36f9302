package proxy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/ton"

	"github.com/xssnick/tonutils-go/ton/wallet"
)

func TestPayoutConfig(t *testing.T) {
	dir := t.TempDir()
	seed := strings.Join(wallet.NewSeed(), " ")
	if err := os.WriteFile(filepath.Join(dir, "wallet.seed"), []byte(seed+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "proxy.json")
	write := func(payouts string) {
		t.Helper()
		js := `{"api_addr":"127.0.0.1:0","worker_addr":"127.0.0.1:0","data_dir":"state","models":{"m":{"price_prompt":1,"price_completion":1}},"payouts":` + payouts + `}`
		if err := os.WriteFile(path, []byte(js), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(`{"network":"testnet","wallet_seed_file":"wallet.seed","min_payout":200000000,"payout_fee":5000000,"confirm_interval":"2s","lite_config":"ls.json"}`)
	c, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	pc := c.Payouts
	if pc == nil || pc.Network != ton.Testnet || pc.WalletSeedFile != filepath.Join(dir, "wallet.seed") || pc.MinPayout != 200_000_000 ||
		pc.Fee != 5_000_000 || pc.ConfirmInterval != 2*time.Second || pc.LiteConfig != "ls.json" || pc.FailGrace != DefaultFailGrace {
		t.Fatalf("payouts %+v", pc)
	}
	p, err := New(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := ton.NewPayoutWalletFromSeed(seed, ton.Testnet)
	if got := p.payouts.wallet.Address().Raw; got != want.Address().Raw {
		t.Errorf("wallet %s, want %s", got, want.Address().Raw)
	}
	if _, ok := p.payouts.chain.(*lazyChain); !ok {
		t.Errorf("chain %T", p.payouts.chain)
	}
	p.Close()

	// Defaults.
	write(`{"wallet_seed_file":"wallet.seed"}`)
	if c, err = LoadConfig(path); err != nil {
		t.Fatal(err)
	}
	if pc := c.Payouts; pc.Network != ton.Mainnet || pc.MinPayout != DefaultMinPayout || pc.Fee != DefaultPayoutFee || pc.ConfirmInterval != DefaultConfirmInterval {
		t.Errorf("defaults %+v", pc)
	}
	for _, bad := range []struct{ json, want string }{
		{`{}`, "wallet_seed_file is required"},
		{`{"wallet_seed_file":"wallet.seed","network":"moon"}`, "network"},
		{`{"wallet_seed_file":"wallet.seed","min_payout":10,"payout_fee":10}`, "payout_fee"},
		{`{"wallet_seed_file":"wallet.seed","confirm_interval":"soon"}`, "confirm_interval"},
		{`{"wallet_seed_file":"wallet.seed","extra":1}`, "unknown field"},
	} {
		write(bad.json)
		if _, err := LoadConfig(path); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: %v, want %q", bad.json, err, bad.want)
		}
	}
	// A seed file others can read is refused.
	write(`{"wallet_seed_file":"wallet.seed"}`)
	if err := os.Chmod(filepath.Join(dir, "wallet.seed"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, _ = LoadConfig(path)
	if _, err := New(c, nil); err == nil || !strings.Contains(err.Error(), "readable by others") {
		t.Errorf("0644 seed file: %v", err)
	}
}
