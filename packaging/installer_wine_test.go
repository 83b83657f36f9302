//go:build linux

package packaging

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/internal/testx"
	"github.com/cocoon-desktop/cocoon-desktop/internal/winetest"
)

// TestInstallerUnderWine runs the installer's own logic in a private Wine prefix
// (stand-ins for the app and Ollama: the installer copies files and writes the registry,
// it runs neither; the Wine tests of the real app are the harness's): a silent per-user
// install with /AUTOSTART, an upgrade in place that keeps the owner's data and login
// choice, a silent uninstall that removes the program but keeps the data, and an
// uninstall with /REMOVEDATA that removes the data too.
func TestInstallerUnderWine(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a Wine prefix takes ~20 s to create")
	}
	if _, err := exec.LookPath("makensis"); err != nil {
		testx.SkipOrFail(t, "makensis", "install Debian's nsis (scripts/install-deps.sh does)")
	}
	wine := winetest.New(t)
	root := repoRoot(t)
	tmp := t.TempDir()
	build := func(version string) (setup string, app []byte) {
		t.Helper()
		app = []byte("MZ stand-in app " + version)
		appPath := filepath.Join(tmp, "app-"+version+".exe")
		ollama := filepath.Join(tmp, "ollama-stand-in.exe")
		for p, b := range map[string][]byte{appPath: app, ollama: []byte("MZ stand-in ollama")} {
			if err := os.WriteFile(p, b, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		setup = filepath.Join(tmp, "cocoon-desktop-"+version+"-setup.exe")
		cmd := exec.Command("bash", "packaging/windows/build-installer.sh", version, appPath, ollama, setup)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "GO="+filepath.Join(runtime.GOROOT(), "bin", "go"))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build-installer.sh %s: %v\n%s", version, err, out)
		}
		return setup, app
	}
	setup1, _ := build("1.0.0")
	setup2, app2 := build("1.1.0")

	user := wine.UserDir()
	instDir := filepath.Join(user, "AppData", "Local", "Programs", "Cocoon Desktop")
	shortcut := filepath.Join(user, "AppData", "Roaming", "Microsoft", "Windows", "Start Menu", "Programs", "Cocoon Desktop.lnk")
	ledger := filepath.Join(user, "AppData", "Local", "CocoonDesktop", "ledger.db")
	settings := filepath.Join(user, "AppData", "Roaming", "CocoonDesktop", "settings.json")
	const uninstKey = `HKCU\Software\Microsoft\Windows\CurrentVersion\Uninstall\CocoonDesktop`
	const runKey = `HKCU\Software\Microsoft\Windows\CurrentVersion\Run`

	// regQuery is `reg query key /v value`'s data, "" when there is no such value.
	regQuery := func(key, value string) string {
		t.Helper()
		out, err := wine.Try(time.Minute, wine.Wine, "reg", "query", key, "/v", value)
		if err != nil {
			return ""
		}
		for _, line := range strings.Split(string(out), "\n") {
			f := strings.Fields(line)
			if len(f) >= 3 && f[0] == value && strings.HasPrefix(f[1], "REG_") {
				return strings.TrimSpace(line[strings.Index(line, f[1])+len(f[1]):])
			}
		}
		return ""
	}
	exists := func(p string) bool { _, err := os.Stat(p); return err == nil }
	uninstall := func(args ...string) {
		t.Helper()
		wine.RunWine(2*time.Minute, append([]string{filepath.Join(instDir, "uninstall.exe"), "/S"}, args...)...)
		// The uninstaller re-launches itself from a temp copy and returns at once.
		wine.Wait(2 * time.Minute)
	}

	t.Run("install", func(t *testing.T) {
		wine.RunWine(2*time.Minute, setup1, "/S", "/AUTOSTART")
		for _, f := range []string{"cocoon-desktop.exe", "ollama.exe", "uninstall.exe", "cocoon-desktop.ico"} {
			if !exists(filepath.Join(instDir, f)) {
				t.Errorf("no %s in %s", f, instDir)
			}
		}
		if !exists(shortcut) {
			t.Errorf("no Start-menu shortcut %s", shortcut)
		}
		for value, want := range map[string]string{
			"DisplayName": "Cocoon Desktop", "DisplayVersion": "1.0.0", "Publisher": "Cocoon Desktop",
			"NoModify": "0x1", "NoRepair": "0x1",
			"QuietUninstallString": `"C:\users\` + filepath.Base(user) + `\AppData\Local\Programs\Cocoon Desktop\uninstall.exe" /S`,
		} {
			if got := regQuery(uninstKey, value); got != want {
				t.Errorf("%s = %q, want %q", value, got, want)
			}
		}
		if got := regQuery(uninstKey, "EstimatedSize"); got == "" || got == "0x0" {
			t.Errorf("EstimatedSize = %q, want the size in KiB", got)
		}
		if got := regQuery(runKey, "cocoon-desktop"); !strings.HasSuffix(got, `\Cocoon Desktop\cocoon-desktop.exe" --start`) {
			t.Errorf("Run value %q, want the installed app with --start", got)
		}
	})
	// The owner's data, as the app would have written it.
	for _, p := range []string{ledger, settings} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("owner data"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("upgrade in place keeps data and login choice", func(t *testing.T) {
		wine.RunWine(2*time.Minute, setup2, "/S")
		if got, _ := os.ReadFile(filepath.Join(instDir, "cocoon-desktop.exe")); !bytes.Equal(got, app2) {
			t.Errorf("the app after the upgrade is %q, want %q", got, app2)
		}
		if got := regQuery(uninstKey, "DisplayVersion"); got != "1.1.0" {
			t.Errorf("DisplayVersion %q after the upgrade, want 1.1.0", got)
		}
		if got := regQuery(runKey, "cocoon-desktop"); got == "" {
			t.Error("the upgrade dropped the start-at-login choice")
		}
		for _, p := range []string{ledger, settings} {
			if !exists(p) {
				t.Errorf("the upgrade lost %s", p)
			}
		}
	})
	t.Run("silent uninstall keeps data", func(t *testing.T) {
		uninstall()
		if exists(instDir) {
			entries, _ := os.ReadDir(instDir)
			t.Errorf("%s still there after uninstall (%d entries)", instDir, len(entries))
		}
		if exists(shortcut) {
			t.Error("the Start-menu shortcut is still there")
		}
		if got := regQuery(uninstKey, "DisplayName"); got != "" {
			t.Errorf("the uninstall entry is still there (%q)", got)
		}
		if got := regQuery(runKey, "cocoon-desktop"); got != "" {
			t.Errorf("the Run value is still there (%q)", got)
		}
		for _, p := range []string{ledger, settings} {
			if !exists(p) {
				t.Errorf("uninstall removed %s without being asked", p)
			}
		}
	})
	t.Run("uninstall with REMOVEDATA removes data", func(t *testing.T) {
		wine.RunWine(2*time.Minute, setup2, "/S")
		if got := regQuery(runKey, "cocoon-desktop"); got != "" {
			t.Errorf("install without /AUTOSTART set the Run value (%q)", got)
		}
		uninstall("/REMOVEDATA")
		for _, p := range []string{filepath.Dir(ledger), filepath.Dir(settings), instDir} {
			if exists(p) {
				t.Errorf("%s still there after uninstall /REMOVEDATA", p)
			}
		}
	})
}
