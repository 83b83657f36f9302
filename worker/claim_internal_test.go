package worker

import (
	"errors"
	"testing"

	"github.com/xssnick/tonutils-go/address"

	"github.com/cocoon-desktop/cocoon-desktop/network"
)

// TestCheckPayout: a voucher is stored only when it pays the owner's own
// address (in any of its forms); one made out to anyone else, or with no
// address set, is refused with ErrVoucherPayout.
func TestCheckPayout(t *testing.T) {
	mk := func(b byte, bounce bool) string {
		h := make([]byte, 32)
		h[0] = b
		a := address.NewAddress(0, 0, h)
		a.SetBounce(bounce)
		return a.String()
	}
	owner := mk(1, false)
	for _, tc := range []struct {
		name, payout, owner string
		ok                  bool
	}{
		{"the owner's address", owner, owner, true},
		{"the same address, bounceable form", mk(1, true), owner, true},
		{"another address", mk(2, false), owner, false},
		{"no address set", owner, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkPayout(network.Voucher{Payout: tc.payout, Network: "mainnet"}, tc.owner)
			if tc.ok != (err == nil) || (!tc.ok && !errors.Is(err, ErrVoucherPayout)) {
				t.Fatalf("err = %v, want ok %v", err, tc.ok)
			}
		})
	}
}
