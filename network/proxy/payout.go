package proxy

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/ton"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"
	"github.com/xssnick/tonutils-go/tvm/cell"

	"github.com/cocoon-desktop/cocoon-desktop/network"
)

// Payout defaults.
const (
	DefaultMinPayout       = 100_000_000 // 0.1 TON
	DefaultPayoutFee       = 10_000_000  // 0.01 TON
	DefaultConfirmInterval = 5 * time.Second
	DefaultFailGrace       = time.Minute
)

// ReasonPayoutsDisabled is the rejection reason when Config.Payouts is nil.
const ReasonPayoutsDisabled = "payouts are not enabled on this proxy"

// ReasonPayoutFailed is the reason of a payout whose message expired unseen.
const ReasonPayoutFailed = "the transfer did not happen; the amount is available again"

// PayoutConfig turns on TON payouts (docs/design.md, "Money"): the proxy pays workers'
// owners from its wallet V5R1 on request.
type PayoutConfig struct {
	// Network is where payouts go; destinations for the other network are refused.
	Network ton.Net
	// Wallet is the proxy's hot wallet. When nil, WalletSeedFile is read
	// (a 24-word mnemonic in a file that only its owner may read, 0600).
	Wallet         *ton.PayoutWallet
	WalletSeedFile string
	// Chain reaches TON. When nil, New makes a LiteChain from LiteConfig
	// (a global config URL, file or inline JSON; "" → ton.org's for the
	// network), connecting on first use.
	Chain      ton.Chain
	LiteConfig string
	// MinPayout is the smallest amount a request may ask for (nanoTON).
	MinPayout int64
	// Fee is kept from each payout for the network fee (nanoTON); < MinPayout.
	Fee int64
	// ConfirmInterval is how often pending payouts are sent, re-sent and
	// looked for on chain.
	ConfirmInterval time.Duration
	// FailGrace is how long past a message's expiry the proxy keeps looking
	// for its transfer before declaring the payout failed (liteserver lag).
	FailGrace time.Duration
}

func (c *PayoutConfig) withDefaults() *PayoutConfig {
	if c == nil {
		return nil
	}
	d := *c
	if d.MinPayout == 0 {
		d.MinPayout = DefaultMinPayout
	}
	if d.Fee == 0 {
		d.Fee = DefaultPayoutFee
	}
	if d.ConfirmInterval == 0 {
		d.ConfirmInterval = DefaultConfirmInterval
	}
	if d.FailGrace == 0 {
		d.FailGrace = DefaultFailGrace
	}
	return &d
}

func (c *PayoutConfig) validate() error {
	bad := func(format string, args ...any) error { return fmt.Errorf("proxy config: payouts: "+format, args...) }
	if c.Network != ton.Mainnet && c.Network != ton.Testnet {
		return bad("unknown network %d", c.Network)
	}
	if c.Wallet == nil && c.WalletSeedFile == "" {
		return bad("wallet_seed_file is required")
	}
	if c.Wallet != nil && c.Wallet.Net() != c.Network {
		return bad("the wallet signs for %s, payouts are on %s", c.Wallet.Net(), c.Network)
	}
	if c.MinPayout <= 0 {
		return bad("min_payout must be positive")
	}
	if c.Fee < 0 || c.Fee >= c.MinPayout {
		return bad("payout_fee %d must be in 0..min_payout (%d)", c.Fee, c.MinPayout)
	}
	if c.ConfirmInterval < time.Millisecond || c.ConfirmInterval > time.Hour {
		return bad("confirm_interval %v out of range 1ms..1h", c.ConfirmInterval)
	}
	if c.FailGrace < 0 {
		return bad("fail_grace must not be negative")
	}
	return nil
}

// readSeedFile reads a wallet mnemonic, refusing a file others may read.
func readSeedFile(path string, tonNet ton.Net) (*ton.PayoutWallet, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("proxy: payouts: wallet_seed_file: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("proxy: payouts: wallet_seed_file %s is readable by others (mode %v); chmod 600 it", path, fi.Mode().Perm())
	}
	b, err := readLimitedFile(path, 4096)
	if err != nil {
		return nil, fmt.Errorf("proxy: payouts: wallet_seed_file: %w", err)
	}
	w, err := ton.NewPayoutWalletFromSeed(string(b), tonNet)
	if err != nil {
		return nil, fmt.Errorf("proxy: payouts: %w", err)
	}
	return w, nil
}

