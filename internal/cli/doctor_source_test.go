package cli

import (
	"strings"
	"testing"

	"github.com/cocoon-desktop/cocoon-desktop/runtime/ollama"
)

// TestDoctorSaysWhichOllama checks that doctor's text names which Ollama a
// managed one is and where it lives (the bundled one on Windows, an
// official install), and says nothing extra for an attached one.
func TestDoctorSaysWhichOllama(t *testing.T) {
	cases := []struct {
		name string
		st   ollama.Status
		want string
	}{
		{"bundled on Windows", ollama.Status{Reachable: true, Version: "0.17.4", Mode: ollama.ModeManaged, Address: "http://127.0.0.1:5000",
			Source: ollama.SourceBundled, Binary: `C:\Programs\Cocoon Desktop\ollama.exe`},
			`[ok  ] Ollama 0.17.4, managed (bundled: C:\Programs\Cocoon Desktop\ollama.exe), at http://127.0.0.1:5000`},
		{"official install", ollama.Status{Reachable: true, Version: "0.17.4", Mode: ollama.ModeManaged, Address: "http://127.0.0.1:5000",
			Source: ollama.SourceOfficial, Binary: `C:\Local\Programs\Ollama\ollama.exe`},
			`managed (official: C:\Local\Programs\Ollama\ollama.exe)`},
		{"attached", ollama.Status{Reachable: true, Version: "0.17.4", Mode: ollama.ModeAttached, Address: "http://127.0.0.1:11434"},
			`[ok  ] Ollama 0.17.4, attached, at http://127.0.0.1:11434` + "\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			printReport(&b, Report{Ollama: tc.st})
			if !strings.Contains(b.String(), tc.want) {
				t.Errorf("doctor printed:\n%s\nwant a line with %q", b.String(), tc.want)
			}
		})
	}
}
