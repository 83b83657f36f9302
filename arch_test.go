package main

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

// TestDependencyDirection enforces DESIGN.md §2: Fyne is imported only by
// app/, nothing but the command line imports app/, and the core packages
// never import the layers above them.
func TestDependencyDirection(t *testing.T) {
	out, err := exec.Command("go", "list", "-json=ImportPath,Imports,Deps", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const mod = "github.com/cocoon-desktop/cocoon-desktop"
	const fyne = "fyne.io" // every Fyne package path starts with it
	type pkg struct {
		ImportPath string
		Imports    []string
		Deps       []string
	}
	var pkgs []pkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 5 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	// Packages that must not depend (even indirectly) on these prefixes.
	forbidden := map[string][]string{
		mod + "/gpu":            {fyne, mod + "/app", mod + "/worker", mod + "/runtime"},
		mod + "/runtime/ollama": {fyne, mod + "/app", mod + "/worker", mod + "/gpu"},
		mod + "/worker":         {fyne, mod + "/app", mod + "/internal/cli"},
		mod + "/assets":         {fyne},
	}
	seenApp := false
	for _, p := range pkgs {
		rel := strings.TrimPrefix(p.ImportPath, mod)
		inApp := rel == "/app" || strings.HasPrefix(rel, "/app/")
		seenApp = seenApp || inApp
		for _, imp := range p.Imports {
			if strings.HasPrefix(imp, fyne) && !inApp {
				t.Errorf("%s imports %s: Fyne belongs in app/ only", p.ImportPath, imp)
			}
			if imp == mod+"/app" && p.ImportPath != mod+"/internal/cli" {
				t.Errorf("%s imports app/: only the command line may", p.ImportPath)
			}
		}
		for _, bad := range forbidden[p.ImportPath] {
			for _, d := range p.Deps {
				if strings.HasPrefix(d, bad) {
					t.Errorf("%s depends on %s", p.ImportPath, d)
					break
				}
			}
		}
	}
	if !seenApp {
		t.Fatal("app/ not found: the check would pass vacuously")
	}
}
