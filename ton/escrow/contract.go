package escrow

import (
	"crypto/ed25519"
	_ "embed"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"
	"github.com/xssnick/tonutils-go/tvm/cell"
)

// escrowBOC is contract/escrow.tolk compiled by the pinned @ton/tolk-js
// (internal/tonsandbox/node); TestCodeMatchesSource recompiles it.
//
//go:embed escrow.boc
var escrowBOC []byte

// CodeHash is the compiled contract's code hash (hex): what an explorer
// shows, and what the proxy's operator can check a deployed escrow against.
const CodeHash = "68d0b13769260d0e3c884da8ad7a0d54458e3f954594c0f59cd2485d6d60ecc2"

// Exit codes of the contract (docs/settlement.md). A claim refused with
// one of the first five never ran past its checks: it cost the escrow
// nothing and changed nothing.
const (
	ExitBadSignature      = 100 // not signed by the escrow's proxy key
	ExitWrongEscrow       = 101 // the voucher names another escrow
	ExitNothingToClaim    = 102 // total not above paid + claim fee: stale or replayed
	ExitUnderfunded       = 103 // the escrow cannot pay it now; it can after a top-up
	ExitBadVoucher        = 104 // not a voucher of this version
	ExitNotOperator       = 110 // an operator message from another address
	ExitNoWithdrawal      = 111 // execute or cancel with nothing announced
	ExitWithdrawalLocked  = 112 // execute before the delay has passed
	ExitNothingToWithdraw = 113 // the balance is all reserve
	ExitBadAmount         = 114 // announce of zero
	ExitUnknownOp         = 0xffff
)

// MinReserve (nanoTON) is what every payment leaves on the escrow's balance
// besides the claim fee: storage rent, so that a drained escrow is never
// frozen. A claim is refused (ExitUnderfunded) unless
// balance >= payout + claim fee + MinReserve.
const MinReserve = 50_000_000

// Operator message opcodes (internal messages from the operator address).
const (
	OpAnnounceWithdrawal = 0x77a1a001
	OpExecuteWithdrawal  = 0x77a1a002
	OpCancelWithdrawal   = 0x77a1a003
)

// Defaults for a new escrow (docs/settlement.md): a claim measured at
// about 0.0034 TON of gas and fees (docs/BENCHMARKS.md, "Escrow gas"), and
// a week for workers to claim after the operator announces a withdrawal.
const (
	DefaultClaimFee      = 10_000_000 // 0.01 TON
	DefaultWithdrawDelay = 7 * 24 * time.Hour
	// MaxWithdrawDelay keeps now + delay inside the contract's uint32 time.
	MaxWithdrawDelay = 10 * 365 * 24 * time.Hour
)

// ErrBadParams: deploy parameters the contract could not hold.
var ErrBadParams = errors.New("escrow: bad parameters")

// Params fix an escrow at deploy time; its address is their hash with the
// code, so the same parameters always give the same address.
type Params struct {
	ProxyKey      ed25519.PublicKey // the key that signs vouchers
	Operator      *address.Address  // the only address that may withdraw (time-locked)
	WithdrawDelay time.Duration     // between announcing and executing a withdrawal (whole seconds)
	ClaimFee      uint64            // nanoTON kept by the escrow per claim to pay its gas
	Workchain     int               // 0 (basechain) unless there is a reason
}

// Code is the compiled contract.
func Code() *cell.Cell {
	c, err := cell.FromBOC(escrowBOC)
	if err != nil {
		panic("escrow: embedded escrow.boc is damaged: " + err.Error())
	}
	return c
}

// Data is the contract's initial storage:
//
//	storage$_ proxy_key:uint256 operator:MsgAddressInt withdraw_delay:uint32
//	          claim_fee:Coins pending_amount:Coins pending_after:uint32
//	          paid:(HashmapE 256 Coins) = Storage;
func Data(p Params) (*cell.Cell, error) {
	return DataWithPaid(p, nil)
}

