package app

import (
	"bytes"
	"crypto/ed25519"
	"encoding/csv"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/receipt"
	"github.com/cocoon-desktop/cocoon-desktop/ton"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/cocoon-desktop/cocoon-desktop/earnings"
	"github.com/cocoon-desktop/cocoon-desktop/worker"
)

// testProxyKey signs the receipts of the test ledgers.
var testProxyKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, ed25519.SeedSize))

// testJob is one job to credit: when, tokens and measured energy.
type testJob struct {
	at                 time.Time
	model              string
	prompt, completion int64
	joules             float64 // 0: not measured
}

// testLedger is a real ledger in a temp dir with receipts signed like the proxy's.
type testLedger struct {
	t   testing.TB
	l   *earnings.Ledger
	seq int64
	cum int64
}

func newTestLedger(t testing.TB) *testLedger {
	t.Helper()
	l, err := earnings.Open(filepath.Join(t.TempDir(), "ledger.db"),
		earnings.Options{ProxyKey: testProxyKey.Public().(ed25519.PublicKey), WorkerID: "w-test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return &testLedger{t: t, l: l}
}

// credit stores a signed receipt for j; it returns the job's amount.
func (tl *testLedger) credit(j testJob) int64 {
	tl.t.Helper()
	if j.model == "" {
		j.model = "llama3.2:1b"
	}
	amount, err := receipt.Amount(j.prompt, j.completion, 5000, 15000, 1000, 1000)
	if err != nil {
		tl.t.Fatal(err)
	}
	tl.seq++
	tl.cum += amount
	r := receipt.Receipt{
		JobID: "job-" + time.Duration(tl.seq).String(), WorkerID: "w-test", Model: j.model,
		PromptTokens: j.prompt, CompletionTokens: j.completion, PricePrompt: 5000, PriceCompletion: 15000,
		CoefficientMilli: 1000, CommissionBPS: 1000, Amount: amount, Cumulative: tl.cum, Seq: tl.seq,
		Time: j.at.UnixMilli(),
	}
	s := receipt.Sign(testProxyKey, r)
	if j.joules > 0 {
		_, err = tl.l.CreditWithEnergy(s, j.joules)
	} else {
		_, err = tl.l.Credit(s)
	}
	if err != nil {
		tl.t.Fatal(err)
	}
	return amount
}

func testAddress(t testing.TB, n ton.Net) ton.Address {
	t.Helper()
	a, err := ton.ParseAddress("0:"+strings.Repeat("3f", 32), n)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// earningsFake is a fake core with a ledger, on a remote network with payouts.
func earningsFake(t *testing.T) (*fakeCore, *testLedger) {
	tl := newTestLedger(t)
	f := newFakeCore(noDriverStatus())
	f.ledger = tl.l
	f.quoteErr = nil
	f.quoteMin, f.quoteFee, f.quoteNet = 100_000_000, 5_000_000, ton.Mainnet
	return f, tl
}

func TestEarningsBalanceCards(t *testing.T) {
	f, tl := earningsFake(t)
	now := time.Now()
	today := tl.credit(testJob{at: now.Add(-time.Minute), prompt: 500, completion: 800})
	tl.credit(testJob{at: now.AddDate(0, 0, -2), prompt: 100, completion: 100})
	v, _, _ := newTestView(t, f)
	bal, _ := tl.l.Balance()
	e := v.earn
	if got, want := e.cardAvail.value.Text, ton.Format(bal.Available)+" TON"; got != want {
		t.Errorf("available = %q, want %q", got, want)
	}
	if got, want := e.cardEarned.value.Text, ton.Format(bal.Earned)+" TON"; got != want {
		t.Errorf("earned = %q, want %q", got, want)
	}
	if got := e.cardEarned.sub.text(); !strings.Contains(got, "2 jobs") {
		t.Errorf("earned sub = %q", got)
	}
	if got, want := e.cardToday.value.Text, ton.Format(today)+" TON"; got != want {
		t.Errorf("today = %q, want %q", got, want)
	}
	if got := e.cardPending.value.Text; got != "0 TON" {
		t.Errorf("pending = %q", got)
	}
}

func TestEarningsTabsAndMismatch(t *testing.T) {
	st := noDriverStatus()
	st.Earnings.Mismatch = "the proxy has 2 receipt(s) this computer has not stored"
	v, _, _ := newTestView(t, newFakeCore(st))
	if len(v.tabs.Items) != 5 || v.tabs.Items[0].Text != "Dashboard" || v.tabs.Items[1].Text != "Earnings" ||
		v.tabs.Items[2].Text != "Why not earning?" || v.tabs.Items[3].Text != "Networks" || v.tabs.Items[4].Text != "Settings" {
		t.Fatalf("tabs = %v", v.tabs.Items)
	}
	if !v.earn.mismatchRow.Visible() || !strings.Contains(v.earn.mismatch.Text, "2 receipt(s)") {
		t.Errorf("mismatch: visible=%v text=%q", v.earn.mismatchRow.Visible(), v.earn.mismatch.Text)
	}
	// No ledger yet: empty history, no export.
	if !v.earn.jobsEmpty.Visible() || !v.earn.exportBtn.Disabled() {
		t.Error("want the empty job history and export disabled without a ledger")
	}
}

func chartLayout(t *testing.T, c *barChart) *chartRenderer {
	t.Helper()
	r := test.WidgetRenderer(c).(*chartRenderer)
	c.Resize(fyne.NewSize(600, 200))
	r.Layout(fyne.NewSize(600, 200))
	return r
}

func TestEarningsChart(t *testing.T) {
	f, tl := earningsFake(t)
	now := time.Now()
	tl.credit(testJob{at: now.Add(-time.Minute), prompt: 100, completion: 100, joules: 360_000})
	for range 3 {
		tl.credit(testJob{at: now.AddDate(0, 0, -3), prompt: 500, completion: 800, joules: 360_000})
	}
	v, _, _ := newTestView(t, f)
	c := v.earn.chart
	r := chartLayout(t, c)
	if len(c.days) != 30 || len(r.gross) != 30 {
		t.Fatalf("chart has %d days, %d bars; want 30", len(c.days), len(r.gross))
	}
	h := func(i int) float32 { return r.gross[i].Size().Height }
	if !(h(26) > h(29) && h(29) > 0) {
		t.Errorf("bar heights: 3 days ago %v, today %v; want the busier day taller", h(26), h(29))
	}
	if h(0) != 0 {
		t.Errorf("a day without jobs has a %v bar", h(0))
	}
	if !r.net[29].Hidden {
		t.Error("net bars shown without a tariff")
	}
	// With a tariff: net bars, shorter than gross (0.1 kWh a job at 0.05 TON/kWh).
	f.SetTariff(50_000_000)
	v.earn.reloadNow()
	r = chartLayout(t, c)
	if r.net[26].Hidden || !(r.net[26].Size().Height < h(26)) || r.net[26].Size().Height <= 0 {
		t.Errorf("net bar: hidden=%v height %v, gross %v", r.net[26].Hidden, r.net[26].Size().Height, h(26))
	}
	if !strings.Contains(v.earn.cardToday.sub.text(), "net") {
		t.Errorf("today sub = %q", v.earn.cardToday.sub.text())
	}
	if got := r.xLabels[0].Text; got != "Today" {
		t.Errorf("last x label = %q", got)
	}
}

func TestEarningsJobTable(t *testing.T) {
	f, tl := earningsFake(t)
	now := time.Now()
	tl.credit(testJob{at: now.Add(-2 * time.Hour), model: "old-model", prompt: 10, completion: 20})
	amount := tl.credit(testJob{at: now.Add(-time.Hour), model: "qwen3:8b", prompt: 1200, completion: 34, joules: 7200})
	v, _, _ := newTestView(t, f)
	e := v.earn
	rows, cols := e.jobsTable.Length()
	if rows != 2 || cols != 6 {
		t.Fatalf("table is %d×%d", rows, cols)
	}
	want := []string{"qwen3:8b", "1,234", ton.Format(amount), "2.00 Wh"}
	for i, w := range want {
		if got := e.jobCell(0, i+1); got != w {
			t.Errorf("newest row col %d = %q, want %q", i+1, got, w)
		}
	}
	if !strings.HasPrefix(e.jobCell(0, 0), "Today ") {
		t.Errorf("time = %q", e.jobCell(0, 0))
	}
	if got := e.jobCell(1, 1); got != "old-model" {
		t.Errorf("second row model = %q", got)
	}
	if got := e.jobCell(1, 4); got != "—" {
		t.Errorf("unmeasured energy = %q", got)
	}
	if got := e.jobCell(0, 5); got != "—" {
		t.Errorf("net without a tariff = %q", got)
	}
	f.SetTariff(1_000_000_000) // 1 TON/kWh: 2 Wh cost 0.002 TON
	e.reloadNow()
	if got, want := e.jobCell(0, 5), ton.Format(amount-2_000_000); got != want {
		t.Errorf("net = %q, want %q", got, want)
	}
	if e.jobsEmpty.Visible() {
		t.Error("empty note shown with jobs")
	}
}

func TestEarningsJobTableFirst100(t *testing.T) {
	f, tl := earningsFake(t)
	start := time.Now().Add(-200 * time.Minute)
	for i := range 120 {
		tl.credit(testJob{at: start.Add(time.Duration(i) * time.Minute), prompt: 1, completion: 1})
	}
	v, _, _ := newTestView(t, f)
	if rows, _ := v.earn.jobsTable.Length(); rows != 100 {
		t.Errorf("rows = %d, want 100", rows)
	}
	if got := v.earn.history.Items[0].Text; !strings.Contains(got, "100 of 120") {
		t.Errorf("tab title = %q", got)
	}
}

func TestEarningsPayoutRows(t *testing.T) {
	f, tl := earningsFake(t)
	tl.credit(testJob{at: time.Now().Add(-time.Hour), prompt: 50_000, completion: 80_000})
	main, testnet := testAddress(t, ton.Mainnet).String(), testAddress(t, ton.Testnet).String()
	base := time.Now().Add(-30 * time.Minute)
	for i, w := range []earnings.Payout{
		{ID: "po-1", Amount: 200_000_000, Fee: 5_000_000, Destination: main, Created: base},
		{ID: "po-2", Amount: 100_000_000, Fee: 5_000_000, Destination: testnet, Created: base.Add(time.Minute)},
		{ID: "po-3", Amount: 150_000_000, Fee: 5_000_000, Destination: main, Created: base.Add(2 * time.Minute)},
	} {
		if err := tl.l.BeginPayout(w); err != nil {
			t.Fatal(i, err)
		}
	}
	if err := tl.l.MarkConfirmed("po-1", "abc123", time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := tl.l.MarkConfirmed("po-2", "def456", time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := tl.l.MarkFailed("po-3", "the wallet rejected the transfer."); err != nil {
		t.Fatal(err)
	}
	v, _, _ := newTestView(t, f)
	rows := v.earn.wdRows
	if len(rows) != 3 {
		t.Fatalf("%d payout rows", len(rows))
	}
	// newest first
	if rows[0].w.ID != "po-3" || rows[2].w.ID != "po-1" {
		t.Errorf("order: %s, %s, %s", rows[0].w.ID, rows[1].w.ID, rows[2].w.ID)
	}
	if rows[0].state.txt.Text != "Failed" || rows[0].link != nil || !strings.Contains(rows[0].text, "rejected") {
		t.Errorf("failed row: %q", rows[0].text)
	}
	if got := rows[2].link.URL.String(); got != "https://tonviewer.com/transaction/abc123" {
		t.Errorf("mainnet link = %q", got)
	}
	if got := rows[1].link.URL.String(); got != "https://testnet.tonviewer.com/transaction/def456" {
		t.Errorf("testnet link = %q", got)
	}
	if rows[2].state.txt.Text != "Confirmed" || !strings.Contains(rows[2].text, "0.2 TON") ||
		!strings.Contains(rows[2].text, testAddress(t, ton.Mainnet).Short()) || !strings.Contains(rows[2].text, "received 0.195") {
		t.Errorf("confirmed row: %q", rows[2].text)
	}
	if got := v.earn.history.Items[1].Text; got != "Payouts (3)" {
		t.Errorf("tab = %q", got)
	}
}

// containsText reports whether any label or rich text under o contains s.
func containsText(o fyne.CanvasObject, s string) bool {
	switch x := o.(type) {
	case *widget.Label:
		return strings.Contains(x.Text, s)
	case *widget.RichText:
		return strings.Contains(x.String(), s)
	case fyne.Widget:
		r := test.WidgetRenderer(x)
		for _, c := range r.Objects() {
			if containsText(c, s) {
				return true
			}
		}
	case *fyne.Container:
		for _, c := range x.Objects {
			if containsText(c, s) {
				return true
			}
		}
	}
	return false
}

func TestEarningsPayoutAddress(t *testing.T) {
	f, _ := earningsFake(t)
	v, _, q := newTestView(t, f)
	e := v.earn
	if e.addrText.Text != "Not set" || e.addrCopy.Visible() {
		t.Errorf("unset address: %q copy visible %v", e.addrText.Text, e.addrCopy.Visible())
	}
	test.Tap(e.addrEditBtn)
	if !e.addrEdit.Visible() {
		t.Fatal("no address editor")
	}
	e.addrEntry.SetText("UQnot-an-address")
	test.Tap(e.addrSave)
	q.runUntil(t, "the error", func() bool { return e.addrMsg.Visible() })
	if e.addrMsg.Importance != widget.DangerImportance || !strings.Contains(e.addrMsg.Text, "48 characters") {
		t.Errorf("error = %q (%v)", e.addrMsg.Text, e.addrMsg.Importance)
	}
	if f.Settings().PayoutAddress != "" {
		t.Error("a bad address was saved")
	}
	// A testnet address while payouts are on mainnet.
	e.addrEntry.SetText(testAddress(t, ton.Testnet).String())
	e.addrMsg.Hide()
	test.Tap(e.addrSave)
	q.runUntil(t, "the error", func() bool { return e.addrMsg.Visible() })
	if !strings.Contains(e.addrMsg.Text, "testnet address") {
		t.Errorf("error = %q", e.addrMsg.Text)
	}
	// A valid bounceable address is saved, with its warning.
	a := testAddress(t, ton.Mainnet)
	e.addrEntry.SetText(a.BounceableForm())
	e.addrMsg.Hide()
	test.Tap(e.addrSave)
	q.runUntil(t, "the save", func() bool { return e.addrMsg.Visible() })
	if e.addrMsg.Importance != widget.WarningImportance || !strings.Contains(e.addrMsg.Text, "bounceable") {
		t.Errorf("warning = %q (%v)", e.addrMsg.Text, e.addrMsg.Importance)
	}
	if f.Settings().PayoutAddress != a.BounceableForm() || e.addrEdit.Visible() || e.addrText.Text != a.Short() || !e.addrCopy.Visible() {
		t.Errorf("saved %q, shown %q", f.Settings().PayoutAddress, e.addrText.Text)
	}
}

// TestEarningsElectricity: the price is set in the owner's currency with
// the TON price they give (on the Settings tab, where Earnings' Change
// leads), shown back in those words, and the net of electricity appears
// only where energy was measured; without a measurement it says so.
func TestEarningsElectricity(t *testing.T) {
	tests := []struct {
		name     string
		joules   float64
		wantNet  bool
		todaySub string
		chart    string
	}{
		{"energy measured", 360_000, true, "net ", "TON net of electricity"},
		{"energy not measured on this card", 0, false, "energy not measured on this card", "energy not measured on this card, so no net"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, tl := earningsFake(t)
			tl.credit(testJob{at: time.Now(), prompt: 50_000, completion: 80_000, joules: tc.joules})
			v, _, q := newTestView(t, f)
			e := v.earn
			if e.elecText.Text != "Not set" || !strings.Contains(e.cardToday.sub.text(), "set a tariff for the net") || e.legendNet.Visible() {
				t.Fatalf("without a price: %q, today %q, net legend %v", e.elecText.Text, e.cardToday.sub.text(), e.legendNet.Visible())
			}
			test.Tap(e.elecBtn)
			if v.tabs.Selected() != v.settingsTab {
				t.Fatal("Change did not lead to the Settings tab")
			}
			s := v.set
			s.tariffEntry.SetText("0,31")
			s.currencyEntry.SetText("EUR")
			s.tonPriceEntry.SetText("3.1")
			test.Tap(s.saveBtn)
			q.runUntil(t, "the save", func() bool { return strings.HasPrefix(s.status.Text, "Saved") })
			if got := f.Settings().TariffNanoPerKWh; got != 100_000_000 {
				t.Fatalf("tariff = %d nanoTON/kWh, want 0.1 TON (0.31 EUR at 3.1 EUR a TON)", got)
			}
			e.reloadNow()
			if got := e.elecText.Text; got != "0.31 EUR per kWh · 1 TON = 3.1 EUR" {
				t.Errorf("electricity shown as %q", got)
			}
			if got := e.cardToday.sub.text(); !strings.Contains(got, tc.todaySub) {
				t.Errorf("today %q, want %q", got, tc.todaySub)
			}
			if e.legendNet.Visible() != tc.wantNet {
				t.Errorf("net legend shown %v, want %v", e.legendNet.Visible(), tc.wantNet)
			}
			if got := e.chartInfo.text(); !strings.Contains(got, tc.chart) {
				t.Errorf("chart line %q, want %q", got, tc.chart)
			}
		})
	}
}

func TestParseTON(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"1", 1_000_000_000, true}, {"0.05", 50_000_000, true}, {"1,5", 1_500_000_000, true},
		{".000000001", 1, true}, {" 2 TON ", 2_000_000_000, true}, {"", 0, false}, {"1.2.3", 0, false},
		{"1e9", 0, false}, {"-0.1", 0, false}, {"99999999999", 0, false},
	} {
		got, err := parseTON(tc.in)
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("parseTON(%q) = %d, %v", tc.in, got, err)
		}
	}
}

func TestEarningsCSVExport(t *testing.T) {
	f, tl := earningsFake(t)
	tl.credit(testJob{at: time.Now().AddDate(-1, 0, 0), prompt: 10, completion: 10})
	tl.credit(testJob{at: time.Now(), prompt: 10, completion: 10, joules: 3600})
	v, _, _ := newTestView(t, f)
	if v.earn.exportBtn.Disabled() {
		t.Error("export disabled with a ledger")
	}
	var buf bytes.Buffer
	if err := v.earn.writeCSV(&buf); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 || strings.Join(rows[0], ",") != strings.Join(earnings.CSVHeader, ",") || rows[1][0] != "job" {
		t.Errorf("csv = %v", rows)
	}
}

func TestEarningsRefreshOnReceiptEvent(t *testing.T) {
	f, tl := earningsFake(t)
	v, _, q := newTestView(t, f)
	startWatch(t, v, f, q)
	if v.earn.cardEarned.value.Text != "0 TON" {
		t.Fatalf("earned = %q", v.earn.cardEarned.value.Text)
	}
	amount := tl.credit(testJob{at: time.Now(), prompt: 100, completion: 100})
	f.publish(worker.Event{Type: worker.EventReceipt})
	want := ton.Format(amount) + " TON"
	q.runUntil(t, "the new receipt", func() bool { return v.earn.cardEarned.value.Text == want })
	if rows, _ := v.earn.jobsTable.Length(); rows != 1 {
		t.Errorf("rows = %d", rows)
	}
}
