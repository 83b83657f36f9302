//go:build linux

package crashtest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/earnings"
	"github.com/cocoon-desktop/cocoon-desktop/network/proxy"
	"github.com/cocoon-desktop/cocoon-desktop/receipt"
	"github.com/cocoon-desktop/cocoon-desktop/worker"
)

// ProxyTotals are the proxy store's figures after the run.
type ProxyTotals struct {
	Jobs        int64 // jobs charged and signed (Totals.Jobs)
	Charged     int64 // Totals.Charged: nanoTON charged to API keys
	KeyCost     int64 // the harness's API key's usage cost
	KeyRequests int64
	Paid        int64 // Totals.PaidToWorkers
	Commission  int64
	Signed      int64 // Σ of the workers' signed cumulative totals
	// LostAnswers are charged jobs whose answer never reached the client
	// (the proxy died between recording the job and sending the answer),
	// LostCost their charge.
	LostAnswers int64
	LostCost    int64
}

// WorkerTotals are one worker's figures after the run.
type WorkerTotals struct {
	Name, ID   string
	Starts     int
	Signed     int64 // the proxy's signed cumulative total for it
	SignedJobs int64 // receipts the proxy signed for it
	Balance    int64 // the ledger's balance (earned), from `earnings --json`
	Jobs       int64 // the ledger's job count, from `earnings --json`
	Rows       int64 // job rows of `earnings export`
	RowsSum    int64 // Σ of their amounts
	Verify     string
	Refetches  int // times it asked the proxy for missing receipts (its log)
}

// reconcile compares every side's money once everything has stopped.
func (h *harness) reconcile(ctx context.Context, answers []answer, losts []lost) {
	rep := h.rep
	store, err := proxy.OpenBoltStore(h.proxyData, 10*time.Second)
	if err != nil {
		rep.problem("open the proxy's store: %v", err)
		return
	}
	defer store.Close()
	pub, err := hex.DecodeString(h.proxyKey)
	if err != nil || len(pub) != ed25519.PublicKeySize {
		rep.problem("proxy key %q: %v", h.proxyKey, err)
		return
	}
	totals, err := store.Totals(ctx)
	if err != nil {
		rep.problem("proxy totals: %v", err)
		return
	}
	usage, err := store.Usage(ctx, proxy.KeyDigest(apiKey))
	if err != nil {
		rep.problem("proxy usage: %v", err)
		return
	}
	pt := &rep.Proxy
	pt.Jobs, pt.Charged, pt.Paid, pt.Commission = totals.Jobs, totals.Charged, totals.PaidToWorkers, totals.Commission
	pt.KeyCost, pt.KeyRequests = usage.Cost, usage.Requests

	// The proxy's receipts, worker by worker.
	byJob := map[string]string{} // job id → worker name: credited once, to one worker
	var all []receipt.Signed
	proxyReceipts := map[string][]receipt.Signed{}
	var grossSum, amountSum int64
	for _, w := range h.workers {
		wr, ok, err := store.Worker(ctx, w.id)
		if err != nil || !ok {
			rep.problem("%s: the proxy has no record of worker %s: %v", w.name, w.id, err)
			continue
		}
		rs, err := store.Receipts(ctx, w.id, 0, 0)
		if err != nil {
			rep.problem("%s: proxy receipts: %v", w.name, err)
			continue
		}
		var cum int64
		for i, r := range rs {
			rr := r.Receipt
			if err := r.Verify(pub); err != nil {
				rep.problem("%s: proxy receipt %s does not verify: %v", w.name, rr.JobID, err)
			}
			if rr.Seq != int64(i+1) {
				rep.problem("%s: proxy receipt %s has seq %d, want %d", w.name, rr.JobID, rr.Seq, i+1)
			}
			cum += rr.Amount
			if rr.Cumulative != cum {
				rep.problem("%s: proxy receipt seq %d: cumulative %d, Σ amounts %d", w.name, rr.Seq, rr.Cumulative, cum)
			}
			if other, dup := byJob[rr.JobID]; dup {
				rep.problem("job %s credited twice at the proxy: to %s and %s", rr.JobID, other, w.name)
			}
			byJob[rr.JobID] = w.name
			gross, err := receipt.Amount(rr.PromptTokens, rr.CompletionTokens, rr.PricePrompt, rr.PriceCompletion, rr.CoefficientMilli, 0)
			if err != nil {
				rep.problem("%s: receipt %s: %v", w.name, rr.JobID, err)
			}
			grossSum += gross
			amountSum += rr.Amount
		}
		if wr.Cumulative != cum || wr.LastSeq != int64(len(rs)) {
			rep.problem("%s: the proxy's record says %d nanoTON over %d receipts, its receipts sum to %d over %d",
				w.name, wr.Cumulative, wr.LastSeq, cum, len(rs))
		}
		pt.Signed += wr.Cumulative
		proxyReceipts[w.id] = rs
		all = append(all, rs...)
		rep.Workers = append(rep.Workers, WorkerTotals{Name: w.name, ID: w.id, Starts: w.starts, Signed: wr.Cumulative, SignedJobs: wr.LastSeq})
	}
	if int64(len(all)) != totals.Jobs || totals.Jobs != usage.Requests {
		rep.problem("proxy: %d jobs in its totals, %d charged to the key, %d receipts", totals.Jobs, usage.Requests, len(all))
	}
	if grossSum != totals.Charged || totals.Charged != usage.Cost {
		rep.problem("proxy: charged %d in its totals, %d to the key, its receipts' gross sums to %d", totals.Charged, usage.Cost, grossSum)
	}
	if amountSum != totals.PaidToWorkers || pt.Signed != totals.PaidToWorkers || totals.Commission != totals.Charged-totals.PaidToWorkers {
		rep.problem("proxy: paid %d in its totals, signed totals sum to %d, receipts to %d; commission %d",
			totals.PaidToWorkers, pt.Signed, amountSum, totals.Commission)
	}
	h.reconcileClient(all, answers, losts)
	ledgerOf := map[string]string{} // job id → the worker whose ledger has it
	for i := range rep.Workers {
		wt := &rep.Workers[i]
		w := h.workers[slices.IndexFunc(h.workers, func(w *workerProc) bool { return w.name == wt.Name })]
		h.reconcileWorker(ctx, wt, w, proxyReceipts[wt.ID])
		for _, j := range h.ledgerJobs(w) {
			if other, dup := ledgerOf[j.JobID]; dup {
				rep.problem("job %s credited to both %s and %s", j.JobID, other, w.name)
			}
			ledgerOf[j.JobID] = w.name
		}
	}
}

