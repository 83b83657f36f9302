package proxy

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/cocoon-desktop/cocoon-desktop/network"
	"github.com/cocoon-desktop/cocoon-desktop/ton"
)

// The hot-wallet push path (the proxy sending TON on a worker's
// payout_request) is retired: it could pay twice when a transfer it sent
// was not found on chain in time. Owners claim from the proxy's escrow
// contract instead (escrow.go, docs/settlement.md). What stays is the
// answer an old worker gets and the store's reading of old payout
// records, so balances that include them stay right.

// ErrPayoutsRetired is LoadConfig's and ParseConfig's error for a config
// that still has a "payouts" object.
var ErrPayoutsRetired = errors.New(`proxy config: "payouts" (hot-wallet payouts) is no longer supported: remove it and configure "escrow" instead, so owners claim on chain (docs/settlement.md)`)

// ErrPayoutsInFlight: the store holds hot-wallet payouts of an earlier
// version that are not final. This version cannot finish them (it sends
// nothing and reads no chain), and guessing either way could pay twice or
// lose a payout, so New refuses to start until the earlier version has
// finished them.
var ErrPayoutsInFlight = errors.New("proxy: hot-wallet payouts of an earlier version are still in flight")

// checkNoPendingPayouts returns ErrPayoutsInFlight, with the ids, when
// the store has payouts that are neither confirmed nor failed.
func checkNoPendingPayouts(ctx context.Context, st Store) error {
	pending, err := st.PendingPayouts(ctx)
	if err != nil {
		return fmt.Errorf("proxy: read old payouts: %w", err)
	}
	if len(pending) == 0 {
		return nil
	}
	var ids []string
	for _, r := range pending[:min(len(pending), 5)] { // enough to look them up
		ids = append(ids, r.ID)
	}
	return fmt.Errorf("%w: %d not final (%s): run the previous version until GET /v1/status shows none pending, then upgrade",
		ErrPayoutsInFlight, len(pending), strings.Join(ids, ", "))
}

// ReasonNoEscrow is the refusal of a payout_request by a proxy without an
// escrow: it has no way to pay at all.
const ReasonNoEscrow = "this proxy no longer sends payouts from a hot wallet and has no escrow contract to claim from: ask its operator to configure one"

// balance is the worker's balance with the proxy's settings.
func (p *Proxy) balance(ctx context.Context, workerID string) (network.Balance, error) {
	b, err := p.trustBalance(ctx, workerID) // with the standing (trust.go)
	if err != nil {
		b = network.Balance{} // still a valid message
	}
	return p.withSettings(b), err
}

// withSettings adds the proxy's network, commission and prices to a
// balance. Payouts stays false: no proxy takes payout requests.
func (p *Proxy) withSettings(b network.Balance) network.Balance {
	b.Network = ton.Mainnet.String()
	if ec := p.cfg.Escrow; ec != nil {
		b.Network = ec.Network.String()
	}
	b.CommissionBPS = p.cfg.CommissionBPS
	for _, m := range p.cfg.ModelNames() {
		pr := p.cfg.Models[m]
		b.Prices = append(b.Prices, network.ModelPrice{Model: m, PricePrompt: pr.PricePrompt, PriceCompletion: pr.PriceCompletion})
	}
	return b
}

// refusePayoutRequest answers an old worker's payout_request: a payout an
// earlier version finished gets its final state, anything else a rejected
// payout_status with the reason and the current balance, so the worker's
// ledger releases the reserved amount and its owner reads why.
func (w *workerConn) refusePayoutRequest(req network.PayoutRequest) {
	p := w.p
	reason := ReasonNoEscrow
	if p.vouchers != nil {
		reason = ReasonPaysByEscrow // escrow.go
	}
	st, err := answerPayoutRequest(p.baseCtx, p.store, w.id, req, reason)
	if err != nil {
		w.log.Error("payout request: read old payout", "err", err)
	}
	if st.Balance, err = p.balance(p.baseCtx, w.id); err != nil {
		w.log.Error("payout request: store balance", "err", err)
	}
	w.log.Info("payout request answered", "payout", req.PayoutID, "amount", req.Amount, "state", st.State)
	if err := w.send(network.TypePayoutStatus, &st); err != nil {
		w.log.Debug("send payout status", "payout", req.PayoutID, "err", err)
	}
}

// answerPayoutRequest is the answer to a payout_request without its
// balance: the final state of a payout this worker made with an earlier
// version (a worker that missed the answer asks again; "rejected" there
// would release money in its ledger that was paid), else a rejection with
// reason. Nothing is written.
func answerPayoutRequest(ctx context.Context, st Store, workerID string, req network.PayoutRequest, reason string) (network.PayoutStatus, error) {
	rejected := network.PayoutStatus{PayoutID: req.PayoutID, State: network.PayoutRejected, Amount: req.Amount,
		Destination: truncateStr(req.Destination, 120), Reason: truncateStr(reason, network.MaxReasonLength-4)}
	r, ok, err := st.Payout(ctx, req.PayoutID)
	if err != nil || !ok || r.WorkerID != workerID || !r.Final() {
		return rejected, err // not final: New refused to start with it (checkNoPendingPayouts)
	}
	return network.PayoutStatus{PayoutID: r.ID, State: r.State, Amount: r.Amount, Fee: r.Fee,
		Destination: r.DestinationInput, MsgHash: r.MsgHash, TxHash: r.TxHash,
		Reason: truncateStr(r.Reason, network.MaxReasonLength-4)}, nil
}
