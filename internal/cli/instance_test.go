package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/internal/autostart"
	"github.com/cocoon-desktop/cocoon-desktop/internal/single"
)

func TestAutostartFlag(t *testing.T) {
	cfg := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", cfg)
	file := filepath.Join(cfg, "autostart", "cocoon-desktop.desktop")
	var out, errOut bytes.Buffer
	if code := run([]string{"--autostart=on"}, &out, &errOut); code != ExitOK {
		t.Fatalf("--autostart=on: exit %d: %s", code, errOut.String())
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	exe, _ := os.Executable()
	exe, _ = filepath.EvalSymlinks(exe)
	if !strings.Contains(string(b), "\nExec="+exe+" --start\n") || !autostart.Enabled() {
		t.Errorf("entry:\n%s", b)
	}
	if !strings.Contains(out.String(), "will start when you log in") {
		t.Errorf("stdout: %q", out.String())
	}
	out.Reset()
	if code := run([]string{"--autostart", "off"}, &out, &errOut); code != ExitOK {
		t.Fatalf("--autostart off: exit %d: %s", code, errOut.String())
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) || autostart.Enabled() {
		t.Errorf("entry still there: %v", err)
	}
	errOut.Reset()
	if code := run([]string{"--autostart=maybe"}, &out, &errOut); code != ExitUsage || !strings.Contains(errOut.String(), "on or off") {
		t.Errorf("--autostart=maybe: exit %d, %q", code, errOut.String())
	}
}

// A second launch on the same data dir signals the running one and exits 0
// before setting anything up.
func TestSecondLaunchActivatesFirst(t *testing.T) {
	dir := t.TempDir()
	activated := make(chan struct{}, 2)
	release, err := single.Acquire(dir, func() { activated <- struct{}{} })
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	for _, args := range [][]string{{"--data-dir", dir}, {"--headless", "--data-dir", dir}} {
		var out, errOut bytes.Buffer
		start := time.Now()
		if code := run(args, &out, &errOut); code != ExitOK {
			t.Fatalf("%v: exit %d: %s", args, code, errOut.String())
		}
		if !strings.Contains(out.String(), "already running") {
			t.Errorf("%v: stdout %q", args, out.String())
		}
		select {
		case <-activated:
		case <-time.After(5 * time.Second):
			t.Fatalf("%v: the running instance was not activated", args)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%v: took %s", args, d)
		}
	}
}
