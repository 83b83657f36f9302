package app

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/network"
	"github.com/cocoon-desktop/cocoon-desktop/worker"
)

func TestPayoutGate(t *testing.T) {
	ok := payoutFacts{address: "UQabc", payable: 3e9, available: 3e9, minimum: 1e9}
	with := func(f func(*payoutFacts)) payoutFacts { p := ok; f(&p); return p }
	tests := []struct {
		name        string
		f           payoutFacts
		long, short string // parts; "" : none
	}{
		{"open", ok, "", ""},
		{"local network", with(func(p *payoutFacts) { p.quoteErr, p.local = worker.ErrPayoutsUnavailable, true }), "local test network has none", "local test network pays nothing out"},
		{"payouts off", with(func(p *payoutFacts) { p.quoteErr, p.noPayouts = worker.ErrPayoutsUnavailable, true }), "turned payouts off", "does not pay out"},
		{"proxy offline", with(func(p *payoutFacts) { p.quoteErr = worker.ErrPayoutsUnavailable }), "once the network is connected", "once connected"},
		{"other quote error, in words", with(func(p *payoutFacts) { p.quoteErr = errors.New("worker: quote: 0xbad") }), "Something went wrong", "not available now"},
		{"no address", with(func(p *payoutFacts) { p.address = "  " }), "Set your TON wallet address", "set your wallet address"},
		{"below the minimum", with(func(p *payoutFacts) { p.payable, p.available = 400_000_000, 400_000_000 }),
			"The minimum payout is 1 TON; 0.4 TON is available: 0.6 TON more to reach it.", "0.6 TON more to reach the 1 TON minimum"},
		{"held", with(func(p *payoutFacts) { p.payable, p.available, p.held = 200_000_000, 3e9, 2_800_000_000 }), "The network holds 2.8 TON", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			long, short := payoutGate(tc.f)
			if (tc.long == "") != (long == "") || !strings.Contains(long, tc.long) {
				t.Errorf("long = %q, want %q", long, tc.long)
			}
			if (tc.short == "") != (short == "") || !strings.Contains(short, tc.short) {
				t.Errorf("short = %q, want %q", short, tc.short)
			}
			if strings.Contains(long, "0xbad") {
				t.Errorf("the error chain reached the words: %q", long)
			}
		})
	}
}

func TestRateText(t *testing.T) {
	tests := []struct {
		name string
		r    worker.EarnRate
		want string
	}{
		{"nothing yet", worker.EarnRate{}, "TON/h: an estimate appears after 15 min of sharing"},
		{"too little serving", worker.EarnRate{Serving: 4*time.Minute + 30*time.Second, NanoPerHour: 9e9}, "TON/h estimate after 15 min of sharing (4 min so far)"},
		{"known", worker.EarnRate{Known: true, Serving: 3*time.Hour + 20*time.Minute, NanoPerHour: 612_345_678},
			"~0.612 TON/h while sharing (your average over the last 3 h 20 min of serving)"},
		{"a full day, a big number", worker.EarnRate{Known: true, Serving: 24 * time.Hour, NanoPerHour: 123_456_789_000_000},
			"~1.23e+05 TON/h while sharing (your average over the last 24 h of serving)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := rateText(tc.r); got != tc.want {
				t.Errorf("rateText = %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestPricesText(t *testing.T) {
	p := &network.Balance{CommissionBPS: 1000, Prices: []network.ModelPrice{{Model: "llama3.2:1b", PricePrompt: 50, PriceCompletion: 200}}}
	tests := []struct {
		name  string
		p     *network.Balance
		model string
		want  string
	}{
		{"no terms yet", nil, "llama3.2:1b", ""},
		{"served and priced", p, "llama3.2:1b", "Network fee 10 % · llama3.2:1b pays 0.18 TON per 1M tokens (0.2 before the fee)"},
		{"served as :latest", &network.Balance{CommissionBPS: 250, Prices: []network.ModelPrice{{Model: "cocoon-tiny", PriceCompletion: 400}}}, "cocoon-tiny:latest",
			"Network fee 2.5 % · cocoon-tiny pays 0.39 TON per 1M tokens (0.4 before the fee)"},
		{"no fee", &network.Balance{Prices: p.Prices}, "llama3.2:1b", "Network fee 0 % · llama3.2:1b pays 0.2 TON per 1M tokens"},
		{"not priced", p, "qwen3:0.6b", "Network fee 10 % · qwen3:0.6b is not priced by this network"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := pricesText(tc.p, tc.model); got != tc.want {
				t.Errorf("pricesText = %q\nwant %q", got, tc.want)
			}
		})
	}
}
