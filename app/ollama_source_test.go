package app

import (
	"testing"

	"github.com/cocoon-desktop/cocoon-desktop/runtime/ollama"
)

// TestOllamaSourceSuffix checks the Ollama panel's words for which Ollama a
// managed one is: the owner's own install and the bundled one by name,
// nothing for an attached Ollama (no source).
func TestOllamaSourceSuffix(t *testing.T) {
	cases := []struct{ name, source, want string }{
		{"attached", "", ""},
		{"official", ollama.SourceOfficial, " · your Ollama install (ollama.com)"},
		{"bundled", ollama.SourceBundled, " · the Ollama bundled with Cocoon"},
		{"on PATH", ollama.SourcePath, " · the Ollama on your PATH"},
		{"developer's build", ollama.SourceCached, " · cached build"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := ollamaSourceSuffix(tc.source); got != tc.want {
				t.Errorf("ollamaSourceSuffix(%q) = %q, want %q", tc.source, got, tc.want)
			}
		})
	}
}
