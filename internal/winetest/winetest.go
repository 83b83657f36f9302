// Package winetest runs Windows programs under Wine in tests: a private
// WINEPREFIX under the test's temp dir, with the test-only ProcessPrng shim
// (testdata/bcryptprimitives.c, never shipped) that Go 1.26 Windows programs need
// and Debian's Wine 8 lacks. The wineserver it leaves is stopped when the
// test ends. Without wine or mingw-w64 the test is skipped, saying why
// (failed under COCOON_REQUIRE_WINE=1 or COCOON_REQUIRE_ALL=1).
package winetest

import (
	"context"
	_ "embed"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/internal/testx"
)

//go:embed testdata/bcryptprimitives.c
var shimSource []byte

// RequireEnv, set to 1, turns a missing Wine or mingw-w64 into a failure.
const RequireEnv = "COCOON_REQUIRE_WINE"

// Prefix is one private Wine prefix, ready to run Go-built Windows programs.
type Prefix struct {
	t      testing.TB
	Dir    string   // the WINEPREFIX
	Wine   string   // the wine command
	Env    []string // the environment every command gets (WINEPREFIX, quiet debug, no display)
	work   string
	server string
}

// New creates a prefix under t.TempDir() — a copy of the cached template
// (template.go; about 5 s), else wineboot (about 16 s) — and builds the
// ProcessPrng shim into its system32.
func New(t testing.TB) *Prefix {
	t.Helper()
	wine := FindTool(t, "wine", "wine64", "/usr/lib/wine/wine64")
	server := FindTool(t, "wineserver", "/usr/lib/wine/wineserver64")
	gcc := FindTool(t, "x86_64-w64-mingw32-gcc")
	work := t.TempDir()
	p := &Prefix{t: t, Dir: filepath.Join(work, "prefix"), Wine: wine, work: work, server: server}
	p.Env = append(HostEnv(), "WINEPREFIX="+p.Dir, "WINEDEBUG=-all", "WINEDLLOVERRIDES=mscoree,mshtml=", "DISPLAY=")
	// Wine leaves a wineserver running for the prefix: stop it at the end
	// (registered before wine first runs, so a failure stops it too).
	t.Cleanup(func() {
		k := exec.Command(server, "-k")
		k.Env = p.Env
		_ = k.Run() // nothing to stop if wine never ran
	})
	if !p.fromTemplate(p.Dir) {
		p.Run(3*time.Minute, wine, "wineboot", "--init")
	}
	src := filepath.Join(work, "bcryptprimitives.c")
	if err := os.WriteFile(src, shimSource, 0o644); err != nil {
		t.Fatalf("winetest: write shim source: %v", err)
	}
	p.Run(time.Minute, gcc, "-shared", "-O2", "-o",
		filepath.Join(p.Dir, "drive_c", "windows", "system32", "bcryptprimitives.dll"), src, "-ladvapi32")
	return p
}

// Run runs name with args in the prefix's environment and returns its
// combined output; a failure or a run past timeout fails the test.
func (p *Prefix) Run(timeout time.Duration, name string, args ...string) []byte {
	p.t.Helper()
	out, err := p.Try(timeout, name, args...)
	if err != nil {
		p.t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return out
}

// Try is Run that returns the error instead of failing the test.
func (p *Prefix) Try(timeout time.Duration, name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env, cmd.Dir = p.Env, p.work
	// Files, not pipes: wine leaves a wineserver running that inherits
	// them, and Wait would wait for it to close a pipe.
	out, err := os.CreateTemp(p.work, "out-*")
	if err != nil {
		return nil, err
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = 10 * time.Second
	runErr := cmd.Run()
	b, _ := os.ReadFile(out.Name())
	return b, runErr
}

// RunWine runs `wine args...` (a Windows program and its arguments).
func (p *Prefix) RunWine(timeout time.Duration, args ...string) []byte {
	p.t.Helper()
	return p.Run(timeout, p.Wine, args...)
}

// Wait waits (up to timeout) until every Windows process in the prefix has
// ended, such as an NSIS uninstaller, which re-launches itself from a temp
// copy and returns at once.
func (p *Prefix) Wait(timeout time.Duration) {
	p.t.Helper()
	p.Run(timeout, p.server, "-w")
}

// UserDir is the Windows user profile inside the prefix (C:\users\<name>).
func (p *Prefix) UserDir() string {
	p.t.Helper()
	m, _ := filepath.Glob(filepath.Join(p.Dir, "drive_c", "users", "*", "AppData", "Local"))
	for _, d := range m {
		if u := filepath.Dir(filepath.Dir(d)); filepath.Base(u) != "Public" {
			return u
		}
	}
	p.t.Fatalf("winetest: no user profile under %s", filepath.Join(p.Dir, "drive_c", "users"))
	return ""
}

// FindTool returns the first of names found (a path or a command in PATH),
// or skips (fails under COCOON_REQUIRE_WINE=1 or COCOON_REQUIRE_ALL=1).
func FindTool(t testing.TB, names ...string) string {
	t.Helper()
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	why := "install Debian's wine64 and mingw-w64 (scripts/install-deps.sh does)"
	if os.Getenv(RequireEnv) == "1" {
		t.Fatalf("missing %s: %s (%s=1 requires it)", names[0], why, RequireEnv)
	}
	testx.SkipOrFail(t, names[0], why)
	return ""
}

// HostEnv is this process's environment without what would steer the
// Windows programs to this machine's Linux Ollama: Wine hands the Unix
// environment to Windows processes, and `make test` sets COCOON_OLLAMA
// to the Linux build (the app under Wine then looked for it and found
// nothing).
func HostEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "COCOON_OLLAMA") || strings.HasPrefix(kv, "OLLAMA_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}
