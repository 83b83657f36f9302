//go:build windows

package single

import (
	"errors"
	"os"
	"testing"
	"time"
)

// WineEnv, set to 1 by the Wine harness (internal/winetest), runs
// TestLoopbackInstance. The package's other tests need AF_UNIX (Wine 8 has
// none) and t.TempDir's cleanup (Go 1.26 deletes with POSIX semantics, which
// Wine 8 refuses), so the harness runs only this one.
const WineEnv = "COCOON_WINE"

// TestLoopbackInstance is the Windows path end to end: the LockFileEx lock
// and the loopback-TCP transport. A second Acquire reaches the first
// (its onActivate runs) and gets ErrAlreadyRunning; after release the lock
// and port file are free for the next launch.
func TestLoopbackInstance(t *testing.T) {
	if os.Getenv(WineEnv) != "1" {
		t.Skipf("%s=1 runs it (the Wine harness sets it; the portable tests cover the rest)", WineEnv)
	}
	if !useTCP {
		t.Fatal("Windows must use the loopback-TCP transport")
	}
	dir, err := os.MkdirTemp("", "single-wine-*")
	if err != nil {
		t.Fatal(err)
	}
	activated := make(chan struct{}, 1)
	release, err := Acquire(dir, func() { activated <- struct{}{} })
	if err != nil {
		t.Fatalf("first Acquire: %v", err)
	}
	if _, err := Acquire(dir, nil); !errors.Is(err, ErrAlreadyRunning) {
		t.Fatalf("second Acquire: %v, want ErrAlreadyRunning", err)
	}
	select {
	case <-activated:
	case <-time.After(10 * time.Second):
		t.Fatal("the first instance was not asked to show itself")
	}
	release()
	release() // safe twice
	again, err := Acquire(dir, nil)
	if err != nil {
		t.Fatalf("Acquire after release: %v", err)
	}
	again()
}
