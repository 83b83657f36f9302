package crossbuild

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/cocoon-desktop/cocoon-desktop/internal/testx"
)

// packages are the non-GUI packages that must build on every desktop OS
// without cgo (the tray app itself, app/ and main, needs cgo for Fyne).
var packages = []string{
	"./gpu/...",
	"./idle/...",
	"./runtime/...",
	"./network/...",
	"./earnings/...",
	"./receipt/...",
	"./ton/...",
	"./internal/paths/",
	"./internal/logging/",
	"./internal/tinymodel/",
	"./worker/",
}

// vetted are also vetted (test files included) for each target: the
// packages with platform-specific code of their own.
var vetted = []string{"./gpu/...", "./idle/..."}

var targets = []struct{ goos, goarch string }{
	{"windows", "amd64"},
	{"windows", "arm64"},
	{"darwin", "arm64"},
}

// moduleRoot is the directory holding go.mod, two levels above this package.
func moduleRoot(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(wd, "..", "..")
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("no go.mod at %s: %v", root, err)
	}
	return root
}

// goTool is the go command of the toolchain running this test.
func goTool(t *testing.T) string {
	t.Helper()
	exe := "go"
	if runtime.GOOS == "windows" {
		exe += ".exe"
	}
	if p := filepath.Join(runtime.GOROOT(), "bin", exe); fileExists(p) {
		return p
	}
	p, err := exec.LookPath("go")
	if err != nil {
		testx.SkipOrFail(t, "go command", err.Error())
	}
	return p
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func goCmd(t *testing.T, goos, goarch string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(goTool(t), args...)
	cmd.Dir = moduleRoot(t)
	cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH="+goarch, "CGO_ENABLED=0")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// TestCrossBuild builds (and for gpu/ and idle/, vets) the non-GUI packages
// for Windows and macOS without cgo. It fails when any of them stops
// cross-compiling, e.g. when a file imports go-nvml, xgb or syscall.Kill
// without a build tag.
func TestCrossBuild(t *testing.T) {
	for _, tg := range targets {
		t.Run(tg.goos+"_"+tg.goarch, func(t *testing.T) {
			if tg.goarch != "amd64" && testing.Short() {
				t.Skip("-short: only amd64 targets")
			}
			args := append([]string{"build", "-o", os.DevNull}, packages...)
			if out, err := goCmd(t, tg.goos, tg.goarch, args...); err != nil {
				t.Fatalf("GOOS=%s GOARCH=%s CGO_ENABLED=0 go build %s: %v\n%s",
					tg.goos, tg.goarch, strings.Join(packages, " "), err, out)
			}
			args = append([]string{"vet"}, vetted...)
			if out, err := goCmd(t, tg.goos, tg.goarch, args...); err != nil {
				t.Fatalf("GOOS=%s GOARCH=%s CGO_ENABLED=0 go vet %s: %v\n%s",
					tg.goos, tg.goarch, strings.Join(vetted, " "), err, out)
			}
		})
	}
}

// TestWindowsGPUNeedsNoCgo checks that on Windows the gpu package reaches
// NVML without go-nvml (which needs cgo and builds only on Linux).
func TestWindowsGPUNeedsNoCgo(t *testing.T) {
	out, err := goCmd(t, "windows", "amd64", "list", "-deps", "./gpu/", "./idle/", "./worker/")
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	deps := strings.Fields(out)
	for _, bad := range []string{"github.com/NVIDIA/go-nvml/pkg/nvml", "github.com/jezek/xgb", "runtime/cgo", "fyne.io/fyne/v2"} {
		for _, d := range deps {
			if d == bad {
				t.Errorf("on windows, gpu/idle/worker depend on %s", bad)
			}
		}
	}
	want := "golang.org/x/sys/windows"
	found := false
	for _, d := range deps {
		found = found || d == want
	}
	if !found {
		t.Errorf("on windows, gpu/idle do not use %s (nvml.dll, GetLastInputInfo)", want)
	}
}

// TestWindowsApp cross-compiles the whole tray app (Fyne, cgo) for Windows
// with mingw-w64, which `make test` installs. It fails when the GUI stops
// building for Windows; it skips, saying so, where the compiler is missing.
func TestWindowsApp(t *testing.T) {
	const cc = "x86_64-w64-mingw32-gcc"
	if _, err := exec.LookPath(cc); err != nil {
		testx.SkipOrFail(t, cc, "not found (Debian gcc-mingw-w64-x86-64; make test installs it)")
	}
	if testing.Short() {
		t.Skip("-short: the first cgo build for Windows takes minutes")
	}
	out := filepath.Join(t.TempDir(), "cocoon-desktop.exe")
	cmd := exec.Command(goTool(t), "build", "-trimpath", "-ldflags", "-H windowsgui", "-o", out, ".")
	cmd.Dir = moduleRoot(t)
	cmd.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=1", "CC="+cc)
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Run(); err != nil {
		t.Fatalf("GOOS=windows CGO_ENABLED=1 CC=%s go build .: %v\n%s", cc, err, log.String())
	}
	b, err := os.ReadFile(out)
	if err != nil || len(b) < 2 || string(b[:2]) != "MZ" {
		t.Fatalf("%s is not a Windows executable (%v)", out, err)
	}
}
