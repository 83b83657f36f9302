// Command cocoon-proxy runs the reference Cocoon Desktop network proxy: an
// OpenAI-compatible API for app developers and a TLS WebSocket endpoint for
// desktop workers.
//
//	cocoon-proxy -config proxy.json          serve until Ctrl-C / SIGTERM
//	cocoon-proxy -config proxy.json -print-key
//	                                         print the proxy's public key (hex) for workers to pin
//	cocoon-proxy -config proxy.json invite [-link|-string]
//	                                         print the invite owners paste into the app to join
//	                                         (config "name" and "public_worker_url"; see invite.go)
//	cocoon-proxy -config proxy.json trust release WORKER_ID
//	                                         lift a worker's quarantine (see "trust" below)
//
//	cocoon-proxy -config proxy.json escrow deploy [TON] | status | withdraw announce TON | withdraw execute | withdraw cancel
//	                                         operate the escrow contract (see "escrow" below)
//
// Owners are paid from an escrow contract on chain (docs/settlement.md)
// when the config has an "escrow" object: the proxy signs a voucher with
// every receipt and the app claims it without the proxy.
//
//	"escrow": {
//	  "network": "mainnet",               // or "testnet"
//	  "address": "EQ…",                   // the escrow; "": derived from the proxy key and the fields below
//	  "operator": "UQ…",                  // the operator wallet: deploys, announces and executes withdrawals
//	  "withdraw_delay": "168h",           // the default: a withdrawal executes a week after it is announced
//	  "claim_fee": 10000000,              // nanoTON the escrow keeps per claim (0.01 TON, the default)
//	  "operator_seed_file": "op.seed",    // 24-word mnemonic of the operator wallet, mode 0600 (CLI only)
//	  "lite_config": ""                   // global config URL/file/JSON; "" → ton.org's for the network
//	}
//
// The hot-wallet "payouts" object of earlier versions is refused: owners
// claim from the escrow, and every worker's payout_request gets a
// rejection with a reason.
//
// The trust policy (docs/trust.md) is the "trust" object; every field is
// optional and these are the defaults:
//
//	"trust": {
//	  "quarantine_after": 3,         // failure points within failure_window that quarantine a worker:
//	                                 // a failed canary or a strike 1, a token count over the tolerance ½
//	  "failure_window": "168h",
//	  "canaries_to_trust": 10,       // passed canaries that make a new worker trusted
//	  "hold_period": "72h",          // a new worker's credits are held this long ("0s": not held)
//	  "new_daily_cap": 10000000000,  // nanoTON a new worker may earn per UTC day, then no client
//	                                 // jobs until 00:00 UTC (0: no cap)
//	  "max_coefficient_milli": 3000, // the highest price coefficient × 1000; above it a worker is
//	                                 // priced at it and told so
//	  "trusted_workers": []          // worker ids (hex keys) trusted from the start
//	}
//
// A quarantined worker gets no jobs and its unpaid balance is held; the
// evidence is in GET /v1/status ("quarantined"). `trust release` lifts the
// quarantine: with the proxy stopped it edits the store; while the proxy
// runs it asks it (POST /v1/admin/trust/release on api_addr) with the
// admin key from $COCOON_PROXY_ADMIN_KEY or the config's admin_key.
// A config that holds secrets in clear ("key" of an api_keys entry,
// "admin_key") must not be readable by group or others: the proxy refuses to
// start and says to `chmod 600` it (or to store "key_sha256" /
// "admin_key_sha256" digests instead). GET /v1/status always needs
// "Authorization: Bearer <admin_key>", from loopback too (a reverse proxy on
// the same host makes every request loopback); without an admin key it is off.
//
// Limits (every field optional; the defaults shown):
//
//	"limits": {
//	  "read_header_timeout": "10s",      // both listeners: TLS handshake, request line and headers
//	  "read_timeout": "30s",             // both listeners: a whole request with its body (not a streamed answer)
//	  "idle_timeout": "2m",              // keep-alive connections
//	  "stream_write_timeout": "10s",     // each write to an app developer; a client that stops reading is dropped
//	  "max_conns_per_ip": 256,           // open API connections per remote IP
//	  "max_worker_conns_per_ip": 64,     // open worker connections per remote IP (workers behind one NAT share it)
//	  "max_queued": 256,                 // requests waiting for a busy model; more get 503 + Retry-After
//	  "max_concurrent_per_key": 64,      // requests in flight per API key; more get 429 + Retry-After
//	  "prune_workers_after": "720h"      // never-earning worker records unseen this long are deleted (at start, daily)
//	}
//
// An api_keys entry may set its own "max_concurrent" (0: max_concurrent_per_key).
// The worker listener must terminate TLS itself (the handshake is bound to
// the TLS connection, docs/protocol.md §3): a TCP load balancer in front is
// fine, a TLS-terminating one is not.
// The proxy counts tokens itself, with each served model's own tokenizer and
// chat template, read from an Ollama models directory holding the same
// models the workers serve (`ollama pull` them there); it bills a worker's
// usage only up to its own count plus a tolerance (docs/trust.md):
//
//	"metering": {
//	  "ollama_models": "/var/lib/ollama/models", // OLLAMA_MODELS layout; a list is searched in order; relative to this file
//	  "default_max_tokens": 4096,               // a request's max_tokens when it sets none (sent to the worker)
//	  "max_bytes_per_token": 64,                // × max_tokens: the most text a job may stream...
//	  "max_job_bytes": 16777216,                // ...and never more than this; past it the job is cut
//	  "tolerance_tokens": 16,                   // billed ≤ own count + 16 tokens...
//	  "tolerance_percent": 2                    // ...+ 2 % of it
//	}
//
// Every field is optional (those are the defaults). A priced model found in
// the directory is counted; one not there yet is looked for again at each of
// its jobs and bounded by bytes meanwhile (the log warns at start); one
// there whose tokenizer or template cannot be used stops the start with an
// error naming it. The log's "metering model" line gives each model's
// manifest digest (what `ollama list` shows).
// Canary jobs (the proxy checks workers' answers against a trusted
// reference, network/proxy/canary.go) are on when the config has a
// "canary" object with a reference source:
//
//	"canary": {
//	  "reference_ollama": "http://127.0.0.1:11434", // the operator's own Ollama with the priced models; its
//	                                      // digests pin the models (workers reporting another digest get no jobs)
//	  "trusted_workers": [],              // or: worker ids whose answers are the references (exact match only)
//	  "share_bps": 200,                   // 2% of each worker's client jobs are followed by a canary (default)
//	  "min_per_period": 6,                // and at least 6 canaries per period to every worker (default)
//	  "period": "1h",
//	  "max_delay": "30s",                 // a due canary waits a random time up to this
//	  "margin": 0.1,                      // nats: how close a near-tie must be to excuse a different token
//	  "penalty_slack": 3,                 // nats added where a repeat penalty may hide the real gap
//	  "corpus_file": ""                   // JSON lines replacing the built-in prompts (network/proxy/canary/corpus.jsonl)
//	}
//
// Canaries are paid like any job and recorded under the usage key "canary".
package main

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/cocoon-desktop/cocoon-desktop/network/proxy"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return // -h: the usage was printed; asking for help is not an error
		}
		fmt.Fprintln(os.Stderr, "cocoon-proxy:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("cocoon-proxy", flag.ContinueOnError)
	configPath := fs.String("config", "", "JSON config file (required)")
	printKey := fs.Bool("print-key", false, "print the proxy's public key in hex (creating the key if needed) and exit")
	debug := fs.Bool("debug", false, "log at debug level")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *configPath == "" {
		fs.Usage()
		return errors.New("-config is required")
	}
	cfg, err := proxy.LoadConfig(*configPath)
	if err != nil {
		return err
	}
	if rest := fs.Args(); len(rest) > 0 && rest[0] == "invite" {
		return inviteCmd(cfg, rest[1:], stdout, os.Stderr)
	}
	if rest := fs.Args(); len(rest) > 0 {
		return runCommand(cfg, rest, stdout)
	}
	if *printKey {
		key, err := proxy.LoadOrCreateIdentity(cfg.DataDir)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, hex.EncodeToString(key.Public().(ed25519.PublicKey)))
		return nil
	}
	level := slog.LevelInfo
	if *debug {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	p, err := proxy.New(cfg, logger)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return p.Run(ctx)
}
