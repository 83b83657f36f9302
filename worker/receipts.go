package worker

import "github.com/cocoon-desktop/cocoon-desktop/network"

// Ledger stores the proxy's signed receipts: *earnings.Ledger in the app;
// tests may pass another.
type Ledger interface {
	// Credit stores a verified receipt. Storing the same job id again is a
	// no-op that returns false.
	Credit(r network.SignedReceipt) (added bool, err error)
	// Totals returns the latest signed cumulative total and how many receipts are stored.
	Totals() (cumulative int64, count int, err error)
	Close() error
}