func readLimitedFile(path string, n int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readLimited(f, n)
}

// lazyChain connects a LiteChain on first use, retrying on later calls
// while the network is unreachable.
type lazyChain struct {
	config string
	tonNet ton.Net
	mu     sync.Mutex
	c      *ton.LiteChain
}

func (l *lazyChain) get(ctx context.Context) (*ton.LiteChain, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.c != nil {
		return l.c, nil
	}
	c, err := ton.NewLiteChain(ctx, l.config, l.tonNet)
	if err != nil {
		if !errors.Is(err, ton.ErrChainUnreachable) {
			err = fmt.Errorf("%w: %w", ton.ErrChainUnreachable, err)
		}
		return nil, err
	}
	l.c = c
	return c, nil
}

func (l *lazyChain) Seqno(ctx context.Context, w *address.Address) (uint32, error) {
	c, err := l.get(ctx)
	if err != nil {
		return 0, err
	}
	return c.Seqno(ctx, w)
}

func (l *lazyChain) SendExternal(ctx context.Context, m *tlb.ExternalMessage) ([]byte, error) {
	c, err := l.get(ctx)
	if err != nil {
		return nil, err
	}
	return c.SendExternal(ctx, m)
}

func (l *lazyChain) FindTransfer(ctx context.Context, from, to *address.Address, comment string, since time.Time) (ton.Transfer, bool, error) {
	c, err := l.get(ctx)
	if err != nil {
		return ton.Transfer{}, false, err
	}
	return c.FindTransfer(ctx, from, to, comment, since)
}

// payoutHooks are test kill points; a hook's error stops the payout code
// at once, as if the process died there (see errHalted).
type payoutHooks struct {
	BeforePersist func(id string) error // accepted and message built, not persisted
	BeforeSend    func(id string) error // message persisted, not sent
	AfterSend     func(id string) error // chain took the message, not marked sent
	AfterTick     func()                // the loop went over every pending payout once
}

// errHalted: payout processing stopped by a hook (a simulated crash).
var errHalted = errors.New("proxy: payout processing halted")

// payouts is the proxy's payout machinery (nil when payouts are off).
type payouts struct {
	p      *Proxy
	cfg    *PayoutConfig
	wallet *ton.PayoutWallet
	chain  ton.Chain
	log    *slog.Logger
	hooks  payoutHooks

	sendMu sync.Mutex // one chain send at a time: seqnos must not collide
	halted sync.Once
	dead   chan struct{} // closed by a hook's error
}

func newPayouts(p *Proxy, cfg *PayoutConfig) (*payouts, error) {
	po := &payouts{p: p, cfg: cfg, wallet: cfg.Wallet, chain: cfg.Chain, log: p.log.With("part", "payouts"), dead: make(chan struct{})}
	if po.wallet == nil {
		w, err := readSeedFile(cfg.WalletSeedFile, cfg.Network)
		if err != nil {
			return nil, err
		}
		po.wallet = w
	}
	if po.chain == nil {
		lc := cfg.LiteConfig
		if lc == "" {
			lc = ton.MainnetConfigURL
			if cfg.Network == ton.Testnet {
				lc = ton.TestnetConfigURL
			}
		}
		po.chain = &lazyChain{config: lc, tonNet: cfg.Network}
	}
	return po, nil
}

func (po *payouts) isDead() bool {
	select {
	case <-po.dead:
		return true
	default:
		return false
	}
}

func (po *payouts) hook(h func(string) error, id string) error {
	if po.isDead() {
		return errHalted
	}
	if h == nil {
		return nil
	}
	if err := h(id); err != nil {
		po.halted.Do(func() { close(po.dead) })
		return fmt.Errorf("%w: %w", errHalted, err)
	}
	return nil
}

// balance is the worker's balance with the proxy's payout settings.
func (p *Proxy) balance(ctx context.Context, workerID string) (network.Balance, error) {
	b, err := p.trustBalance(ctx, workerID) // with the standing (trust.go)
	if err != nil {
		b = network.Balance{} // still a valid message
	}
	return p.withSettings(b), err
}

// withSettings adds the proxy's payout settings and prices to a balance.
func (p *Proxy) withSettings(b network.Balance) network.Balance {
	b.Network = ton.Mainnet.String()
	b.CommissionBPS = p.cfg.CommissionBPS
	for _, m := range p.cfg.ModelNames() {
		pr := p.cfg.Models[m]
		b.Prices = append(b.Prices, network.ModelPrice{Model: m, PricePrompt: pr.PricePrompt, PriceCompletion: pr.PriceCompletion})
	}
	if po := p.payouts; po != nil {
		b.MinPayout, b.PayoutFee, b.Network, b.Payouts = po.cfg.MinPayout, po.cfg.Fee, po.cfg.Network.String(), true
	}
	return b
}

