//go:build windows

package autostart

import (
	"os"
	"testing"
)

// StepEnv picks what TestRunKey does: "enable" or "disable" (the Wine
// harness, internal/winetest, checks the registry with `reg query` between
// the two). Unset, the test is skipped: it writes the real HKCU Run key, so it
// runs only in a Wine prefix made for it.
const StepEnv = "COCOON_AUTOSTART_STEP"

func TestRunKey(t *testing.T) {
	const exe = `C:\Program Files\Cocoon Desktop\cocoon-desktop.exe`
	switch step := os.Getenv(StepEnv); step {
	case "enable":
		if Enabled() {
			t.Fatal("enabled before Enable (must be off by default)")
		}
		if err := Disable(); err != nil {
			t.Fatalf("Disable with no value: %v", err)
		}
		for range 2 { // the second is a no-op
			if err := Enable(exe); err != nil {
				t.Fatalf("Enable: %v", err)
			}
		}
		if !Enabled() {
			t.Fatal("not enabled after Enable")
		}
		if err := Enable(""); err == nil {
			t.Error("Enable(\"\") accepted an empty path")
		}
	case "disable":
		if !Enabled() {
			t.Fatal("not enabled before Disable (the enable step's value is gone)")
		}
		for range 2 { // the second finds no value: not an error
			if err := Disable(); err != nil {
				t.Fatalf("Disable: %v", err)
			}
		}
		if Enabled() {
			t.Fatal("still enabled after Disable")
		}
	default:
		t.Skipf("writes HKCU's Run key: runs only under Wine (%s=enable|disable, set by internal/winetest)", StepEnv)
	}
}
