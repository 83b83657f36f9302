package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/ollama/ollama/api"

	"github.com/cocoon-desktop/cocoon-desktop/earnings"
	"github.com/cocoon-desktop/cocoon-desktop/network"
	"github.com/cocoon-desktop/cocoon-desktop/runtime/ollama"
	"github.com/cocoon-desktop/cocoon-desktop/ton"
	"github.com/cocoon-desktop/cocoon-desktop/worker"
)

// TestWordsForEachKind: every kind of error the UI can show comes out as a
// sentence and an action, chosen by the sentinels in its chain (wrapped as
// the core wraps them), and none of the chain's own words reach the screen.
func TestWordsForEachKind(t *testing.T) {
	_, addrErr := ton.ParseAddress("UQ-not-an-address", ton.Mainnet)
	tests := []struct {
		name     string
		err      error
		kind     string
		sentence string // a part of the sentence
	}{
		{"no internet (registry DNS)", fmt.Errorf("worker: download llama3.2:1b: %w", fmt.Errorf("runtime: pull llama3.2:1b: %w: dial tcp: lookup registry.ollama.ai: no such host", ollama.ErrRegistryUnreachable)), "no-internet", "offline"},
		{"no internet (our own lookup)", fmt.Errorf("network: dial: %w", &net.DNSError{Err: "no such host", Name: "proxy.example"}), "no-internet", "offline"},
		{"disk full in a download", fmt.Errorf("worker: download x: %w", fmt.Errorf("runtime: pull x: %w: 4 GB needed", ollama.ErrDiskFull)), "disk-full", "disk is full"},
		{"disk full writing the ledger", fmt.Errorf("earnings: credit: %w", syscall.ENOSPC), "disk-full", "disk is full"},
		{"model not in the registry", fmt.Errorf("worker: download llama9: %w", fmt.Errorf("runtime: pull llama9: %w: file does not exist", ollama.ErrModelNotFound)), "model-not-found", "not found"},
		{"no model to start with", fmt.Errorf("worker: start: %w: %w", worker.ErrNoModel, ollama.ErrModelNotFound), "no-model", "no model"},
		{"download stopped", fmt.Errorf("runtime: pull x: %w after 1 GB of 4 GB: unexpected EOF", ollama.ErrPullFailed), "download-stopped", "stopped part way"},
		{"ollama crashed", fmt.Errorf("worker: set model: %w", ollama.ErrOllamaUnreachable), "ollama-crashed", "stopped answering"},
		{"ollama stalled", fmt.Errorf("worker: job j1: %w: no token for 30s", worker.ErrRuntimeStalled), "ollama-crashed", "stopped answering"},
		{"ollama not started yet", fmt.Errorf("worker: start: %w: Ollama is not running yet", worker.ErrNotReady), "ollama-crashed", "stopped answering"},
		{"ollama missing", fmt.Errorf("worker: model runtime: %w", ollama.ErrOllamaNotFound), "ollama-missing", "was not found"},
		{"proxy refused", fmt.Errorf("network: dial wss://p: %w", &net.OpError{Op: "dial", Net: "tcp", Err: &os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED}}), "proxy-refused", "refused"},
		{"proxy unreachable", fmt.Errorf("failed to WebSocket dial: %w", &url.Error{Op: "Get", URL: "https://p/v1/worker", Err: &net.OpError{Op: "dial", Net: "tcp", Err: os.ErrDeadlineExceeded}}), "proxy-unreachable", "could not be reached"},
		{"proxy offline", fmt.Errorf("worker: payout: %w", network.ErrNotConnected), "proxy-offline", "not connected"},
		{"payouts not open", fmt.Errorf("worker: quote: %w", worker.ErrPayoutsUnavailable), "proxy-offline", "not connected"},
		{"bad address", fmt.Errorf("worker: payout address: %w", addrErr), "bad-address", "not a TON wallet address"},
		{"address of the other network", fmt.Errorf("worker: payout: %w", ton.ErrPayoutNetwork), "wrong-ton-network", "other TON network"},
		{"ledger damaged", fmt.Errorf("worker: open ledger: %w", earnings.ErrDamaged), "ledger-damaged", "damaged"},
		{"ledger missing", fmt.Errorf("earnings: open l.db: %w", earnings.ErrMissing), "ledger-damaged", "damaged"},
		{"ledger in use", fmt.Errorf("earnings: open: %w", earnings.ErrLocked), "ledger-busy", "Another Cocoon Desktop"},
		{"benchmark while sharing", worker.ErrBenchmarkBusy, "benchmark-busy", "while sharing"},
		{"bad setting", fmt.Errorf("worker: idle: %w", worker.ErrBadSetting), "bad-setting", "not valid"},
		{"no permission", fmt.Errorf("worker: save settings: %w", os.ErrPermission), "no-permission", "may not write"},
		{"unknown", errors.New("worker: something odd: 0xdeadbeef"), "unknown", "Something went wrong"},
		{"ollama's own status error", api.StatusError{StatusCode: 500, ErrorMessage: "llama runner process has terminated"}, "unknown", "Something went wrong"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := wordsFor(tc.err)
			if w.Kind != tc.kind {
				t.Fatalf("kind = %q, want %q (%s)", w.Kind, tc.kind, w)
			}
			if !strings.Contains(w.Sentence, tc.sentence) || w.Action == "" {
				t.Fatalf("words = %+v, want a sentence with %q and an action", w, tc.sentence)
			}
			for _, raw := range []string{"worker:", "runtime:", "network:", "earnings:", "dial tcp", "0xdeadbeef"} {
				if strings.Contains(w.String(), raw) {
					t.Fatalf("the chain's %q reached the words: %s", raw, w)
				}
			}
		})
	}
}

