package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"

	"github.com/cocoon-desktop/cocoon-desktop/earnings"
	"github.com/cocoon-desktop/cocoon-desktop/network"
	"github.com/cocoon-desktop/cocoon-desktop/runtime/ollama"
	"github.com/cocoon-desktop/cocoon-desktop/ton"
	"github.com/cocoon-desktop/cocoon-desktop/worker"
)

// ownerWords is an error said for the owner: what happened, in a sentence,
// and what to do about it. The error chain itself goes to the log.
type ownerWords struct {
	Kind     string // a short name for the kind of error (tests, the log)
	Sentence string
	Action   string
}

// known reports whether the words name the error's kind (not "unknown",
// not a cancellation, which has none).
func (w ownerWords) known() bool { return w.Kind != "unknown" && w.Kind != "cancelled" }

// String is the sentence and the action on one line.
func (w ownerWords) String() string {
	if w.Action == "" {
		return w.Sentence
	}
	return w.Sentence + " " + w.Action
}

// wordKinds maps error kinds to owner words, first match wins: the more
// specific kinds come before the general ones (a disk full during a
// download is "disk full", not "download failed").
var wordKinds = []struct {
	kind     string
	match    func(error) bool
	sentence string
	action   string
}{
	{"disk-full", anyIs(ollama.ErrDiskFull, syscall.ENOSPC, syscall.EDQUOT),
		"The disk is full.",
		"Free some space (or delete a model you no longer use), then try again."},
	{"no-internet", func(err error) bool {
		var dns *net.DNSError
		return errors.Is(err, ollama.ErrRegistryUnreachable) || errors.As(err, &dns)
	},
		"This computer seems to be offline: the server could not be found or reached.",
		"Check the internet connection, then try again."},
	{"no-model", anyIs(worker.ErrNoModel),
		"There is no model to serve.",
		"Download a model on the Dashboard (or put the built-in one back), then press Start sharing."},
	{"model-not-found", anyIs(ollama.ErrModelNotFound, network.ErrUnknownModel),
		"That model was not found, on this computer or in the registry.",
		"Check its name (for example llama3.2:1b) or choose one from the list."},
	{"download-stopped", anyIs(ollama.ErrPullFailed),
		"The download stopped part way.",
		"Try again; if it keeps stopping, check the internet connection."},
	{"ollama-missing", anyIs(ollama.ErrOllamaNotFound),
		"Ollama, the program that runs the models, was not found.",
		"Reinstall Cocoon Desktop, or install Ollama, then start Cocoon again."},
	{"ollama-crashed", anyIs(ollama.ErrOllamaUnreachable, worker.ErrRuntimeStalled, worker.ErrNotReady),
		"Ollama, the program that runs the models, stopped answering.",
		"Cocoon restarts it by itself: wait a moment and try again. If it keeps happening, restart Cocoon."},
	{"ledger-damaged", anyIs(earnings.ErrDamaged, earnings.ErrMissing),
		"The earnings ledger on this computer is damaged.",
		"Rebuild it from the network's receipts (the Rebuild button on the Dashboard); nothing is deleted."},
	{"ledger-busy", anyIs(earnings.ErrLocked),
		"Another Cocoon Desktop is using the same earnings ledger.",
		"Close the other one, then start this one again."},
	{"no-ledger", anyIs(worker.ErrNoLedger),
		"The earnings ledger is not open yet.",
		"Wait until Cocoon has started; if this stays, restart Cocoon."},
	{"wrong-ton-network", anyIs(ton.ErrAddressNetwork, ton.ErrPayoutNetwork),
		"That address is for the other TON network (testnet or mainnet).",
		"Copy the address for this network from your wallet app."},
	{"bad-address", anyIs(ton.ErrInvalidAddress),
		"That is not a TON wallet address.",
		"Copy the address from your wallet app (it starts with UQ or EQ) and paste it whole."},
	{"proxy-refused", anyIs(syscall.ECONNREFUSED),
		"The network refused the connection: its server is down or the address is wrong.",
		"Cocoon keeps trying by itself; if this stays, check the network's address in Settings."},
	{"proxy-unreachable", func(err error) bool {
		var op *net.OpError
		return errors.As(err, &op) && op.Op == "dial"
	},
		"The network's server could not be reached.",
		"Check the internet connection; Cocoon reconnects by itself."},
	{"proxy-offline", anyIs(network.ErrNotConnected, worker.ErrPayoutsUnavailable, ton.ErrChainUnreachable),
		"Cocoon is not connected to the network right now.",
		"Check the internet connection; Cocoon reconnects by itself. Try again once it is connected."},
	{"benchmark-busy", anyIs(worker.ErrBenchmarkBusy),
		"The speed test cannot run while sharing.",
		"Stop sharing, then run it again."},
	{"bad-setting", anyIs(worker.ErrBadSetting),
		"That setting is not valid.",
		"Correct the marked field and save again."},
	{"no-permission", anyIs(os.ErrPermission),
		"Cocoon may not write its files.",
		"Check that your user owns Cocoon's data folder."},
}