func (p *Proxy) statusOf(ctx context.Context, r PayoutRecord) network.PayoutStatus {
	st := network.PayoutStatus{
		PayoutID: r.ID, State: r.State, Amount: r.Amount, Fee: r.Fee, Destination: r.DestinationInput,
		MsgHash: r.MsgHash, TxHash: r.TxHash, Reason: truncateStr(r.Reason, network.MaxReasonLength-4),
	}
	if r.State == network.PayoutAccepted {
		st.MsgHash = "" // the hash is reported once the chain took the message
	}
	b, err := p.balance(ctx, r.WorkerID)
	if err != nil {
		p.log.Error("payout status: store balance", "err", err)
	}
	st.Balance = b
	return st
}

// notifyPayout sends a payout's status to its worker if it is connected.
func (p *Proxy) notifyPayout(ctx context.Context, r PayoutRecord) {
	p.mu.Lock()
	w := p.workers[r.WorkerID]
	p.mu.Unlock()
	if w == nil {
		return
	}
	st := p.statusOf(ctx, r)
	if err := w.send(network.TypePayoutStatus, &st); err != nil {
		w.log.Debug("send payout status", "payout", r.ID, "err", err)
	}
}

// handlePayoutRequest runs one payout_request on its own goroutine: checks,
// debit, status to the worker, then the send.
func (w *workerConn) handlePayoutRequest(req network.PayoutRequest) {
	p := w.p
	ctx := p.baseCtx
	reply := func(st network.PayoutStatus) {
		if err := w.send(network.TypePayoutStatus, &st); err != nil {
			w.log.Debug("send payout status", "payout", st.PayoutID, "err", err)
		}
	}
	reject := func(reason string) {
		b, err := p.balance(ctx, w.id)
		if err != nil {
			w.log.Error("payout: store balance", "err", err)
		}
		w.log.Info("payout rejected", "payout", req.PayoutID, "amount", req.Amount, "reason", reason)
		reply(network.PayoutStatus{PayoutID: req.PayoutID, State: network.PayoutRejected, Amount: req.Amount,
			Destination: truncateStr(req.Destination, 120), Reason: truncateStr(reason, network.MaxReasonLength-4), Balance: b})
	}
	po := p.payouts
	if p.vouchers != nil {
		reject(ReasonPaysByEscrow) // escrow.go
		return
	}
	if po == nil {
		reject(ReasonPayoutsDisabled)
		return
	}
	pub, err := hex.DecodeString(w.id)
	if err != nil {
		reject("worker id is not a key")
		return
	}
	if err := req.VerifyPayout(pub); err != nil {
		reject("the payout request's signature does not verify with this worker's key")
		return
	}
	if known, ok, err := p.store.Payout(ctx, req.PayoutID); err == nil && ok && known.WorkerID == w.id &&
		known.Amount == req.Amount && known.DestinationInput == req.Destination {
		// A resend of a payout this proxy already took (from a worker whose
		// clock may be off) only gets its status, never a rejection that
		// would mark a paid payout failed in the worker's ledger.
		reply(p.statusOf(ctx, known))
		return
	}
	if err := req.CheckFor(p.pub, time.Now()); err != nil {
		reject(err.Error())
		return
	}
	dest, err := ton.ParseAddress(req.Destination, po.cfg.Network)
	if err != nil {
		reject(err.Error())
		return
	}
	if req.Amount < po.cfg.MinPayout {
		reject(fmt.Sprintf("amount %d nanoTON is under the minimum payout of %d", req.Amount, po.cfg.MinPayout))
		return
	}
	if req.Amount <= po.cfg.Fee {
		reject(fmt.Sprintf("amount %d nanoTON does not cover the payout fee of %d", req.Amount, po.cfg.Fee))
		return
	}
	rec, created, err := p.store.BeginPayout(ctx, PayoutRecord{
		ID: req.PayoutID, WorkerID: w.id, Amount: req.Amount, Fee: po.cfg.Fee,
		Destination: dest.Raw, DestinationInput: req.Destination, Requested: req.Created,
	})
	switch {
	case errors.Is(err, ErrInsufficientBalance):
		reject(err.Error())
		return
	case errors.Is(err, ErrPayoutConflict):
		reject("payout id " + req.PayoutID + " is already used for another payout")
		return
	case err != nil:
		w.log.Error("payout: store", "err", err)
		reject("proxy store unavailable")
		return
	}
	reply(p.statusOf(ctx, rec)) // a replay (created false) only gets the current status
	if !created {
		return
	}
	w.log.Info("payout accepted", "payout", rec.ID, "amount", rec.Amount, "destination", dest.Short())
	if err := po.advance(ctx, rec.ID); err != nil && !errors.Is(err, errHalted) {
		w.log.Warn("payout not finished yet; the payout loop retries", "payout", rec.ID, "err", err)
	}
}

