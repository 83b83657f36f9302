//go:build linux

package crashtest

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"
)

// SectionTitle heads the report's section in docs/BENCHMARKS.md.
const SectionTitle = "## Crash safety (real processes)"

// Stats are recovery figures of one kind of kill.
type Stats struct {
	Kills                  int
	BackP50, BackMax       time.Duration
	ServingP50, ServingMax time.Duration
}

// Stats sums up the recoveries by kind.
func (r *Report) Stats() map[Kind]Stats {
	out := map[Kind]Stats{}
	for _, k := range Kinds {
		var back, serving []time.Duration
		for _, rec := range r.Recoveries {
			if rec.Kind == k {
				back, serving = append(back, rec.Back), append(serving, rec.Serving)
			}
		}
		if len(back) == 0 {
			continue
		}
		out[k] = Stats{Kills: len(back), BackP50: p50(back), BackMax: slices.Max(back), ServingP50: p50(serving), ServingMax: slices.Max(serving)}
	}
	return out
}

// p50 is the median (the lower middle of an even count).
func p50(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[(len(s)-1)/2]
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

// Machine describes this computer in the words of docs/BENCHMARKS.md.
func Machine() string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	osName := runtime.GOOS
	if b, err := os.ReadFile("/etc/os-release"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "PRETTY_NAME="); ok {
				osName = strings.Trim(v, `"`)
			}
		}
	}
	gpu := "no GPU"
	if es, err := os.ReadDir("/proc/driver/nvidia/gpus"); err == nil && len(es) > 0 {
		gpu = fmt.Sprintf("%d NVIDIA GPU(s) (not used: the workers run the model on the CPU here too)", len(es))
	}
	return fmt.Sprintf("%d cores, %s, %s, %s", runtime.NumCPU(), cpu, osName, gpu)
}

