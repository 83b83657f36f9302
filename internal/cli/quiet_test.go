package cli

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/internal/testx"
)

// noiseLines are what a clean start must not print: Fyne's complaint about
// the C locale and xgb's about a missing X authority file.
var noiseLines = []string{"Fyne error", "Error parsing user locale", "language: tag is not well-formed",
	"XGB", "Could not get authority info", "Trying connection without authority"}

// TestQuietStart runs the real program (this test binary as
// cocoon-desktop) under LANG=C.UTF-8, with an X display but no
// ~/.Xauthority, and checks that nothing but its own words reach stderr.
func TestQuietStart(t *testing.T) {
	cases := []struct {
		name     string
		args     []string
		headless bool // runs until it reports a status line, then gets Ctrl-C
	}{
		{"help", []string{"--help"}, false},
		{"headless start", []string{"--headless", "--no-start", "--no-attach"}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			home := t.TempDir()
			env := []string{"LANG=C.UTF-8", "LC_ALL=", "LC_MESSAGES=", "LANGUAGE=", "HOME=" + home,
				"XAUTHORITY=" + filepath.Join(home, "no-such-xauthority")}
			args := c.args
			if c.headless {
				needOllama(t)
				env = append(env, "DISPLAY="+testx.StartXvfb(t)) // the idle source connects to X
				args = append(args, "--data-dir", filepath.Join(home, "data"))
			}
			cmd := program(t, args...)
			cmd.Env = append(cmd.Env, env...)
			var stderr lockedBuffer
			cmd.Stderr = &stderr
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Process.Kill()
			sc := bufio.NewScanner(stdout)
			var out []string
			if c.headless {
				deadline := time.AfterFunc(90*time.Second, func() { _ = cmd.Process.Kill() })
				defer deadline.Stop()
				for sc.Scan() {
					out = append(out, sc.Text())
					if strings.Contains(sc.Text(), "1 model(s)") { // Ollama up, model registered, X idle source read
						break
					}
				}
				if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
					t.Fatal(err)
				}
			}
			for sc.Scan() {
				out = append(out, sc.Text())
			}
			if err := cmd.Wait(); err != nil {
				t.Fatalf("exit: %v; stdout:\n%s\nstderr:\n%s", err, strings.Join(out, "\n"), stderr.String())
			}
			if c.headless && !strings.Contains(strings.Join(out, "\n"), "1 model(s)") {
				t.Fatalf("the program never reported its model; stdout:\n%s", strings.Join(out, "\n"))
			}
			for _, noise := range noiseLines {
				if strings.Contains(stderr.String(), noise) {
					t.Errorf("stderr has %q:\n%s", noise, stderr.String())
				}
			}
			if entries, _ := os.ReadDir(home); c.headless && len(entries) != 1 {
				t.Errorf("the home dir holds more than the data dir: %v", entries)
			}
		})
	}
}
