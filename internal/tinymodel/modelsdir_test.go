package tinymodel

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ollama/ollama/api"

	"github.com/cocoon-desktop/cocoon-desktop/internal/testollama"
)

// TestWriteModelsDirServedByOllama: a model written straight into a real
// Ollama's models directory is listed with the digest WriteModelsDir
// returned (the manifest's sha256), runs, and uses the given system prompt
// and template; bad names are refused.
func TestWriteModelsDirServedByOllama(t *testing.T) {
	srv := testollama.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, tc := range []struct {
		name, model string
		listed      string // as /api/tags names it
		manifest    string // under manifests/registry.ollama.ai/library
		layout      Layout
	}{
		{"default layout", "tiny-a", "tiny-a:latest", "tiny-a/latest", Layout{}},
		{"tag, system prompt and template", "tiny-b:v2", "tiny-b:v2", "tiny-b/v2",
			Layout{System: "You are tiny.", Template: "{{ .System }}|{{ range .Messages }}{{ .Content }}{{ end }}|"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			digest, err := WriteModelsDir(srv.ModelsDir(), tc.model, Options{Seed: 5}, tc.layout)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(srv.ModelsDir(), "manifests", "registry.ollama.ai", "library", filepath.FromSlash(tc.manifest))); err != nil {
				t.Fatalf("manifest: %v", err)
			}
			list, err := srv.Client().List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, m := range list.Models {
				if m.Name == tc.listed {
					found = true
					if m.Digest != digest {
						t.Errorf("/api/tags digest %s, WriteModelsDir said %s", m.Digest, digest)
					}
				}
			}
			if !found {
				t.Fatalf("%s not in /api/tags: %+v", tc.listed, list.Models)
			}
			show, err := srv.Client().Show(ctx, &api.ShowRequest{Model: tc.model})
			if err != nil {
				t.Fatal(err)
			}
			wantTmpl := tc.layout.Template
			if wantTmpl == "" {
				wantTmpl = Template
			}
			if show.Template != wantTmpl || show.System != tc.layout.System {
				t.Errorf("show: template %q system %q", show.Template, show.System)
			}
			stream := false
			var resp api.ChatResponse
			err = srv.Client().Chat(ctx, &api.ChatRequest{Model: tc.model, Messages: []api.Message{{Role: "user", Content: "hi"}},
				Stream: &stream, Options: map[string]any{"num_predict": 4}}, func(r api.ChatResponse) error { resp = r; return nil })
			if err != nil || resp.EvalCount != 4 {
				t.Fatalf("chat: %v, %+v", err, resp.Metrics)
			}
		})
	}
	for _, bad := range []string{"", ":tag", "ns/model", "m:a/b"} {
		if _, err := WriteModelsDir(t.TempDir(), bad, Options{}, Layout{}); err == nil {
			t.Errorf("WriteModelsDir(%q) accepted", bad)
		}
	}
}
