package ton

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"
	"github.com/xssnick/tonutils-go/ton/wallet"
)

// PayoutCommentPrefix starts the text comment of every payout transfer.
const PayoutCommentPrefix = "cocoon payout "

// MaxCommentBytes bounds a payout's text comment: room for
// PayoutComment of a 128-byte payout id. Past 123 bytes the comment
// continues in a chained cell ("snake" text), which wallets and explorers
// read as one string.
const MaxCommentBytes = 256

// Payout errors.
var (
	ErrPayoutAmount  = errors.New("payout amount must be above zero")
	ErrPayoutComment = errors.New("payout comment is not valid")
	ErrPayoutNetwork = errors.New("payout destination is for another network")
)

// PayoutComment is the on-chain text comment naming a payout: the owner sees
// it in Tonkeeper and FindTransfer matches it exactly.
func PayoutComment(id string) string { return PayoutCommentPrefix + id }

// PayoutWallet is the proxy's hot wallet, a wallet V5R1 ("W5"), which signs
// payouts. It never talks to the network itself: seqnos come from a
// SeqnoSource (never tonutils-go's default fetcher, which needs an API
// client) and the signed message goes out through a Chain.
type PayoutWallet struct {
	tonNet Net
	w      *wallet.Wallet
	spec   *wallet.SpecV5R1Final
	pub    ed25519.PublicKey

	mu sync.Mutex // guards the spec's seqno fetcher and TTL while building
	// TTL is how long a signed message stays valid (V5R1 valid_until);
	// after it the contract refuses it. Default 3 minutes.
	TTL time.Duration
}

// NewPayoutWalletFromSeed opens the V5R1 wallet of a TON mnemonic (24 words
// separated by spaces, as Tonkeeper and tonutils-go make them).
func NewPayoutWalletFromSeed(seed string, tonNet Net) (*PayoutWallet, error) {
	words := strings.Fields(seed)
	if len(words) == 0 {
		return nil, errors.New("payout wallet: empty seed phrase")
	}
	key, err := wallet.SeedToPrivateKey(words, "", false)
	if err != nil {
		return nil, fmt.Errorf("payout wallet: seed phrase: %w", err)
	}
	return NewPayoutWalletFromKey(key, tonNet)
}

// NewPayoutWalletFromKey opens the V5R1 wallet of an ed25519 private key.
func NewPayoutWalletFromKey(key ed25519.PrivateKey, tonNet Net) (*PayoutWallet, error) {
	if len(key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("payout wallet: private key has %d bytes, want %d", len(key), ed25519.PrivateKeySize)
	}
	// api is nil: this wallet must never reach the network on its own.
	w, err := wallet.FromPrivateKey(nil, key, V5R1Config(tonNet))
	if err != nil {
		return nil, fmt.Errorf("payout wallet: %w", err)
	}
	spec, ok := w.GetSpec().(*wallet.SpecV5R1Final)
	if !ok {
		return nil, fmt.Errorf("payout wallet: unexpected wallet spec %T", w.GetSpec())
	}
	pw := &PayoutWallet{tonNet: tonNet, w: w, spec: spec, pub: key.Public().(ed25519.PublicKey), TTL: 3 * time.Minute}
	// Until BuildTransfer sets its own, a fetcher that fails instead of
	// the default, which dereferences the nil API client.
	spec.SetSeqnoFetcher(func(context.Context, uint32) (uint32, error) {
		return 0, errors.New("payout wallet: no seqno source")
	})
	return pw, nil
}

// V5R1Config is the wallet V5R1 configuration for a network (workchain 0).
func V5R1Config(tonNet Net) wallet.ConfigV5R1Final {
	return wallet.ConfigV5R1Final{NetworkGlobalID: tonNet.GlobalID(), Workchain: 0}
}

// Net is the network the wallet signs for.
func (p *PayoutWallet) Net() Net { return p.tonNet }

// PublicKey is the wallet's ed25519 public key.
func (p *PayoutWallet) PublicKey() ed25519.PublicKey { return p.pub }

// TONAddress is the wallet's address (non-bounceable, testnet flag set on
// testnet) as a tonutils-go address.
func (p *PayoutWallet) TONAddress() *address.Address {
	return p.w.WalletAddress().Testnet(p.tonNet == Testnet)
}

// Address is the wallet's address; Friendly is where to top it up.
func (p *PayoutWallet) Address() Address {
	a, _ := AddressFromTON(p.TONAddress()) // a V5R1 address is always standard
	return a
}

// BuildTransfer signs an external message that makes the wallet send
// exactly amount nanoTON to `to` with the text comment (normally
// PayoutComment(id)). The bounce flag follows the destination's form:
// non-bounceable for UQ…/0Q… and raw addresses, bounceable for EQ…/kQ….
// The seqno comes from seqnos: a Chain, or FixedSeqno when the caller knows
// it. With seqno 0 the wallet's state init is attached, so the first payout
// also deploys the wallet. The message is valid for TTL; the contract
// rejects it afterwards and rejects any second execution (seqno moved on).
func (p *PayoutWallet) BuildTransfer(ctx context.Context, seqnos SeqnoSource, to Address, amount uint64, comment string) (*tlb.ExternalMessage, error) {
	if to.IsZero() {
		return nil, &AddressError{Kind: ErrAddressEmpty, Msg: "payout destination is not set"}
	}
	if to.Testnet != (p.tonNet == Testnet) {
		return nil, fmt.Errorf("%w: destination %s is a %s address, the payout wallet is on %s", ErrPayoutNetwork, to.Short(), networkOf(to.Testnet), p.tonNet)
	}
	if amount == 0 {
		return nil, ErrPayoutAmount
	}
	if len(comment) > MaxCommentBytes {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrPayoutComment, len(comment), MaxCommentBytes)
	}
	if !utf8.ValidString(comment) || strings.IndexFunc(comment, unicode.IsControl) >= 0 {
		return nil, fmt.Errorf("%w: %q has control characters or is not UTF-8", ErrPayoutComment, comment)
	}
	if seqnos == nil {
		return nil, errors.New("payout: no seqno source")
	}
	seqno, err := seqnos.Seqno(ctx, p.TONAddress())
	if err != nil {
		return nil, fmt.Errorf("payout: wallet seqno: %w", err)
	}

	msg, err := p.w.BuildTransfer(to.TON(), tlb.FromNanoTONU(amount), to.Bounceable, comment)
	if err != nil {
		return nil, fmt.Errorf("payout: build transfer: %w", err)
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
		return nil, fmt.Errorf("payout: sign: %w", err)
	}
	return ext, nil
}

// Pay builds a payout with the chain's current seqno and sends it; it
// returns the message hash (ExternalMessageHash) to track it by. On an error
// from SendExternal the message may or may not have gone out: look for it
// with FindTransfer before paying again.
func (p *PayoutWallet) Pay(ctx context.Context, chain Chain, to Address, amount uint64, comment string) ([]byte, error) {
	ext, err := p.BuildTransfer(ctx, chain, to, amount, comment)
	if err != nil {
		return nil, err
	}
	return chain.SendExternal(ctx, ext)
}

func networkOf(testnet bool) Net {
	if testnet {
		return Testnet
	}
	return Mainnet
}
