package worker

import (
	"errors"
	"strings"
	"testing"

	"github.com/cocoon-desktop/cocoon-desktop/ton"

	"github.com/cocoon-desktop/cocoon-desktop/earnings"
	"github.com/cocoon-desktop/cocoon-desktop/network"
)

func TestMismatch(t *testing.T) {
	ours := earnings.Balance{Earned: 5_000, LastSeq: 4}
	tests := []struct {
		name  string
		proxy *network.Balance
		want  string // "" or a word the message must hold
	}{
		{"no word from the proxy yet", nil, ""},
		{"agree", &network.Balance{Cumulative: 5_000, LastSeq: 4, Network: "testnet"}, ""},
		{"proxy ahead: a receipt was lost in transit", &network.Balance{Cumulative: 6_000, LastSeq: 5, Network: "testnet"}, "has 1 receipt"},
		{"ledger ahead: the proxy lost data", &network.Balance{Cumulative: 4_000, LastSeq: 3, Network: "testnet"}, "is ahead of the proxy"},
		{"same seq, other total", &network.Balance{Cumulative: 4_999, LastSeq: 4, Network: "testnet"}, "is ahead of the proxy"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := mismatch(ours, tc.proxy)
			if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
				t.Fatalf("mismatch = %q, want something with %q", got, tc.want)
			}
		})
	}
}

func TestPayoutNeedsANetworkThatPays(t *testing.T) {
	c := New(Config{DataDir: t.TempDir()})
	if _, _, _, err := c.PayoutQuote(); !errors.Is(err, ErrPayoutsUnavailable) {
		t.Fatalf("PayoutQuote without a network = %v", err)
	}
}

func TestSettings(t *testing.T) {
	dir := t.TempDir()
	c := New(Config{DataDir: dir})
	const good = "UQBnpOUoBy7TBuejGYV83KZB-J_qqf7eupIs1XuqjtjpN3W7"
	tests := []struct {
		name    string
		addr    string
		wantErr error
	}{
		{"valid non-bounceable", good, nil},
		{"bad checksum", good[:len(good)-1] + "8", ton.ErrAddressChecksum},
		{"too short", good[:20], ton.ErrAddressLength},
		{"empty", " ", ton.ErrAddressEmpty},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.SetPayoutAddress(tc.addr)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("SetPayoutAddress(%q) = %v, want %v", tc.addr, err, tc.wantErr)
			}
		})
	}
	if err := c.SetTariff(-1); !errors.Is(err, ErrBadSetting) {
		t.Fatalf("negative tariff: %v", err)
	}
	if err := c.SetTariff(250_000_000); err != nil {
		t.Fatal(err)
	}
	// A rejected address kept the good one; a new core reads the file back.
	got := New(Config{DataDir: dir}).Settings()
	if got.PayoutAddress != good || got.TariffNanoPerKWh != 250_000_000 {
		t.Fatalf("settings after reload = %+v", got)
	}
}
