package cli

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/earnings"
	"github.com/cocoon-desktop/cocoon-desktop/internal/paths"
	"github.com/cocoon-desktop/cocoon-desktop/ton"
	"github.com/cocoon-desktop/cocoon-desktop/worker"
)

// recentRows is how many jobs and payouts `earnings` lists.
const recentRows = 10

// EarningsReport is what `earnings --json` prints. Amounts are integer nanoTON.
type EarningsReport struct {
	Ledger   string            `json:"ledger"`
	WorkerID string            `json:"worker_id,omitempty"`
	Balance  EarningsBalance   `json:"balance"`
	Jobs     []EarningsJob     `json:"jobs"`    // the most recent, newest first
	Payouts  []earnings.Payout `json:"payouts"` // the most recent, newest first
}

// EarningsBalance is the ledger's running totals.
type EarningsBalance struct {
	Available    int64 `json:"available_nanoton"`
	Pending      int64 `json:"pending_nanoton"`
	Earned       int64 `json:"earned_nanoton"`
	PaidOut      int64 `json:"paid_out_nanoton"`
	Jobs         int64 `json:"jobs"`
	EnergyMilliJ int64 `json:"energy_millijoules"`
}

// EarningsJob is one credited job.
type EarningsJob struct {
	JobID            string    `json:"job_id"`
	Time             time.Time `json:"time"`
	Model            string    `json:"model"`
	Seq              int64     `json:"seq"`
	PromptTokens     int64     `json:"prompt_tokens"`
	CompletionTokens int64     `json:"completion_tokens"`
	Amount           int64     `json:"amount_nanoton"`
	EnergyMilliJ     *int64    `json:"energy_millijoules,omitempty"` // absent when not measured
}

func earningsUsage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage:\n  cocoon-desktop earnings [--json]        balance, recent jobs and payouts\n")
	fmt.Fprintf(w, "  cocoon-desktop earnings export FILE     write the whole history as CSV (- for stdout)\n")
	fmt.Fprintf(w, "  cocoon-desktop earnings verify          re-check every signed receipt and total\n")
	fmt.Fprintf(w, "  cocoon-desktop earnings rebuild         set a damaged or lost ledger aside; the next start fills a new one\n")
	fmt.Fprintf(w, "                                          from the receipts the network signed\n\nflags:\n")
	fs.PrintDefaults()
}

// earningsCmd reads the earnings ledger in the data dir. It needs no proxy
// key: it only reads (verify checks each receipt against its own key).
func earningsCmd(args []string, c common, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("earnings", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print one JSON object")
	fs.StringVar(&c.dataDir, "data-dir", c.dataDir, "the data dir (env "+paths.EnvDataDir+")")
	fs.Usage = func() { earningsUsage(stderr, fs) }
	// Flags may come before or after the subcommand and its file.
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return ExitOK
			}
			return ExitUsage
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos, args = append(pos, args[0]), args[1:]
	}
	sub := ""
	if len(pos) > 0 {
		sub, pos = pos[0], pos[1:]
	}
	switch {
	case sub == "" && len(pos) == 0, sub == "verify" && len(pos) == 0, sub == "rebuild" && len(pos) == 0, sub == "export" && len(pos) == 1:
	default:
		fmt.Fprintf(stderr, "cocoon-desktop earnings: unexpected arguments %q\n", strings.Join(append([]string{sub}, pos...), " "))
		earningsUsage(stderr, fs)
		return ExitUsage
	}

	dirs, err := paths.Resolve(c.dataDir)
	if err != nil {
		fmt.Fprintln(stderr, "cocoon-desktop earnings:", err)
		return ExitFailure
	}
	path := filepath.Join(dirs.Data, worker.LedgerFile)
	if sub == "rebuild" {
		return earningsRebuild(dirs.Data, path, stdout, stderr)
	}
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		if sub == "export" {
			fmt.Fprintf(stderr, "cocoon-desktop earnings: no earnings ledger at %s yet: nothing to export\n", path)
			return ExitFailure
		}
		if *asJSON {
			return printJSON(stdout, stderr, EarningsReport{Ledger: path, Jobs: []EarningsJob{}, Payouts: []earnings.Payout{}})
		}
		fmt.Fprintf(stdout, "No earnings yet: there is no ledger at %s.\n", path)
		return ExitOK
	}
	l, err := earnings.Open(path, earnings.Options{})
	if err != nil {
		if errors.Is(err, earnings.ErrLocked) {
			fmt.Fprintf(stderr, "cocoon-desktop earnings: the earnings ledger %s is in use by a running Cocoon Desktop; "+
				"close Cocoon Desktop first (or see the Earnings tab in its window)\n", path)
		} else {
			fmt.Fprintln(stderr, "cocoon-desktop earnings:", err)
		}
		return ExitFailure
	}
	defer l.Close()
	switch sub {
	case "export":
		return earningsExport(l, pos[0], stdout, stderr)
	case "verify":
		return earningsVerify(l, *asJSON, stdout, stderr)
	}
	rep, err := earningsReport(l)
	if err != nil {
		fmt.Fprintln(stderr, "cocoon-desktop earnings:", err)
		return ExitFailure
	}
	if *asJSON {
		return printJSON(stdout, stderr, rep)
	}
	printEarnings(stdout, rep)
	return ExitOK
}

