package ollama

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Supervisor runs one `ollama serve` on a free loopback port with its own HOME
// and models dir, restarts it with backoff when it dies, and stops it cleanly
// when its context ends.
//
// Ollama's own output is kept in a small in-memory ring (for error messages)
// and never written to disk: at debug level it could carry prompts.
type Supervisor struct {
	Binary    string // the ollama executable
	Dir       string // its HOME; models live in Dir/models unless ModelsDir is set
	ModelsDir string
	Logger    *slog.Logger
	// MinBackoff and MaxBackoff bound the restart delay after a crash (defaults 500 ms and 30 s).
	MinBackoff, MaxBackoff time.Duration
	// ExtraEnv is appended to the child's environment (e.g. OLLAMA_NUM_PARALLEL).
	ExtraEnv []string

	mu       sync.Mutex
	addr     string
	pid      int
	restarts int
	lastErr  error
	ready    chan struct{} // closed when the current process answers
	tail     *ringLines
	onChange func()
	computes []Compute // the devices the current process found (its log)
}

// NewSupervisor returns a Supervisor for binary, storing its state under dir.
func NewSupervisor(binary, dir string, logger *slog.Logger) *Supervisor {
	if logger == nil {
		logger = slog.Default()
	}
	s := &Supervisor{Binary: binary, Dir: dir, Logger: logger, ready: make(chan struct{}), tail: newRingLines(60)}
	s.tail.onLine = s.scanLine
	return s
}

// scanLine notes the inference devices Ollama logs at start.
func (s *Supervisor) scanLine(line string) {
	if c, ok := ParseComputeLine(line); ok {
		s.mu.Lock()
		s.computes = append(s.computes, c)
		s.mu.Unlock()
		s.changed()
	}
}

// Computes are the inference devices the current Ollama process found
// (empty until it logged them).
func (s *Supervisor) Computes() []Compute {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Compute(nil), s.computes...)
}

// Addr is the base URL of the current process (empty before the first start).
func (s *Supervisor) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// PID of the current process, 0 when none runs.
func (s *Supervisor) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pid
}

// Restarts counts how often the process was started again after dying.
func (s *Supervisor) Restarts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.restarts
}

// LastError is the reason of the last crash or failed start, nil when healthy.
func (s *Supervisor) LastError() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastErr
}

// Ready returns a channel closed once the current process answers HTTP.
func (s *Supervisor) Ready() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ready
}

// Tail returns Ollama's last output lines (memory only).
func (s *Supervisor) Tail() []string { return s.tail.lines() }

// Run starts Ollama and keeps it running until ctx ends, then stops it
// (SIGTERM, then kill after 5 s). It returns nil on ctx cancel, or an error
// when Ollama cannot be started at all (binary missing or not executable).
func (s *Supervisor) Run(ctx context.Context) error {
	if s.MinBackoff == 0 {
		s.MinBackoff = 500 * time.Millisecond
	}
	if s.MaxBackoff == 0 {
		s.MaxBackoff = 30 * time.Second
	}
	if _, err := exec.LookPath(s.Binary); err != nil {
		return fmt.Errorf("ollama supervisor: %w: %v", ErrOllamaNotFound, err)
	}
	backoff := s.MinBackoff
	for first := true; ; first = false {
		if !first {
			s.mu.Lock()
			s.restarts++
			s.mu.Unlock()
		}
		started := time.Now()
		err := s.runOnce(ctx)
		if ctx.Err() != nil {
			return nil
		}
		s.mu.Lock()
		s.lastErr = err
		s.pid = 0
		s.mu.Unlock()
		s.changed()
		if time.Since(started) > time.Minute {
			backoff = s.MinBackoff // it ran fine for a while: not a crash loop
		}
		s.Logger.Warn("ollama exited; restarting", "err", err, "backoff", backoff, "last_output", strings.Join(lastN(s.tail.lines(), 3), " | "))
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, s.MaxBackoff)
	}
}

func (s *Supervisor) changed() {
	s.mu.Lock()
	f := s.onChange
	s.mu.Unlock()
	if f != nil {
		f()
	}
}

