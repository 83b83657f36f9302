package ollama

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
)

// TestFindBinaryOrder proves the search order with injected lookups, for
// Windows paths too: $COCOON_OLLAMA, then (Windows) the owner's official
// install, then the bundled one beside the app, then $PATH, then the cached
// build; and that a missing one names every place it looked.
func TestFindBinaryOrder(t *testing.T) {
	const (
		winApp      = `C:\Users\gamer\AppData\Local\Programs\Cocoon Desktop\cocoon-desktop.exe`
		winBundled  = `C:\Users\gamer\AppData\Local\Programs\Cocoon Desktop\ollama.exe`
		winOfficial = `C:\Users\gamer\AppData\Local\Programs\Ollama\ollama.exe`
		winLocal    = `C:\Users\gamer\AppData\Local`
		linApp      = "/opt/cocoon/cocoon-desktop"
		linBundled  = "/opt/cocoon/ollama"
		cached      = "/cache/cocoon-desktop/ollama-v0.17.4/bin/ollama"
	)
	cases := []struct {
		name       string
		windows    bool
		env        map[string]string
		exists     []string
		onPath     string
		wantPath   string
		wantSource string
		wantErrIn  []string // parts of the error when nothing is found
	}{
		{name: "env wins over everything", windows: true,
			env:    map[string]string{"COCOON_OLLAMA": `D:\ollama.exe`, "LOCALAPPDATA": winLocal},
			exists: []string{`D:\ollama.exe`, winOfficial, winBundled}, onPath: `C:\bin\ollama.exe`,
			wantPath: `D:\ollama.exe`, wantSource: SourceEnv},
		{name: "windows official install before bundled", windows: true,
			env:      map[string]string{"LOCALAPPDATA": winLocal},
			exists:   []string{winOfficial, winBundled},
			wantPath: winOfficial, wantSource: SourceOfficial},
		{name: "windows bundled when no official install", windows: true,
			env:    map[string]string{"LOCALAPPDATA": winLocal},
			exists: []string{winBundled}, onPath: `C:\bin\ollama.exe`,
			wantPath: winBundled, wantSource: SourceBundled},
		{name: "windows env set but missing falls through", windows: true,
			env:      map[string]string{"COCOON_OLLAMA": `D:\gone.exe`, "LOCALAPPDATA": winLocal},
			exists:   []string{winBundled},
			wantPath: winBundled, wantSource: SourceBundled},
		{name: "windows PATH after bundled", windows: true,
			env:      map[string]string{"LOCALAPPDATA": winLocal},
			onPath:   `C:\bin\ollama.exe`,
			wantPath: `C:\bin\ollama.exe`, wantSource: SourcePath},
		{name: "windows nothing names every place", windows: true,
			env:       map[string]string{"COCOON_OLLAMA": `D:\gone.exe`, "LOCALAPPDATA": winLocal},
			wantErrIn: []string{`D:\gone.exe`, winOfficial, winBundled, "$PATH", cached}},
		{name: "linux has no official install dir", windows: false,
			env:      map[string]string{"LOCALAPPDATA": "/nonsense"},
			exists:   []string{"/nonsense/Programs\\Ollama/ollama", linBundled},
			wantPath: linBundled, wantSource: SourceBundled},
		{name: "linux cached build last", windows: false,
			exists:   []string{cached},
			wantPath: cached, wantSource: SourceCached},
		{name: "linux PATH before cached build", windows: false,
			exists: []string{cached}, onPath: "/usr/bin/ollama",
			wantPath: "/usr/bin/ollama", wantSource: SourcePath},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			exists := map[string]bool{}
			for _, p := range tc.exists {
				exists[p] = true
			}
			app := linApp
			if tc.windows {
				app = winApp
			}
			l := binaryLookups{
				windows:      tc.windows,
				getenv:       func(k string) string { return tc.env[k] },
				executable:   func() (string, error) { return app, nil },
				isExecutable: func(p string) bool { return exists[p] },
				lookPath: func(string) (string, error) {
					if tc.onPath == "" {
						return "", exec.ErrNotFound
					}
					return tc.onPath, nil
				},
				cachedBuild: func() string { return cached },
			}
			p, src, err := findBinary(l)
			if tc.wantErrIn != nil {
				if !errors.Is(err, ErrOllamaNotFound) {
					t.Fatalf("err = %v, want ErrOllamaNotFound", err)
				}
				for _, part := range tc.wantErrIn {
					if !strings.Contains(err.Error(), part) {
						t.Errorf("error %q does not name %q", err, part)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("findBinary: %v", err)
			}
			if p != tc.wantPath || src != tc.wantSource {
				t.Errorf("got %q (%s), want %q (%s)", p, src, tc.wantPath, tc.wantSource)
			}
		})
	}
}
