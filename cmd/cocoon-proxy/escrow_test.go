package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xssnick/tonutils-go/ton/wallet"

	"github.com/cocoon-desktop/cocoon-desktop/internal/tonsandbox"
	"github.com/cocoon-desktop/cocoon-desktop/network/proxy"
	"github.com/cocoon-desktop/cocoon-desktop/ton"
	"github.com/cocoon-desktop/cocoon-desktop/ton/escrow"
)

// TestEscrowCommands: `escrow deploy` puts the real contract on the
// (sandbox) chain at the address its parameters give, from the operator
// wallet; `status` shows its balance, what it owes and a pending
// withdrawal; `withdraw announce|execute|cancel` are time-locked as the
// contract says: execute before the delay changes nothing.
func TestEscrowCommands(t *testing.T) {
	sb := tonsandbox.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	seed := strings.Join(wallet.NewSeed(), " ")
	seedFile := filepath.Join(dir, "operator.seed")
	if err := os.WriteFile(seedFile, []byte(seed), 0o600); err != nil {
		t.Fatal(err)
	}
	op, err := ton.NewPayoutWalletFromSeed(seed, ton.Testnet)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sb.DeployWalletV5R1(ctx, op.PublicKey(), ton.Testnet, 100_000_000_000); err != nil {
		t.Fatal(err)
	}
	cfg := proxy.DefaultConfig()
	cfg.DataDir = filepath.Join(dir, "data")
	cfg.Escrow = &proxy.EscrowConfig{Network: ton.Testnet, Operator: op.Address().Friendly, WithdrawDelay: time.Hour,
		ClaimFee: escrow.DefaultClaimFee, OperatorSeedFile: seedFile}
	key, err := proxy.LoadOrCreateIdentity(cfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	addr, err := cfg.Escrow.ResolveAddress([]byte(key.Public().(ed25519.PublicKey)))
	if err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) string {
		t.Helper()
		var out bytes.Buffer
		if err := runEscrow(ctx, cfg, args, &out, sb); err != nil {
			t.Fatalf("escrow %v: %v\n%s", args, err, out.String())
		}
		return out.String()
	}
	steps := []struct {
		args []string
		want []string // in the status after the step
	}{
		{[]string{"deploy", "10"}, []string{"balance 9.9", "no pending withdrawal", "owed 0 TON"}},
		{[]string{"withdraw", "announce", "2.5"}, []string{"pending withdrawal 2.5 TON"}},
		{[]string{"withdraw", "execute"}, []string{"pending withdrawal 2.5 TON"}}, // locked: nothing moves
		{[]string{"withdraw", "cancel"}, []string{"no pending withdrawal"}},
	}
	for _, s := range steps {
		run(s.args...)
		st := run("status")
		for _, w := range s.want {
			if !strings.Contains(st, w) {
				t.Fatalf("after escrow %v the status lacks %q:\n%s", s.args, w, st)
			}
		}
	}
	state, err := escrow.ReadState(ctx, sb, addr)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(state.ProxyKey, []byte(key.Public().(ed25519.PublicKey))) || !state.Operator.Equals(op.TONAddress()) || state.ClaimFee != escrow.DefaultClaimFee {
		t.Fatalf("deployed escrow state %+v", state)
	}
	var out bytes.Buffer
	if err := runEscrow(ctx, cfg, []string{"withdraw", "later"}, &out, sb); err == nil {
		t.Fatal("an unknown escrow command ran")
	}
}
