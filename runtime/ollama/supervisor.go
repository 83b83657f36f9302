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
// when its context ends. The server's whole process tree (its model runners
// included) ends with it, with a crash of the server and, on Linux and
// Windows, with Cocoon itself: see the package doc.
//
// Ollama's own output is kept in a small in-memory ring (for error messages)
// and never written to disk: at debug level it could carry prompts.
type Supervisor struct {
	Binary    string // the ollama executable
	Dir       string // its HOME; models live in Dir/models unless ModelsDir is set
	ModelsDir string
	Logger    *slog.Logger
	// MinBackoff and MaxBackoff bound the restart delay after a crash (defaults
	// 500 ms and 30 s). The delay doubles while starts keep failing and goes
	// back to MinBackoff once a started server has answered.
	MinBackoff, MaxBackoff time.Duration
	// ExtraEnv is appended to the child's environment (e.g. OLLAMA_NUM_PARALLEL).
	ExtraEnv []string

	mu       sync.Mutex
	addr     string
	pid      int
	tree     *procTree // the running process tree, nil when none runs
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

// PID of the current `ollama serve` process, 0 when none runs. Its model
// runners share its process group. On Linux it is not Cocoon's child but the
// guard's (see the package doc); PIDs lists the whole tree.
func (s *Supervisor) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pid
}

// PIDs lists every process of the managed Ollama now: `ollama serve`, the
// model runners it started (orphaned ones too, until they are killed) and,
// on Linux, the guard between Cocoon and the server. Nil when none runs.
// The list is read from the system each call (/proc on Linux, the job
// object on Windows; elsewhere only the server itself).
func (s *Supervisor) PIDs() []int {
	s.mu.Lock()
	t := s.tree
	s.mu.Unlock()
	if t == nil {
		return nil
	}
	return t.pids()
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

// Run starts Ollama and keeps it running until ctx ends, then stops it and
// every process it started (SIGTERM, then SIGKILL after a grace of about
// 5 s). It returns nil on ctx cancel, or an error when Ollama cannot be
// started at all (binary missing or not executable).
func (s *Supervisor) Run(ctx context.Context) error {
	if s.MinBackoff == 0 {
		s.MinBackoff = 500 * time.Millisecond
	}
	if s.MaxBackoff == 0 {
		s.MaxBackoff = 30 * time.Second
	}
	bin, err := exec.LookPath(s.Binary)
	if err != nil {
		return fmt.Errorf("ollama supervisor: %w: %v", ErrOllamaNotFound, err)
	}
	if abs, err := filepath.Abs(bin); err == nil {
		bin = abs // the child runs in Dir: a relative path would not resolve there
	}
	backoff := s.MinBackoff
	for first := true; ; first = false {
		if !first {
			s.mu.Lock()
			s.restarts++
			s.mu.Unlock()
		}
		served, err := s.runOnce(ctx, bin)
		if ctx.Err() != nil {
			return nil
		}
		s.mu.Lock()
		s.lastErr = err
		s.pid = 0
		s.tree = nil
		s.mu.Unlock()
		s.changed()
		if served {
			// It answered before dying: a crash of a working server, not a
			// crash loop at start, so the next start comes quickly.
			backoff = s.MinBackoff
		}
		s.Logger.Warn("ollama exited; restarting", "err", err, "served", served, "backoff", backoff, "last_output", strings.Join(lastN(s.tail.lines(), 3), " | "))
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

// runOnce starts one ollama process tree and waits for it to exit or ctx to
// end. served reports whether the server answered HTTP before that.
func (s *Supervisor) runOnce(ctx context.Context, bin string) (served bool, err error) {
	port, err := freeLoopbackPort()
	if err != nil {
		return false, fmt.Errorf("ollama supervisor: pick a port: %w", err)
	}
	home := s.Dir
	models := s.ModelsDir
	if models == "" {
		models = filepath.Join(home, "models")
	}
	for _, d := range []string{home, models} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return false, fmt.Errorf("ollama supervisor: %w", err)
		}
	}
	hostport := net.JoinHostPort("127.0.0.1", fmt.Sprint(port))
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(childEnv(),
		"HOME="+home,
		"OLLAMA_HOST="+hostport, // loopback only: never reachable from the LAN
		"OLLAMA_MODELS="+models,
		"OLLAMA_DEBUG=0",
		// Ollama's Vulkan backend is opt-in; it is used only where its
		// libraries were installed next to the binary, harmless elsewhere.
		"OLLAMA_VULKAN=1",
	)
	cmd.Env = append(cmd.Env, s.ExtraEnv...) // later entries win: ExtraEnv may override
	cmd.Dir = home
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	s.mu.Lock()
	s.computes = nil // this process logs its own
	s.mu.Unlock()
	go s.tail.consume(pr)
	tree, err := startTree(cmd, s.Logger)
	if err != nil {
		pw.Close()
		return false, fmt.Errorf("ollama supervisor: start %s: %w", bin, err)
	}
	go func() { <-tree.done; pw.Close() }()
	ready := make(chan struct{})
	s.mu.Lock()
	s.addr = "http://" + hostport
	s.pid = tree.servePID()
	s.tree = tree
	s.ready = ready
	s.mu.Unlock()
	s.Logger.Info("ollama started", "binary", bin, "addr", hostport, "pid", tree.servePID(), "root_pid", tree.rootPID())

	answered := make(chan bool, 1)
	go func() {
		ok := waitHTTP(ctx, "http://"+hostport+"/api/version", tree.done)
		if ok {
			s.mu.Lock()
			s.lastErr = nil
			s.mu.Unlock()
			close(ready)
			s.changed()
		}
		answered <- ok
	}()

	select {
	case <-tree.done:
		s.mu.Lock()
		if s.tree == tree {
			s.tree = nil
		}
		s.mu.Unlock()
		tree.release()
		err := tree.exitErr()
		if err == nil {
			err = errors.New("exited with status 0")
		}
		return <-answered, fmt.Errorf("ollama exited: %w", err)
	case <-ctx.Done():
		tree.stop()
		s.mu.Lock()
		s.pid = 0
		s.tree = nil
		s.mu.Unlock()
		s.Logger.Info("ollama stopped", "pid", tree.servePID())
		return <-answered, ctx.Err()
	}
}

// Restart ends the running Ollama now, its whole process tree, so that Run
// starts a fresh one (after the usual backoff): for a server that still
// answers but no longer produces tokens. reason is logged.
func (s *Supervisor) Restart(reason string) error {
	s.mu.Lock()
	t := s.tree
	s.mu.Unlock()
	if t == nil {
		return errors.New("ollama supervisor: restart: no ollama is running")
	}
	s.Logger.Warn("restarting ollama", "reason", reason, "pid", t.servePID())
	t.kill()
	return nil
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

// waitHTTP polls url until it answers 200, exited is closed or ctx ends.
func waitHTTP(ctx context.Context, url string, exited <-chan struct{}) bool {
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

// stop asks the tree to end, waits up to stopGrace, then kills what is left.
func (t *procTree) stop() {
	t.terminate()
	select {
	case <-t.done:
	case <-time.After(stopGrace):
		t.kill()
		<-t.done
	}
	t.release()
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
