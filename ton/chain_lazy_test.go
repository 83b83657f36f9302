package ton

import (
	"context"
	"errors"
	"testing"

	"github.com/xssnick/tonutils-go/address"
)

// TestLazyLiteChainUnreachable: with no liteserver answering, every call
// of the lazy chain fails with ErrChainUnreachable (and may be retried),
// so a claim waits for the network instead of failing for good.
func TestLazyLiteChainUnreachable(t *testing.T) {
	l := &LazyLiteChain{Config: deadLiteConfig, Net: Mainnet}
	defer l.Close()
	a := address.NewAddress(0, 0, make([]byte, 32))
	for i, call := range []func() error{
		func() error { _, err := l.RunGetMethod(context.Background(), a, "paid_total"); return err },
		func() error { _, err := l.SendExternal(context.Background(), nil); return err },
		func() error { _, err := l.RunGetMethod(context.Background(), a, "escrow_state"); return err },
	} {
		if err := call(); !errors.Is(err, ErrChainUnreachable) {
			t.Fatalf("call %d: err = %v, want ErrChainUnreachable", i, err)
		}
	}
}
