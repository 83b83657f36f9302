// Package earnings is the owner's local ledger: the proxy's signed receipts
// (package receipt), balances, history, CSV export and payouts (Ledger).
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
// already paid out or is being paid out:
//
//	Available = Earned − PaidOut (confirmed) − Pending (begun, not yet confirmed or failed)
//
// Each write (a credit, a payout state change) is one bbolt transaction
// that also updates the running totals and the indexes, so Balance is O(1),
// a crash never leaves a half-written entry, and Verify can recompute and
// check everything from the signed receipts alone.
//
// # On disk
//
// Each job is one compact binary record keyed by its receipt's seq (schema
// 2, record.go): the receipt's own fields as varints, the job id of the
// proxy's form as its 16 bytes, what many receipts share (worker id, model,
// proxy key, prices, coefficient, commission) stored once and referenced by a
// small number, the amount only when its factors do not give it, and the
// 64-byte signature, about 100 bytes in all. Verify rebuilds the exact signed
// receipt from it and checks the signature offline. With the job id index
// (grouped, ~8 bytes a job) and the few out-of-time-order records listed
// apart (order.go; the seq order is the time order otherwise), a million jobs
// take about 160 MB; docs/BENCHMARKS.md has the measured figure.
//
// The file carries a schema version (bucket "meta", key "schema"); Open
// migrates older files in place, in one transaction, so a failure or a crash
// leaves the old file: the JSON records of schema 1, and the receipt store
// the worker package used before this ledger (schema 0).
package earnings
