package ollama

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/ollama/ollama/api"
)

func TestFits(t *testing.T) {
	const gb = 1_000_000_000
	tests := []struct {
		name     string
		size     int64
		free     uint64
		reserve  uint64
		wantFits bool
	}{
		{"small model, lots free", 2 * gb, 20 * gb, 1 * gb, true},
		{"exactly at the limit with overhead", 10 * gb, 13 * gb, 1 * gb, true},
		{"overhead tips it over", 10 * gb, 12*gb + gb/2, 1 * gb, false},
		{"reserve eats everything", 1, 1 * gb, 1 * gb, false},
		{"reserve above free", 1, 1 * gb, 2 * gb, false},
		{"no reserve", 1 * gb, 2 * gb, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, note := Fits(tc.size, tc.free, tc.reserve)
			if got != tc.wantFits {
				t.Fatalf("Fits(%d, %d, %d) = %v (%q), want %v", tc.size, tc.free, tc.reserve, got, note, tc.wantFits)
			}
			if !got && note == "" {
				t.Fatal("a model that does not fit must say why")
			}
		})
	}
}

func TestHumanBytes(t *testing.T) {
	tests := []struct {
		in   int64
		want string
	}{
		{0, "0 B"}, {999, "999 B"}, {1000, "1.0 KB"}, {812_345, "812 KB"},
		{4_700_000_000, "4.7 GB"}, {24_000_000_000, "24.0 GB"}, {1_500_000_000_000, "1.5 TB"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			if got := HumanBytes(tc.in); got != tc.want {
				t.Fatalf("HumanBytes(%d) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestNormalizeAddr(t *testing.T) {
	tests := []struct{ in, want string }{
		{"127.0.0.1:11434", "http://127.0.0.1:11434"},
		{"localhost", "http://localhost:11434"},
		{"http://127.0.0.1:9999/", "http://127.0.0.1:9999"},
		{"https://ollama.lan", "https://ollama.lan:11434"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			if got := normalizeAddr(tc.in); got != tc.want {
				t.Fatalf("normalizeAddr(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestWrapMapsErrorsToSentinels(t *testing.T) {
	r := New(Config{})
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"404 from ollama", api.StatusError{StatusCode: 404, ErrorMessage: "model 'x' not found"}, ErrModelNotFound},
		{"pull of a missing manifest", errors.New("pull model manifest: file does not exist"), ErrModelNotFound},
		{"disk full errno", fmt.Errorf("write blob: %w", syscall.ENOSPC), ErrDiskFull},
		{"disk full text", errors.New("write /m/blobs/x: no space left on device"), ErrDiskFull},
		{"connection refused", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, ErrOllamaUnreachable},
		{"cancelled", context.Canceled, context.Canceled},
		{"registry DNS, relayed by ollama", api.StatusError{StatusCode: 500, ErrorMessage: `pull model manifest: Get "https://registry.ollama.ai/v2/library/llama3.2/manifests/1b": dial tcp: lookup registry.ollama.ai on 127.0.0.53:53: no such host`}, ErrRegistryUnreachable},
		{"registry timeout, relayed by ollama", errors.New("pull model manifest: Get \"https://registry.ollama.ai/v2/x/manifests/y\": net/http: TLS handshake timeout"), ErrRegistryUnreachable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := r.wrap("op", tc.err)
			if !errors.Is(got, tc.want) {
				t.Fatalf("wrap(%v) = %v, want it to wrap %v", tc.err, got, tc.want)
			}
		})
	}
	// Our own connection to Ollama failing is Ollama's fault, not the registry's.
	if got := r.wrap("op", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}); errors.Is(got, ErrRegistryUnreachable) {
		t.Fatalf("a refused connection to Ollama read as the registry: %v", got)
	}
	if r.wrap("op", nil) != nil {
		t.Fatal("wrap(nil) must be nil")
	}
}

func TestFindBinary(t *testing.T) {
	dir := t.TempDir()
	fake := filepath.Join(dir, "ollama")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Run("env var wins", func(t *testing.T) {
		t.Setenv("COCOON_OLLAMA", fake)
		got, err := FindBinary()
		if err != nil || got != fake {
			t.Fatalf("FindBinary() = %q, %v; want %q", got, err, fake)
		}
	})
	t.Run("nothing anywhere", func(t *testing.T) {
		t.Setenv("COCOON_OLLAMA", filepath.Join(dir, "missing"))
		t.Setenv("PATH", dir+"/empty")
		t.Setenv("XDG_CACHE_HOME", dir+"/nocache")
		_, err := FindBinary()
		if !errors.Is(err, ErrOllamaNotFound) {
			t.Fatalf("FindBinary() error = %v, want ErrOllamaNotFound", err)
		}
	})
}

func TestRunFailsClearly(t *testing.T) {
	closedPort := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		return addr
	}
	tests := []struct {
		name string
		cfg  Config
		want error
	}{
		{"binary missing", Config{NoAttach: true, Binary: "/nonexistent/ollama", Dir: t.TempDir()}, ErrOllamaNotFound},
		{"attach only, nothing answers", Config{AttachAddr: closedPort(), NoManage: true}, ErrOllamaUnreachable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := New(tc.cfg)
			err := r.Run(context.Background())
			if !errors.Is(err, tc.want) {
				t.Fatalf("Run() = %v, want %v", err, tc.want)
			}
			if st := r.Status(); st.Reachable || st.Error == "" {
				t.Fatalf("Status() = %+v, want unreachable with an error", st)
			}
			if _, err := r.ListModels(context.Background()); err == nil {
				t.Fatal("ListModels must fail when Ollama never started")
			}
		})
	}
}
