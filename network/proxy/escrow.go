package proxy

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/xssnick/tonutils-go/address"

	"github.com/cocoon-desktop/cocoon-desktop/network"
	"github.com/cocoon-desktop/cocoon-desktop/ton"
	"github.com/cocoon-desktop/cocoon-desktop/ton/escrow"
)

// Escrow defaults (docs/settlement.md).
const (
	DefaultWithdrawDelay = escrow.DefaultWithdrawDelay
	DefaultClaimFee      = escrow.DefaultClaimFee // nanoTON kept by the escrow per claim for its gas
)

// EscrowConfig names the proxy's escrow contract: workers' owners claim
// what the proxy signed from it (vouchers), without the proxy. Either
// Address is given, or it is derived from the deploy parameters (the
// proxy's key, Operator, WithdrawDelay, ClaimFee); with both, they must
// agree.
type EscrowConfig struct {
	Network ton.Net
	Address string // the escrow contract's address; "": derived
	// Operator is the operator's wallet address (it announces and executes
	// withdrawals; `cocoon-proxy escrow` sends from it).
	Operator      string
	WithdrawDelay time.Duration // default 7 days
	ClaimFee      int64         // nanoTON, default 0.01 TON
	// OperatorSeedFile is the operator wallet's 24-word mnemonic (0600),
	// read only by `cocoon-proxy escrow deploy|withdraw`.
	OperatorSeedFile string
	// LiteConfig is the TON global config (URL, file or JSON) the CLI
	// reaches the chain with; "": ton.org's for the network.
	LiteConfig string
}

// fileEscrowConfig is the JSON form of EscrowConfig.
type fileEscrowConfig struct {
	Network          string  `json:"network"`
	Address          string  `json:"address"`
	Operator         string  `json:"operator"`
	WithdrawDelay    *string `json:"withdraw_delay"`
	ClaimFee         *int64  `json:"claim_fee"`
	OperatorSeedFile string  `json:"operator_seed_file"`
	LiteConfig       string  `json:"lite_config"`
}

func parseEscrowConfig(fe *fileEscrowConfig) (*EscrowConfig, error) {
	if fe == nil {
		return nil, nil
	}
	netw, err := ton.ParseNet(fe.Network)
	if err != nil {
		return nil, fmt.Errorf("proxy config: escrow: network: %w", err)
	}
	ec := &EscrowConfig{Network: netw, Address: fe.Address, Operator: fe.Operator,
		OperatorSeedFile: fe.OperatorSeedFile, LiteConfig: fe.LiteConfig}
	if fe.WithdrawDelay != nil {
		d, err := time.ParseDuration(*fe.WithdrawDelay)
		if err != nil {
			return nil, fmt.Errorf("proxy config: escrow: withdraw_delay: %q is not a duration like \"168h\"", truncateStr(*fe.WithdrawDelay, 32))
		}
		ec.WithdrawDelay = d
	}
	if fe.ClaimFee != nil {
		ec.ClaimFee = *fe.ClaimFee
	}
	return ec, nil
}

func (c *EscrowConfig) withDefaults() *EscrowConfig {
	if c == nil {
		return nil
	}
	d := *c
	if d.WithdrawDelay == 0 {
		d.WithdrawDelay = DefaultWithdrawDelay
	}
	if d.ClaimFee == 0 {
		d.ClaimFee = DefaultClaimFee
	}
	return &d
}