// TestWordsForCancelled: a cancelled operation is said with nothing.
func TestWordsForCancelled(t *testing.T) {
	for _, err := range []error{nil, context.Canceled, fmt.Errorf("worker: download x: %w", context.Canceled)} {
		if w := wordsFor(err); w.Sentence != "" {
			t.Errorf("wordsFor(%v) = %+v, want no words", err, w)
		}
	}
}

// TestWordKindsAllReachable: no kind in the table is shadowed by one
// before it (each kind's own sentinels reach it).
func TestWordKindsAllReachable(t *testing.T) {
	seen := map[string]bool{}
	for _, k := range wordKinds {
		if seen[k.kind] {
			t.Errorf("kind %q twice", k.kind)
		}
		seen[k.kind] = true
	}
	tests := []string{"disk-full", "no-internet", "no-model", "model-not-found", "download-stopped", "ollama-missing",
		"ollama-crashed", "ledger-damaged", "ledger-busy", "no-ledger", "wrong-ton-network", "bad-address",
		"proxy-refused", "proxy-unreachable", "proxy-offline", "benchmark-busy", "bad-setting", "no-permission"}
	for _, k := range tests {
		if !seen[k] {
			t.Errorf("kind %q missing from the table", k)
		}
	}
	if len(seen) != len(tests) {
		t.Errorf("%d kinds in the table, %d listed here: list the new one", len(seen), len(tests))
	}
}