func printJSON(stdout, stderr io.Writer, v any) int {
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		fmt.Fprintln(stderr, "cocoon-desktop earnings:", err)
		return ExitFailure
	}
	return ExitOK
}

func earningsReport(l *earnings.Ledger) (EarningsReport, error) {
	rep := EarningsReport{Ledger: l.Path(), Jobs: []EarningsJob{}, Payouts: []earnings.Payout{}}
	b, err := l.Balance()
	if err != nil {
		return rep, err
	}
	rep.WorkerID = b.WorkerID
	rep.Balance = EarningsBalance{Available: b.Available, Pending: b.Pending, Earned: b.Earned, PaidOut: b.PaidOut,
		Jobs: b.Jobs, EnergyMilliJ: b.EnergyMilliJ}
	jobs, _, err := l.Jobs("", recentRows)
	if err != nil {
		return rep, err
	}
	for _, j := range jobs {
		ej := EarningsJob{JobID: j.JobID, Time: j.Time, Model: j.Model, Seq: j.Seq,
			PromptTokens: j.PromptTokens, CompletionTokens: j.CompletionTokens, Amount: j.Amount}
		if j.EnergyMeasured {
			e := j.EnergyMilliJ
			ej.EnergyMilliJ = &e
		}
		rep.Jobs = append(rep.Jobs, ej)
	}
	ws, err := l.Payouts(recentRows)
	if err != nil {
		return rep, err
	}
	if ws != nil {
		rep.Payouts = ws
	}
	return rep, nil
}

func tonText(nano int64) string { return ton.Format(nano) + " TON" }

func printEarnings(w io.Writer, rep EarningsReport) {
	b := rep.Balance
	fmt.Fprintf(w, "Earnings ledger %s", rep.Ledger)
	if rep.WorkerID != "" {
		fmt.Fprintf(w, " (worker %s)", rep.WorkerID)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "  Available\t%s\n", tonText(b.Available))
	fmt.Fprintf(tw, "  Pending\t%s\n", tonText(b.Pending))
	fmt.Fprintf(tw, "  Earned\t%s\n", tonText(b.Earned))
	fmt.Fprintf(tw, "  Paid out\t%s\n", tonText(b.PaidOut))
	fmt.Fprintf(tw, "  Jobs\t%d\n", b.Jobs)
	if b.EnergyMilliJ > 0 {
		fmt.Fprintf(tw, "  Energy\t%.3f kWh measured\n", float64(b.EnergyMilliJ)/3.6e9)
	}
	tw.Flush()

	fmt.Fprintln(w)
	if len(rep.Jobs) == 0 {
		fmt.Fprintln(w, "No jobs yet.")
	} else {
		fmt.Fprintf(w, "Recent jobs (%d of %d, newest first):\n", len(rep.Jobs), b.Jobs)
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  TIME\tMODEL\tTOKENS\tAMOUNT\tENERGY\tSEQ")
		for _, j := range rep.Jobs {
			energy := "-"
			if j.EnergyMilliJ != nil {
				energy = fmt.Sprintf("%.2f Wh", float64(*j.EnergyMilliJ)/3.6e6)
			}
			fmt.Fprintf(tw, "  %s\t%s\t%d+%d\t%s\t%s\t%d\n", j.Time.Local().Format("2006-01-02 15:04:05"), j.Model,
				j.PromptTokens, j.CompletionTokens, tonText(j.Amount), energy, j.Seq)
		}
		tw.Flush()
	}

	fmt.Fprintln(w)
	if len(rep.Payouts) == 0 {
		fmt.Fprintln(w, "No payouts yet.")
		return
	}
	fmt.Fprintln(w, "Recent payouts (newest first):")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  CREATED\tAMOUNT\tFEE\tTO\tSTATE\tDETAIL")
	for _, wd := range rep.Payouts {
		detail := ""
		switch {
		case wd.TxHash != "":
			detail = "tx " + wd.TxHash
		case wd.Reason != "":
			detail = wd.Reason
		case wd.MsgHash != "":
			detail = "msg " + wd.MsgHash
		}
		dest := wd.Destination
		if a, err := ton.ParseAddress(dest, ton.Mainnet); err == nil {
			dest = a.Short()
		} else if a, err := ton.ParseAddress(dest, ton.Testnet); err == nil {
			dest = a.Short() + " (testnet)"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", wd.Created.Local().Format("2006-01-02 15:04:05"), tonText(wd.Amount), tonText(wd.Fee),
			dest, wd.State, detail)
	}
	tw.Flush()
}

