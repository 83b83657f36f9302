package app

import (
	"context"
	"io"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/ton"

	"github.com/cocoon-desktop/cocoon-desktop/earnings"
	"github.com/cocoon-desktop/cocoon-desktop/worker"
)

// Core is what the GUI drives. *worker.Core satisfies it; tests use a fake.
//
// Status must be cheap and safe to call from any goroutine. Events only say
// that something changed: the GUI re-reads Status after each one.
type Core interface {
	Status() worker.Status
	Subscribe(buffer int) (events <-chan worker.Event, cancel func())
	// Start begins sharing: the worker serves once the owner is away.
	Start(ctx context.Context) error
	// StartNow serves at once, without waiting for the owner to be away.
	StartNow(ctx context.Context) error
	Stop(ctx context.Context) error
	// PullModel blocks until the download is done; progress arrives as EventPull events.
	PullModel(ctx context.Context, name string) error
	DeleteModel(ctx context.Context, name string) error
	// RestoreBuiltInModel puts the built-in model (worker.TinyModel) back
	// without a download; it is chosen when no model is.
	RestoreBuiltInModel(ctx context.Context) error
	// SetModel chooses which local model the worker serves.
	SetModel(name string) error
	// ModelCache is the model store's drive, free space, use and quota
	// (it reads the filesystem: call it at UI pace).
	ModelCache() worker.ModelCache
	// RebuildLedger sets a damaged earnings ledger aside and makes a new
	// one filled from the proxy's receipts (Status.LedgerDamaged says when);
	// it returns the damaged file's new path.
	RebuildLedger(ctx context.Context) (string, error)
	// SetModelCacheQuotaGB saves the model cache quota in GB (0: none);
	// after each download the least recently used models go until it fits.
	SetModelCacheQuotaGB(gb int64) error

	// Earnings (the Earnings tab).

	// EarningsHistory reads the balance and the newest jobs and
	// payouts; worker.ErrNoLedger where the core has no ledger.
	EarningsHistory(jobs, payouts int) (worker.EarningsHistory, error)
	// DailyEarnings is the earnings per local day in [from, to).
	DailyEarnings(from, to time.Time, tariff earnings.Tariff) ([]earnings.DayTotal, error)
	// ExportEarningsCSV writes every job and payout in [from, to) as CSV.
	ExportEarningsCSV(w io.Writer, from, to time.Time) error
	Settings() worker.Settings
	// SetPayoutAddress validates and saves the owner's TON address.
	SetPayoutAddress(s string) (ton.Address, error)
	// SetTariff saves the electricity price in nanoTON per kWh (0: none).
	SetTariff(nanoPerKWh int64) error
	// SetElectricity saves the electricity price in the owner's currency
	// with the TON price they set (nil: none), and its nanoTON/kWh form.
	SetElectricity(e *worker.Electricity) error

	// PauseFor pauses serving for d (tray "Pause for 1 hour"); the policy
	// decides again after.
	PauseFor(ctx context.Context, d time.Duration) error

	// Settings tab.

	// IdleSettings is the idle policy in force (flags or defaults, with the
	// owner's saved settings on top).
	IdleSettings() worker.IdleSettings
	// SetIdleSettings validates, saves and applies the idle policy (a running
	// worker uses it within a poll); the error joins a *worker.FieldError
	// per bad field.
	SetIdleSettings(p worker.IdleSettings) error
	// SetLogLevel saves the log level; it applies at the next launch.
	SetLogLevel(level string) error

	// First-run wizard.

	// Benchmark runs the chosen model briefly (a fixed prompt, up to 3
	// runs or 30 s) and reports its speed; it refuses while sharing.
	Benchmark(ctx context.Context) (worker.BenchmarkResult, error)
	// SetOnboarded records that the owner finished or skipped the wizard.
	SetOnboarded() error
}

var _ Core = (*worker.Core)(nil)
