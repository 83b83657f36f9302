package testollama

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/internal/testx"
)

func TestBinaryExpandsHome(t *testing.T) {
	home, err := os.UserHomeDir()
	if err != nil {
		testx.SkipOrFail(t, "home directory", err.Error())
	}
	t.Setenv(EnvVar, "~/x/ollama")
	if got, want := Binary(), filepath.Join(home, "x/ollama"); got != want {
		t.Errorf("Binary() = %q, want %q", got, want)
	}
	t.Setenv(EnvVar, "")
	if got := Binary(); got != "" {
		t.Errorf("Binary() = %q with %s empty", got, EnvVar)
	}
}

// TestStartAndCleanup starts a server in a subtest and checks it is gone
// once the subtest's cleanup has run.
func TestStartAndCleanup(t *testing.T) {
	var addr string
	t.Run("serve", func(t *testing.T) {
		s := Start(t)
		addr = s.Addr()
		v, err := s.Client().Version(context.Background())
		if err != nil || v == "" {
			t.Fatalf("version %q, %v", v, err)
		}
		t.Logf("%s serves Ollama %s at %s (HOME=%s)", s.Binary(), v, s.Host(), s.Home())
	})
	if addr == "" {
		return // skipped or failed
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatalf("%s still accepts connections after cleanup", addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
