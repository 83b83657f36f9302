package worker

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/xssnick/tonutils-go/tlb"

	"github.com/cocoon-desktop/cocoon-desktop/earnings"
	"github.com/cocoon-desktop/cocoon-desktop/network"
	"github.com/cocoon-desktop/cocoon-desktop/ton"
	"github.com/cocoon-desktop/cocoon-desktop/ton/escrow"
)

// SettlementChain is what claiming needs from TON (docs/settlement.md):
// send the claim message to the escrow, and run its get-methods. The app
// uses ton.LiteChain (the liteservers, no proxy involved); the tests use
// the real contract in internal/tonsandbox behind the same interface.
type SettlementChain interface {
	SendExternal(ctx context.Context, msg *tlb.ExternalMessage) (msgHash []byte, err error)
	escrow.Getter
}

// Claim errors.
var (
	// ErrNoSettlement: the core has no TON chain to claim on.
	ErrNoSettlement = errors.New("claiming on chain is not available (no connection to TON configured)")
	// ErrClaimTooSmall: what the voucher adds to the escrow's paid total
	// does not exceed the escrow's claim fee (the contract would refuse it).
	ErrClaimTooSmall = errors.New("the claimable amount does not cover the escrow's claim fee yet")
)

// DefaultClaimCheckInterval is how often pending claims are re-sent and
// checked on chain, and the automatic claim considered.
const DefaultClaimCheckInterval = 30 * time.Second

// AutoClaimFeeMultiple sets the default automatic-claim threshold: the
// claimable amount must reach this many claim fees (so the fee stays 5 %
// or less of what a claim pays).
const AutoClaimFeeMultiple = 20

// SettlementStatus is the money on chain for the Earnings tab.
type SettlementStatus struct {
	earnings.Settlement
	Claims []earnings.Claim // newest first
	// Escrow is the escrow's state as last read (nil before, or when the
	// chain was unreachable); Owed what its vouchers to this worker still
	// promise (latest voucher − paid). Shortfall is true when the escrow's
	// balance cannot cover Owed plus its fee and reserve.
	Escrow    *escrow.State
	Owed      int64
	Shortfall bool
	// AutoClaimAt is the automatic-claim threshold in nanoTON (0: off).
	AutoClaimAt int64
	// LastError says why the last claim or chain read failed ("" when it worked).
	LastError string
}

// claimHooks are the crash tests' kill points (nil in the app): returning
// true stops the claim there, as if the process died.
type claimHooks struct {
	afterRecord func() bool // the claim is pending in the ledger, not sent
	afterSend   func() bool // the chain took the message, the ledger does not know yet
}

// onVoucher checks a voucher from the proxy against the pinned proxy key
// and this worker's id, and stores it when it is the escrow's newest. A
// voucher that does not verify is logged and dropped (the ledger keeps
// the last good one).
func (c *Core) onVoucher(m network.Voucher) {
	l := c.led()
	if l == nil {
		return
	}
	v, err := checkVoucher(m, c.cfg.Network.ProxyKey, c.workerID())
	if err == nil {
		err = checkPayout(m, c.payoutAddress())
	}
	if err != nil {
		c.log.Warn("voucher refused", "err", err)
		return
	}
	stored, err := l.StoreVoucher(v)
	if err != nil {
		c.log.Warn("voucher not stored", "err", err)
		return
	}
	if stored {
		c.log.Info("voucher stored", "cumulative_nanoton", v.Cumulative, "held_nanoton", v.Held)
		c.bus.Publish(EventEarnings, nil)
		c.kickSettle()
	}
}

// workerID is this worker's id (hex key) once the client has one.
func (c *Core) workerID() string {
	cl := c.cl()
	if cl == nil {
		return ""
	}
	return cl.ID()
}

