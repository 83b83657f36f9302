package ton

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"
	"github.com/xssnick/tonutils-go/ton/wallet"
	"github.com/xssnick/tonutils-go/tvm/cell"
)

// ContractMessage is one internal message a wallet sends to a contract:
// a body (an operation), an optional state init (to deploy it), and value.
type ContractMessage struct {
	To        *address.Address
	Amount    uint64 // nanoTON
	Bounce    bool   // true for a deployed contract, so a refusal returns the value
	Body      *cell.Cell
	StateInit *tlb.StateInit // deploys the contract at To
}

// BuildContractMessage signs an external message that makes the wallet
// send m: how the proxy's operator wallet deploys its escrow and sends the
// escrow's operator messages (ton/escrow). Seqno, state init and TTL work
// as in BuildTransfer.
func (p *PayoutWallet) BuildContractMessage(ctx context.Context, seqnos SeqnoSource, m ContractMessage) (*tlb.ExternalMessage, error) {
	if m.To == nil || m.To.Type() != address.StdAddress {
		return nil, errors.New("contract message: destination is not a standard address")
	}
	if m.Amount == 0 {
		return nil, ErrPayoutAmount
	}
	if seqnos == nil {
		return nil, errors.New("contract message: no seqno source")
	}
	seqno, err := seqnos.Seqno(ctx, p.TONAddress())
	if err != nil {
		return nil, fmt.Errorf("contract message: wallet seqno: %w", err)
	}
	msg := &wallet.Message{
		// Wallet V5R1 refuses external-signed sends without IGNORE_ERRORS
		// (exit 137): a send it cannot make is skipped, so callers check
		// the destination's transaction, not only that the wallet accepted.
		Mode: wallet.PayGasSeparately + wallet.IgnoreErrors,
		InternalMessage: &tlb.InternalMessage{
			IHRDisabled: true,
			Bounce:      m.Bounce,
			DstAddr:     m.To,
			Amount:      tlb.FromNanoTONU(m.Amount),
			Body:        m.Body,
			StateInit:   m.StateInit,
		},
	}
	if msg.InternalMessage.Body == nil {
		msg.InternalMessage.Body = cell.BeginCell().EndCell()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.spec.SetSeqnoFetcher(func(context.Context, uint32) (uint32, error) { return seqno, nil })
	ttl := p.TTL
	if ttl <= 0 {
		ttl = 3 * time.Minute
	}
	p.spec.SetMessagesTTL(uint32(ttl / time.Second))
	ext, err := p.w.PrepareExternalMessageForMany(ctx, seqno == 0, []*wallet.Message{msg})
	if err != nil {
		return nil, fmt.Errorf("contract message: sign: %w", err)
	}
	return ext, nil
}
