package escrow

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"
	"github.com/xssnick/tonutils-go/tvm/cell"
)

// Voucher layout (TL-B, docs/settlement.md):
//
//	voucher#636f636f version:uint32 escrow:MsgAddressInt worker:uint256
//	        payout:MsgAddressInt cumulative:Coins = Voucher;
//
// where both addresses are addr_std without anycast. The tag ("coco") and
// version 1 are the domain separation: read as a wallet V3/V4 message the
// same bits would carry valid_until = 1 (expired since 1970), and a wallet
// V5 message starts with "sign", so a voucher signature can never move a
// wallet's money even if the proxy's key were a wallet key.
const (
	VoucherTag     = 0x636f636f
	VoucherVersion = 1
)

// MaxCumulative bounds a voucher's total: what Coins (VarUInteger 16) can
// hold is far more, but nanoTON in this project are uint64.
const MaxCumulative = ^uint64(0)

// Errors.
var (
	// ErrBadSignature: the signature is not the proxy key's over the
	// voucher's hash (forged, or for another voucher).
	ErrBadSignature = errors.New("escrow: bad voucher signature")
	// ErrBadVoucher: the voucher (or claim) cell does not have the layout
	// above, or a field is missing or out of range.
	ErrBadVoucher = errors.New("escrow: malformed voucher")
)

// Voucher is what the proxy signs and the escrow checks.
type Voucher struct {
	Escrow     *address.Address // the escrow contract this voucher is for
	WorkerID   [32]byte         // the worker's ed25519 public key (network.WorkerID is its hex)
	Payout     *address.Address // the owner's address that receives the money
	Cumulative uint64           // nanoTON, the worker's signed running total (never decreases)
}

// Cell is the exact cell the contract parses and hashes.
func (v Voucher) Cell() (*cell.Cell, error) {
	b := cell.BeginCell()
	if err := b.StoreUInt(VoucherTag, 32); err != nil {
		return nil, err
	}
	if err := b.StoreUInt(VoucherVersion, 32); err != nil {
		return nil, err
	}
	if err := storeStdAddr(b, v.Escrow); err != nil {
		return nil, fmt.Errorf("%w: escrow address: %w", ErrBadVoucher, err)
	}
	if err := b.StoreSlice(v.WorkerID[:], 256); err != nil {
		return nil, err
	}
	if err := storeStdAddr(b, v.Payout); err != nil {
		return nil, fmt.Errorf("%w: payout address: %w", ErrBadVoucher, err)
	}
	if err := b.StoreCoins(v.Cumulative); err != nil {
		return nil, err
	}
	return b.EndCell(), nil
}

// Hash is the voucher cell's representation hash: the 32 bytes the proxy's
// ed25519 signature covers (the contract checks it with CHKSIGNU).
func (v Voucher) Hash() ([]byte, error) {
	c, err := v.Cell()
	if err != nil {
		return nil, err
	}
	return c.Hash(), nil
}

// Sign returns the proxy key's signature over the voucher's hash.
func Sign(key ed25519.PrivateKey, v Voucher) ([]byte, error) {
	if len(key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("escrow: sign voucher: private key is %d bytes, want %d", len(key), ed25519.PrivateKeySize)
	}
	h, err := v.Hash()
	if err != nil {
		return nil, fmt.Errorf("escrow: sign voucher: %w", err)
	}
	return ed25519.Sign(key, h), nil
}

// Verify checks sig against the proxy's public key, as the contract does.
// A well-formed voucher with a wrong signature is ErrBadSignature.
func Verify(pub ed25519.PublicKey, v Voucher, sig []byte) error {
	if len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: public key is %d bytes, want %d", ErrBadSignature, len(pub), ed25519.PublicKeySize)
	}
	h, err := v.Hash()
	if err != nil {
		return fmt.Errorf("escrow: verify voucher: %w", err)
	}
	if len(sig) != ed25519.SignatureSize || !ed25519.Verify(pub, h, sig) {
		return ErrBadSignature
	}
	return nil
}