// loadMessage decodes a stored external message.
func loadMessage(boc []byte) (*tlb.ExternalMessage, error) {
	c, err := cell.FromBOC(boc)
	if err != nil {
		return nil, err
	}
	var m tlb.ExternalMessage
	if err := tlb.LoadFromCell(&m, c.BeginParse()); err != nil {
		return nil, err
	}
	return &m, nil
}

// advance moves one payout as far as it goes now: send (or re-send) its
// message, then look for the transfer on chain. Errors leave the state for
// the next tick of the loop.
func (po *payouts) advance(ctx context.Context, id string) error {
	if err := po.send(ctx, id); err != nil {
		return err
	}
	return po.confirm(ctx, id)
}

// send makes sure the payout's message exists (persisted before it first
// leaves) and has reached the chain. All of it runs under sendMu, so two
// messages never take the same seqno.
func (po *payouts) send(ctx context.Context, id string) error {
	po.sendMu.Lock()
	defer po.sendMu.Unlock()
	if po.isDead() {
		return errHalted
	}
	p := po.p
	r, ok, err := p.store.Payout(ctx, id)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: %s", ErrPayoutNotFound, id)
	}
	if r.State != network.PayoutAccepted {
		return nil // sent already, or final
	}
	if len(r.MessageBOC) != 0 && time.Now().After(r.ValidUntil) {
		return nil // expired: it can only have executed already; confirm decides
	}
	if len(r.MessageBOC) == 0 {
		// A persisted message of another payout that never went out holds
		// the wallet's next seqno: let it go first (after a crash).
		if err := po.flushUnsent(ctx, id); err != nil {
			return err
		}
		dest, err := ton.ParseAddress(r.DestinationInput, po.cfg.Network)
		if err != nil {
			return err // cannot happen: it parsed when accepted
		}
		seqno, err := po.chain.Seqno(ctx, po.wallet.TONAddress())
		if err != nil {
			return err
		}
		ext, err := po.wallet.BuildTransfer(ctx, ton.FixedSeqno(seqno), dest, uint64(r.Amount-r.Fee), ton.PayoutComment(id))
		if err != nil {
			return err
		}
		validUntil := time.Now().Add(po.ttl())
		c, err := tlb.ToCell(ext)
		if err != nil {
			return fmt.Errorf("payout %s: serialize message: %w", id, err)
		}
		if err := po.hook(po.hooks.BeforePersist, id); err != nil {
			return err
		}
		if r, err = p.store.SetPayoutMessage(ctx, id, seqno, c.ToBOC(), ton.ExternalMessageHash(ext), validUntil); err != nil {
			return err
		}
		if err := po.hook(po.hooks.BeforeSend, id); err != nil {
			return err
		}
	}
	return po.sendStored(ctx, r)
}

func (po *payouts) ttl() time.Duration {
	if po.wallet.TTL > 0 {
		return po.wallet.TTL
	}
	return 3 * time.Minute
}

// sendStored sends the payout's persisted message (sendMu held). A message
// the contract refuses may have executed before (a re-send after a crash):
// the state stays accepted and confirm looks for the transfer.
func (po *payouts) sendStored(ctx context.Context, r PayoutRecord) error {
	ext, err := loadMessage(r.MessageBOC)
	if err != nil {
		return fmt.Errorf("payout %s: stored message: %w", r.ID, err)
	}
	_, err = po.chain.SendExternal(ctx, ext)
	if errors.Is(err, ton.ErrMessageRejected) {
		po.log.Info("payout message refused by the wallet (already executed, or superseded); looking for the transfer", "payout", r.ID, "seqno", r.Seqno, "err", err)
		return nil
	}
	if err != nil {
		return err
	}
	if err := po.hook(po.hooks.AfterSend, r.ID); err != nil {
		return err
	}
	r2, changed, err := po.p.store.MarkPayoutSent(ctx, r.ID)
	if err != nil {
		return err
	}
	if changed {
		po.log.Info("payout sent", "payout", r.ID, "seqno", r.Seqno, "msg_hash", r.MsgHash)
		po.p.notifyPayout(ctx, r2)
	}
	return nil
}