// checkVoucher rebuilds the escrow's voucher cell and checks the proxy's
// signature over it.
func checkVoucher(m network.Voucher, proxyKey []byte, workerID string) (earnings.Voucher, error) {
	if workerID != "" && m.WorkerID != workerID {
		return earnings.Voucher{}, fmt.Errorf("worker: voucher for worker %.16s, this is %.16s", m.WorkerID, workerID)
	}
	ev, err := escrowVoucher(m.Escrow, m.WorkerID, m.Payout, m.Network, m.Cumulative)
	if err != nil {
		return earnings.Voucher{}, err
	}
	if err := escrow.Verify(proxyKey, ev, m.Signature); err != nil {
		return earnings.Voucher{}, fmt.Errorf("worker: voucher: %w", err)
	}
	return earnings.Voucher{Escrow: m.Escrow, WorkerID: m.WorkerID, Payout: m.Payout, Cumulative: m.Cumulative,
		Signature: m.Signature, Network: m.Network, ClaimFee: m.ClaimFee, Earned: m.Earned, Held: m.Held}, nil
}

// ErrVoucherPayout: a voucher made out to another address than the
// owner's: a claim would pay someone else, so it is never stored.
var ErrVoucherPayout = errors.New("the voucher pays another address than yours")

// checkPayout refuses a voucher whose payout address is not the owner's
// (compared as addresses, whatever their form); with no address set, none
// is stored.
func checkPayout(m network.Voucher, owner string) error {
	n, err := ton.ParseNet(m.Network)
	if err != nil {
		return fmt.Errorf("worker: voucher network: %w", err)
	}
	want, err := ton.ParseAddress(owner, n)
	if err != nil {
		return fmt.Errorf("worker: voucher: %w: no valid payout address set (%w)", ErrVoucherPayout, err)
	}
	got, err := ton.ParseAddress(m.Payout, n)
	if err != nil || got.Raw != want.Raw {
		return fmt.Errorf("worker: voucher: %w: %s, yours is %s", ErrVoucherPayout, m.Payout, owner)
	}
	return nil
}

// escrowVoucher is the voucher cell's content from its text fields.
func escrowVoucher(escrowAddr, workerID, payout, netw string, cumulative int64) (escrow.Voucher, error) {
	n, err := ton.ParseNet(netw)
	if err != nil {
		return escrow.Voucher{}, fmt.Errorf("worker: voucher network: %w", err)
	}
	e, err := ton.ParseAddress(escrowAddr, n)
	if err != nil {
		return escrow.Voucher{}, fmt.Errorf("worker: voucher escrow: %w", err)
	}
	p, err := ton.ParseAddress(payout, n)
	if err != nil {
		return escrow.Voucher{}, fmt.Errorf("worker: voucher payout: %w", err)
	}
	id, err := hex.DecodeString(workerID)
	if err != nil || len(id) != 32 || cumulative < 0 {
		return escrow.Voucher{}, fmt.Errorf("worker: voucher: %w: worker id or total", escrow.ErrBadVoucher)
	}
	v := escrow.Voucher{Escrow: e.TON(), Payout: p.TON(), Cumulative: uint64(cumulative)}
	copy(v.WorkerID[:], id)
	return v, nil
}

