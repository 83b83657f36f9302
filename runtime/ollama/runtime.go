package ollama

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/ollama/ollama/api"
)

// OllamaVersion is the Ollama release the project builds and tests against.
const OllamaVersion = "0.17.4"

// DefaultAttachAddr is where a user-installed Ollama listens by default.
const DefaultAttachAddr = "http://127.0.0.1:11434"

// Config says how to reach or start Ollama.
type Config struct {
	// AttachAddr is an Ollama to use if it answers. Empty: $OLLAMA_HOST, else DefaultAttachAddr.
	AttachAddr string
	// NoAttach skips looking for a running Ollama and always starts a managed one.
	NoAttach bool
	// NoManage forbids starting Ollama: only attaching is allowed.
	NoManage bool
	// Binary is the ollama executable for managed mode. Empty: FindBinary.
	Binary string
	// Dir holds the managed Ollama's HOME and models (required for managed mode).
	Dir string
	// VRAMReserve is VRAM (bytes) kept free for the owner when judging whether a model fits.
	VRAMReserve uint64
	// FreeVRAM reports the free VRAM in bytes now; ok=false when there is no GPU.
	FreeVRAM func() (free uint64, ok bool)
	// DiskFree reports free bytes on the filesystem holding path (a seam for tests).
	DiskFree func(path string) (uint64, error)
	// HTTPClient for talking to Ollama (default: no overall timeout; streams are long).
	HTTPClient *http.Client
	Logger     *slog.Logger
	// ExtraEnv goes to a managed Ollama's environment.
	ExtraEnv []string
}

// Runtime is the model runtime: one Ollama (attached or managed) and the
// operations on it. Create with New, then Run it; other methods may be
// called concurrently once Ready is closed.
type Runtime struct {
	cfg Config
	log *slog.Logger

	mu       sync.Mutex
	mode     Mode
	client   *api.Client
	addr     string
	super    *Supervisor
	version  string
	ready    chan struct{}
	runErr   error
	onChange []func()
	weights  map[string]string // weights digest by manifest digest (weightsDigest)
	source   string            // which Ollama a managed one runs (SourceBundled, ...)
}

// New returns a Runtime; nothing starts until Run.
func New(cfg Config) *Runtime {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{}
	}
	if cfg.DiskFree == nil {
		cfg.DiskFree = diskFree
	}
	return &Runtime{cfg: cfg, log: cfg.Logger.With("component", "runtime"), ready: make(chan struct{})}
}

// OnChange registers f to be called (from any goroutine) when the status changes.
func (r *Runtime) OnChange(f func()) {
	r.mu.Lock()
	r.onChange = append(r.onChange, f)
	r.mu.Unlock()
}

func (r *Runtime) changed() {
	r.mu.Lock()
	fs := append([]func(){}, r.onChange...)
	r.mu.Unlock()
	for _, f := range fs {
		f()
	}
}

// Ready is closed once an Ollama answers (attached, or managed and started).
func (r *Runtime) Ready() <-chan struct{} { return r.ready }

// WaitReady blocks until Ready, ctx ends, or Run failed.
func (r *Runtime) WaitReady(ctx context.Context) error {
	select {
	case <-r.ready:
		return nil
	case <-ctx.Done():
		r.mu.Lock()
		err := r.runErr
		r.mu.Unlock()
		if err != nil {
			return err
		}
		return fmt.Errorf("runtime: waiting for ollama: %w", ctx.Err())
	}
}

// Run attaches to a running Ollama or starts and supervises one until ctx ends.
func (r *Runtime) Run(ctx context.Context) error {
	err := r.run(ctx)
	if err != nil {
		r.mu.Lock()
		r.runErr = err
		r.mu.Unlock()
		r.changed()
	}
	return err
}

func (r *Runtime) run(ctx context.Context) error {
	if !r.cfg.NoAttach {
		addr := r.attachAddr()
		if v, err := probeVersion(ctx, addr); err == nil {
			r.setClient(ModeAttached, addr, v)
			r.log.Info("attached to running ollama", "addr", addr, "version", v)
			close(r.ready)
			r.changed()
			return r.watchAttached(ctx, addr)
		} else if r.cfg.NoManage {
			return fmt.Errorf("runtime: %w at %s: %v", ErrOllamaUnreachable, addr, err)
		}
	}
	if r.cfg.NoManage {
		return fmt.Errorf("runtime: %w (attaching disabled and managing forbidden)", ErrOllamaNotFound)
	}
	bin, source := r.cfg.Binary, SourceConfigured
	if bin == "" {
		var err error
		if bin, source, err = FindBinarySource(); err != nil {
			return fmt.Errorf("runtime: %w", err)
		}
	}
	if r.cfg.Dir == "" {
		return errors.New("runtime: managed ollama needs a data dir")
	}
	sup := NewSupervisor(bin, r.cfg.Dir, r.cfg.Logger.With("component", "ollama"))
	sup.ExtraEnv = r.cfg.ExtraEnv
	readyOnce := sync.Once{}
	sup.onChange = func() {
		select {
		case <-sup.Ready():
			addr := sup.Addr()
			v, err := probeVersion(ctx, addr)
			if err != nil {
				return
			}
			r.setClient(ModeManaged, addr, v)
			readyOnce.Do(func() { close(r.ready) })
		default:
		}
		r.changed()
	}
	r.mu.Lock()
	r.super = sup
	r.source = source
	r.mode = ModeManaged
	r.mu.Unlock()
	return sup.Run(ctx)
}