// reconcileClient matches every answer the client got to a charged job
// (by its token counts) and explains the rest of the charge by requests
// the client lost in a proxy crash.
func (h *harness) reconcileClient(all []receipt.Signed, answers []answer, losts []lost) {
	rep, pt := h.rep, &h.rep.Proxy
	type key struct{ p, c int64 }
	pool := map[key][]receipt.Receipt{}
	for _, r := range all {
		k := key{r.Receipt.PromptTokens, r.Receipt.CompletionTokens}
		pool[k] = append(pool[k], r.Receipt)
	}
	promptTokens := map[int]int64{}
	var maxPrompt int64
	for _, a := range answers {
		if n, ok := promptTokens[a.Prompt]; ok && n != a.PromptTokens {
			rep.problem("client: prompt %d counted %d tokens once and %d another time", a.Prompt, n, a.PromptTokens)
		}
		promptTokens[a.Prompt] = a.PromptTokens
		maxPrompt = max(maxPrompt, a.PromptTokens)
		k := key{a.PromptTokens, a.CompletionTokens}
		rs := pool[k]
		if len(rs) == 0 {
			rep.problem("client: an answer of %d+%d tokens (cost %d) has no charged job at the proxy", a.PromptTokens, a.CompletionTokens, a.Cost)
			continue
		}
		r := rs[len(rs)-1]
		pool[k] = rs[:len(rs)-1]
		if gross, _ := receipt.Amount(r.PromptTokens, r.CompletionTokens, r.PricePrompt, r.PriceCompletion, r.CoefficientMilli, 0); gross != a.Cost {
			rep.problem("client: an answer cost %d, the proxy charged its job %s %d", a.Cost, r.JobID, gross)
		}
	}
	// What is left was charged without the client seeing an answer: only
	// a request that broke at the transport level may be one of those.
	var bound int64
	for _, l := range losts {
		bound += maxPrompt*pricePrompt + l.MaxTokens*priceCompletion
	}
	for _, rs := range pool {
		for _, r := range rs {
			gross, _ := receipt.Amount(r.PromptTokens, r.CompletionTokens, r.PricePrompt, r.PriceCompletion, r.CoefficientMilli, 0)
			pt.LostAnswers++
			pt.LostCost += gross
		}
	}
	if pt.LostAnswers > int64(len(losts)) || pt.LostCost > bound {
		rep.problem("client: %d jobs (%d nanoTON) charged beyond the %d answers, but only %d requests broke (at most %d nanoTON)",
			pt.LostAnswers, pt.LostCost, len(answers), len(losts), bound)
	}
	if rep.Client.Delivered+pt.LostCost != pt.Charged {
		rep.problem("client: delivered %d + lost %d ≠ charged %d", rep.Client.Delivered, pt.LostCost, pt.Charged)
	}
}