// Claim ("Withdraw") claims the latest voucher from the escrow: it records
// the claim (pending) in the ledger, sends the claim message to TON itself
// — the proxy is not involved, so this works while it is offline or
// refuses — and confirms it once the escrow's paid total for this worker
// covers it. A retry sends the same message; the contract pays the
// difference once and the ledger shows it once. It returns the claim as
// recorded (pending when the chain has not shown the payment yet: the
// settlement loop keeps checking).
func (c *Core) Claim(ctx context.Context) (earnings.Claim, error) {
	l := c.led()
	if l == nil {
		return earnings.Claim{}, ErrNoLedger
	}
	chain := c.cfg.Settlement
	if chain == nil {
		return earnings.Claim{}, ErrNoSettlement
	}
	v, ok, err := l.LatestVoucher()
	if err != nil {
		return earnings.Claim{}, fmt.Errorf("worker: claim: %w", err)
	}
	if !ok || v.Cumulative == 0 {
		return earnings.Claim{}, fmt.Errorf("worker: claim: %w", earnings.ErrNoVoucher)
	}
	ev, err := escrowVoucher(v.Escrow, v.WorkerID, v.Payout, v.Network, v.Cumulative)
	if err != nil {
		return earnings.Claim{}, err
	}
	paid, err := escrow.PaidTotal(ctx, chain, ev.Escrow, ev.WorkerID)
	if err != nil {
		c.setSettleErr(err)
		return earnings.Claim{}, fmt.Errorf("worker: claim: %w", err)
	}
	if _, err := l.RecordPaid(v.Escrow, int64(paid), time.Time{}); err != nil {
		return earnings.Claim{}, fmt.Errorf("worker: claim: %w", err)
	}
	if int64(paid) >= v.Cumulative {
		return earnings.Claim{}, fmt.Errorf("worker: claim: %w", earnings.ErrNothingToClaim)
	}
	if v.Cumulative-int64(paid) <= v.ClaimFee {
		return earnings.Claim{}, fmt.Errorf("worker: claim: %w: %s TON claimable, fee %s TON", ErrClaimTooSmall,
			ton.Format(v.Cumulative-int64(paid)), ton.Format(v.ClaimFee))
	}
	msg, err := escrow.ClaimMessage(ev, v.Signature)
	if err != nil {
		return earnings.Claim{}, fmt.Errorf("worker: claim: %w", err)
	}
	cl, created, err := l.BeginClaim(earnings.Claim{Escrow: v.Escrow, Cumulative: v.Cumulative, Payout: v.Payout,
		Network: v.Network, Fee: v.ClaimFee, MsgHash: hex.EncodeToString(ton.ExternalMessageHash(msg))})
	if err != nil {
		return earnings.Claim{}, fmt.Errorf("worker: claim: %w", err)
	}
	if created {
		c.log.Info("claim recorded", "cumulative_nanoton", v.Cumulative, "paid_before_nanoton", paid, "msg_hash", cl.MsgHash)
		c.bus.Publish(EventEarnings, nil)
	}
	if h := c.claimHooks.afterRecord; h != nil && h() {
		return cl, nil
	}
	return c.sendClaim(ctx, cl)
}

// sendClaim sends a recorded claim's message (again) and checks the paid
// total. A refusal is not an error by itself: the claim may have run
// already (a re-send after a crash), which the paid total shows.
func (c *Core) sendClaim(ctx context.Context, cl earnings.Claim) (earnings.Claim, error) {
	chain := c.cfg.Settlement
	ev, err := escrowVoucher(cl.Escrow, c.voucherWorker(), cl.Payout, cl.Network, cl.Cumulative)
	if err != nil {
		return cl, err
	}
	v, ok, err := c.led().LatestVoucher()
	if err != nil || !ok {
		return cl, fmt.Errorf("worker: claim: the voucher is gone: %w", err)
	}
	sig := v.Signature
	if v.Cumulative != cl.Cumulative || v.Escrow != cl.Escrow || v.Payout != cl.Payout {
		// A newer voucher supersedes this claim: claiming it covers this
		// one (RecordPaid), which is never paid separately.
		if v.Escrow == cl.Escrow && v.Cumulative > cl.Cumulative {
			if _, err := c.Claim(ctx); err != nil && !errors.Is(err, earnings.ErrNothingToClaim) {
				return cl, err
			}
		}
		return c.checkClaim(ctx, cl)
	}
	msg, err := escrow.ClaimMessage(ev, sig)
	if err != nil {
		return cl, fmt.Errorf("worker: claim: %w", err)
	}
	if _, err := chain.SendExternal(ctx, msg); err != nil && !errors.Is(err, ton.ErrMessageRejected) {
		c.setSettleErr(err)
		return cl, fmt.Errorf("worker: send claim: %w", err)
	} else if err != nil {
		c.log.Info("claim refused by the escrow; checking what it paid", "err", err)
	} else {
		c.log.Info("claim sent", "cumulative_nanoton", cl.Cumulative, "msg_hash", cl.MsgHash)
	}
	if h := c.claimHooks.afterSend; h != nil && h() {
		return cl, nil
	}
	return c.checkClaim(ctx, cl)
}

