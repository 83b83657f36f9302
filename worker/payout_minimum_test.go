package worker

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/network"
	"github.com/cocoon-desktop/cocoon-desktop/receipt"
)

// TestPayoutBelowMinimumRefused: RequestPayout refuses an amount under the
// proxy's minimum payout, or one the fee would eat whole, with
// ErrBelowMinimum and without recording anything; amounts that clear both
// are recorded as pending.
func TestPayoutBelowMinimumRefused(t *testing.T) {
	const (
		ton  = 1_000_000_000
		dest = "UQBnpOUoBy7TBuejGYV83KZB-J_qqf7eupIs1XuqjtjpN3W7" // mainnet
	)
	tests := []struct {
		name         string
		minimum, fee int64
		amount       int64
		refused      bool
	}{
		{"below the minimum", 1 * ton, ton / 100, 1*ton - 1, true},
		{"at the minimum", 1 * ton, ton / 100, 1 * ton, false},
		{"at the fee, over a smaller minimum", ton / 100, ton / 10, ton / 10, true},
		{"below the fee, over a smaller minimum", ton / 100, ton / 10, ton / 20, true},
		{"just over the fee", ton / 100, ton / 10, ton/10 + 1, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := payoutCore(t, 10*ton)
			c.mu.Lock()
			c.money.Proxy = &network.Balance{Cumulative: 10 * ton, LastSeq: 1, MinPayout: tc.minimum, PayoutFee: tc.fee, Network: "mainnet", Payouts: true}
			c.mu.Unlock()

			p, err := c.RequestPayout(context.Background(), tc.amount, dest)
			if got := errors.Is(err, ErrBelowMinimum); got != tc.refused {
				t.Fatalf("RequestPayout(%d) with minimum %d, fee %d: %v; want refused=%v", tc.amount, tc.minimum, tc.fee, err, tc.refused)
			}
			stored, lerr := c.led().Payouts(0)
			if lerr != nil {
				t.Fatal(lerr)
			}
			if tc.refused {
				if len(stored) != 0 {
					t.Errorf("a refused payout was recorded: %+v", stored)
				}
				return
			}
			if err != nil {
				t.Fatalf("RequestPayout: %v", err)
			}
			if len(stored) != 1 || stored[0].ID != p.ID || stored[0].Amount != tc.amount || stored[0].Fee != tc.fee {
				t.Errorf("stored payouts %+v, want one of %d with fee %d", stored, tc.amount, tc.fee)
			}
		})
	}
}

// payoutCore is a core with a network (never connected: a payout request
// stays pending, as it would offline) and a ledger holding one receipt of
// earned nanoTON signed by the pinned proxy key.
func payoutCore(t *testing.T, earned int64) *Core {
	t.Helper()
	proxyPub, proxyKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	key, err := network.LoadOrCreateKey(filepath.Join(dir, "keys", "worker.key"))
	if err != nil {
		t.Fatal(err)
	}
	c := New(Config{DataDir: dir, Network: NetworkConfig{URL: "wss://127.0.0.1:1/v1/worker", ProxyKey: proxyPub}})
	t.Cleanup(func() {
		if l := c.led(); l != nil {
			l.Close()
		}
	})
	if c.openErr != nil || c.led() == nil || c.cl() == nil {
		t.Fatalf("core without ledger or client: %v", c.openErr)
	}
	r := receipt.Receipt{
		JobID: "job-1", WorkerID: network.WorkerID(key.Public().(ed25519.PublicKey)), Model: "m",
		CompletionTokens: earned / 1_000_000, PriceCompletion: 1_000_000, CoefficientMilli: 1000,
		Amount: earned, Cumulative: earned, Seq: 1, Time: time.Now().UnixMilli(),
	}
	if added, err := c.led().Credit(receipt.Sign(proxyKey, r)); err != nil || !added {
		t.Fatalf("credit: %v %v", added, err)
	}
	return c
}

// TestPayoutOfHeldEarningsRefused: RequestPayout refuses an amount that
// reaches into what the proxy holds (a new worker's hold, a quarantine)
// with ErrHeld and records nothing; what is not held can be paid out.
func TestPayoutOfHeldEarningsRefused(t *testing.T) {
	const (
		ton  = 1_000_000_000
		dest = "UQBnpOUoBy7TBuejGYV83KZB-J_qqf7eupIs1XuqjtjpN3W7" // mainnet
	)
	tests := []struct {
		name    string
		held    int64
		amount  int64
		refused bool
	}{
		{"nothing held", 0, 10 * ton, false},
		{"all of the unheld part", 4 * ton, 6 * ton, false},
		{"one nanoTON into the hold", 4 * ton, 6*ton + 1, true},
		{"all held", 10 * ton, 1 * ton, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := payoutCore(t, 10*ton)
			c.mu.Lock()
			c.money.Proxy = &network.Balance{Cumulative: 10 * ton, LastSeq: 1, MinPayout: ton / 10, PayoutFee: ton / 100, Network: "mainnet", Payouts: true,
				Standing: &network.Standing{Level: network.TrustNew, Held: tc.held}}
			c.mu.Unlock()
			_, err := c.RequestPayout(context.Background(), tc.amount, dest)
			if got := errors.Is(err, ErrHeld); got != tc.refused {
				t.Fatalf("RequestPayout(%d) with %d held: %v; want refused=%v", tc.amount, tc.held, err, tc.refused)
			}
			if !tc.refused && err != nil {
				t.Fatalf("RequestPayout: %v", err)
			}
			stored, lerr := c.led().Payouts(0)
			if lerr != nil {
				t.Fatal(lerr)
			}
			if want := map[bool]int{true: 0, false: 1}[tc.refused]; len(stored) != want {
				t.Errorf("%d payouts recorded, want %d", len(stored), want)
			}
		})
	}
}