// reconcileWorker checks one stopped worker's ledger through the app's own
// commands (`earnings --json`, `earnings export`, `earnings verify`) and,
// job by job, against the proxy's receipts.
func (h *harness) reconcileWorker(ctx context.Context, wt *WorkerTotals, w *workerProc, proxyRs []receipt.Signed) {
	rep := h.rep
	run := func(args ...string) ([]byte, error) {
		cmd := exec.CommandContext(ctx, h.app, append([]string{"earnings", "--data-dir", w.dataDir}, args...)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return out, fmt.Errorf("cocoon-desktop earnings %s: %w: %s%s", strings.Join(args, " "), err, out, stderr.Bytes())
		}
		return out, nil
	}
	// The balance.
	if out, err := run("--json"); err != nil {
		rep.problem("%s: %v", w.name, err)
	} else {
		var r struct {
			WorkerID string `json:"worker_id"`
			Balance  struct {
				Earned int64 `json:"earned_nanoton"`
				Jobs   int64 `json:"jobs"`
			} `json:"balance"`
		}
		if err := json.Unmarshal(out, &r); err != nil {
			rep.problem("%s: earnings --json: %v", w.name, err)
		}
		wt.Balance, wt.Jobs = r.Balance.Earned, r.Balance.Jobs
		if r.WorkerID != "" && r.WorkerID != w.id {
			rep.problem("%s: the ledger is worker %s's", w.name, r.WorkerID)
		}
	}
	// The per-job rows.
	seen := map[string]bool{}
	if out, err := run("export", "-"); err != nil {
		rep.problem("%s: %v", w.name, err)
	} else if rows, err := csv.NewReader(bytes.NewReader(out)).ReadAll(); err != nil || len(rows) == 0 {
		rep.problem("%s: earnings export: %v", w.name, err)
	} else {
		col := map[string]int{}
		for i, name := range rows[0] {
			col[name] = i
		}
		for _, row := range rows[1:] {
			if row[col["kind"]] != "job" {
				continue
			}
			id := row[col["id"]]
			if seen[id] {
				rep.problem("%s: job %s credited twice in the ledger", w.name, id)
			}
			seen[id] = true
			n, err := parseTON(row[col["amount_ton"]])
			if err != nil {
				rep.problem("%s: export row %v: %v", w.name, row, err)
			}
			wt.Rows++
			wt.RowsSum += n
		}
	}
	// Offline verification.
	if out, err := run("verify"); err != nil {
		wt.Verify = "FAILED"
		rep.problem("%s: %v", w.name, err)
	} else {
		wt.Verify = strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
		if strings.Contains(string(out), "missing") {
			rep.problem("%s: earnings verify reports missing receipts: %s", w.name, out)
		}
	}
	if b, err := os.ReadFile(filepath.Join(w.dataDir, "logs", "cocoon-desktop.log")); err == nil {
		wt.Refetches = strings.Count(string(b), "asked the proxy for missing receipts")
	}
	if wt.Balance != wt.Signed || wt.RowsSum != wt.Signed || wt.Rows != wt.SignedJobs || wt.Jobs != wt.SignedJobs {
		rep.problem("%s: ledger balance %d over %d jobs, its rows sum to %d over %d; the proxy signed %d over %d receipts",
			w.name, wt.Balance, wt.Jobs, wt.RowsSum, wt.Rows, wt.Signed, wt.SignedJobs)
	}
	// Job by job: the ledger holds exactly the receipts the proxy signed.
	mine := map[string]receipt.Receipt{}
	for _, j := range h.ledgerJobs(w) {
		mine[j.JobID] = j.Receipt.Receipt
	}
	for _, r := range proxyRs {
		got, ok := mine[r.Receipt.JobID]
		switch {
		case !ok:
			rep.problem("%s: receipt seq %d (job %s) signed by the proxy is not in the ledger", w.name, r.Receipt.Seq, r.Receipt.JobID)
		case got != r.Receipt:
			rep.problem("%s: job %s: ledger %+v, proxy %+v", w.name, r.Receipt.JobID, got, r.Receipt)
		}
		delete(mine, r.Receipt.JobID)
	}
	for id := range mine {
		rep.problem("%s: job %s is in the ledger but the proxy signed no receipt for it", w.name, id)
	}
}

// ledgerJobs reads every job of a stopped worker's ledger.
func (h *harness) ledgerJobs(w *workerProc) []earnings.Job {
	if w.jobs != nil {
		return w.jobs
	}
	l, err := earnings.Open(filepath.Join(w.dataDir, worker.LedgerFile), earnings.Options{})
	if err != nil {
		h.rep.problem("%s: open the ledger: %v", w.name, err)
		w.jobs = []earnings.Job{}
		return w.jobs
	}
	defer l.Close()
	var cur earnings.Cursor
	for {
		js, next, err := l.Jobs(cur, 1000)
		if err != nil {
			h.rep.problem("%s: ledger jobs: %v", w.name, err)
			break
		}
		w.jobs = append(w.jobs, js...)
		if next == "" {
			break
		}
		cur = next
	}
	if w.jobs == nil {
		w.jobs = []earnings.Job{}
	}
	return w.jobs
}

// parseTON reads the export's "12.000000345" (exactly 9 decimals) as nanoTON.
func parseTON(s string) (int64, error) {
	whole, frac, ok := strings.Cut(s, ".")
	if !ok || len(frac) != 9 {
		return 0, fmt.Errorf("amount %q: want TON with 9 decimals", s)
	}
	w, err1 := strconv.ParseInt(whole, 10, 64)
	f, err2 := strconv.ParseInt(frac, 10, 64)
	if err := errors.Join(err1, err2); err != nil || w < 0 {
		return 0, fmt.Errorf("amount %q: %v", s, err)
	}
	return w*1_000_000_000 + f, nil
}
