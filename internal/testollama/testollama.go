// Package testollama starts a real Ollama server for tests.
//
// The binary comes from the COCOON_OLLAMA environment variable (`make test`
// builds Ollama and sets it); tests that need Ollama are skipped when it is
// empty (failed under COCOON_REQUIRE_ALL=1). Each server runs with its own HOME, OLLAMA_MODELS in a temporary
// directory and OLLAMA_HOST on a free loopback port, and is killed (its whole
// process group, runners included) when the test ends.
package testollama

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ollama/ollama/api"

	"github.com/cocoon-desktop/cocoon-desktop/internal/testx"
)

// EnvVar names the environment variable holding the path of the Ollama binary.
const EnvVar = "COCOON_OLLAMA"

// LogEnvVar names an environment variable that, when set, makes Start log
// the whole server log at the end of every test (it is always logged, in
// part, when the test failed).
const LogEnvVar = "COCOON_OLLAMA_LOG"

// SkipMessage is the t.Skip message used when EnvVar is empty.
const SkipMessage = EnvVar + " not set: run `make test` which builds Ollama"

// Skip skips the test because COCOON_OLLAMA is empty, or fails it under
// COCOON_REQUIRE_ALL=1 (testx.SkipOrFail).
func Skip(t testing.TB) {
	t.Helper()
	testx.SkipOrFail(t, "Ollama", SkipMessage)
}

// Server is a running `ollama serve`.
type Server struct {
	binary string
	addr   string
	home   string
	models string
	cmd    *exec.Cmd
	log    *syncBuffer
	done   chan struct{}
	client *api.Client
}

// Options tune Start. The zero value is fine.
type Options struct {
	// Env adds environment variables (KEY=VALUE) to the server's environment,
	// e.g. "OLLAMA_NEW_ENGINE=1".
	Env []string
	// Timeout bounds the wait for the server to answer /api/version; 60s
	// when zero.
	Timeout time.Duration
	// Binary runs this Ollama binary instead of the one in COCOON_OLLAMA
	// (e.g. the one in a package under test).
	Binary string
}

// Binary returns the Ollama binary from COCOON_OLLAMA (with a leading "~/"
// expanded), or "" when it is not set.
func Binary() string {
	b := os.Getenv(EnvVar)
	if strings.HasPrefix(b, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			b = filepath.Join(home, b[2:])
		}
	}
	return b
}

// Start starts `ollama serve` for the test, skipping the test when
// COCOON_OLLAMA is empty and failing it when the server does not come up.
func Start(t testing.TB) *Server {
	t.Helper()
	return StartWith(t, Options{})
}

// StartWith is Start with options.
func StartWith(t testing.TB, opts Options) *Server {
	t.Helper()
	bin := opts.Binary
	if bin == "" {
		bin = Binary()
	}
	if bin == "" {
		Skip(t)
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s=%s: %v", EnvVar, bin, err)
	}
	port, err := freePort()
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	dir := t.TempDir()
	s := &Server{
		binary: bin,
		addr:   fmt.Sprintf("127.0.0.1:%d", port),
		home:   filepath.Join(dir, "home"),
		models: filepath.Join(dir, "models"),
		log:    &syncBuffer{},
		done:   make(chan struct{}),
	}
	for _, d := range []string{s.home, s.models} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(bin, "serve")
	cmd.Env = append([]string{
		"HOME=" + s.home,
		"PATH=" + os.Getenv("PATH"),
		"OLLAMA_HOST=" + s.addr,
		"OLLAMA_MODELS=" + s.models,
		"OLLAMA_NOPRUNE=1",
	}, opts.Env...)
	cmd.Stdout = s.log
	cmd.Stderr = s.log
	setProcessGroup(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s serve: %v", bin, err)
	}
	s.cmd = cmd
	go func() { cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		s.stop()
		switch {
		case os.Getenv(LogEnvVar) != "":
			t.Logf("ollama serve log:\n%s", s.Log())
		case t.Failed():
			t.Logf("ollama serve log (tail):\n%s", tail(s.Log(), 8000))
		}
	})

	u := &url.URL{Scheme: "http", Host: s.addr}
	s.client = api.NewClient(u, &http.Client{})
	timeout := opts.Timeout
	if timeout == 0 {
		timeout = 60 * time.Second
	}
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := s.client.Version(ctx)
		cancel()
		if err == nil {
			break
		}
		select {
		case <-s.done:
			t.Fatalf("ollama serve exited before answering: %v\n%s", cmd.ProcessState, tail(s.Log(), 8000))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("ollama serve did not answer /api/version within %v: %v\n%s", timeout, err, tail(s.Log(), 8000))
		}
		time.Sleep(50 * time.Millisecond)
	}
	return s
}

func (s *Server) stop() {
	select {
	case <-s.done:
		return
	default:
	}
	killProcessGroup(s.cmd)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
	}
}

// Client returns an API client for the server.
func (s *Server) Client() *api.Client { return s.client }

// Addr returns the server's host:port (127.0.0.1:PORT).
func (s *Server) Addr() string { return s.addr }

// Host returns the server's base URL, http://127.0.0.1:PORT, the value for
// OLLAMA_HOST or an -host flag.
func (s *Server) Host() string { return "http://" + s.addr }

// Binary returns the path of the Ollama binary the server runs.
func (s *Server) Binary() string { return s.binary }

// Home returns the HOME directory the server runs with.
func (s *Server) Home() string { return s.home }

// ModelsDir returns the server's OLLAMA_MODELS directory.
func (s *Server) ModelsDir() string { return s.models }

// Log returns what the server has written to stdout and stderr so far.
func (s *Server) Log() string { return s.log.String() }

// WaitLog waits until the server's log contains substr and returns the log,
// failing the test when it does not within timeout or the server exits.
// (What the server logs reaches Log through a pipe, so a line logged before
// an HTTP answer may still be on its way when the answer arrives.)
func (s *Server) WaitLog(t testing.TB, substr string, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		log := s.Log()
		if strings.Contains(log, substr) {
			return log
		}
		select {
		case <-s.done:
			t.Fatalf("ollama serve exited before logging %q:\n%s", substr, tail(s.Log(), 8000))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("ollama serve did not log %q within %v:\n%s", substr, timeout, tail(log, 8000))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
