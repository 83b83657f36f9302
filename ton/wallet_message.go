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

// BuildMessage signs an external message that makes the wallet send
// amount nanoTON to `to` with body (nil: empty) and, when init is set, the
// state init that deploys the destination: what an operator sends to a
// contract (docs/settlement.md: deploying the escrow, announcing a
// withdrawal). The seqno comes from seqnos, as in BuildTransfer.
func (p *PayoutWallet) BuildMessage(ctx context.Context, seqnos SeqnoSource, to *address.Address, amount uint64, bounce bool, body *cell.Cell, init *tlb.StateInit) (*tlb.ExternalMessage, error) {
	if to == nil {
		return nil, errors.New("wallet message: no destination")
	}
	if seqnos == nil {
		return nil, errors.New("wallet message: no seqno source")
	}
	seqno, err := seqnos.Seqno(ctx, p.TONAddress())
	if err != nil {
		return nil, fmt.Errorf("wallet message: seqno: %w", err)
	}
	if body == nil {
		body = cell.BeginCell().EndCell()
	}
	msg := &wallet.Message{Mode: wallet.PayGasSeparately + wallet.IgnoreErrors, InternalMessage: &tlb.InternalMessage{
		IHRDisabled: true, Bounce: bounce, DstAddr: to, Amount: tlb.FromNanoTONU(amount), Body: body, StateInit: init,
	}}
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
		return nil, fmt.Errorf("wallet message: sign: %w", err)
	}
	return ext, nil
}
