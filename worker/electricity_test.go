package worker

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestElectricityToNanoTON(t *testing.T) {
	tests := []struct {
		name    string
		e       Electricity
		want    int64
		wantErr bool
	}{
		{"euro", Electricity{Currency: "EUR", PerKWhMicro: 250_000, TONPriceMicro: 3_100_000}, 80_645_161, false}, // 0.25 / 3.1 TON
		{"TON itself", Electricity{Currency: "TON", PerKWhMicro: 50_000, TONPriceMicro: 1_000_000}, 50_000_000, false},
		{"rounds half up", Electricity{Currency: "X", PerKWhMicro: 1, TONPriceMicro: 2_000_000_000}, 1, false}, // 0.5 nano
		{"a currency of big numbers", Electricity{Currency: "Indonesian rupiah", PerKWhMicro: 1_444_700_000, TONPriceMicro: 52_000_000_000}, 27_782_692, false},
		{"the most per kWh at the least TON price", Electricity{Currency: "X", PerKWhMicro: MaxPerKWhMicro, TONPriceMicro: 1}, 0, true},
		{"no currency", Electricity{Currency: "  ", PerKWhMicro: 1, TONPriceMicro: 1}, 0, true},
		{"a currency name too long", Electricity{Currency: strings.Repeat("x", MaxCurrencyRunes+1), PerKWhMicro: 1, TONPriceMicro: 1}, 0, true},
		{"a control character", Electricity{Currency: "EU\x00R", PerKWhMicro: 1, TONPriceMicro: 1}, 0, true},
		{"zero price", Electricity{Currency: "EUR", TONPriceMicro: 1}, 0, true},
		{"negative TON price", Electricity{Currency: "EUR", PerKWhMicro: 1, TONPriceMicro: -1}, 0, true},
		{"TON at another price than 1", Electricity{Currency: "ton", PerKWhMicro: 1, TONPriceMicro: 2_000_000}, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.e.NanoTONPerKWh()
			if tc.wantErr {
				if !errors.Is(err, ErrBadSetting) {
					t.Fatalf("NanoTONPerKWh = %d, %v; want ErrBadSetting", got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("NanoTONPerKWh = %d, %v; want %d", got, err, tc.want)
			}
		})
	}
}

// TestElectricityMigratesAndSaves: a tariff saved in TON per kWh by an
// older version reads back as the same price in the currency TON; a new
// price in euros saves both forms in one write and survives a restart; a
// bad one changes nothing.
func TestElectricityMigratesAndSaves(t *testing.T) {
	dir := t.TempDir()
	old := `{"payout_address": "", "tariff_nano_per_kwh": 50000000, "onboarded": true}`
	if err := os.WriteFile(filepath.Join(dir, SettingsFile), []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	c := New(Config{DataDir: dir})
	s := c.Settings()
	if s.Electricity == nil || *s.Electricity != (Electricity{Currency: "TON", PerKWhMicro: 50_000, TONPriceMicro: 1_000_000}) ||
		s.TariffNanoPerKWh != 50_000_000 || !s.Onboarded {
		t.Fatalf("migrated settings = %+v (electricity %+v)", s, s.Electricity)
	}

	eur := &Electricity{Currency: " EUR ", PerKWhMicro: 310_000, TONPriceMicro: 3_100_000}
	if err := c.SetElectricity(eur); err != nil {
		t.Fatal(err)
	}
	bad := &Electricity{Currency: "EUR", PerKWhMicro: 0, TONPriceMicro: 3_100_000}
	if err := c.SetElectricity(bad); !errors.Is(err, ErrBadSetting) {
		t.Fatalf("a zero price: %v", err)
	}
	got := New(Config{DataDir: dir}).Settings()
	if got.Electricity == nil || got.Electricity.Currency != "EUR" || got.TariffNanoPerKWh != 100_000_000 {
		t.Fatalf("after a restart: %+v (electricity %+v)", got, got.Electricity)
	}
	if c.Tariff().PerKWhNano != 100_000_000 {
		t.Fatalf("the ledger's tariff = %d", c.Tariff().PerKWhNano)
	}

	if err := c.SetElectricity(nil); err != nil {
		t.Fatal(err)
	}
	if got := New(Config{DataDir: dir}).Settings(); got.Electricity != nil || got.TariffNanoPerKWh != 0 {
		t.Fatalf("after clearing: %+v", got)
	}
}
