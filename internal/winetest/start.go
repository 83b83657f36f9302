package winetest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"
	"time"
)

// Background is a Windows program running under Wine while the test goes on.
type Background struct {
	cmd  *exec.Cmd
	out  string
	done chan error
}

// Start runs `wine args...` in the background; its output goes to a file
// (Output reads it). Stop ends it; the test's cleanup stops it too, and
// the prefix's cleanup kills every Wine process left.
func (p *Prefix) Start(args ...string) *Background {
	p.t.Helper()
	out, err := os.CreateTemp(p.work, "bg-*")
	if err != nil {
		p.t.Fatalf("winetest: %v", err)
	}
	defer out.Close()
	cmd := exec.Command(p.Wine, args...)
	cmd.Env, cmd.Dir = p.Env, p.work
	// A file, not a pipe: see Try.
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		p.t.Fatalf("winetest: start %v: %v", args, err)
	}
	b := &Background{cmd: cmd, out: out.Name(), done: make(chan error, 1)}
	go func() { b.done <- cmd.Wait() }()
	p.t.Cleanup(func() { p.Stop(b) })
	return b
}

// Output is what the program has printed so far.
func (b *Background) Output() string {
	o, _ := os.ReadFile(b.out)
	return string(o)
}

// WaitOutput waits (up to timeout) until the program has printed want; it
// fails the test, showing the output, if it does not or if it exits first.
func (b *Background) WaitOutput(t testing.TB, want string, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for !strings.Contains(b.Output(), want) {
		select {
		case err := <-b.done:
			b.done <- err
			t.Fatalf("winetest: the program exited (%v) before printing %q:\n%s", err, want, b.Output())
		case <-deadline:
			t.Fatalf("winetest: no %q within %v:\n%s", want, timeout, b.Output())
		case <-tick.C:
		}
	}
}

// Stop ends every Windows process of the prefix (wineserver -k: Wine
// cannot deliver Ctrl-C to a GUI-subsystem program, so this is a hard
// stop) and waits for the background program's wine process to exit.
func (p *Prefix) Stop(b *Background) {
	p.t.Helper()
	p.KillAll()
	select {
	case err := <-b.done:
		b.done <- err
	case <-time.After(time.Minute):
		_ = b.cmd.Process.Kill()
		p.t.Errorf("winetest: %v still running a minute after wineserver -k", b.cmd.Args)
	}
}

// GoTest cross-compiles pkg's tests for Windows (CGO_ENABLED=0) and runs
// them under Wine, -test.run run, with env added; it returns the verbose
// output and fails the test if they fail.
func (p *Prefix) GoTest(t testing.TB, timeout time.Duration, pkg, run string, env ...string) string {
	t.Helper()
	exe := filepath.Join(p.work, filepath.Base(pkg)+".test.exe")
	goTool := filepath.Join(goruntime.GOROOT(), "bin", "go")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, goTool, "test", "-c", "-o", exe, pkg)
	build.Dir = moduleRoot(t)
	build.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("winetest: go test -c %s for Windows: %v\n%s", pkg, err, out)
	}
	saved := p.Env
	p.Env = append(append([]string(nil), p.Env...), env...)
	defer func() { p.Env = saved }()
	out, err := p.Try(timeout, p.Wine, exe, "-test.v", "-test.count=1", "-test.run", run)
	if err != nil {
		t.Fatalf("winetest: %s's tests under Wine: %v\n%s", pkg, err, out)
	}
	return string(out)
}

// moduleRoot is the directory holding go.mod, found upward from the test's.
func moduleRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("winetest: no go.mod above the test's directory")
		}
		dir = parent
	}
}

// ModuleRoot is the module's root directory (for scripts the tests run).
func ModuleRoot(t testing.TB) string { t.Helper(); return moduleRoot(t) }

// WithEnv is the same prefix with extra environment for the programs run
// through it (such as DISPLAY, to give Wine an X server).
func (p *Prefix) WithEnv(extra ...string) *Prefix {
	c := *p
	c.Env = append(append([]string(nil), p.Env...), extra...)
	return &c
}

// KillAll ends every Windows process of the prefix and its wineserver, so
// that the next program starts a new Wine session (whose desktop process
// takes the DISPLAY of that program's environment).
func (p *Prefix) KillAll() {
	_, _ = p.Try(time.Minute, p.server, "-k") // fails only when no wineserver runs
}