// ParseVoucherCell decodes a voucher received from outside (the network,
// a ledger file). Only the canonical encoding is accepted: the cell must be
// exactly what Cell builds for the decoded voucher, so two different cells
// can never stand for the same voucher.
func ParseVoucherCell(c *cell.Cell) (Voucher, error) {
	if c == nil {
		return Voucher{}, fmt.Errorf("%w: no cell", ErrBadVoucher)
	}
	s := c.BeginParse()
	tag, err := s.LoadUInt(32)
	if err != nil {
		return Voucher{}, fmt.Errorf("%w: tag: %w", ErrBadVoucher, err)
	}
	if tag != VoucherTag {
		return Voucher{}, fmt.Errorf("%w: tag %#x, want %#x", ErrBadVoucher, tag, VoucherTag)
	}
	ver, err := s.LoadUInt(32)
	if err != nil {
		return Voucher{}, fmt.Errorf("%w: version: %w", ErrBadVoucher, err)
	}
	if ver != VoucherVersion {
		return Voucher{}, fmt.Errorf("%w: version %d, want %d", ErrBadVoucher, ver, VoucherVersion)
	}
	var v Voucher
	if v.Escrow, err = loadStdAddr(s); err != nil {
		return Voucher{}, fmt.Errorf("%w: escrow address: %w", ErrBadVoucher, err)
	}
	w, err := s.LoadSlice(256)
	if err != nil {
		return Voucher{}, fmt.Errorf("%w: worker id: %w", ErrBadVoucher, err)
	}
	copy(v.WorkerID[:], w)
	if v.Payout, err = loadStdAddr(s); err != nil {
		return Voucher{}, fmt.Errorf("%w: payout address: %w", ErrBadVoucher, err)
	}
	total, err := s.LoadBigCoins()
	if err != nil {
		return Voucher{}, fmt.Errorf("%w: cumulative: %w", ErrBadVoucher, err)
	}
	if !total.IsUint64() {
		return Voucher{}, fmt.Errorf("%w: cumulative %s nanoTON does not fit in 64 bits", ErrBadVoucher, total)
	}
	v.Cumulative = total.Uint64()
	again, err := v.Cell()
	if err != nil {
		return Voucher{}, err
	}
	if !bytes.Equal(again.Hash(), c.Hash()) {
		return Voucher{}, fmt.Errorf("%w: not the canonical encoding (extra bits or references, or padded amount)", ErrBadVoucher)
	}
	return v, nil
}

// ParseVoucherBOC decodes a voucher from a bag of cells holding one root.
func ParseVoucherBOC(boc []byte) (Voucher, error) {
	root, err := DecodeBOC(boc)
	if err != nil {
		return Voucher{}, fmt.Errorf("%w: %w", ErrBadVoucher, err)
	}
	return ParseVoucherCell(root)
}

// MaxBOCSize bounds a bag of cells DecodeBOC accepts: a voucher is about
// 150 bytes, a claim about 230.
const MaxBOCSize = 4096

// DecodeBOC decodes a bag of cells with exactly one root from outside.
// tonutils-go v1.12.0's decoder trusts the header's counts (a 20-byte input
// claiming 2^32 roots runs the process out of memory) and panics on some
// truncated inputs (both found by the fuzzers here): the header is checked
// against the input's length first, and a panic becomes an error.
func DecodeBOC(boc []byte) (root *cell.Cell, err error) {
	if err := checkBOCHeader(boc); err != nil {
		return nil, fmt.Errorf("bag of cells: %w", err)
	}
	defer func() {
		if r := recover(); r != nil {
			root, err = nil, fmt.Errorf("bag of cells: malformed (%v)", r)
		}
	}()
	roots, err := cell.FromBOCMultiRoot(boc)
	if err != nil {
		return nil, fmt.Errorf("bag of cells: %w", err)
	}
	if len(roots) != 1 {
		return nil, fmt.Errorf("bag of cells has %d roots, want 1", len(roots))
	}
	return roots[0], nil
}

