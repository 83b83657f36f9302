//go:build linux

package packaging

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/internal/testx"
	"github.com/cocoon-desktop/cocoon-desktop/internal/winetest"
	"github.com/cocoon-desktop/cocoon-desktop/runtime/ollama"
)

// windowsOllama is where scripts/build-ollama-windows.sh caches its build.
func windowsOllama(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("XDG_CACHE_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			t.Fatal(err)
		}
		dir = filepath.Join(home, ".cache")
	}
	p := filepath.Join(dir, "cocoon-desktop", "ollama-v"+ollama.OllamaVersion+"-windows", "bin", "ollama.exe")
	if _, err := os.Stat(p); err != nil {
		testx.SkipOrFail(t, "the Windows Ollama build", "no "+p+" (make ollama-windows builds it, ~14 min once)")
	}
	return p
}

// TestWindowsOllamaUnderWine starts the cross-built ollama.exe that the installer bundles
// under Wine and checks that it answers /api/version with the pinned version and that it
// found a device to compute on: the CPU backend compiled into the .exe (its log's
// "inference compute" line, read with the parser the app uses).
func TestWindowsOllamaUnderWine(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a Wine prefix takes ~20 s to create")
	}
	bin := windowsOllama(t)
	wine := winetest.New(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()

	logPath := filepath.Join(t.TempDir(), "ollama.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd := exec.Command(wine.Wine, bin, "serve")
	cmd.Env = append(wine.Env, "OLLAMA_HOST="+addr)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Registered after winetest.New's, so it runs first: the server ends before the prefix's
	// wineserver is stopped.
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var version string
	for version == "" {
		version, err = getVersion(ctx, "http://"+addr+"/api/version")
		if ctx.Err() != nil {
			b, _ := os.ReadFile(logPath)
			t.Fatalf("ollama.exe under Wine did not answer /api/version within 2 min (last error %v); log:\n%s", err, b)
		}
		if version == "" {
			time.Sleep(200 * time.Millisecond) // polling for the server to come up, not a timed assertion
		}
	}
	if version != ollama.OllamaVersion {
		t.Errorf("ollama.exe says version %q, want %q", version, ollama.OllamaVersion)
	}

	// Ollama logs its inference devices once discovery ends, about when it answers.
	var computes []ollama.Compute
	for len(computes) == 0 {
		f, err := os.Open(logPath)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			if c, ok := ollama.ParseComputeLine(sc.Text()); ok {
				computes = append(computes, c)
			}
		}
		f.Close()
		if len(computes) == 0 {
			if ctx.Err() != nil {
				b, _ := os.ReadFile(logPath)
				t.Fatalf("no \"inference compute\" line within 2 min; log:\n%s", b)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	t.Logf("ollama.exe %s under Wine computes on: %+v", version, computes)
	if computes[0].Library != "cpu" {
		t.Errorf("first compute %+v, want the CPU backend (library=cpu)", computes[0])
	}
}

func getVersion(ctx context.Context, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %s", resp.Status)
	}
	var v struct {
		Version string `json:"version"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		return "", err
	}
	return strings.TrimSpace(v.Version), nil
}
