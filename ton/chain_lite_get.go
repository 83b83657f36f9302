package ton

import (
	"context"

	"github.com/xssnick/tonutils-go/address"
)

// RunGetMethod runs a contract's get-method at the latest masterchain block,
// with the proof checks LiteChain's client was made with, and returns its
// result stack first value first (tonutils-go's AsTuple). It makes a
// LiteChain an escrow.Getter (ton/escrow reads the escrow's paid totals and
// balance through it).
func (c *LiteChain) RunGetMethod(ctx context.Context, addr *address.Address, method string, args ...any) ([]any, error) {
	ctx, cancel := WithChainTimeout(ctx, c.Timeout)
	defer cancel()
	block, err := c.api.CurrentMasterchainInfo(ctx)
	if err != nil {
		return nil, c.classify("get-method "+method, err)
	}
	res, err := c.api.WaitForBlock(block.SeqNo).RunGetMethod(ctx, block, addr, method, args...)
	if err != nil {
		return nil, c.classify("get-method "+method, err)
	}
	return res.AsTuple(), nil
}