func TestFatalText(t *testing.T) {
	tests := []struct {
		name string
		st   worker.Status
		want string
	}{
		{"known kind", worker.Status{Fatal: "worker: open ledger: the ledger file is damaged", FatalErr: fmt.Errorf("worker: open ledger: %w", earnings.ErrDamaged)},
			"Cocoon Desktop has stopped: The earnings ledger on this computer is damaged. Rebuild it from the network's receipts (the Rebuild button on the Dashboard); nothing is deleted."},
		{"unknown kind: no chain", worker.Status{Fatal: "worker: gpu: 0xdead", FatalErr: errors.New("worker: gpu: 0xdead")},
			"Cocoon Desktop has stopped on an error it cannot get past (the details are in its log). Quit and start it again once this is fixed."},
		{"text only", worker.Status{Fatal: "no network configuration"},
			"Cocoon Desktop has stopped: no network configuration. Quit and start it again once this is fixed."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := fatalText(tc.st); got != tc.want {
				t.Fatalf("fatalText = %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestDeleteWarningAndAfter(t *testing.T) {
	two := []ollama.Model{{Name: "llama3.2:1b"}, {Name: "qwen3:0.6b"}}
	one := []ollama.Model{{Name: "llama3.2:1b"}}
	st := func(state worker.State, model string, ms []ollama.Model) worker.Status {
		return worker.Status{State: state, Model: model, Models: ms}
	}
	warnings := []struct {
		name   string
		del    string
		st     worker.Status
		has    []string
		hasNot []string
	}{
		{"other model", "qwen3:0.6b", st(worker.StateServing, "llama3.2:1b", two), []string{"Delete qwen3:0.6b"}, []string{"stops sharing", "built-in"}},
		{"served while sharing, others left", "llama3.2:1b", st(worker.StateServing, "llama3.2:1b", two), []string{"stops sharing", "press Start sharing"}, []string{"built-in"}},
		{"served while sharing, the last one", "llama3.2:1b", st(worker.StateServing, "llama3.2:1b", one), []string{"stops sharing", "only model", "built-in cocoon-tiny back"}, nil},
		{"served while stopped, the last one", "llama3.2:1b", st(worker.StateStopped, "llama3.2:1b", one), []string{"only model", "cocoon-tiny"}, []string{"stops sharing"}},
	}
	for _, tc := range warnings {
		t.Run("warn/"+tc.name, func(t *testing.T) {
			got := deleteWarning(tc.del, tc.st)
			for _, s := range tc.has {
				if !strings.Contains(got, s) {
					t.Errorf("warning %q lacks %q", got, s)
				}
			}
			for _, s := range tc.hasNot {
				if strings.Contains(got, s) {
					t.Errorf("warning %q has %q", got, s)
				}
			}
		})
	}
	after := []struct {
		name                  string
		wasServed, wasSharing bool
		st                    worker.Status
		want                  string
	}{
		{"another model", false, true, st(worker.StateServing, "llama3.2:1b", one), ""},
		{"served while sharing", true, true, st(worker.StateStopped, "qwen3:0.6b", []ollama.Model{{Name: "qwen3:0.6b"}}),
			"Sharing stopped: llama3.2:1b was deleted. qwen3:0.6b is chosen; press Start sharing to share with it."},
		{"the last one", true, true, st(worker.StateStopped, "", nil),
			"llama3.2:1b was deleted and no model is left: download cocoon-tiny (built in) or another model, then press Start sharing."},
		{"served while stopped", true, false, st(worker.StateStopped, "qwen3:0.6b", []ollama.Model{{Name: "qwen3:0.6b"}}),
			"llama3.2:1b was deleted; qwen3:0.6b is chosen instead."},
	}
	for _, tc := range after {
		t.Run("after/"+tc.name, func(t *testing.T) {
			if got := afterDeleteText("llama3.2:1b", tc.wasServed, tc.wasSharing, tc.st); got != tc.want {
				t.Errorf("afterDeleteText = %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestNetworkErrorText(t *testing.T) {
	refused := fmt.Errorf("failed to WebSocket dial: %w", &net.OpError{Op: "dial", Net: "tcp", Err: &os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED}})
	tests := []struct {
		name string
		ns   worker.NetworkStatus
		want string
	}{
		{"refused", worker.NetworkStatus{Error: refused.Error(), Err: refused}, "The network refused the connection"},
		{"unknown kind: no chain", worker.NetworkStatus{Error: "heartbeat timeout", Err: errors.New("heartbeat timeout")}, "The connection to the network dropped; Cocoon reconnects by itself"},
		{"words without an error", worker.NetworkStatus{Error: "proxy key mismatch"}, "proxy key mismatch"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := networkErrorText(tc.ns)
			if !strings.HasPrefix(got, tc.want) || strings.Contains(got, "dial") {
				t.Fatalf("networkErrorText = %q, want %q…", got, tc.want)
			}
		})
	}
}

// TestErrorLine: the header's error line says a known error in the owner's
// words (never the chain), and falls back to the core's text.
func TestErrorLine(t *testing.T) {
	chain := "worker: could not load llama3.2:1b: runtime: load: model not found"
	cases := []struct {
		name string
		st   worker.Status
		want string
	}{
		{"known kind", worker.Status{State: worker.StateError, Error: chain,
			ErrorErr: fmt.Errorf("could not load llama3.2:1b: %w", ollama.ErrModelNotFound)},
			wordsFor(ollama.ErrModelNotFound).String()},
		{"unknown kind keeps the text", worker.Status{State: worker.StateError, Error: "odd failure",
			ErrorErr: errors.New("odd failure")}, "odd failure"},
		{"text only", worker.Status{State: worker.StateError, Error: "Ollama is not running yet"}, "Ollama is not running yet"},
		{"nothing said", worker.Status{State: worker.StateError}, "Something needs your attention."},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := errorLine(c.st)
			if got != c.want {
				t.Errorf("errorLine = %q, want %q", got, c.want)
			}
			if c.st.ErrorErr != nil && strings.Contains(got, "worker:") {
				t.Errorf("the chain reached the screen: %q", got)
			}
		})
	}
}
