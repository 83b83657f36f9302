// Command cocoon-proxy runs the reference Cocoon Desktop network proxy: an
// OpenAI-compatible API for app developers and a TLS WebSocket endpoint for
// desktop workers.
//
//	cocoon-proxy -config proxy.json          serve until Ctrl-C / SIGTERM
//	cocoon-proxy -config proxy.json -print-key
//	                                         print the proxy's public key (hex) for workers to pin
//
// TON payouts are on when the config has a "payouts" object:
//
//	"payouts": {
//	  "network": "mainnet",               // or "testnet"
//	  "wallet_seed_file": "wallet.seed",  // 24-word mnemonic of the wallet V5R1 that pays; mode 0600
//	  "min_payout": 100000000,            // nanoTON (0.1 TON, the default)
//	  "payout_fee": 10000000,             // nanoTON kept per payout (0.01 TON, the default)
//	  "confirm_interval": "5s",
//	  "lite_config": ""                   // global config URL/file/JSON; "" → ton.org's for the network
//	}
//
// The log's "payouts on" line names the wallet address to top up.
//
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
package main

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/cocoon-desktop/cocoon-desktop/network/proxy"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return // -h: the usage was printed; asking for help is not an error
		}
		fmt.Fprintln(os.Stderr, "cocoon-proxy:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
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
	if *printKey {
		key, err := proxy.LoadOrCreateIdentity(cfg.DataDir)
		if err != nil {
			return err
		}
		fmt.Println(hex.EncodeToString(key.Public().(ed25519.PublicKey)))
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
