package proxy

import (
	"context"
	"errors"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/network"
	"github.com/cocoon-desktop/cocoon-desktop/receipt"
)

// Store is the proxy's durable state. Every method is one transaction, so a
// crash at any point leaves either all of a job's effects or none. A
// PostgreSQL implementation for several proxies is a new Store, not a
// rewrite: RecordJob maps to one SERIALIZABLE transaction keyed by job id.
type Store interface {
	TrustStore // the trust record (trust_store.go)
	// TouchWorker updates the last-seen time of a worker that has a record
	// (made by its first credit); a non-empty payout address replaces the
	// stored one. A worker with no record (it never earned) is not written
	// at all: a fresh identity costs no disk write until it earns.
	TouchWorker(ctx context.Context, workerID, payoutAddress string, seen time.Time) error
	// PruneWorkers deletes, in one transaction, the records of workers that
	// never earned (no receipt, nothing paid or pending) and were last seen
	// before unseenSince; it returns how many.
	PruneWorkers(ctx context.Context, unseenSince time.Time) (int, error)
	// Worker returns a worker's record; ok is false when it is unknown.
	Worker(ctx context.Context, workerID string) (rec WorkerRecord, ok bool, err error)
	// RecordJob credits a finished job, once. In one transaction it checks
	// whether the job id already has a receipt (then it returns that receipt
	// with created false and changes nothing), else it assigns the worker's
	// next seq and new cumulative total, has sign build the signed receipt,
	// stores it, applies job.Hold to the worker's trust record, and adds the
	// job to the API key's usage and the totals.
	RecordJob(ctx context.Context, job JobRecord, sign func(receipt.Receipt) receipt.Signed) (rcpt receipt.Signed, created bool, err error)
	// Receipt returns the receipt of a job id.
	Receipt(ctx context.Context, jobID string) (rcpt receipt.Signed, ok bool, err error)
	// Receipts returns a worker's receipts with seq > afterSeq, in seq order,
	// at most limit of them (limit ≤ 0: all).
	Receipts(ctx context.Context, workerID string, afterSeq int64, limit int) ([]receipt.Signed, error)
	// Usage returns an API key's usage by its digest (KeyDigest).
	Usage(ctx context.Context, keyDigest string) (KeyUsage, error)
	// DailyUsage returns an API key's usage by UTC day and model, days
	// from..to (YYYY-MM-DD) included (usage_store.go).
	DailyUsage(ctx context.Context, keyDigest, from, to string) ([]DailyUsage, error)
	// Totals returns the proxy's lifetime totals.
	Totals(ctx context.Context) (Totals, error)

	// Balance is the worker's money: Cumulative and LastSeq from its
	// receipts, Paid and Pending from its payouts (the other fields are
	// the proxy's settings and left zero). An unknown worker has zeros.
	Balance(ctx context.Context, workerID string) (network.Balance, error)
	// PendingPayouts returns the hot-wallet payouts of earlier versions
	// not yet confirmed or failed, oldest first (New refuses to start
	// while there are any: payout_retired.go).
	PendingPayouts(ctx context.Context) ([]PayoutRecord, error)
	// Payout returns an old payout by id (its final state answers an old
	// worker that asks again: payout_retired.go).
	Payout(ctx context.Context, id string) (rec PayoutRecord, ok bool, err error)
	// RecordVouched raises the worker's highest signed voucher total to
	// total (one transaction; no write when it is not higher) and returns
	// the highest: vouchers never go down (store_voucher.go).
	RecordVouched(ctx context.Context, workerID string, total int64) (highest int64, err error)
	// Vouched is every worker's highest voucher by worker id: what the
	// escrow owes before what it has paid.
	Vouched(ctx context.Context) (map[string]int64, error)
	Close() error
}

// PayoutRecord is one hot-wallet payout of an earlier version, as the
// store keeps it (the push path is retired; old records stay readable).
type PayoutRecord struct {
	ID       string `json:"id"`
	WorkerID string `json:"worker_id"`
	Amount   int64  `json:"amount"` // nanoTON debited from the worker
	Fee      int64  `json:"fee"`    // nanoTON kept; Amount − Fee goes on chain
	// Destination is the canonical raw form "wc:hex"; DestinationInput is
	// the address as the owner gave it (it carries the bounce flag).
	Destination      string `json:"destination"`
	DestinationInput string `json:"destination_input"`
	State            string `json:"state"` // network.PayoutAccepted, Sent, Confirmed, Failed
	// The signed external message, persisted before it is first sent.
	Seqno      uint32    `json:"seqno"`
	MessageBOC []byte    `json:"message_boc,omitempty"`
	MsgHash    string    `json:"msg_hash,omitempty"` // hex
	ValidUntil time.Time `json:"valid_until,omitzero"`
	TxHash     string    `json:"tx_hash,omitempty"` // hex, once confirmed
	Reason     string    `json:"reason,omitempty"`
	Requested  int64     `json:"requested"` // the request's created (unix ms)
	Created    time.Time `json:"created"`
	Updated    time.Time `json:"updated"`
}

