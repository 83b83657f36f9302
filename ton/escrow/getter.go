package escrow

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tvm/cell"

	"github.com/cocoon-desktop/cocoon-desktop/ton"
)

// Getter runs a get-method of a contract and returns its result stack,
// first value first, in tonutils-go's representation (*big.Int for
// integers, *cell.Slice or *cell.Cell for slices and cells). Over a
// liteserver it is
//
//	res, err := api.RunGetMethod(ctx, block, addr, method, args...)
//	return res.AsTuple(), err
//
// and internal/tonsandbox implements it against the real TVM.
type Getter interface {
	RunGetMethod(ctx context.Context, addr *address.Address, method string, args ...any) ([]any, error)
}

// ErrBadGetResult: a get-method answered with values of the wrong kind or
// range (not this contract, or a liteserver that lies).
var ErrBadGetResult = errors.New("escrow: unexpected get-method result")

// State is the escrow as its get-methods show it.
type State struct {
	ProxyKey          ed25519.PublicKey
	Operator          *address.Address
	Balance           uint64        // nanoTON
	PendingWithdrawal uint64        // nanoTON the operator announced; 0: none
	WithdrawAfter     time.Time     // when it may execute (zero when none)
	WithdrawDelay     time.Duration // between announce and execute
	ClaimFee          uint64        // nanoTON kept per claim
}

// ReadState calls the escrow_state get-method.
func ReadState(ctx context.Context, g Getter, escrow *address.Address) (State, error) {
	res, err := g.RunGetMethod(ctx, escrow, "escrow_state")
	if err != nil {
		return State{}, fmt.Errorf("escrow: read state of %s: %w", escrow, err)
	}
	if len(res) != 7 {
		return State{}, fmt.Errorf("%w: escrow_state returned %d values, want 7", ErrBadGetResult, len(res))
	}
	key, err := stackUint(res[0], 256)
	if err != nil {
		return State{}, fmt.Errorf("escrow_state proxy key: %w", err)
	}
	op, err := stackAddr(res[1])
	if err != nil {
		return State{}, fmt.Errorf("escrow_state operator: %w", err)
	}
	var nums [5]uint64
	for i, bits := range []int{64, 64, 32, 32, 64} {
		n, err := stackUint(res[2+i], bits)
		if err != nil {
			return State{}, fmt.Errorf("escrow_state value %d: %w", 2+i, err)
		}
		nums[i] = n.Uint64()
	}
	s := State{
		ProxyKey:          ed25519.PublicKey(key.FillBytes(make([]byte, 32))),
		Operator:          op,
		Balance:           nums[0],
		PendingWithdrawal: nums[1],
		WithdrawDelay:     time.Duration(nums[3]) * time.Second,
		ClaimFee:          nums[4],
	}
	if s.PendingWithdrawal > 0 {
		s.WithdrawAfter = time.Unix(int64(nums[2]), 0).UTC()
	}
	return s, nil
}

// PaidTotal is what the escrow has paid the worker so far (0 for a worker
// it never paid): the claimable amount of a voucher is its total minus
// this, minus the claim fee.
func PaidTotal(ctx context.Context, g Getter, escrow *address.Address, worker [32]byte) (uint64, error) {
	res, err := g.RunGetMethod(ctx, escrow, "paid_total", new(big.Int).SetBytes(worker[:]))
	if err != nil {
		return 0, fmt.Errorf("escrow: paid total of worker %x: %w", worker[:4], err)
	}
	if len(res) != 1 {
		return 0, fmt.Errorf("%w: paid_total returned %d values, want 1", ErrBadGetResult, len(res))
	}
	n, err := stackUint(res[0], 64)
	if err != nil {
		return 0, fmt.Errorf("paid_total: %w", err)
	}
	return n.Uint64(), nil
}

// stackUint accepts an integer in [0, 2^bits).
func stackUint(v any, bits int) (*big.Int, error) {
	var n *big.Int
	switch x := v.(type) {
	case *big.Int:
		n = x
	case int64:
		n = big.NewInt(x)
	case uint64:
		n = new(big.Int).SetUint64(x)
	default:
		return nil, fmt.Errorf("%w: %T, want an integer", ErrBadGetResult, v)
	}
	if n == nil || n.Sign() < 0 || n.BitLen() > bits {
		return nil, fmt.Errorf("%w: %v is not a %d-bit unsigned integer", ErrBadGetResult, n, bits)
	}
	return n, nil
}

// stackAddr accepts a slice (or cell) holding one addr_std.
func stackAddr(v any) (*address.Address, error) {
	var s *cell.Slice
	switch x := v.(type) {
	case *cell.Slice:
		s = x.Copy()
	case *cell.Cell:
		s = x.BeginParse()
	default:
		return nil, fmt.Errorf("%w: %T, want an address slice", ErrBadGetResult, v)
	}
	a, err := loadStdAddr(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadGetResult, err)
	}
	return a, nil
}

// The real chain reads escrows (so does *tonsandbox.Sandbox, in tests).
var _ Getter = (*ton.LiteChain)(nil)
