package app

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"strings"

	"github.com/cocoon-desktop/cocoon-desktop/network"
	"github.com/cocoon-desktop/cocoon-desktop/worker"
)

// The Networks tab's words, without Fyne: the current network's name, the
// preview's prices and commission, and invite and join errors in the
// owner's words (the error chain goes to the log).

// networkName is how a network is named on screen: its name, else its host.
func networkName(ns worker.NetworkStatus) string {
	switch {
	case ns.Local:
		return worker.LocalNetworkName
	case ns.Name != "":
		return ns.Name
	case ns.URL != "":
		if u, err := url.Parse(ns.URL); err == nil && u.Hostname() != "" {
			return u.Hostname()
		}
		return ns.URL
	}
	return "none"
}

// networkLine is the "Network: <name>" line of the tray and "Why not earning?".
func networkLine(ns worker.NetworkStatus) string { return "Network: " + networkName(ns) }

// previewName is the name to show for an invite's network: the name the
// proxy signed, else the invite's, else the host.
func previewName(inv network.Invite, info network.NetworkInfo) string {
	for _, n := range []string{info.Name, inv.Name} {
		if strings.TrimSpace(n) != "" {
			return oneLine(n)
		}
	}
	return networkName(worker.NetworkStatus{URL: inv.URL})
}

// perMillion formats a price in nanoTON per token as TON per 1M tokens.
func perMillion(nanoPerToken int64) string {
	if nanoPerToken < 0 || nanoPerToken > math.MaxInt64/1_000_000 {
		return "?"
	}
	return tonText(nanoPerToken*1_000_000) + " TON"
}

// priceLine is one model's prices: "llama3.2:1b — 0.02 TON in, 0.08 TON out per 1M tokens".
func priceLine(p network.ModelPrice) string {
	return fmt.Sprintf("%s — %s prompt · %s completion per 1M tokens", oneLine(p.Model), perMillion(p.PricePrompt), perMillion(p.PriceCompletion))
}

// commissionText is the proxy's share in percent and what the owner keeps.
func commissionText(bps int64) string {
	pct := func(b int64) string {
		s := fmt.Sprintf("%d.%02d", b/100, b%100)
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
		return s + " %"
	}
	if bps < 0 || bps > 10000 {
		return "?"
	}
	return fmt.Sprintf("%s to the network · you keep %s", pct(bps), pct(10000-bps))
}

// payoutsText says whether and where the network pays.
func payoutsText(info network.NetworkInfo) string {
	if !info.Payouts {
		return "No payouts: earnings on this network are for testing"
	}
	if info.TONNetwork == "testnet" {
		return "Pays out in test TON (testnet)"
	}
	return "Pays out in TON to your wallet"
}

// inviteProblem is why an invite or a join failed, in the owner's words.
func inviteProblem(err error) string {
	var reason string
	switch {
	case errors.Is(err, network.ErrBadInvite):
		_, reason, _ = strings.Cut(err.Error(), network.ErrBadInvite.Error()+": ")
		if reason == "" {
			reason = "it does not look like one"
		}
		return "That is not a Cocoon invite: " + reason + "."
	case errors.Is(err, network.ErrOtherProtocol):
		return "This network speaks another version of the Cocoon protocol. Update Cocoon Desktop, or ask the network's operator."
	case errors.Is(err, network.ErrNetworkInfo):
		return "The network did not prove it is the one in the invite (its key does not match, or its answer is damaged). Ask its operator for a fresh invite."
	case errors.Is(err, worker.ErrNetworkFixed):
		return "Cocoon was started with --network: the command line chooses the network. Start it without --network to choose here."
	case errors.Is(err, worker.ErrNoLocalNetwork):
		return "There is no local test network in this run."
	}
	return "Could not reach the network. Check your internet connection and the invite, then try again."
}
