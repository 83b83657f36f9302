package ton

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"
)

// No liteserver is reachable from the tests; only LiteChain's failure path is
// tested. Its queries are thin wrappers over tonutils-go.

const deadLiteConfig = `{
  "@type": "config.global",
  "liteservers": [
    {"ip": 2130706433, "port": 1, "id": {"@type": "pub.ed25519", "key": "n4VDnSCUuSpjnCyUk9e3QOOd6o0ItSWYbTnW3Wnn8wk="}}
  ]
}`

func TestLiteChainUnreachable(t *testing.T) {
	start := time.Now()
	c, err := NewLiteChain(context.Background(), deadLiteConfig, Mainnet)
	if err == nil {
		c.Close()
		t.Fatal("connected to 127.0.0.1:1")
	}
	if !errors.Is(err, ErrChainUnreachable) {
		t.Fatalf("err = %v, want ErrChainUnreachable", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %v to fail", d)
	}
	t.Logf("%v (after %v)", err, time.Since(start).Round(time.Millisecond))
}

// A liteserver that accepts TCP but never answers the handshake: the
// connection attempt is bounded by the context's deadline.
func TestLiteChainSilentServerTimesOut(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	cfg := `{"liteservers":[{"ip":2130706433,"port":` + itoa(port) + `,"id":{"@type":"pub.ed25519","key":"n4VDnSCUuSpjnCyUk9e3QOOd6o0ItSWYbTnW3Wnn8wk="}}]}`
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = NewLiteChain(ctx, cfg, Testnet)
	if !errors.Is(err, ErrChainUnreachable) {
		t.Fatalf("err = %v, want ErrChainUnreachable", err)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Fatalf("took %v", d)
	}
}

func TestLiteChainConfigErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := NewLiteChain(ctx, `{"liteservers":[]}`, Mainnet); !errors.Is(err, ErrChainUnreachable) {
		t.Fatalf("no liteservers: %v", err)
	}
	if _, err := NewLiteChain(ctx, `{not json`, Mainnet); err == nil || errors.Is(err, ErrChainUnreachable) {
		t.Fatalf("bad JSON: %v", err)
	}
	if _, err := NewLiteChain(ctx, "", Mainnet); err == nil {
		t.Fatal("empty config accepted")
	}
	if _, err := NewLiteChain(ctx, "/nonexistent/global.config.json", Mainnet); err == nil || errors.Is(err, ErrChainUnreachable) {
		t.Fatalf("missing file: %v", err)
	}
	start := time.Now()
	if _, err := NewLiteChain(ctx, "http://127.0.0.1:1/global.config.json", Mainnet); !errors.Is(err, ErrChainUnreachable) {
		t.Fatalf("config URL down: %v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("config URL took too long")
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}