// checkBOCHeader reads serialized_boc's header (magic, flags+size,
// off_bytes, cells, roots) and refuses counts the input cannot hold.
func checkBOCHeader(b []byte) error {
	if len(b) > MaxBOCSize {
		return fmt.Errorf("%d bytes, more than %d", len(b), MaxBOCSize)
	}
	if len(b) < 6 || !bytes.Equal(b[:4], []byte{0xb5, 0xee, 0x9c, 0x72}) {
		return errors.New("not a serialized bag of cells")
	}
	size, offBytes := int(b[4]&7), int(b[5])
	if size < 1 || size > 4 || offBytes < 1 || offBytes > 8 {
		return fmt.Errorf("header sizes %d/%d out of range", size, offBytes)
	}
	if len(b) < 6+2*size {
		return errors.New("truncated header")
	}
	readN := func(p []byte) int {
		n := 0
		for _, c := range p {
			n = n<<8 | int(c)
		}
		return n
	}
	cells, roots := readN(b[6:6+size]), readN(b[6+size:6+2*size])
	if cells < 1 || cells > len(b) || roots != 1 {
		return fmt.Errorf("header claims %d cells and %d roots in %d bytes", cells, roots, len(b))
	}
	return nil
}

// ClaimBody is the external message's body the contract reads:
//
//	claim$_ signature:bits512 voucher:^Voucher = ClaimBody;
func ClaimBody(v Voucher, sig []byte) (*cell.Cell, error) {
	if len(sig) != ed25519.SignatureSize {
		return nil, fmt.Errorf("%w: signature is %d bytes, want %d", ErrBadSignature, len(sig), ed25519.SignatureSize)
	}
	vc, err := v.Cell()
	if err != nil {
		return nil, err
	}
	b := cell.BeginCell()
	if err := b.StoreSlice(sig, 512); err != nil {
		return nil, err
	}
	if err := b.StoreRef(vc); err != nil {
		return nil, err
	}
	return b.EndCell(), nil
}

// ParseClaimBody is the inverse of ClaimBody, for a claim received from
// outside.
func ParseClaimBody(c *cell.Cell) (Voucher, []byte, error) {
	if c == nil {
		return Voucher{}, nil, fmt.Errorf("%w: no claim cell", ErrBadVoucher)
	}
	s := c.BeginParse()
	sig, err := s.LoadSlice(512)
	if err != nil {
		return Voucher{}, nil, fmt.Errorf("%w: claim signature: %w", ErrBadVoucher, err)
	}
	ref, err := s.LoadRef()
	if err != nil {
		return Voucher{}, nil, fmt.Errorf("%w: claim voucher: %w", ErrBadVoucher, err)
	}
	if s.BitsLeft() != 0 || s.RefsNum() != 0 {
		return Voucher{}, nil, fmt.Errorf("%w: claim has trailing data", ErrBadVoucher)
	}
	vc, err := ref.ToCell()
	if err != nil {
		return Voucher{}, nil, fmt.Errorf("%w: claim voucher: %w", ErrBadVoucher, err)
	}
	v, err := ParseVoucherCell(vc)
	if err != nil {
		return Voucher{}, nil, err
	}
	return v, sig, nil
}

// ClaimMessage is the external message anyone can send to v.Escrow to pay
// the voucher out. It carries no seqno: the contract's paid total is what
// makes a replay worthless.
func ClaimMessage(v Voucher, sig []byte) (*tlb.ExternalMessage, error) {
	body, err := ClaimBody(v, sig)
	if err != nil {
		return nil, fmt.Errorf("escrow: claim message: %w", err)
	}
	return &tlb.ExternalMessage{DstAddr: v.Escrow, Body: body}, nil
}

// storeStdAddr writes addr_std$10 anycast:nothing$0 workchain_id:int8
// address:bits256, refusing anything else (none, external, var).
func storeStdAddr(b *cell.Builder, a *address.Address) error {
	if a == nil || a.Type() != address.StdAddress || len(a.Data()) != 32 {
		return errors.New("not a standard internal address")
	}
	if err := b.StoreUInt(0b100, 3); err != nil {
		return err
	}
	if err := b.StoreInt(int64(a.Workchain()), 8); err != nil {
		return err
	}
	return b.StoreSlice(a.Data(), 256)
}

func loadStdAddr(s *cell.Slice) (*address.Address, error) {
	kind, err := s.LoadUInt(3)
	if err != nil {
		return nil, err
	}
	if kind != 0b100 {
		return nil, errors.New("not addr_std without anycast")
	}
	wc, err := s.LoadInt(8)
	if err != nil {
		return nil, err
	}
	data, err := s.LoadSlice(256)
	if err != nil {
		return nil, err
	}
	return address.NewAddress(0, byte(wc), data), nil
}
