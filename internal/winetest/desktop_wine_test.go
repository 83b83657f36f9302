//go:build linux

package winetest

import (
	"strings"
	"testing"
	"time"
)

// TestDesktopUnderWine runs the Windows code of the desktop parts that need
// no window, as Windows programs under Wine: the single-instance lock
// (LockFileEx and the loopback-TCP transport: a second launch reaches the
// first; the installed app's second launch is in internal/wineapp), and start at login through the HKCU
// Run key (internal/autostart), checked from outside with `reg query`.
func TestDesktopUnderWine(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a Wine prefix takes ~20 s to create")
	}
	p := New(t)
	const runKey = `HKCU\Software\Microsoft\Windows\CurrentVersion\Run`
	runValue := func() (string, bool) {
		out, err := p.Try(time.Minute, p.Wine, "reg", "query", runKey, "/v", "cocoon-desktop")
		if err != nil {
			return string(out), false
		}
		for _, line := range strings.Split(string(out), "\n") {
			if f := strings.Fields(line); len(f) >= 3 && f[0] == "cocoon-desktop" && f[1] == "REG_SZ" {
				return strings.TrimSpace(line[strings.Index(line, "REG_SZ")+len("REG_SZ"):]), true
			}
		}
		return string(out), false
	}

	t.Run("single instance", func(t *testing.T) {
		out := p.GoTest(t, 3*time.Minute, "./internal/single", "^TestLoopbackInstance$", "COCOON_WINE=1")
		if !strings.Contains(out, "--- PASS: TestLoopbackInstance") {
			t.Errorf("TestLoopbackInstance did not pass under Wine:\n%s", out)
		}
	})
	t.Run("start at login: the Run key", func(t *testing.T) {
		if v, ok := runValue(); ok {
			t.Fatalf("a fresh prefix already has the Run value %q", v)
		}
		out := p.GoTest(t, time.Minute, "./internal/autostart", "^TestRunKey$", "COCOON_AUTOSTART_STEP=enable")
		if !strings.Contains(out, "--- PASS: TestRunKey") {
			t.Fatalf("TestRunKey (enable) did not pass:\n%s", out)
		}
		want := `"C:\Program Files\Cocoon Desktop\cocoon-desktop.exe" --start`
		if v, ok := runValue(); !ok || v != want {
			t.Errorf("reg query after Enable: %q, want %q", v, want)
		}
		out = p.GoTest(t, time.Minute, "./internal/autostart", "^TestRunKey$", "COCOON_AUTOSTART_STEP=disable")
		if !strings.Contains(out, "--- PASS: TestRunKey") {
			t.Fatalf("TestRunKey (disable) did not pass:\n%s", out)
		}
		if v, ok := runValue(); ok {
			t.Errorf("reg query after Disable still finds %q", v)
		}
	})
}
