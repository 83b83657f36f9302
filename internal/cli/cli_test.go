package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/gpu"
	"github.com/cocoon-desktop/cocoon-desktop/internal/testollama"
	"github.com/cocoon-desktop/cocoon-desktop/runtime/ollama"
)

// TestMain lets tests run this test binary as the real program:
// with COCOON_CLI_MAIN=1 it behaves exactly like cocoon-desktop.
func TestMain(m *testing.M) {
	if os.Getenv("COCOON_CLI_MAIN") == "1" {
		os.Exit(Main(os.Args[1:]))
	}
	os.Exit(m.Run())
}

func program(t *testing.T, args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "COCOON_CLI_MAIN=1", "DISPLAY=", "WAYLAND_DISPLAY=")
	return cmd
}

func needOllama(t *testing.T) {
	if testollama.Binary() == "" {
		testollama.Skip(t)
	}
}

func TestDoctorJSON(t *testing.T) {
	needOllama(t)
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	code := run([]string{"doctor", "--json", "--no-attach", "--data-dir", dir}, &out, &errOut)
	if code != ExitOK {
		t.Fatalf("doctor exit %d; stderr: %s; stdout: %s", code, errOut.String(), out.String())
	}
	var rep struct {
		Healthy bool         `json:"healthy"`
		GPU     gpu.Snapshot `json:"gpu"`
		Ollama  struct {
			Reachable bool   `json:"reachable"`
			Version   string `json:"version"`
			Mode      string `json:"mode"`
			Address   string `json:"address"`
		} `json:"ollama"`
		Models []struct {
			Name     string `json:"name"`
			Size     int64  `json:"size"`
			FitsVRAM *bool  `json:"fits_vram"`
		} `json:"models"`
		DataDir  string   `json:"data_dir"`
		Warnings []string `json:"warnings"`
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("doctor --json is not one JSON object: %v\n%s", err, out.String())
	}
	// This machine has no NVIDIA driver: the reason is in gpu, and it is a warning only.
	if rep.GPU.State != gpu.StateNoDriver || !strings.Contains(rep.GPU.Reason, "no NVIDIA driver") || len(rep.Warnings) == 0 {
		t.Fatalf("gpu = %+v, warnings %v", rep.GPU, rep.Warnings)
	}
	if !rep.Healthy || !rep.Ollama.Reachable || rep.Ollama.Mode != "managed" || rep.Ollama.Version != ollama.OllamaVersion ||
		!strings.HasPrefix(rep.Ollama.Address, "http://127.0.0.1:") {
		t.Fatalf("ollama = %+v, healthy %v", rep.Ollama, rep.Healthy)
	}
	if len(rep.Models) != 1 || rep.Models[0].Name != "cocoon-tiny:latest" || rep.Models[0].Size <= 0 || rep.Models[0].FitsVRAM == nil {
		t.Fatalf("models = %+v", rep.Models)
	}
	if rep.DataDir != dir {
		t.Fatalf("data_dir = %q, want %q", rep.DataDir, dir)
	}

	// The readable form says the same; --require-gpu turns the missing GPU into a failure.
	out.Reset()
	if code := run([]string{"doctor", "--require-gpu", "--no-attach", "--data-dir", dir}, &out, &errOut); code != ExitUnhealthy {
		t.Fatalf("doctor --require-gpu exit %d, want %d\n%s", code, ExitUnhealthy, out.String())
	}
	for _, want := range []string{"no NVIDIA driver found", "Ollama 0.17.4, managed", "cocoon-tiny:latest", "problem: no usable NVIDIA GPU", "Not ready to serve."} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("doctor output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestDoctorWithoutOllama(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("COCOON_OLLAMA", filepath.Join(dir, "missing"))
	t.Setenv("PATH", dir)
	t.Setenv("XDG_CACHE_HOME", dir)
	var out, errOut bytes.Buffer
	code := run([]string{"doctor", "--json", "--no-attach", "--timeout", "10s", "--data-dir", dir}, &out, &errOut)
	if code != ExitUnhealthy {
		t.Fatalf("exit %d, want %d", code, ExitUnhealthy)
	}
	var rep Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Healthy || rep.Ollama.Reachable || len(rep.Problems) == 0 || !strings.Contains(rep.Problems[0], "ollama not found") {
		t.Fatalf("report = %+v", rep)
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unknown command", []string{"frobnicate"}, ExitUsage, `unknown command "frobnicate"`},
		{"unknown flag", []string{"--nope"}, ExitUsage, "flag provided but not defined"},
		{"bad log level", []string{"--headless", "--log-level", "loud", "--data-dir", "DIR"}, ExitFailure, `unknown level "loud"`},
		{"version", []string{"version"}, ExitOK, "Ollama " + ollama.OllamaVersion},
		{"bad schedule", []string{"--headless", "--schedule", "someday 25:00-26:00", "--data-dir", "DIR"}, ExitFailure, "--schedule"},
		{"zero idle minutes", []string{"--headless", "--idle-minutes", "0", "--data-dir", "DIR"}, ExitFailure, "--idle-minutes must be above 0"},
		{"negative cap", []string{"--headless", "--max-temp", "-3", "--data-dir", "DIR"}, ExitFailure, "must not be negative"},
		{"remote network without key", []string{"--headless", "--network", "wss://proxy.example/v1/worker", "--data-dir", "DIR"}, ExitFailure, "--proxy-key"},
		{"remote network, bad url", []string{"--headless", "--network", "http://proxy.example", "--proxy-key", strings.Repeat("ab", 32), "--data-dir", "DIR"}, ExitFailure, "wss://"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for i, a := range tc.args {
				if a == "DIR" {
					tc.args[i] = t.TempDir()
				}
			}
			var out, errOut bytes.Buffer
			if code := run(tc.args, &out, &errOut); code != tc.code {
				t.Fatalf("exit %d, want %d; stderr %s", code, tc.code, errOut.String())
			}
			if !strings.Contains(out.String()+errOut.String(), tc.want) {
				t.Fatalf("output lacks %q:\n%s%s", tc.want, out.String(), errOut.String())
			}
		})
	}
}

