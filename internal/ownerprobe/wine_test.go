//go:build linux

package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/internal/winetest"
)

// TestSteamRegistryUnderWine checks the Steam rule's real registry reads:
// Wine's `reg add` writes HKCU\Software\Valve\Steam\RunningAppID (and the
// game's name) into a private WINEPREFIX, and this probe, cross-built for
// Windows and run under Wine, reads them through idle.WindowsOwner and
// golang.org/x/sys/windows/registry. It also runs the real XInput and
// SHQueryUserNotificationState calls (Wine answers: no controller, not
// full screen). Skipped, saying why, without wine or mingw-w64 unless
// COCOON_REQUIRE_WINE=1 (internal/winetest).
func TestSteamRegistryUnderWine(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a Wine prefix takes ~20 s to create")
	}
	wt := winetest.New(t)
	dir := t.TempDir()
	run := func(timeout time.Duration, name string, args ...string) []byte {
		t.Helper()
		return wt.Run(timeout, name, args...)
	}
	wine := wt.Wine

	probe := filepath.Join(dir, "ownerprobe.exe")
	build := exec.Command(goTool(t), "build", "-o", probe, ".")
	build.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("GOOS=windows go build: %v\n%s", err, out)
	}
	type steam struct {
		AppID uint32 `json:"app_id"`
		Name  string `json:"name"`
	}
	cases := []struct {
		name string
		reg  [][]string // wine reg arguments, applied in order
		want steam
	}{
		{"no Steam", nil, steam{}},
		{"Steam without a game", [][]string{{"add", `HKCU\Software\Valve\Steam`, "/v", "RunningAppID", "/t", "REG_DWORD", "/d", "0", "/f"}}, steam{}},
		{"a game Steam has no name for", [][]string{{"add", `HKCU\Software\Valve\Steam`, "/v", "RunningAppID", "/t", "REG_DWORD", "/d", "440", "/f"}}, steam{AppID: 440}},
		{"a game with its name", [][]string{{"add", `HKCU\Software\Valve\Steam\Apps\440`, "/v", "Name", "/t", "REG_SZ", "/d", "Team Fortress 2", "/f"}},
			steam{AppID: 440, Name: "Team Fortress 2"}},
		{"the game ends", [][]string{{"add", `HKCU\Software\Valve\Steam`, "/v", "RunningAppID", "/t", "REG_DWORD", "/d", "0", "/f"}}, steam{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, args := range tc.reg {
				run(time.Minute, wine, append([]string{"reg"}, args...)...)
			}
			var got struct {
				Steam            steam  `json:"steam"`
				SteamErr         string `json:"steam_error"`
				ControllerIdleMS int64  `json:"controller_idle_ms"`
				ControllerErr    string `json:"controller_error"`
				FullScreenErr    string `json:"full_screen_error"`
			}
			out := run(time.Minute, wine, probe)
			// Wine may print its own lines ("wine client error: …" while its
			// server winds down), before or after: the probe's JSON is the
			// last line that is an object.
			lines := bytes.Split(bytes.TrimSpace(out), []byte("\n"))
			last := []byte{}
			for i := len(lines) - 1; i >= 0; i-- {
				if l := bytes.TrimSpace(lines[i]); bytes.HasPrefix(l, []byte("{")) {
					last = l
					break
				}
			}
			if err := json.Unmarshal(last, &got); err != nil {
				t.Fatalf("probe output %q: %v", out, err)
			}
			if got.Steam != tc.want || got.SteamErr != "" {
				t.Errorf("steam %+v (error %q), want %+v", got.Steam, got.SteamErr, tc.want)
			}
			if got.ControllerIdleMS != -1 || got.ControllerErr != "" || got.FullScreenErr != "" {
				t.Errorf("controllers %d ms (error %q), full screen error %q: want no controller and no errors",
					got.ControllerIdleMS, got.ControllerErr, got.FullScreenErr)
			}
		})
	}
}

func goTool(t *testing.T) string {
	if p := filepath.Join(runtime.GOROOT(), "bin", "go"); fileExists(p) {
		return p
	}
	p, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	return p
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }
