package worker

import (
	"fmt"
	"math/big"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Electricity is the owner's electricity price as they know it: per kWh in
// their own currency, with the price of one TON in that currency (set by
// the owner: no exchange rate is fetched). Amounts are integer millionths
// of the currency, so no float ever carries money. The ledger's queries
// take it as nanoTON per kWh (NanoTONPerKWh, kept in
// Settings.TariffNanoPerKWh).
type Electricity struct {
	// Currency is the owner's name for it ("EUR", "USD", "zł", "TON").
	Currency string `json:"currency"`
	// PerKWhMicro is the price of one kWh, in millionths of the currency.
	PerKWhMicro int64 `json:"per_kwh_micro"`
	// TONPriceMicro is the price of one TON in millionths of the currency
	// (1 000 000 when the currency is TON itself).
	TONPriceMicro int64 `json:"ton_price_micro"`
}

// Limits of the electricity setting: generous enough for any currency
// (a kWh costs thousands in some), tight enough that the conversion to
// nanoTON never overflows.
const (
	MaxCurrencyRunes  = 24
	MaxPerKWhMicro    = 1_000_000_000 * 1_000_000 // a billion units of the currency per kWh
	MaxTONPriceMicro  = 1_000_000_000 * 1_000_000 // a billion units of the currency per TON
	maxTariffNanoTON  = 1_000_000_000_000         // 1 000 TON per kWh, as SetTariff allows
	tonCurrency       = "TON"
	microPerUnit      = 1_000_000
	nanoPerMicroOfTON = 1_000
)

// IsTON reports whether the price is given in TON itself.
func (e Electricity) IsTON() bool {
	return strings.EqualFold(strings.TrimSpace(e.Currency), tonCurrency)
}

// NanoTONPerKWh converts the price to nanoTON per kWh, rounded to the
// nearest nanoTON; an error wrapping ErrBadSetting says which part is out
// of range.
func (e Electricity) NanoTONPerKWh() (int64, error) {
	if err := e.validate(); err != nil {
		return 0, err
	}
	// nano = perKWh × 10⁹ / tonPrice, exact, rounded half up.
	n := new(big.Int).Mul(big.NewInt(e.PerKWhMicro), big.NewInt(1_000_000_000))
	d := big.NewInt(e.TONPriceMicro)
	n.Add(n, new(big.Int).Quo(d, big.NewInt(2)))
	n.Quo(n, d)
	if !n.IsInt64() || n.Int64() > maxTariffNanoTON {
		return 0, fmt.Errorf("worker: electricity: %w: %s per kWh at %s per TON is more than %d TON per kWh: check the TON price",
			ErrBadSetting, e.Currency, e.Currency, maxTariffNanoTON/1_000_000_000)
	}
	return n.Int64(), nil
}

func (e Electricity) validate() error {
	c := strings.TrimSpace(e.Currency)
	switch {
	case c == "":
		return fmt.Errorf("worker: electricity: %w: the currency is empty", ErrBadSetting)
	case utf8.RuneCountInString(c) > MaxCurrencyRunes:
		return fmt.Errorf("worker: electricity: %w: the currency name is longer than %d characters", ErrBadSetting, MaxCurrencyRunes)
	case strings.IndexFunc(c, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0:
		return fmt.Errorf("worker: electricity: %w: the currency name has characters that cannot be shown", ErrBadSetting)
	case e.PerKWhMicro <= 0 || e.PerKWhMicro > MaxPerKWhMicro:
		return fmt.Errorf("worker: electricity: %w: %d millionths per kWh is out of range", ErrBadSetting, e.PerKWhMicro)
	case e.TONPriceMicro <= 0 || e.TONPriceMicro > MaxTONPriceMicro:
		return fmt.Errorf("worker: electricity: %w: a TON price of %d millionths is out of range", ErrBadSetting, e.TONPriceMicro)
	case e.IsTON() && e.TONPriceMicro != microPerUnit:
		return fmt.Errorf("worker: electricity: %w: one TON costs one TON", ErrBadSetting)
	}
	return nil
}

// SetElectricity validates and saves the owner's electricity price (nil:
// none) together with its nanoTON form, in one write of the settings.
func (c *Core) SetElectricity(e *Electricity) error {
	nano := int64(0)
	if e != nil {
		t := *e
		t.Currency = strings.TrimSpace(t.Currency)
		n, err := t.NanoTONPerKWh()
		if err != nil {
			return err
		}
		e, nano = &t, n
	}
	return c.updateSettings(func(st *Settings) error {
		st.Electricity, st.TariffNanoPerKWh = e, nano
		return nil
	})
}

// migrateElectricity fills Electricity from a tariff saved in TON per kWh
// by versions before it: the same price, in the currency TON. The nanoTON
// tariff stays as it was (it is exact; the micro form may round).
func migrateElectricity(s *Settings) {
	if s.Electricity != nil || s.TariffNanoPerKWh <= 0 {
		return
	}
	s.Electricity = &Electricity{Currency: tonCurrency,
		PerKWhMicro:   max((s.TariffNanoPerKWh+nanoPerMicroOfTON/2)/nanoPerMicroOfTON, 1),
		TONPriceMicro: microPerUnit}
}
