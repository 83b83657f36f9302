//go:build linux

// Command cocoon-crash runs the crash-safety harness (internal/crashtest)
// at full size: the proxy and two headless workers as separate processes
// under a stream of jobs, 20 worker, 20 proxy and 10 Ollama SIGKILLs at
// random moments. It prints the figures as markdown and exits 1 when any
// side's money, ledger or processes disagree; with -update FILE it also puts
// them into that file's "Crash safety (real processes)" section (only after
// a clean run). `make crash` runs it.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"

	"github.com/cocoon-desktop/cocoon-desktop/internal/crashtest"
)

func main() {
	os.Exit(run())
}

func run() int {
	var cfg crashtest.Config
	flag.IntVar(&cfg.WorkerKills, "worker-kills", 20, "SIGKILLs of a worker process")
	flag.IntVar(&cfg.ProxyKills, "proxy-kills", 20, "SIGKILLs of the proxy")
	flag.IntVar(&cfg.OllamaKills, "ollama-kills", 10, "SIGKILLs of a worker's managed ollama serve")
	flag.IntVar(&cfg.Workers, "workers", 2, "headless workers")
	flag.IntVar(&cfg.Clients, "clients", 3, "concurrent clients")
	flag.Uint64Var(&cfg.Seed, "seed", 0, "replay a run (0: a new seed)")
	flag.BoolVar(&cfg.Keep, "keep", false, "keep the run's directory (binaries, data dirs, logs)")
	update := flag.String("update", "", "markdown file whose crash-safety section gets the figures (e.g. docs/BENCHMARKS.md)")
	flag.Parse()
	cfg.Ollama = os.Getenv("COCOON_OLLAMA")
	cfg.Logf = func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := crashtest.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "cocoon-crash:", err)
		return 1
	}
	commit := "unknown"
	if out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output(); err == nil {
		commit = strings.TrimSpace(string(out))
	}
	md := rep.Markdown(crashtest.Machine(), commit)
	fmt.Print(md)
	if err := rep.Err(); err != nil {
		fmt.Fprintln(os.Stderr, "cocoon-crash:", err)
		return 1
	}
	if *update != "" {
		doc, err := os.ReadFile(*update)
		if err != nil {
			fmt.Fprintln(os.Stderr, "cocoon-crash:", err)
			return 1
		}
		if err := os.WriteFile(*update, []byte(crashtest.ReplaceSection(string(doc), md)), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "cocoon-crash:", err)
			return 1
		}
		fmt.Fprintln(os.Stderr, "updated", *update)
	}
	return 0
}