// voucherWorker is the worker id vouchers are for (the ledger's).
func (c *Core) voucherWorker() string {
	if v, ok, err := c.led().LatestVoucher(); err == nil && ok {
		return v.WorkerID
	}
	return c.workerID()
}

// checkClaim reads the escrow's paid total for this worker and settles
// the claims it covers.
func (c *Core) checkClaim(ctx context.Context, cl earnings.Claim) (earnings.Claim, error) {
	l := c.led()
	ev, err := escrowVoucher(cl.Escrow, c.voucherWorker(), cl.Payout, cl.Network, cl.Cumulative)
	if err != nil {
		return cl, err
	}
	paid, err := escrow.PaidTotal(ctx, c.cfg.Settlement, ev.Escrow, ev.WorkerID)
	if err != nil {
		c.setSettleErr(err)
		return cl, fmt.Errorf("worker: check claim: %w", err)
	}
	changed, err := l.RecordPaid(cl.Escrow, int64(paid), time.Time{})
	if err != nil {
		return cl, fmt.Errorf("worker: check claim: %w", err)
	}
	c.setSettleErr(nil)
	for _, ch := range changed {
		if ch.State == earnings.ClaimConfirmed {
			c.log.Info("claim confirmed on chain", "cumulative_nanoton", ch.Cumulative, "amount_nanoton", ch.Amount, "received_nanoton", ch.Received())
		}
	}
	if len(changed) > 0 {
		c.bus.Publish(EventEarnings, nil)
	}
	// The claim as the ledger has it now: the settlement loop may have
	// settled it between our send and this read (changed is then empty).
	cs, err := l.Claims(0)
	if err != nil {
		return cl, fmt.Errorf("worker: check claim: %w", err)
	}
	for _, ch := range cs {
		if ch.Escrow == cl.Escrow && ch.Cumulative == cl.Cumulative {
			return ch, nil
		}
	}
	return cl, nil
}

