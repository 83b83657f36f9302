package app

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/earnings"
	"github.com/cocoon-desktop/cocoon-desktop/network"
	"github.com/cocoon-desktop/cocoon-desktop/worker"
)

// rateText is the TON/hour estimate in words: an average over recent
// serving time, never one job's figure.
func rateText(r worker.EarnRate) string {
	switch {
	case r.Known:
		return fmt.Sprintf("~%s TON/h while sharing (your average over the last %s of serving)", roughTON(r.NanoPerHour), spanText(r.Serving))
	case r.Serving > 0:
		return fmt.Sprintf("TON/h estimate after %s of sharing (%s so far)", spanText(worker.EarnRateMinServing), spanText(r.Serving))
	}
	return "TON/h: an estimate appears after " + spanText(worker.EarnRateMinServing) + " of sharing"
}

// spanText is a duration for the owner: "3 h 20 min", "15 min", "40 s".
func spanText(d time.Duration) string {
	switch {
	case d >= time.Hour:
		h, m := int64(d/time.Hour), int64(d%time.Hour/time.Minute)
		if m == 0 {
			return strconv.FormatInt(h, 10) + " h"
		}
		return fmt.Sprintf("%d h %d min", h, m)
	case d >= time.Minute:
		return strconv.FormatInt(int64(d/time.Minute), 10) + " min"
	}
	return strconv.FormatInt(int64(d/time.Second), 10) + " s"
}

// feeText says the network's commission in percent: "10 %", "2.5 %".
func feeText(bps int64) string {
	s := strconv.FormatFloat(float64(bps)/100, 'f', 2, 64)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s + " %"
}

// pricesText is the network's terms for the owner: its fee and what the
// served model pays per million generated tokens, before and after the
// fee. "" until the network has sent its prices.
func pricesText(p *network.Balance, model string) string {
	if p == nil {
		return ""
	}
	s := "Network fee " + feeText(p.CommissionBPS)
	name := strings.TrimSuffix(model, ":latest")
	for _, mp := range p.Prices {
		if mp.Model != name {
			continue
		}
		net, _ := p.WorkerShare(name, 0, 1_000_000)
		gross, ok := (&network.Balance{Prices: p.Prices}).WorkerShare(name, 0, 1_000_000)
		s += fmt.Sprintf(" · %s pays %s TON per 1M tokens", name, tonText(net))
		if ok && gross != net {
			s += fmt.Sprintf(" (%s before the fee)", tonText(gross))
		}
		return s
	}
	if model != "" {
		s += " · " + name + " is not priced by this network"
	}
	return s
}

// Fields of the electricity editor, as parseElectricity names them.
const (
	fieldPerKWh   = "per_kwh"
	fieldCurrency = "currency"
	fieldTONPrice = "ton_price"
)

// parseMicro reads a decimal amount the way owners type it ("0.25",
// "0,25", "1 444.7") as integer millionths; at most 6 decimals, above zero.
func parseMicro(s string) (int64, error) {
	t := strings.NewReplacer(" ", "", "\u00a0", "", "\u202f", "", "_", "", "'", "").Replace(strings.TrimSpace(s))
	if strings.Count(t, ",") == 1 && !strings.Contains(t, ".") {
		t = strings.Replace(t, ",", ".", 1) // a decimal comma
	}
	whole, frac, _ := strings.Cut(t, ".")
	if whole == "" {
		whole = "0"
	}
	for _, part := range []string{whole, frac} {
		if strings.Trim(part, "0123456789") != "" {
			return 0, fmt.Errorf("%q is not a number: type it like 0.25", strings.TrimSpace(s))
		}
	}
	if len(frac) > 6 {
		return 0, fmt.Errorf("%q has more than 6 decimals", strings.TrimSpace(s))
	}
	if len(strings.TrimLeft(whole, "0")) > 12 {
		return 0, fmt.Errorf("%q is too large", strings.TrimSpace(s))
	}
	w, _ := strconv.ParseInt(whole, 10, 64)
	f, _ := strconv.ParseInt((frac + "000000")[:6], 10, 64)
	n := w*1_000_000 + f // below 10¹⁸: no overflow
	if n <= 0 {
		return 0, fmt.Errorf("%q must be more than 0", strings.TrimSpace(s))
	}
	return n, nil
}

