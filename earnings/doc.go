// Package earnings is the owner's local ledger: the proxy's signed receipts
// (package receipt), balances, history, CSV export and withdrawals (Ledger).
// TON addresses and the chain are package ton's; the ledger imports neither
// the wire protocol nor the chain, so its stored format depends on neither.
//
// # The ledger
//
// A Ledger is one bbolt file (0600) that only one process may hold; a second
// Cocoon Desktop fails within a second with ErrLocked. All amounts are int64
// nanoTON (1 TON = 1e9); there are no floats in the stored money.
//
// Every job the worker serves ends with a receipt signed by the network proxy
// (receipt.Signed). Credit stores it after checking, offline, that it
// is signed by the pinned proxy key, that its amount matches its own factors,
// that it is for this worker, and that its cumulative total chains onto the
// previous receipt's by sequence number. A receipt whose sequence number skips
// ahead (a receipt was lost) is accepted and the gap is recorded; the lost
// receipt may still arrive later and fill it. Crediting the same job twice is
// a no-op.
//
// The balance follows the design's payout rule: Earned is the latest signed
// cumulative total, so the claimable amount is always Earned minus what was
// already withdrawn or is being withdrawn:
//
//	Available = Earned − Withdrawn (confirmed) − Pending (begun, not yet confirmed or failed)
//
// Each write (a credit, a withdrawal state change) is one bbolt transaction
// that also updates the running totals and the indexes, so Balance is O(1),
// a crash never leaves a half-written entry, and Verify can recompute and
// check everything from the signed receipts alone.
//
// The file carries a schema version (bucket "meta", key "schema"); Open
// migrates older files in place, in one transaction, including the receipt
// store the worker package used before this ledger (schema 0).
package earnings