func anyIs(targets ...error) func(error) bool {
	return func(err error) bool {
		for _, t := range targets {
			if errors.Is(err, t) {
				return true
			}
		}
		return false
	}
}

// wordsFor says err for the owner. A cancelled operation (the owner
// cancelled it, or Cocoon is quitting) has no words: Kind "cancelled",
// Sentence "". An error of no known kind says so and points at the log.
func wordsFor(err error) ownerWords {
	if err == nil {
		return ownerWords{}
	}
	if errors.Is(err, context.Canceled) {
		return ownerWords{Kind: "cancelled"}
	}
	for _, k := range wordKinds {
		if k.match(err) {
			return ownerWords{Kind: k.kind, Sentence: k.sentence, Action: k.action}
		}
	}
	return ownerWords{Kind: "unknown", Sentence: "Something went wrong.",
		Action: "Try again; the details are in Cocoon's log."}
}

// errorLine is the header's line in StateError: the error in the owner's
// words where the core gave it and its kind is known (the chain is in the
// log), the core's text otherwise.
func errorLine(st worker.Status) string {
	if st.ErrorErr != nil {
		if w := wordsFor(st.ErrorErr); w.known() {
			return w.String()
		}
	}
	if st.Error == "" {
		return "Something needs your attention."
	}
	return st.Error
}

// fatalText is the header's line when the core has stopped for good: the
// error in the owner's words where the core gave it (Status.FatalErr), its
// text otherwise.
func fatalText(st worker.Status) string {
	const tail = " Quit and start it again once this is fixed."
	if st.FatalErr != nil {
		w := wordsFor(st.FatalErr)
		if w.known() {
			return "Cocoon Desktop has stopped: " + w.Sentence + " " + w.Action
		}
		return "Cocoon Desktop has stopped on an error it cannot get past (the details are in its log)." + tail
	}
	return "Cocoon Desktop has stopped: " + st.Fatal + "." + tail
}

// builtinName is the built-in model's name as the owner sees it.
var builtinName = strings.TrimSuffix(worker.TinyModel, ":latest")

// deleteWarning is what the owner reads before deleting a model: what else
// happens (sharing stops, another model is served) and, for the last
// model, that the built-in one can come back.
func deleteWarning(name string, st worker.Status) string {
	others := 0
	for _, m := range st.Models {
		if m.Name != name {
			others++
		}
	}
	served := name == st.Model
	var b strings.Builder
	switch {
	case served && st.State.Started():
		fmt.Fprintf(&b, "%s is the model Cocoon is sharing with now. Deleting it stops sharing.", name)
	case served:
		fmt.Fprintf(&b, "%s is the model Cocoon serves.", name)
	default:
		fmt.Fprintf(&b, "Delete %s from this computer? You can download it again later.", name)
	}
	if served {
		if others == 0 {
			b.WriteString("\n\nIt is your only model: without one Cocoon cannot share. You can put the built-in " +
				builtinName + " back afterwards (no download from the internet).")
		} else {
			b.WriteString(" Another of your models is chosen instead; press Start sharing to share with it.")
		}
	}
	return b.String()
}

// afterDeleteText is the notice after the served model was deleted ("" when
// another model was deleted): what state sharing is in and what to press.
func afterDeleteText(name string, wasServed, wasSharing bool, st worker.Status) string {
	switch {
	case !wasServed:
		return ""
	case len(st.Models) == 0:
		return name + " was deleted and no model is left: download " + builtinName + " (built in) or another model, then press Start sharing."
	case wasSharing && st.Model != "":
		return "Sharing stopped: " + name + " was deleted. " + st.Model + " is chosen; press Start sharing to share with it."
	case st.Model != "":
		return name + " was deleted; " + st.Model + " is chosen instead."
	}
	return name + " was deleted; choose another model."
}

// networkErrorText is why the connection to the network dropped, in the
// owner's words where the core gave the error (NetworkStatus.Err).
func networkErrorText(ns worker.NetworkStatus) string {
	if ns.Err == nil {
		return ns.Error // a reason in words (auth failures), or an old status
	}
	if w := wordsFor(ns.Err); w.known() {
		return w.String()
	}
	return "The connection to the network dropped; Cocoon reconnects by itself (the details are in its log)."
}
