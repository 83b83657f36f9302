package app

import (
	"strings"
	"testing"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/network"
	"github.com/cocoon-desktop/cocoon-desktop/worker"
)

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
			"~123457 TON/h while sharing (your average over the last 24 h of serving)"},
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

func TestParseMicro(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want int64
		err  string
	}{
		{"dot", "0.25", 250_000, ""},
		{"decimal comma", "0,25", 250_000, ""},
		{"thousands with spaces", "1 444.7", 1_444_700_000, ""},
		{"no leading zero", ".5", 500_000, ""},
		{"six decimals", "0.000001", 1, ""},
		{"whole", "3", 3_000_000, ""},
		{"seven decimals", "0.0000001", 0, "more than 6 decimals"},
		{"zero", "0", 0, "more than 0"},
		{"negative", "-1", 0, "not a number"},
		{"words", "about three", 0, "not a number"},
		{"two dots", "1.2.3", 0, "not a number"},
		{"too large", "10000000000000", 0, "too large"},
		{"empty", "", 0, "more than 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseMicro(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("parseMicro(%q) = %d, %v; want an error with %q", tc.in, got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("parseMicro(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
			}
		})
	}
}

// FuzzParseMicro: typed prices never panic, and what parses is above zero
// and reads back the same from its own text.
func FuzzParseMicro(f *testing.F) {
	for _, s := range []string{"0.25", "0,25", "1 444.7", ".5", "", "-1", "9999999999999.999999", "1e9", "٣"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseMicro(s)
		if err != nil {
			return
		}
		if n <= 0 {
			t.Fatalf("parseMicro(%q) = %d", s, n)
		}
		if back, err := parseMicro(microText(n)); err != nil || back != n {
			t.Fatalf("parseMicro(microText(%d)) = %d, %v", n, back, err)
		}
	})
}

func TestParseElectricity(t *testing.T) {
	tests := []struct {
		name                       string
		perKWh, currency, tonPrice string
		want                       *worker.Electricity
		bad                        []string
	}{
		{"none", "", "EUR", "3", nil, nil},
		{"euro", "0,31", " EUR ", "3.1", &worker.Electricity{Currency: "EUR", PerKWhMicro: 310_000, TONPriceMicro: 3_100_000}, nil},
		{"TON needs no TON price", "0.05", "ton", "", &worker.Electricity{Currency: "ton", PerKWhMicro: 50_000, TONPriceMicro: 1_000_000}, nil},
		{"a long currency name", "1444.7", "Indonesian rupiah (IDR)", "52123.456789", &worker.Electricity{Currency: "Indonesian rupiah (IDR)", PerKWhMicro: 1_444_700_000, TONPriceMicro: 52_123_456_789}, nil},
		{"no currency, no TON price", "0.3", "", "", nil, []string{fieldCurrency, fieldTONPrice}},
		{"a currency name too long", "0.3", "Zimbabwean dollars of the 2009 series", "3", nil, []string{fieldCurrency}},
		{"bad numbers", "cheap", "EUR", "lots", nil, []string{fieldPerKWh, fieldTONPrice}},
		{"a TON price that makes a kWh cost a fortune", "1000000", "EUR", "0.000001", nil, []string{fieldTONPrice}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, bad := parseElectricity(tc.perKWh, tc.currency, tc.tonPrice)
			if len(bad) != len(tc.bad) {
				t.Fatalf("problems %v, want fields %v", bad, tc.bad)
			}
			for _, f := range tc.bad {
				if bad[f] == "" {
					t.Errorf("no problem for %s: %v", f, bad)
				}
			}
			if (got == nil) != (tc.want == nil) || got != nil && *got != *tc.want {
				t.Fatalf("electricity = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestElectricityText(t *testing.T) {
	tests := []struct {
		name string
		s    worker.Settings
		want string
	}{
		{"none", worker.Settings{}, "Not set"},
		{"an old tariff in TON per kWh", worker.Settings{TariffNanoPerKWh: 50_000_000}, "0.05 TON per kWh"},
		{"euro", worker.Settings{Electricity: &worker.Electricity{Currency: "EUR", PerKWhMicro: 310_000, TONPriceMicro: 3_100_000}}, "0.31 EUR per kWh · 1 TON = 3.1 EUR"},
		{"big numbers", worker.Settings{Electricity: &worker.Electricity{Currency: "IDR", PerKWhMicro: 1_444_700_000, TONPriceMicro: 52_123_456_789}}, "1444.7 IDR per kWh · 1 TON = 52123.456789 IDR"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := electricityText(electricityOf(tc.s)); got != tc.want {
				t.Errorf("electricityText = %q, want %q", got, tc.want)
			}
		})
	}
}