func (c *EscrowConfig) validate() error {
	bad := func(format string, args ...any) error { return fmt.Errorf("proxy config: escrow: "+format, args...) }
	if c.Network != ton.Mainnet && c.Network != ton.Testnet {
		return bad("unknown network %d", c.Network)
	}
	if c.Address == "" && c.Operator == "" {
		return bad("address (or operator, to derive it) is required")
	}
	if c.Address != "" {
		if _, err := ton.ParseAddress(c.Address, c.Network); err != nil {
			return bad("address: %w", err)
		}
	}
	if c.Operator != "" {
		if _, err := ton.ParseAddress(c.Operator, c.Network); err != nil {
			return bad("operator: %w", err)
		}
	}
	if c.WithdrawDelay < time.Minute || c.WithdrawDelay > escrow.MaxWithdrawDelay {
		return bad("withdraw_delay %v out of range 1m..%v", c.WithdrawDelay, escrow.MaxWithdrawDelay)
	}
	if c.ClaimFee <= 0 || c.ClaimFee > 1_000_000_000 {
		return bad("claim_fee %d out of range 1..1000000000 nanoTON", c.ClaimFee)
	}
	return nil
}

// Params are the escrow's deploy parameters for the proxy key pub (the
// operator must be set).
func (c *EscrowConfig) Params(pub []byte) (escrow.Params, error) {
	op, err := ton.ParseAddress(c.Operator, c.Network)
	if err != nil {
		return escrow.Params{}, fmt.Errorf("proxy: escrow operator: %w", err)
	}
	return escrow.Params{ProxyKey: pub, Operator: op.TON(), WithdrawDelay: c.WithdrawDelay, ClaimFee: uint64(c.ClaimFee)}, nil
}

// ResolveAddress is the escrow's address: Address, or derived from the
// params; with both, a mismatch is an error (a wrong key or parameter
// would make every voucher unclaimable).
func (c *EscrowConfig) ResolveAddress(pub []byte) (*address.Address, error) {
	var derived *address.Address
	if c.Operator != "" {
		p, err := c.Params(pub)
		if err != nil {
			return nil, err
		}
		if derived, err = escrow.AddressOf(p, c.Network == ton.Testnet); err != nil {
			return nil, fmt.Errorf("proxy: escrow address: %w", err)
		}
	}
	if c.Address == "" {
		return derived, nil
	}
	a, err := ton.ParseAddress(c.Address, c.Network)
	if err != nil {
		return nil, fmt.Errorf("proxy: escrow address: %w", err)
	}
	if derived != nil && !derived.Equals(a.TON()) {
		return nil, fmt.Errorf("proxy: escrow address %s is not the one its parameters give (%s): check operator, withdraw_delay, claim_fee and the proxy key",
			c.Address, derived.String())
	}
	return a.TON(), nil
}

// ReasonPaysByEscrow is the refusal of a payout_request (the push path) by
// a proxy with an escrow: the owner claims on chain instead.
const ReasonPaysByEscrow = "this proxy pays through its escrow contract: update Cocoon Desktop and use Withdraw, which claims on chain"

// ErrNoEscrow: the proxy has no escrow contract configured.
var ErrNoEscrow = errors.New("proxy: no escrow contract configured")

// vouchers signs workers' vouchers for the proxy's escrow.
type vouchers struct {
	cfg    *EscrowConfig
	escrow *address.Address
}

func newVouchers(cfg *EscrowConfig, pub []byte) (*vouchers, error) {
	a, err := cfg.ResolveAddress(pub)
	if err != nil {
		return nil, err
	}
	return &vouchers{cfg: cfg, escrow: a}, nil
}

// payoutOf is the address w's vouchers are made out to: its latest
// voucher_request's, else its registration's.
func (p *Proxy) payoutOf(w *workerConn) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return w.reg.PayoutAddress
}