// runOnce starts one ollama process and waits for it to exit or ctx to end.
func (s *Supervisor) runOnce(ctx context.Context) error {
	port, err := freeLoopbackPort()
	if err != nil {
		return fmt.Errorf("ollama supervisor: pick a port: %w", err)
	}
	home := s.Dir
	models := s.ModelsDir
	if models == "" {
		models = filepath.Join(home, "models")
	}
	for _, d := range []string{home, models} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("ollama supervisor: %w", err)
		}
	}
	hostport := net.JoinHostPort("127.0.0.1", fmt.Sprint(port))
	cmd := exec.Command(s.Binary, "serve")
	cmd.Env = append(childEnv(),
		"HOME="+home,
		"OLLAMA_HOST="+hostport, // loopback only: never reachable from the LAN
		"OLLAMA_MODELS="+models,
		"OLLAMA_DEBUG=0",
	)
	cmd.Env = append(cmd.Env, s.ExtraEnv...)
	cmd.Dir = home
	setProcessGroup(cmd)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	s.mu.Lock()
	s.computes = nil // this process logs its own
	s.mu.Unlock()
	go s.tail.consume(pr)
	if err := cmd.Start(); err != nil {
		pw.Close()
		return fmt.Errorf("ollama supervisor: start %s: %w", s.Binary, err)
	}
	ready := make(chan struct{})
	s.mu.Lock()
	s.addr = "http://" + hostport
	s.pid = cmd.Process.Pid
	s.ready = ready
	s.mu.Unlock()
	s.Logger.Info("ollama started", "binary", s.Binary, "addr", hostport, "pid", cmd.Process.Pid)

	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); pw.Close() }()

	go func() {
		if waitHTTP(ctx, "http://"+hostport+"/api/version", exited) {
			s.mu.Lock()
			s.lastErr = nil
			s.mu.Unlock()
			close(ready)
			s.changed()
		}
	}()

	select {
	case err := <-exited:
		if err == nil {
			err = errors.New("exited with status 0")
		}
		return fmt.Errorf("ollama exited: %w", err)
	case <-ctx.Done():
		stopProcess(cmd, exited, 5*time.Second)
		s.mu.Lock()
		s.pid = 0
		s.mu.Unlock()
		s.Logger.Info("ollama stopped", "pid", cmd.Process.Pid)
		return ctx.Err()
	}
}

// childEnv is the parent's environment minus variables that would change
// where the child listens or stores data.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "HOME", "OLLAMA_HOST", "OLLAMA_MODELS", "OLLAMA_DEBUG", "OLLAMA_ORIGINS":
			continue
		}
		env = append(env, kv)
	}
	return env
}

// waitHTTP polls url until it answers 200, the process exits or ctx ends.
func waitHTTP(ctx context.Context, url string, exited <-chan error) bool {
	client := &http.Client{Timeout: time.Second}
	for delay := 10 * time.Millisecond; ; delay = min(delay*2, 200*time.Millisecond) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return true
			}
		}
		select {
		case <-ctx.Done():
			return false
		case <-exited:
			return false
		case <-time.After(delay):
		}
	}
}

func stopProcess(cmd *exec.Cmd, exited <-chan error, grace time.Duration) {
	terminateGroup(cmd)
	select {
	case <-exited:
	case <-time.After(grace):
		killGroup(cmd)
		<-exited
	}
}

func freeLoopbackPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// ringLines keeps the last n lines of a stream in memory.
type ringLines struct {
	mu     sync.Mutex
	n      int
	buf    []string
	onLine func(string) // called with each line, outside mu (may be nil)
}

func newRingLines(n int) *ringLines { return &ringLines{n: n} }

func (r *ringLines) consume(rd io.Reader) {
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		if r.onLine != nil {
			r.onLine(sc.Text())
		}
		r.mu.Lock()
		r.buf = append(r.buf, sc.Text())
		if len(r.buf) > r.n {
			r.buf = r.buf[len(r.buf)-r.n:]
		}
		r.mu.Unlock()
	}
	io.Copy(io.Discard, rd)
}

func (r *ringLines) lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.buf...)
}

func lastN(s []string, n int) []string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