// DataWithPaid is the storage of an escrow that has already paid these
// totals (worker id -> nanoTON): for tests and the gas benchmark, which
// measure claims against an escrow with thousands of workers.
func DataWithPaid(p Params, paid map[[32]byte]uint64) (*cell.Cell, error) {
	if len(p.ProxyKey) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: proxy key is %d bytes, want %d", ErrBadParams, len(p.ProxyKey), ed25519.PublicKeySize)
	}
	secs := p.WithdrawDelay / time.Second
	if p.WithdrawDelay < 0 || p.WithdrawDelay > MaxWithdrawDelay || secs*time.Second != p.WithdrawDelay {
		return nil, fmt.Errorf("%w: withdraw delay %s is not a whole number of seconds from 0 to %s", ErrBadParams, p.WithdrawDelay, MaxWithdrawDelay)
	}
	if p.Workchain != 0 && p.Workchain != -1 {
		return nil, fmt.Errorf("%w: workchain %d", ErrBadParams, p.Workchain)
	}
	b := cell.BeginCell()
	if err := b.StoreSlice(p.ProxyKey, 256); err != nil {
		return nil, err
	}
	if err := storeStdAddr(b, p.Operator); err != nil {
		return nil, fmt.Errorf("%w: operator address: %w", ErrBadParams, err)
	}
	b.MustStoreUInt(uint64(secs), 32)
	if err := b.StoreCoins(p.ClaimFee); err != nil {
		return nil, err
	}
	b.MustStoreCoins(0).MustStoreUInt(0, 32)
	dict := cell.NewDict(256)
	for w, total := range paid {
		if err := dict.SetIntKey(new(big.Int).SetBytes(w[:]), cell.BeginCell().MustStoreCoins(total).EndCell()); err != nil {
			return nil, fmt.Errorf("escrow: paid totals: %w", err)
		}
	}
	if err := b.StoreDict(dict); err != nil {
		return nil, err
	}
	return b.EndCell(), nil
}

// StateInit is what deploys the escrow: send any internal message carrying
// it (a top-up) to AddressOf(p).
func StateInit(p Params) (*tlb.StateInit, error) {
	data, err := Data(p)
	if err != nil {
		return nil, err
	}
	return &tlb.StateInit{Code: Code(), Data: data}, nil
}

// AddressOf is the escrow's address for p, non-bounceable (it accepts
// top-ups before it is deployed only when they do not bounce), flagged
// test-only on testnet.
func AddressOf(p Params, testnet bool) (*address.Address, error) {
	si, err := StateInit(p)
	if err != nil {
		return nil, err
	}
	a := si.CalcAddress(p.Workchain)
	a.SetBounce(false)
	a.SetTestnetOnly(testnet)
	return a, nil
}

// AnnounceWithdrawalBody: announce#77a1a001 query_id:uint64 amount:Coins.
// The withdrawal may execute WithdrawDelay after it lands; a new
// announcement replaces the old one and restarts the delay.
func AnnounceWithdrawalBody(amount uint64, queryID uint64) *cell.Cell {
	return cell.BeginCell().MustStoreUInt(OpAnnounceWithdrawal, 32).MustStoreUInt(queryID, 64).MustStoreCoins(amount).EndCell()
}

// ExecuteWithdrawalBody: execute#77a1a002 query_id:uint64. Pays the
// operator the announced amount, or what is left above the reserve.
func ExecuteWithdrawalBody(queryID uint64) *cell.Cell {
	return cell.BeginCell().MustStoreUInt(OpExecuteWithdrawal, 32).MustStoreUInt(queryID, 64).EndCell()
}

// CancelWithdrawalBody: cancel#77a1a003 query_id:uint64.
func CancelWithdrawalBody(queryID uint64) *cell.Cell {
	return cell.BeginCell().MustStoreUInt(OpCancelWithdrawal, 32).MustStoreUInt(queryID, 64).EndCell()
}
