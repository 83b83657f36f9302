package cli

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/openai/openai-go/v3"

	"github.com/cocoon-desktop/cocoon-desktop/earnings"
	"github.com/cocoon-desktop/cocoon-desktop/network/proxy"
	"github.com/cocoon-desktop/cocoon-desktop/receipt"
	"github.com/cocoon-desktop/cocoon-desktop/worker"
)

// e2eCoefficientMilli is the headless worker's price multiplier:
// worker.Config's default (1.0), which the command line does not change.
const e2eCoefficientMilli = 1000

// bill is what a test's jobs must cost, worked out apart from the proxy:
// from its price list, the worker's coefficient, the commission and the
// token counts the client was told. Totals that merely agree with each
// other would also agree if the proxy billed nothing.
type bill struct {
	jobs, prompt, completion int64
	charged                  int64   // nanoTON owed by the API key
	paid                     int64   // nanoTON credited to the workers
	amounts                  []int64 // each job's credit to its worker
}

func (b *bill) add(t *testing.T, e *e2eProxy, model string, u openai.CompletionUsage) {
	t.Helper()
	price, ok := e.cfg.Models[model]
	// With a zero factor the exact checks below would prove nothing.
	if !ok || price.PricePrompt == 0 || price.PriceCompletion == 0 || e.cfg.CommissionBPS == 0 {
		t.Fatalf("model %s: price %+v, commission %d bps: want all nonzero", model, price, e.cfg.CommissionBPS)
	}
	if u.PromptTokens <= 0 || u.CompletionTokens <= 0 {
		t.Fatalf("the client was told usage %+v: want tokens on both sides", u)
	}
	amount, err := receipt.Amount(u.PromptTokens, u.CompletionTokens, price.PricePrompt, price.PriceCompletion, e2eCoefficientMilli, e.cfg.CommissionBPS)
	if err != nil {
		t.Fatal(err)
	}
	// The price formula (docs/design.md): tokens × price × coefficient.
	gross := (u.PromptTokens*price.PricePrompt + u.CompletionTokens*price.PriceCompletion) * e2eCoefficientMilli / 1000
	if amount <= 0 || amount >= gross {
		t.Fatalf("worker's amount %d of gross %d: the commission must take a share and leave one", amount, gross)
	}
	b.jobs++
	b.prompt += u.PromptTokens
	b.completion += u.CompletionTokens
	b.charged += gross
	b.paid += amount
	b.amounts = append(b.amounts, amount)
}

// checkProxy compares the bill with the proxy's store: its lifetime totals,
// the API key's usage and the workers' signed cumulative totals.
func (b *bill) checkProxy(t *testing.T, ctx context.Context, e *e2eProxy, ws ...*e2eWorker) {
	t.Helper()
	store := e.p.Store()
	totals, err := store.Totals(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := proxy.Totals{Jobs: b.jobs, PromptTokens: b.prompt, CompletionTokens: b.completion,
		Charged: b.charged, PaidToWorkers: b.paid, Commission: b.charged - b.paid}
	if totals != want {
		t.Errorf("proxy totals %+v, want %+v", totals, want)
	}
	usage, err := store.Usage(ctx, proxy.KeyDigest(e2eKey))
	if err != nil {
		t.Fatal(err)
	}
	if usage.Requests != b.jobs || usage.PromptTokens != b.prompt || usage.CompletionTokens != b.completion || usage.Cost != b.charged {
		t.Errorf("API key usage %+v, want %d requests, %d+%d tokens, cost %d", usage, b.jobs, b.prompt, b.completion, b.charged)
	}
	var credited int64
	for _, w := range ws {
		rec, _, err := store.Worker(ctx, workerID(t, w.dataDir))
		if err != nil {
			t.Fatal(err)
		}
		credited += rec.Cumulative
	}
	if credited != b.paid {
		t.Errorf("the proxy credited the workers %d nanoTON, want %d", credited, b.paid)
	}
}

// checkLedgers compares the bill with the stopped workers' ledgers: every
// receipt signed by the proxy with the listed factors, one per job with the
// expected amount, and each balance equal to the proxy's total for it.
func (b *bill) checkLedgers(t *testing.T, ctx context.Context, e *e2eProxy, ws ...*e2eWorker) {
	t.Helper()
	var amounts []int64
	var earned int64
	for _, w := range ws {
		rs, bal := w.ledger(t)
		for _, r := range rs {
			if err := r.Verify(e.p.PublicKey()); err != nil {
				t.Fatalf("receipt does not verify: %v", err)
			}
			price := e.cfg.Models[r.Receipt.Model]
			if r.Receipt.PricePrompt != price.PricePrompt || r.Receipt.PriceCompletion != price.PriceCompletion ||
				r.Receipt.CoefficientMilli != e2eCoefficientMilli || r.Receipt.CommissionBPS != e.cfg.CommissionBPS {
				t.Errorf("receipt %+v: factors differ from the price list %+v, coefficient %d, commission %d",
					r.Receipt, price, e2eCoefficientMilli, e.cfg.CommissionBPS)
			}
			amounts = append(amounts, r.Receipt.Amount)
		}
		rec, _, err := e.p.Store().Worker(ctx, workerID(t, w.dataDir))
		if err != nil {
			t.Fatal(err)
		}
		if bal.Earned != rec.Cumulative || bal.Credited != bal.Earned || bal.Jobs != int64(len(rs)) {
			t.Errorf("worker %s: ledger %+v, proxy's cumulative %d", w.dataDir, bal, rec.Cumulative)
		}
		earned += bal.Earned
	}
	want := slices.Clone(b.amounts)
	slices.Sort(want)
	slices.Sort(amounts)
	if !slices.Equal(amounts, want) {
		t.Errorf("the workers' receipts credit %v, want %v", amounts, want)
	}
	if earned != b.paid {
		t.Errorf("the workers' ledgers hold %d nanoTON, want %d", earned, b.paid)
	}
}

// ledger reads the stopped worker's stored receipts and balance, and checks
// the ledger verifies offline.
func (w *e2eWorker) ledger(t *testing.T) ([]receipt.Signed, earnings.Balance) {
	t.Helper()
	l, err := earnings.Open(filepath.Join(w.dataDir, worker.LedgerFile), earnings.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if rep, err := l.Verify(); err != nil || !rep.OK() {
		t.Fatalf("the worker's ledger does not verify: %+v %v", rep, err)
	}
	jobs, _, err := l.Jobs("", 1000)
	if err != nil {
		t.Fatal(err)
	}
	var rs []receipt.Signed
	for _, j := range jobs {
		rs = append(rs, j.Receipt)
	}
	bal, err := l.Balance()
	if err != nil {
		t.Fatal(err)
	}
	return rs, bal
}