// TestHeadlessStopsCleanlyOnCtrlC runs the program headless, waits until it
// serves, sends SIGINT and checks it exits 0 and takes its Ollama with it.
func TestHeadlessStopsCleanlyOnCtrlC(t *testing.T) {
	needOllama(t)
	dir := t.TempDir()
	cmd := program(t, "--no-attach", "--data-dir", dir) // no display: headless by itself
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr lockedBuffer // written by exec's copying goroutine, read here
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var seen []string
	waitLine := func(want string) {
		t.Helper()
		deadline := time.After(90 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("program ended before %q; output:\n%s\nstderr:\n%s", want, strings.Join(seen, "\n"), stderr.String())
				}
				seen = append(seen, l)
				if strings.Contains(l, want) {
					return
				}
			case <-deadline:
				t.Fatalf("no %q within 90 s; output:\n%s", want, strings.Join(seen, "\n"))
			}
		}
	}
	waitLine("running headless")
	waitLine("[serving]")
	if !strings.Contains(stderr.String(), "No display found") {
		t.Errorf("without a display the program must say it runs headless; stderr: %s", stderr.String())
	}
	ollamaPIDs := childPIDs(cmd.Process.Pid)
	if len(ollamaPIDs) == 0 {
		t.Fatal("no managed Ollama child found")
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	waitLine("stopped.")
	for range lines {
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after Ctrl-C: %v; stderr %s", err, stderr.String())
	}
	for _, pid := range ollamaPIDs {
		if syscall.Kill(pid, 0) == nil {
			t.Errorf("managed Ollama pid %d still alive after the program stopped", pid)
		}
	}
	// Logs and data stay private to the user.
	fi, err := os.Stat(filepath.Join(dir, "logs", "cocoon-desktop.log"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("log file: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}
}

// lockedBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// childPIDs lists the direct children of pid (from every thread's children list).
func childPIDs(pid int) []int {
	tasks, _ := filepath.Glob(filepath.Join("/proc", strconv.Itoa(pid), "task", "*", "children"))
	var out []int
	for _, p := range tasks {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(data)) {
			if n, err := strconv.Atoi(f); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}
