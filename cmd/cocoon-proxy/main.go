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
