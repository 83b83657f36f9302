package cli

import (
	"bytes"
	"crypto/ed25519"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/receipt"
	"github.com/cocoon-desktop/cocoon-desktop/ton"

	"github.com/cocoon-desktop/cocoon-desktop/earnings"
	"github.com/cocoon-desktop/cocoon-desktop/worker"
)

var earningsProxyKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{3}, ed25519.SeedSize))

// earningsDataDir makes a data dir whose ledger holds n signed receipts (the
// first without an energy measurement) and two payouts, one confirmed.
func earningsDataDir(t *testing.T, n int) (dir string, bal earnings.Balance) {
	t.Helper()
	dir = t.TempDir()
	l, err := earnings.Open(filepath.Join(dir, worker.LedgerFile), earnings.Options{ProxyKey: earningsProxyKey.Public().(ed25519.PublicKey)})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	start := time.Now().Add(-time.Duration(n) * time.Hour)
	var cum int64
	for i := 1; i <= n; i++ {
		amount, _ := receipt.Amount(1000, 2000, 5000, 15000, 1000, 1000)
		cum += amount
		s := receipt.Sign(earningsProxyKey, receipt.Receipt{
			JobID: fmt.Sprintf("job-%03d", i), WorkerID: "w-cli", Model: "llama3.2:1b",
			PromptTokens: 1000, CompletionTokens: 2000, PricePrompt: 5000, PriceCompletion: 15000,
			CoefficientMilli: 1000, CommissionBPS: 1000, Amount: amount, Cumulative: cum, Seq: int64(i),
			Time: start.Add(time.Duration(i) * time.Hour).UnixMilli(),
		})
		if i == 1 {
			_, err = l.Credit(s)
		} else {
			_, err = l.CreditWithEnergy(s, 18_000) // 5 Wh
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	addr, _ := ton.ParseAddress("0:"+strings.Repeat("5a", 32), ton.Mainnet)
	for i, id := range []string{"po-a", "po-b"} {
		w := earnings.Payout{ID: id, Amount: 10_000_000, Fee: 1_000_000, Destination: addr.String(), Created: time.Now().Add(time.Duration(i-10) * time.Minute)}
		if err := l.BeginPayout(w); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.MarkConfirmed("po-a", "txhash-a", time.Now()); err != nil {
		t.Fatal(err)
	}
	bal, _ = l.Balance()
	return dir, bal
}

func TestEarningsText(t *testing.T) {
	dir, bal := earningsDataDir(t, 12)
	var out, errOut bytes.Buffer
	if code := run([]string{"earnings", "--data-dir", dir}, &out, &errOut); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	s := out.String()
	for _, want := range []string{
		"Available  " + ton.Format(bal.Available) + " TON",
		"Pending    0.01 TON", "Paid out   0.01 TON", "Jobs       12",
		"Earned     " + ton.Format(bal.Earned) + " TON",
		"Recent jobs (10 of 12", "job", "5.00 Wh", "1000+2000",
		"confirmed", "tx txhash-a", "pending", "UQ",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	if got := strings.Count(s, "llama3.2:1b"); got != 10 {
		t.Errorf("%d job lines, want 10:\n%s", got, s)
	}
}

func TestEarningsJSON(t *testing.T) {
	dir, bal := earningsDataDir(t, 3)
	var out, errOut bytes.Buffer
	// Flags before the subcommand work too.
	if code := run([]string{"--data-dir", dir, "earnings", "--json"}, &out, &errOut); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var rep EarningsReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("%v:\n%s", err, out.String())
	}
	if rep.Balance.Available != bal.Available || rep.Balance.Earned != bal.Earned || rep.Balance.Jobs != 3 ||
		rep.Balance.Pending != 10_000_000 || rep.Balance.PaidOut != 10_000_000 {
		t.Errorf("balance = %+v, ledger %+v", rep.Balance, bal)
	}
	if len(rep.Jobs) != 3 || rep.Jobs[0].JobID != "job-003" || rep.Jobs[2].EnergyMilliJ != nil || *rep.Jobs[0].EnergyMilliJ != 18_000_000 {
		t.Errorf("jobs = %+v", rep.Jobs)
	}
	if len(rep.Payouts) != 2 || rep.Payouts[0].ID != "po-b" || rep.Payouts[1].State != earnings.PayoutConfirmed {
		t.Errorf("payouts = %+v", rep.Payouts)
	}
	if rep.WorkerID != "w-cli" {
		t.Errorf("worker = %q", rep.WorkerID)
	}
}

func TestEarningsExportCSV(t *testing.T) {
	dir, _ := earningsDataDir(t, 4)
	file := filepath.Join(t.TempDir(), "out.csv")
	var out, errOut bytes.Buffer
	if code := run([]string{"earnings", "export", file, "--data-dir", dir}, &out, &errOut); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, r := range rows[1:] {
		kinds[r[0]]++
	}
	if strings.Join(rows[0], ",") != strings.Join(earnings.CSVHeader, ",") || kinds["job"] != 4 || kinds["payout"] != 2 {
		t.Errorf("csv: header %v, kinds %v", rows[0], kinds)
	}
	if !strings.Contains(out.String(), "Wrote 4 jobs") {
		t.Errorf("stdout = %q", out.String())
	}
}

func TestEarningsVerify(t *testing.T) {
	dir, _ := earningsDataDir(t, 5)
	var out, errOut bytes.Buffer
	if code := run([]string{"earnings", "verify", "--data-dir", dir}, &out, &errOut); code != ExitOK {
		t.Fatalf("exit %d: %s%s", code, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "Ledger OK: 5 receipts and 2 payouts") {
		t.Errorf("stdout = %q", out.String())
	}
}

func TestEarningsLocked(t *testing.T) {
	dir, _ := earningsDataDir(t, 1)
	l, err := earnings.Open(filepath.Join(dir, worker.LedgerFile), earnings.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var out, errOut bytes.Buffer
	if code := run([]string{"earnings", "--data-dir", dir}, &out, &errOut); code != ExitFailure {
		t.Fatalf("exit %d, want %d", code, ExitFailure)
	}
	if !strings.Contains(errOut.String(), "close Cocoon Desktop first") {
		t.Errorf("stderr = %q", errOut.String())
	}
}

func TestEarningsNoLedgerAndUsage(t *testing.T) {
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	if code := run([]string{"earnings", "--data-dir", dir}, &out, &errOut); code != ExitOK || !strings.Contains(out.String(), "No earnings yet") {
		t.Errorf("exit %d: %q %q", code, out.String(), errOut.String())
	}
	if _, err := os.Stat(filepath.Join(dir, worker.LedgerFile)); err == nil {
		t.Error("reading created a ledger")
	}
	out.Reset()
	errOut.Reset()
	if code := run([]string{"earnings", "frobnicate", "--data-dir", dir}, &out, &errOut); code != ExitUsage {
		t.Errorf("exit %d for a bad subcommand", code)
	}
	if code := run([]string{"earnings", "export", "--data-dir", dir}, &out, &errOut); code != ExitUsage {
		t.Errorf("exit %d for export without a file", code)
	}
}

// TestEarningsRebuild: `earnings rebuild` sets a damaged or lost ledger
// aside (keeping its bytes) and marks the data dir for a rebuild; a ledger
// that opens fine, or one in use, is left alone.
func TestEarningsRebuild(t *testing.T) {
	garbage := []byte(strings.Repeat("not a ledger ", 2000))
	tests := []struct {
		name    string
		prepare func(t *testing.T, dir string) (cleanup func())
		code    int
		says    string // in stdout (ok) or stderr
		aside   bool   // the old bytes are kept beside
	}{
		{"damaged", func(t *testing.T, dir string) func() {
			must(t, os.WriteFile(filepath.Join(dir, worker.LedgerFile), garbage, 0o600))
			return func() {}
		}, ExitOK, "kept as", true},
		{"missing", func(t *testing.T, dir string) func() {
			must(t, os.Remove(filepath.Join(dir, worker.LedgerFile)))
			return func() {}
		}, ExitOK, "fetches every receipt", false},
		{"healthy", func(t *testing.T, dir string) func() { return func() {} }, ExitFailure, "nothing to rebuild", false},
		{"in use", func(t *testing.T, dir string) func() {
			l, err := earnings.Open(filepath.Join(dir, worker.LedgerFile), earnings.Options{})
			must(t, err)
			return func() { l.Close() }
		}, ExitFailure, "in use", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir, _ := earningsDataDir(t, 2)
			defer tc.prepare(t, dir)()
			var out, errOut bytes.Buffer
			code := run([]string{"earnings", "rebuild", "--data-dir", dir}, &out, &errOut)
			if code != tc.code || !strings.Contains(out.String()+errOut.String(), tc.says) {
				t.Fatalf("exit %d (want %d); stdout %q; stderr %q; want %q", code, tc.code, out.String(), errOut.String(), tc.says)
			}
			asides, _ := filepath.Glob(filepath.Join(dir, worker.LedgerFile+".damaged-*"))
			if tc.aside != (len(asides) == 1) {
				t.Fatalf("set aside: %v, want %v", asides, tc.aside)
			}
			if tc.aside {
				if data, _ := os.ReadFile(asides[0]); !bytes.Equal(data, garbage) {
					t.Fatal("the damaged file's bytes were not kept")
				}
			}
			if _, err := os.Stat(filepath.Join(dir, worker.LedgerFile)); tc.code == ExitOK && err == nil {
				t.Fatal("the unusable ledger is still in place")
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