// flushUnsent re-sends other accepted payouts' persisted, unexpired
// messages (sendMu held).
func (po *payouts) flushUnsent(ctx context.Context, except string) error {
	pend, err := po.p.store.PendingPayouts(ctx)
	if err != nil {
		return err
	}
	now := time.Now()
	for _, r := range pend {
		if r.ID == except || r.State != network.PayoutAccepted || len(r.MessageBOC) == 0 || now.After(r.ValidUntil) {
			continue
		}
		if err := po.sendStored(ctx, r); err != nil {
			return err
		}
	}
	return nil
}

// confirm looks for a payout's transfer on chain: found → confirmed; its
// message expired (plus FailGrace) and nothing found → failed. A chain
// error changes nothing.
func (po *payouts) confirm(ctx context.Context, id string) error {
	p := po.p
	r, ok, err := p.store.Payout(ctx, id)
	if err != nil || !ok || r.Final() || len(r.MessageBOC) == 0 {
		return err
	}
	dest, err := ton.ParseAddress(r.DestinationInput, po.cfg.Network)
	if err != nil {
		return err
	}
	// Checked before the look-up: a transfer that lands after this
	// instant is still found by this look-up, so failing below is safe.
	expired := time.Now().After(r.ValidUntil.Add(po.cfg.FailGrace))
	t, found, err := po.chain.FindTransfer(ctx, po.wallet.TONAddress(), dest.TON(), ton.PayoutComment(id), r.Created.Add(-time.Second))
	if err != nil {
		return err
	}
	if po.isDead() {
		return errHalted
	}
	var r2 PayoutRecord
	var changed bool
	switch {
	case found && !t.Aborted:
		if t.Amount != uint64(r.Amount-r.Fee) {
			po.log.Error("payout transfer amount differs", "payout", id, "want", r.Amount-r.Fee, "got", t.Amount)
		}
		r2, changed, err = p.store.MarkPayoutConfirmed(ctx, id, hex.EncodeToString(t.TxHash))
		if changed {
			po.log.Info("payout confirmed", "payout", id, "tx_hash", r2.TxHash)
		}
	case found && t.Aborted, expired:
		reason := ReasonPayoutFailed
		if found {
			reason = "the wallet's transaction was aborted; " + ReasonPayoutFailed
		}
		r2, changed, err = p.store.MarkPayoutFailed(ctx, id, reason)
		if changed {
			po.log.Warn("payout failed", "payout", id, "reason", reason)
		}
	default:
		return nil
	}
	if err != nil {
		return err
	}
	if changed {
		p.notifyPayout(ctx, r2)
	}
	return nil
}

// loop advances every pending payout each ConfirmInterval (and once at
// start: recovery after a crash) until ctx ends.
func (po *payouts) loop(ctx context.Context) {
	t := time.NewTicker(po.cfg.ConfirmInterval)
	defer t.Stop()
	for {
		po.tick(ctx)
		if po.hooks.AfterTick != nil {
			po.hooks.AfterTick()
		}
		select {
		case <-ctx.Done():
			return
		case <-po.dead:
			return
		case <-t.C:
		}
	}
}

func (po *payouts) tick(ctx context.Context) {
	pend, err := po.p.store.PendingPayouts(ctx)
	if err != nil {
		po.log.Error("pending payouts", "err", err)
		return
	}
	for _, r := range pend {
		if ctx.Err() != nil || po.isDead() {
			return
		}
		if time.Since(r.Created) < po.cfg.ConfirmInterval {
			continue // just accepted: its request goroutine is on it (keeps statuses in order)
		}
		if err := po.advance(ctx, r.ID); err != nil && !errors.Is(err, errHalted) && ctx.Err() == nil {
			lvl := slog.LevelWarn
			if errors.Is(err, ton.ErrChainUnreachable) {
				lvl = slog.LevelInfo
			}
			po.log.Log(ctx, lvl, "payout pending; retrying", "payout", r.ID, "state", r.State, "err", err)
		}
	}
}