// watchAttached notices when an attached Ollama goes away or comes back.
func (r *Runtime) watchAttached(ctx context.Context, addr string) error {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	up := true
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		_, err := probeVersion(ctx, addr)
		if (err == nil) != up {
			up = err == nil
			r.mu.Lock()
			if up {
				r.runErr = nil
			} else {
				r.runErr = fmt.Errorf("%w at %s", ErrOllamaUnreachable, addr)
			}
			r.mu.Unlock()
			r.log.Warn("attached ollama reachability changed", "addr", addr, "reachable", up)
			r.changed()
		}
	}
}

func (r *Runtime) attachAddr() string {
	if r.cfg.AttachAddr != "" {
		return normalizeAddr(r.cfg.AttachAddr)
	}
	if h := os.Getenv("OLLAMA_HOST"); h != "" {
		return normalizeAddr(h)
	}
	return DefaultAttachAddr
}

func normalizeAddr(s string) string {
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return s
	}
	if u.Port() == "" {
		u.Host = net.JoinHostPort(u.Hostname(), "11434")
	}
	return strings.TrimRight(u.String(), "/")
}

func (r *Runtime) setClient(mode Mode, addr, version string) {
	u, _ := url.Parse(addr)
	r.mu.Lock()
	r.mode, r.addr, r.version = mode, addr, version
	r.client = api.NewClient(u, r.cfg.HTTPClient)
	r.mu.Unlock()
}

// Client returns the Ollama API client, or an error when none is reachable yet.
func (r *Runtime) Client() (*api.Client, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.client == nil {
		if r.runErr != nil {
			return nil, r.runErr
		}
		return nil, fmt.Errorf("runtime: %w (not started yet)", ErrOllamaUnreachable)
	}
	return r.client, nil
}

// Status reports the backend's state now (no I/O).
func (r *Runtime) Status() Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := Status{Mode: r.mode, Address: r.addr, Version: r.version}
	if r.super != nil {
		st.Binary = r.super.Binary
		st.Source = r.source
		st.PID = r.super.PID()
		st.Restarts = r.super.Restarts()
		st.Computes = r.super.Computes()
		st.GPUBackend = GPUBackend(st.Computes)
		select {
		case <-r.super.Ready():
			// After a restart the client moves to the new server a moment
			// after it answers: until then it still aims at the dead one.
			st.Reachable = st.PID != 0 && r.addr == r.super.Addr()
		default:
		}
		if err := r.super.LastError(); err != nil {
			st.Reachable = false
			st.Error = err.Error()
		}
	} else if r.client != nil {
		st.Reachable = r.runErr == nil
	}
	if r.runErr != nil {
		st.Reachable = false
		st.Error = r.runErr.Error()
	}
	return st
}

// Restart restarts the managed Ollama (see Supervisor.Restart); an
// attached Ollama is the owner's, not ours to restart: ErrNotManaged.
func (r *Runtime) Restart(reason string) error {
	sup := r.Supervisor()
	if sup == nil {
		return fmt.Errorf("runtime: restart: %w", ErrNotManaged)
	}
	return sup.Restart(reason)
}

// Supervisor returns the managed Ollama's supervisor, nil when attached.
func (r *Runtime) Supervisor() *Supervisor {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.super
}

// ModelsDir is where a managed Ollama keeps models ("" when attached: Ollama decides).
func (r *Runtime) ModelsDir() string {
	if r.cfg.Dir == "" || r.Status().Mode != ModeManaged {
		return ""
	}
	return filepath.Join(r.cfg.Dir, "models")
}

func probeVersion(ctx context.Context, addr string) (string, error) {
	u, err := url.Parse(addr)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return api.NewClient(u, &http.Client{}).Version(ctx)
}

// CachedBuildPath is where scripts/build-ollama.sh puts its build.
func CachedBuildPath() string {
	dir := os.Getenv("XDG_CACHE_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		dir = filepath.Join(home, ".cache")
	}
	if isWindows {
		if d, err := os.UserCacheDir(); err == nil {
			dir = d
		}
	}
	name := "ollama"
	if isWindows {
		name = "ollama.exe"
	}
	return filepath.Join(dir, "cocoon-desktop", "ollama-v"+OllamaVersion, "bin", name)
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	if err != nil || fi.IsDir() {
		return false
	}
	return isWindows || fi.Mode()&0o111 != 0
}