// Voucher signs the latest voucher of a worker, made out to payoutAddr.
// Its total is the receipts' cumulative less what the trust record holds
// (a new identity's credits in their hold period; while quarantined, all
// that was not in a voucher yet), never less than a total signed before,
// which the store records first (so `escrow status` knows what is owed).
// A total of 0 is signed too: it tells the owner what is held.
func (p *Proxy) Voucher(ctx context.Context, workerID, payoutAddr string) (network.Voucher, error) {
	v := p.vouchers
	if v == nil {
		return network.Voucher{}, ErrNoEscrow
	}
	payout, err := ton.ParseAddress(payoutAddr, v.cfg.Network)
	if err != nil {
		return network.Voucher{}, fmt.Errorf("proxy: voucher: payout address: %w", err)
	}
	pub, err := hex.DecodeString(workerID)
	if err != nil || len(pub) != 32 {
		return network.Voucher{}, fmt.Errorf("proxy: voucher: worker id %q is not a key", truncateStr(workerID, 16))
	}
	b, err := p.trustBalance(ctx, workerID)
	if err != nil {
		return network.Voucher{}, fmt.Errorf("proxy: voucher: %w", err)
	}
	// What earlier versions pushed from the hot wallet is not owed again.
	// Paid no longer changes (the push path is gone), so the total still
	// only grows.
	pushed := min(b.Paid, b.Cumulative)
	total := b.Cumulative - pushed
	if st := b.Standing; st != nil {
		if st.Level == network.TrustQuarantined {
			total = 0 // frozen at what was signed before (below)
		} else {
			total -= min(st.Held, total)
		}
	}
	total, err = p.store.RecordVouched(ctx, workerID, total)
	if err != nil {
		return network.Voucher{}, fmt.Errorf("proxy: voucher: %w", err)
	}
	ev := escrow.Voucher{Escrow: v.escrow, Payout: payout.TON(), Cumulative: uint64(total)}
	copy(ev.WorkerID[:], pub)
	sig, err := escrow.Sign(p.key, ev)
	if err != nil {
		return network.Voucher{}, fmt.Errorf("proxy: sign voucher: %w", err)
	}
	return network.Voucher{
		Escrow: v.escrow.String(), WorkerID: workerID, Payout: payoutAddr, Cumulative: total, Signature: sig,
		Earned: b.Cumulative, Held: max(b.Cumulative-pushed-total, 0), Network: v.cfg.Network.String(), ClaimFee: v.cfg.ClaimFee,
	}, nil
}

// sendVoucher sends w its latest voucher (after a receipt, a register, a
// change of standing). Without an escrow or a payout address it does
// nothing; a failure is logged: the next one carries the same total or more.
func (p *Proxy) sendVoucher(w *workerConn) {
	if p.vouchers == nil {
		return
	}
	addr := p.payoutOf(w)
	if addr == "" {
		return
	}
	vm, err := p.Voucher(context.Background(), w.id, addr)
	if err != nil {
		w.log.Warn("voucher not signed", "err", err)
		return
	}
	if err := w.send(network.TypeVoucher, &vm); err != nil {
		w.log.Debug("send voucher", "err", err)
	}
}

// handleVoucherRequest answers a voucher_request: the latest voucher made
// out to the requested address (remembered for this worker's later
// vouchers), or an error saying why there is none.
func (w *workerConn) handleVoucherRequest(env network.Envelope, req network.VoucherRequest) error {
	p := w.p
	if p.vouchers == nil {
		return &network.ProtocolError{Code: network.CodeNoEscrow, Ref: env.ID, Message: "this proxy has no escrow contract"}
	}
	if _, err := ton.ParseAddress(req.PayoutAddress, p.vouchers.cfg.Network); err != nil {
		return &network.ProtocolError{Code: network.CodeBadMessage, Ref: env.ID, Message: "payout_address: " + err.Error()}
	}
	p.mu.Lock()
	w.reg.PayoutAddress = req.PayoutAddress // this connection's later vouchers too
	p.mu.Unlock()
	if err := p.store.TouchWorker(context.Background(), w.id, req.PayoutAddress, time.Now()); err != nil {
		w.log.Error("store worker", "err", err)
	}
	vm, err := p.Voucher(context.Background(), w.id, req.PayoutAddress)
	if err != nil {
		w.log.Error("voucher", "err", err)
		return &network.ProtocolError{Code: network.CodeInternal, Ref: env.ID, Message: "the voucher could not be signed now"}
	}
	return w.send(network.TypeVoucher, &vm)
}
