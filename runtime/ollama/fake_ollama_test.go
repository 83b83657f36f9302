package ollama_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/runtime/ollama"
)

// fakeEnv makes this test binary act as a fake Ollama when a Supervisor
// starts it as `BINARY serve` (with the variable in ExtraEnv):
//
//	serve: answer /api/version; /runner starts a fake runner child (this
//	       binary again, as `runner`, sleeping) and answers its pid;
//	       /crash exits with status 3.
//	serve-stubborn: the same, ignoring SIGTERM.
//	fail:  exit with status 3 at once, before answering anything.
//
// The fake runner, like Ollama's, is started with no process attributes of
// its own: it shares the server's process group and is orphaned when the
// server dies. It ignores SIGTERM, so only a SIGKILL ends it.
const fakeEnv = "COCOON_TEST_FAKE_OLLAMA"

func init() {
	mode := os.Getenv(fakeEnv)
	if mode == "" || len(os.Args) < 2 {
		return
	}
	switch {
	case os.Args[1] == "runner":
		signal.Ignore(syscall.SIGTERM)
		time.Sleep(2 * time.Minute) // bounded: a leaked one ends on its own (the tests notice first)
		os.Exit(0)
	case os.Args[1] == "serve" && mode == "fail":
		fmt.Fprintln(os.Stderr, "fake ollama: failing at start")
		os.Exit(3)
	case os.Args[1] == "serve" && mode == "serve":
		os.Exit(fakeServe())
	case os.Args[1] == "serve" && mode == "serve-stubborn":
		signal.Ignore(syscall.SIGTERM)
		os.Exit(fakeServe())
	}
}

func fakeServe() int {
	l, err := net.Listen("tcp", os.Getenv("OLLAMA_HOST"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake ollama:", err)
		return 1
	}
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake ollama:", err)
		return 1
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/version", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, `{"version":%q}`, ollama.OllamaVersion)
	})
	mux.HandleFunc("/runner", func(w http.ResponseWriter, _ *http.Request) {
		cmd := exec.Command(exe, "runner")
		if err := cmd.Start(); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		go cmd.Wait()
		fmt.Fprint(w, cmd.Process.Pid)
	})
	mux.HandleFunc("/crash", func(http.ResponseWriter, *http.Request) { os.Exit(3) })
	fmt.Fprintln(os.Stderr, "fake ollama: listening on", l.Addr())
	_ = http.Serve(l, mux)
	return 1
}

// fakeSupervisor returns a Supervisor running this test binary as a fake
// Ollama in mode, and a record of what it logs.
func fakeSupervisor(t *testing.T, mode string) (*ollama.Supervisor, *logRecorder) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	rec := &logRecorder{}
	sup := ollama.NewSupervisor(exe, t.TempDir(), slog.New(rec))
	sup.ExtraEnv = []string{fakeEnv + "=" + mode}
	return sup, rec
}

// logRecorder is a slog.Handler keeping every record.
type logRecorder struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (h *logRecorder) Enabled(_ context.Context, _ slog.Level) bool { return true }

func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	h.recs = append(h.recs, r.Clone())
	h.mu.Unlock()
	return nil
}

func (h *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *logRecorder) WithGroup(string) slog.Handler      { return h }

// restarts returns the attributes of every "restarting" record so far.
func (h *logRecorder) restarts() []map[string]slog.Value {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []map[string]slog.Value
	for _, r := range h.recs {
		if r.Message != "ollama exited; restarting" {
			continue
		}
		m := map[string]slog.Value{}
		r.Attrs(func(a slog.Attr) bool { m[a.Key] = a.Value; return true })
		out = append(out, m)
	}
	return out
}
