package ton

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"
)

// Chain is everything the payout code needs from the TON network, kept at
// the liteserver boundary so it can be faked (or run against the real wallet
// contract in internal/tonsandbox) in tests. LiteChain is the real one.
//
// Every method must return within a bounded time: implementations apply
// DefaultChainTimeout when ctx has no earlier deadline, and report a network
// that does not answer as ErrChainUnreachable.
type Chain interface {
	// Seqno is the wallet contract's current seqno; 0 for a wallet that is
	// not deployed yet.
	Seqno(ctx context.Context, wallet *address.Address) (uint32, error)
	// SendExternal delivers a signed external message to its destination
	// wallet and returns the message's normalized hash (TEP-467, what
	// explorers index external messages by; see ExternalMessageHash). A
	// message the contract refuses to accept (wrong seqno, signature,
	// expired) is an error matching ErrMessageRejected where the chain can
	// tell.
	SendExternal(ctx context.Context, msg *tlb.ExternalMessage) (msgHash []byte, err error)
	// FindTransfer looks through the sender's transactions since the given
	// time for an outgoing internal message to `to` whose text comment is
	// exactly `comment`. ok is false when none is found (yet).
	FindTransfer(ctx context.Context, from, to *address.Address, comment string, since time.Time) (t Transfer, ok bool, err error)
}

// SeqnoSource gives a wallet's seqno. Every Chain is one; FixedSeqno is one
// for a seqno the caller already knows.
type SeqnoSource interface {
	Seqno(ctx context.Context, wallet *address.Address) (uint32, error)
}

// FixedSeqno is a SeqnoSource that always answers n.
type FixedSeqno uint32

// Seqno returns n.
func (n FixedSeqno) Seqno(context.Context, *address.Address) (uint32, error) { return uint32(n), nil }

// Transfer is an outgoing TON transfer found on chain.
type Transfer struct {
	From    *address.Address
	To      *address.Address
	Amount  uint64 // nanoTON
	Bounce  bool
	Comment string
	// TxHash and LT identify the sender's transaction that emitted it.
	TxHash []byte
	LT     uint64
	Time   time.Time
	// Aborted is true when the sender's transaction was aborted, i.e. the
	// message was accepted but the transfer did not go out.
	Aborted bool
}

// Chain errors.
var (
	// ErrChainUnreachable: no liteserver answered in time.
	ErrChainUnreachable = errors.New("TON network unreachable")
	// ErrMessageRejected: the wallet contract did not accept the external
	// message (wrong seqno, bad signature, expired), e.g. a replay.
	ErrMessageRejected = errors.New("wallet contract rejected the message")
)

// DefaultChainTimeout bounds every Chain call whose context has no earlier
// deadline.
const DefaultChainTimeout = 15 * time.Second

// WithChainTimeout returns ctx bounded by d (DefaultChainTimeout when d <= 0)
// unless ctx already has an earlier deadline.
func WithChainTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		d = DefaultChainTimeout
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= d {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}

// ExternalMessageHash is the normalized hash (TEP-467) of an external
// message: independent of the state init and of how the body is stored, so
// it is what explorers show and what a retry of the same signed body keeps.
func ExternalMessageHash(msg *tlb.ExternalMessage) []byte {
	if msg == nil {
		return nil
	}
	return msg.NormalizedHash()
}

// unreachable wraps err as ErrChainUnreachable, naming the operation.
func unreachable(op string, err error) error {
	return fmt.Errorf("%s: %w: %w", op, ErrChainUnreachable, err)
}