// Final reports whether the payout is confirmed or failed.
func (r PayoutRecord) Final() bool {
	return r.State == network.PayoutConfirmed || r.State == network.PayoutFailed
}

// WorkerRecord is what the store keeps about a worker.
type WorkerRecord struct {
	ID            string    `json:"id"` // hex of the worker's ed25519 public key
	Cumulative    int64     `json:"cumulative"`
	LastSeq       int64     `json:"last_seq"`
	FirstSeen     time.Time `json:"first_seen"`
	LastSeen      time.Time `json:"last_seen"`
	PayoutAddress string    `json:"payout_address,omitempty"`
	Paid          int64     `json:"paid,omitempty"`    // nanoTON of confirmed payouts
	Pending       int64     `json:"pending,omitempty"` // nanoTON of payouts not yet final
	Vouched       int64     `json:"vouched,omitempty"` // nanoTON, the highest voucher signed (≤ Cumulative)
}

// JobRecord is a finished job to credit. Amount and Gross are computed by
// the caller from the factors (receipt.Amount); the store checks Amount.
type JobRecord struct {
	JobID            string
	WorkerID         string
	Model            string
	PromptTokens     int64
	CompletionTokens int64
	PricePrompt      int64
	PriceCompletion  int64
	CoefficientMilli int64
	CommissionBPS    int64
	Amount           int64 // nanoTON to the worker
	Gross            int64 // nanoTON charged to the API key (before commission)
	KeyDigest        string
	KeyName          string
	Time             time.Time
	Hold             JobHold // held and counted toward the daily cap in the same transaction (trust_store.go)
}

// KeyUsage is an API key's consumption. Its counters saturate at
// math.MaxInt64 rather than fail a job.
type KeyUsage struct {
	Name             string `json:"name"`
	Requests         int64  `json:"requests"`
	PromptTokens     int64  `json:"prompt_tokens"`
	CompletionTokens int64  `json:"completion_tokens"`
	Cost             int64  `json:"cost"` // nanoTON
}

// Totals are the proxy's lifetime counters. They saturate at math.MaxInt64
// rather than fail a job.
type Totals struct {
	Jobs             int64 `json:"jobs"`
	PromptTokens     int64 `json:"prompt_tokens"`
	CompletionTokens int64 `json:"completion_tokens"`
	Charged          int64 `json:"charged"`    // nanoTON charged to API keys
	PaidToWorkers    int64 `json:"paid"`       // nanoTON credited to workers
	Commission       int64 `json:"commission"` // Charged − PaidToWorkers
}

// ErrStoreLocked means another process holds the store.
var ErrStoreLocked = errors.New("proxy store: locked by another process (is another cocoon-proxy running on this data_dir?)")

// errOverflow is returned when money (a worker's cumulative total, paid or
// pending amount) would overflow int64.
var errOverflow = errors.New("proxy store: counter overflows int64")

func addChecked(a *int64, b int64) error {
	s := *a + b
	if (b > 0 && s < *a) || (b < 0 && s > *a) {
		return errOverflow
	}
	*a = s
	return nil
}

// addSaturating adds b ≥ 0 to the statistic *a, stopping at math.MaxInt64
// (a statistic that reached it says "at least this much").
func addSaturating(a *int64, b int64) {
	*a = satSum(*a, b)
}

func (j JobRecord) validate() error {
	if j.JobID == "" || len(j.JobID) > network.MaxJobIDLength || j.WorkerID == "" || j.Model == "" {
		return errors.New("proxy store: job needs job id, worker id and model")
	}
	want, err := receipt.Amount(j.PromptTokens, j.CompletionTokens, j.PricePrompt, j.PriceCompletion, j.CoefficientMilli, j.CommissionBPS)
	if err != nil {
		return err
	}
	if want != j.Amount {
		return errors.New("proxy store: job amount does not match its factors")
	}
	if j.Gross < j.Amount {
		return errors.New("proxy store: gross below the worker's amount")
	}
	return nil
}
