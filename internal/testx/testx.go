// Package testx starts a private X server (Xvfb) and drives it with xdotool,
// for tests of idle detection and the real window.
package testx

import (
	"bufio"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// StartXvfb starts a private Xvfb on a free display (Xvfb picks it and
// reports it through -displayfd) and returns ":N". It skips when Xvfb is
// not installed (fails under COCOON_REQUIRE_ALL=1).
func StartXvfb(tb testing.TB) string {
	tb.Helper()
	if _, err := exec.LookPath("Xvfb"); err != nil {
		SkipOrFail(tb, "Xvfb", "Xvfb is not on PATH; install xvfb to run the X11 integration tests")
	}
	r, w, err := os.Pipe()
	if err != nil {
		tb.Fatal(err)
	}
	defer r.Close()
	cmd := exec.Command("Xvfb", "-displayfd", "3", "-screen", "0", "1024x768x24", "-nolisten", "tcp")
	cmd.ExtraFiles = []*os.File{w}
	if err := cmd.Start(); err != nil {
		w.Close()
		tb.Fatalf("start Xvfb: %v", err)
	}
	w.Close()
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	tb.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(r).ReadString('\n')
		line <- strings.TrimSpace(s)
	}()
	select {
	case n := <-line:
		if n == "" {
			tb.Fatal("Xvfb exited without reporting a display number")
		}
		return ":" + n
	case <-time.After(15 * time.Second):
		tb.Fatal("Xvfb did not start within 15 s")
	}
	return ""
}

// Xdotool runs xdotool against display, failing the test on error.
func Xdotool(tb testing.TB, display string, args ...string) {
	tb.Helper()
	if _, err := exec.LookPath("xdotool"); err != nil {
		SkipOrFail(tb, "xdotool", "xdotool is not on PATH; install xdotool")
	}
	cmd := exec.Command("xdotool", args...)
	cmd.Env = append(os.Environ(), "DISPLAY="+display)
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("xdotool %v: %v\n%s", args, err, out)
	}
}