// Markdown renders the report as the docs/BENCHMARKS.md section.
func (r *Report) Markdown(machine, commit string) string {
	var b strings.Builder
	c := r.Config
	fmt.Fprintf(&b, "%s\n\n", SectionTitle)
	fmt.Fprintf(&b, "Measured by `make crash` (`cmd/cocoon-crash`, package `internal/crashtest`) on %s, commit %s, seed %d; wall time %s.\n\n",
		r.Started.UTC().Format("2006-01-02"), commit, c.Seed, r.Wall.Round(time.Second))
	fmt.Fprintf(&b, "Machine: %s.\n\n", machine)
	fmt.Fprintf(&b, "The proxy (`cocoon-proxy`) and %d headless workers (`cocoon-desktop --headless --no-attach`, each with its managed "+
		"Ollama serving cocoon-tiny on the CPU) run as separate processes, built from the commit. %d clients (the official OpenAI Go "+
		"client, streaming and not; 70%% of the requests with max_tokens 1–8, the rest 32–1500) send requests all along. %d SIGKILLs in random order, each 0.2–2 s after "+
		"both workers were accepting again: %d of a worker (restarted at once), %d of the proxy (restarted at once on the same "+
		"config and store), %d of a worker's managed `ollama serve` (the worker restarts it itself).\n\n",
		c.Workers, c.Clients, len(r.Recoveries), c.WorkerKills, c.ProxyKills, c.OllamaKills)

	b.WriteString("| kill | count | restart → accepting again, p50 / max | restart → first job done, p50 / max |\n|---|---|---|---|\n")
	st := r.Stats()
	for _, k := range Kinds {
		s, ok := st[k]
		if !ok {
			continue
		}
		what := map[Kind]string{KillWorker: "worker process", KillProxy: "proxy process", KillOllama: "worker's `ollama serve`"}[k]
		fmt.Fprintf(&b, "| %s | %d | %s / %s | %s / %s |\n", what, s.Kills, secs(s.BackP50), secs(s.BackMax), secs(s.ServingP50), secs(s.ServingMax))
	}
	b.WriteString("\nThe observable is the proxy's `/v1/status`, polled every 25 ms: \"accepting\" is the worker's new connection " +
		"registered with the model and accepting jobs, \"first job done\" a job finished on that connection (for the proxy: both " +
		"workers). Restart is the new process's start; for Ollama the clock starts at the kill, \"accepting\" is replaced by " +
		"\"a new `ollama serve` runs\" (the connection stays up), and the job counted is one finished after the new server appeared.\n\n")

	if s, ok := st[KillProxy]; ok && s.BackMax > 5*time.Second {
		slow := 0
		for _, rec := range r.Recoveries {
			if rec.Kind == KillProxy && rec.Back > 5*time.Second {
				slow++
			}
		}
		fmt.Fprintf(&b, "The proxy's slow recoveries (%d of %d over 5 s) are the workers' reconnect backoff, not the proxy: it is "+
			"jittered and doubles from 0.5 s up to 30 s, and is reset only by a session that stayed up 10 s ([protocol.md](protocol.md) "+
			"§7), so a proxy killed again within 10 s of the workers' reconnecting finds them waiting longer each time.\n\n", slow, s.Kills)
	}
	cl, p := r.Client, r.Proxy
	b.WriteString("Money at the end, everything stopped cleanly (nanoTON):\n\n| side | jobs | total |\n|---|---|---|\n")
	fmt.Fprintf(&b, "| client: answers received, Σ `usage.total_cost` | %d | %d |\n", cl.Answered, cl.Delivered)
	fmt.Fprintf(&b, "| client: answers lost when the proxy died after charging (the request broke) | %d | %d |\n", p.LostAnswers, p.LostCost)
	fmt.Fprintf(&b, "| proxy: charged to the client's API key (= received + lost) | %d | %d |\n", p.KeyRequests, p.KeyCost)
	fmt.Fprintf(&b, "| proxy: signed totals to workers (Σ cumulative) | %d | %d |\n", p.Jobs, p.Signed)
	fmt.Fprintf(&b, "| proxy: commission (10%%, rounded per job) | | %d |\n", p.Commission)
	for _, w := range r.Workers {
		fmt.Fprintf(&b, "| worker %s (%d starts): proxy's signed total | %d | %d |\n", w.Name, w.Starts, w.SignedJobs, w.Signed)
		fmt.Fprintf(&b, "| worker %s: ledger balance (`earnings --json`) | %d | %d |\n", w.Name, w.Jobs, w.Balance)
		fmt.Fprintf(&b, "| worker %s: Σ per-job rows (`earnings export`) | %d | %d |\n", w.Name, w.Rows, w.RowsSum)
	}
	var refused []string
	for k, n := range cl.Refused {
		refused = append(refused, fmt.Sprintf("%d × %s", n, k))
	}
	sort.Strings(refused)
	fmt.Fprintf(&b, "\nClient requests: %d, of which %d answered (%d streamed), %d refused cleanly and never charged (%s), %d broke at the transport level (the proxy was killed under them).\n",
		cl.Requests, cl.Answered, cl.Streamed, cl.Requests-cl.Answered-cl.Broken-cl.Hung, strings.Join(refused, ", "), cl.Broken)
	var fetched []string
	for _, w := range r.Workers {
		fetched = append(fetched, fmt.Sprintf("%s %d", w.Name, w.Refetches))
	}
	fmt.Fprintf(&b, "Times a worker asked the proxy again for receipts it lacked (`receipts_request`, from its log): %s.\n\n", strings.Join(fetched, ", "))
	if len(r.Problems) == 0 {
		b.WriteString("Checks, all passed: the client's received + lost = charged to the key = the proxy's totals = Σ of its receipts' gross; " +
			"the signed totals = Σ receipts = paid to workers; each ledger's balance = Σ of its rows = the proxy's signed total for it, " +
			"receipt by receipt (job id, seq, amount, cumulative); `earnings verify` passes with no gaps; no job id twice in a ledger, in two " +
			"ledgers or at the proxy; every answer matches a charged job; after every kill the killed processes (worker: its guard, `ollama serve` " +
			"and runners; Ollama: the server, its runners and its guard) were gone within 20 s, and at the end no process of the run was left.\n")
	} else {
		fmt.Fprintf(&b, "**%d problem(s)**:\n\n", len(r.Problems))
		for _, p := range r.Problems {
			fmt.Fprintf(&b, "- %s\n", strings.ReplaceAll(p, "\n", " "))
		}
	}
	return b.String()
}

// ReplaceSection puts section (starting with SectionTitle) into doc in place
// of an older one, else before "## On a real GPU" (kept last for
// scripts/gpu-check.sh), else at the end.
func ReplaceSection(doc, section string) string {
	section = strings.TrimRight(section, "\n") + "\n"
	if i := strings.Index(doc, SectionTitle); i >= 0 {
		rest := doc[i+len(SectionTitle):]
		if j := strings.Index(rest, "\n## "); j >= 0 {
			return doc[:i] + section + rest[j:]
		}
		return doc[:i] + section
	}
	if i := strings.Index(doc, "\n## On a real GPU"); i >= 0 {
		return doc[:i+1] + section + "\n" + doc[i+1:]
	}
	return strings.TrimRight(doc, "\n") + "\n\n" + section
}