// ResumeClaims re-sends every pending claim (the same message: the
// contract pays once) and settles what the chain shows paid: after a crash
// or a restart, and on every tick of the settlement loop.
func (c *Core) ResumeClaims(ctx context.Context) error {
	l := c.led()
	if l == nil || c.cfg.Settlement == nil {
		return nil
	}
	cs, err := l.Claims(0)
	if err != nil {
		return fmt.Errorf("worker: claims: %w", err)
	}
	var first error
	for i := len(cs) - 1; i >= 0; i-- { // oldest first
		if cs[i].State != earnings.ClaimPending {
			continue
		}
		if _, err := c.sendClaim(ctx, cs[i]); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// AutoClaimThreshold is the owner's automatic-claim threshold in nanoTON:
// the saved setting, else AutoClaimFeeMultiple × the escrow's claim fee;
// 0 when it is off (a negative setting) or no voucher says the fee yet.
func (c *Core) AutoClaimThreshold() int64 {
	s := c.Settings().AutoClaimNano
	switch {
	case s < 0:
		return 0
	case s > 0:
		return s
	}
	l := c.led()
	if l == nil {
		return 0
	}
	v, ok, err := l.LatestVoucher()
	if err != nil || !ok || v.ClaimFee <= 0 {
		return 0
	}
	return AutoClaimFeeMultiple * v.ClaimFee
}

// SetAutoClaim saves the automatic-claim threshold in nanoTON (0: the
// default of AutoClaimFeeMultiple fees; negative: off).
func (c *Core) SetAutoClaim(nano int64) error {
	if nano > 1_000_000_000_000_000 {
		return fmt.Errorf("worker: automatic claim: %w: %d nanoTON is out of range", ErrBadSetting, nano)
	}
	if nano < 0 {
		nano = -1
	}
	return c.updateSettings(func(st *Settings) error {
		st.AutoClaimNano = nano
		return nil
	})
}

// settleTick re-sends and checks pending claims, reads the escrow's state
// for the owner, and claims automatically past the threshold.
func (c *Core) settleTick(ctx context.Context) {
	if err := c.ResumeClaims(ctx); err != nil {
		c.log.Info("pending claims not settled yet", "err", err)
	}
	c.readEscrow(ctx)
	st, err := c.Settlement()
	if err != nil || st.Voucher == nil || st.AutoClaimAt <= 0 || st.Claimable < st.AutoClaimAt {
		return
	}
	if _, err := c.Claim(ctx); err != nil {
		c.log.Info("automatic claim not made", "err", err)
		return
	}
	c.log.Info("automatic claim made", "claimable_nanoton", st.Claimable, "threshold_nanoton", st.AutoClaimAt)
}

// readEscrow reads the escrow's state (balance, pending withdrawal) and
// this worker's paid total, for SettlementStatus.
func (c *Core) readEscrow(ctx context.Context) {
	l := c.led()
	if l == nil || c.cfg.Settlement == nil {
		return
	}
	v, ok, err := l.LatestVoucher()
	if err != nil || !ok {
		return
	}
	ev, err := escrowVoucher(v.Escrow, v.WorkerID, v.Payout, v.Network, v.Cumulative)
	if err != nil {
		return
	}
	s, err := escrow.ReadState(ctx, c.cfg.Settlement, ev.Escrow)
	if err != nil {
		c.setSettleErr(err)
		return
	}
	paid, err := escrow.PaidTotal(ctx, c.cfg.Settlement, ev.Escrow, ev.WorkerID)
	if err != nil {
		c.setSettleErr(err)
		return
	}
	if _, err := l.RecordPaid(v.Escrow, int64(paid), time.Time{}); err != nil {
		c.log.Warn("record the escrow's paid total", "err", err)
	}
	c.mu.Lock()
	c.escrowState = &s
	c.mu.Unlock()
	c.bus.Publish(EventEarnings, nil)
}

// Settlement is the money on chain: the latest voucher, what the escrow
// paid and what is claimable, the claims, and the escrow's state.
func (c *Core) Settlement() (SettlementStatus, error) {
	l := c.led()
	if l == nil {
		return SettlementStatus{}, ErrNoLedger
	}
	var st SettlementStatus
	var err error
	if st.Settlement, err = l.Settlement(); err != nil {
		return st, fmt.Errorf("worker: settlement: %w", err)
	}
	if st.Claims, err = l.Claims(20); err != nil {
		return st, fmt.Errorf("worker: settlement: %w", err)
	}
	st.AutoClaimAt = c.AutoClaimThreshold()
	c.mu.Lock()
	if c.escrowState != nil {
		s := *c.escrowState
		st.Escrow = &s
	}
	st.LastError = c.settleErr
	c.mu.Unlock()
	st.Owed = st.Claimable
	if st.Escrow != nil && st.Voucher != nil && st.Owed > 0 {
		need := uint64(st.Owed) + escrow.MinReserve // the fee comes out of what is owed
		st.Shortfall = st.Escrow.Balance < need
	}
	return st, nil
}

func (c *Core) setSettleErr(err error) {
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	c.mu.Lock()
	c.settleErr = msg
	c.mu.Unlock()
}

// kickSettle wakes the settlement loop (a new voucher may pass the
// automatic-claim threshold).
func (c *Core) kickSettle() {
	select {
	case c.settleKick <- struct{}{}:
	default:
	}
}

// settleLoop runs settleTick at start (recovery after a crash), every
// ClaimCheckInterval and on each new voucher, until ctx ends.
func (c *Core) settleLoop(ctx context.Context) {
	every := c.cfg.ClaimCheckInterval
	if every <= 0 {
		every = DefaultClaimCheckInterval
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		c.settleTick(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-c.settleKick:
		}
	}
}
