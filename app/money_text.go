package app

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/network"
	"github.com/cocoon-desktop/cocoon-desktop/worker"
)

// payoutFacts is what decides whether a payout can be requested now.
type payoutFacts struct {
	quoteErr         error
	local, noPayouts bool
	address          string
	// payable is what can be paid now (available less held), minimum the
	// least a payout may take (minPayout).
	payable, available, held, minimum int64
}

// payoutGate says why a payout cannot be requested now: long under the
// button, short on the Available card; both "" when it can.
func payoutGate(f payoutFacts) (long, short string) {
	switch {
	case f.quoteErr != nil && f.local:
		return "Payouts need a network with payouts; the local test network has none.", "the local test network pays nothing out"
	case f.quoteErr != nil && f.noPayouts:
		return "This network does not pay out: its operator has turned payouts off. Your earnings stay signed in the ledger.",
			"this network does not pay out"
	case f.quoteErr != nil && errors.Is(f.quoteErr, worker.ErrPayoutsUnavailable):
		return "Payouts open once the network is connected and has sent its payout terms.", "payouts open once connected to the network"
	case f.quoteErr != nil:
		return "Payouts are not available: " + wordsFor(f.quoteErr).String(), "payouts are not available now"
	case strings.TrimSpace(f.address) == "":
		return "Set your TON wallet address to get paid.", "set your wallet address to pay out"
	case f.payable < f.minimum && f.held > 0 && f.available >= f.minimum:
		return fmt.Sprintf("The network holds %s TON of your earnings for now (see above); %s TON can be paid out, the minimum is %s TON.",
			tonText(f.held), tonText(f.payable), tonText(f.minimum)), ""
	case f.payable < f.minimum:
		more := tonText(f.minimum - f.payable)
		return fmt.Sprintf("The minimum payout is %s TON; %s TON is available: %s TON more to reach it.", tonText(f.minimum), tonText(f.payable), more),
			more + " TON more to reach the " + tonText(f.minimum) + " TON minimum"
	}
	return "", ""
}

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