// allTime is the range ExportCSV takes for the whole ledger.
func allTime() (from, to time.Time) {
	return time.UnixMilli(0).In(time.Local), time.Now().AddDate(100, 0, 0)
}

func earningsExport(l *earnings.Ledger, file string, stdout, stderr io.Writer) int {
	from, to := allTime()
	if file == "-" {
		if err := l.ExportCSV(stdout, from, to); err != nil {
			fmt.Fprintln(stderr, "cocoon-desktop earnings export:", err)
			return ExitFailure
		}
		return ExitOK
	}
	// Write next to the target, then rename: a failed export leaves no half file.
	tmp, err := os.CreateTemp(filepath.Dir(file), filepath.Base(file)+".*.tmp")
	if err != nil {
		fmt.Fprintln(stderr, "cocoon-desktop earnings export:", err)
		return ExitFailure
	}
	err = l.ExportCSV(tmp, from, to)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), file)
	}
	if err != nil {
		os.Remove(tmp.Name())
		fmt.Fprintln(stderr, "cocoon-desktop earnings export:", err)
		return ExitFailure
	}
	b, _ := l.Balance()
	fmt.Fprintf(stdout, "Wrote %d jobs and the payouts to %s.\n", b.Jobs, file)
	return ExitOK
}

func earningsVerify(l *earnings.Ledger, asJSON bool, stdout, stderr io.Writer) int {
	rep, err := l.Verify()
	if err != nil {
		fmt.Fprintln(stderr, "cocoon-desktop earnings verify:", err)
		return ExitFailure
	}
	code := ExitOK
	if !rep.OK() {
		code = ExitUnhealthy
	}
	if asJSON {
		if c := printJSON(stdout, stderr, rep); c != ExitOK {
			return c
		}
		return code
	}
	if !rep.OK() {
		more := len(rep.Problems) - 1 + rep.More
		fmt.Fprintf(stderr, "ledger %s is NOT consistent: %s", l.Path(), rep.First())
		if more > 0 {
			fmt.Fprintf(stderr, " (and %d more problem(s))", more)
		}
		fmt.Fprintln(stderr)
		return code
	}
	fmt.Fprintf(stdout, "Ledger OK: %d receipts and %d payouts checked (signatures against each receipt's proxy key).\n", rep.Jobs, rep.Payouts)
	var missing int64
	for _, g := range rep.Gaps {
		missing += g.ToSeq - g.FromSeq + 1
	}
	if len(rep.Gaps) > 0 {
		fmt.Fprintf(stdout, "%d receipt(s) in %d gap(s) are missing; their amounts are still in the signed total of the next receipt.\n", missing, len(rep.Gaps))
	}
	return code
}

// earningsRebuild sets a ledger that cannot be opened aside (never deleting
// it); the next start makes a new one and fetches every receipt back from
// the proxy. A ledger that opens fine is left alone.
func earningsRebuild(dataDir, path string, stdout, stderr io.Writer) int {
	l, openErr := earnings.Open(path, earnings.Options{MustExist: true})
	switch err := openErr; {
	case err == nil:
		l.Close()
		fmt.Fprintf(stderr, "cocoon-desktop earnings: the ledger %s opens fine: nothing to rebuild (`earnings verify` checks it)\n", path)
		return ExitFailure
	case errors.Is(err, earnings.ErrLocked):
		fmt.Fprintf(stderr, "cocoon-desktop earnings: the ledger %s is in use by a running Cocoon Desktop; close it first\n", path)
		return ExitFailure
	case !errors.Is(err, earnings.ErrDamaged) && !errors.Is(err, earnings.ErrMissing):
		fmt.Fprintln(stderr, "cocoon-desktop earnings:", err)
		return ExitFailure
	}
	aside, err := worker.SetAsideLedger(dataDir)
	if err != nil {
		fmt.Fprintln(stderr, "cocoon-desktop earnings:", err)
		return ExitFailure
	}
	fmt.Fprintf(stdout, "The ledger could not be used (%v).\n", openErr)
	if _, serr := os.Stat(aside); serr == nil {
		fmt.Fprintf(stdout, "It is kept as %s.\n", aside)
	}
	fmt.Fprintln(stdout, "The next start makes a new ledger and fetches every receipt the network signed for this computer.")
	return ExitOK
}