// microText formats millionths with the decimals they need: "0.25", "1444.7", "3".
func microText(n int64) string {
	s := strconv.FormatInt(n/1_000_000, 10)
	if f := n % 1_000_000; f != 0 {
		s += "." + strings.TrimRight(fmt.Sprintf("%06d", f), "0")
	}
	return s
}

// parseElectricity reads the electricity editor's three fields. An empty
// price means none (nil, no problems); a currency of TON needs no TON price.
func parseElectricity(perKWh, currency, tonPrice string) (*worker.Electricity, map[string]string) {
	bad := map[string]string{}
	if strings.TrimSpace(perKWh) == "" {
		return nil, bad
	}
	e := &worker.Electricity{Currency: strings.TrimSpace(currency), TONPriceMicro: 1_000_000}
	var err error
	if e.PerKWhMicro, err = parseMicro(perKWh); err != nil {
		bad[fieldPerKWh] = err.Error()
	}
	switch {
	case e.Currency == "":
		bad[fieldCurrency] = "enter your currency, e.g. EUR"
	case len([]rune(e.Currency)) > worker.MaxCurrencyRunes:
		bad[fieldCurrency] = fmt.Sprintf("at most %d characters", worker.MaxCurrencyRunes)
	}
	if !e.IsTON() {
		if strings.TrimSpace(tonPrice) == "" {
			bad[fieldTONPrice] = "enter what one TON costs in " + orWord(e.Currency, "your currency")
		} else if e.TONPriceMicro, err = parseMicro(tonPrice); err != nil {
			bad[fieldTONPrice] = err.Error()
		}
	}
	if len(bad) == 0 {
		if _, err := e.NanoTONPerKWh(); err != nil {
			bad[fieldTONPrice] = "at this TON price a kWh costs more than 1000 TON: check both prices"
		}
	}
	if len(bad) > 0 {
		return nil, bad
	}
	return e, bad
}

func orWord(s, instead string) string {
	if s == "" {
		return instead
	}
	return s
}

// electricityText is the saved price in the owner's words.
func electricityText(e *worker.Electricity) string {
	if e == nil {
		return "Not set"
	}
	s := microText(e.PerKWhMicro) + " " + e.Currency + " per kWh"
	if !e.IsTON() {
		s += " · 1 TON = " + microText(e.TONPriceMicro) + " " + e.Currency
	}
	return s
}

// netLine says what electricity costs beside a day's gross: the net only
// when energy was measured (NVML power), otherwise why there is none.
func netLine(day earnings.DayTotal, tariffSet bool) string {
	switch {
	case !tariffSet:
		return "set a tariff for the net"
	case day.EnergyMilliJ > 0:
		return "net " + tonText(day.Net) + " TON after electricity"
	case day.Jobs > 0:
		return "energy not measured on this card"
	}
	return ""
}

// energyMeasured reports whether any of days has measured energy: the net
// of electricity means something only then.
func energyMeasured(days []earnings.DayTotal) bool {
	for _, d := range days {
		if d.EnergyMilliJ > 0 {
			return true
		}
	}
	return false
}

// electricityOf is the owner's electricity price: as saved, or from a
// tariff in TON per kWh that has no currency form (as the core migrates it).
func electricityOf(s worker.Settings) *worker.Electricity {
	if s.Electricity != nil {
		return s.Electricity
	}
	if s.TariffNanoPerKWh > 0 {
		return &worker.Electricity{Currency: "TON", PerKWhMicro: max((s.TariffNanoPerKWh+500)/1000, 1), TONPriceMicro: 1_000_000}
	}
	return nil
}
