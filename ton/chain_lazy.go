package ton

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"
)

// LazyLiteChain is a LiteChain that connects on first use and tries again
// on later calls while the network is unreachable: the app starts without
// TON and claims when it can.
type LazyLiteChain struct {
	// Config is the global config (URL, file or JSON); "": ton.org's for Net.
	Config string
	Net    Net
	mu     sync.Mutex
	c      *LiteChain
}

func (l *LazyLiteChain) get(ctx context.Context) (*LiteChain, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.c != nil {
		return l.c, nil
	}
	cfg := l.Config
	if cfg == "" {
		cfg = MainnetConfigURL
		if l.Net == Testnet {
			cfg = TestnetConfigURL
		}
	}
	c, err := NewLiteChain(ctx, cfg, l.Net)
	if err != nil {
		if !errors.Is(err, ErrChainUnreachable) {
			err = fmt.Errorf("%w: %w", ErrChainUnreachable, err)
		}
		return nil, err
	}
	l.c = c
	return c, nil
}

// SendExternal connects if needed and sends msg (LiteChain.SendExternal).
func (l *LazyLiteChain) SendExternal(ctx context.Context, msg *tlb.ExternalMessage) ([]byte, error) {
	c, err := l.get(ctx)
	if err != nil {
		return nil, err
	}
	return c.SendExternal(ctx, msg)
}

// RunGetMethod connects if needed and runs the get-method.
func (l *LazyLiteChain) RunGetMethod(ctx context.Context, addr *address.Address, method string, args ...any) ([]any, error) {
	c, err := l.get(ctx)
	if err != nil {
		return nil, err
	}
	return c.RunGetMethod(ctx, addr, method, args...)
}

// Seqno connects if needed and reads the wallet's seqno.
func (l *LazyLiteChain) Seqno(ctx context.Context, wallet *address.Address) (uint32, error) {
	c, err := l.get(ctx)
	if err != nil {
		return 0, err
	}
	return c.Seqno(ctx, wallet)
}

// Close drops the connections, if any.
func (l *LazyLiteChain) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.c != nil {
		l.c.Close()
		l.c = nil
	}
}
