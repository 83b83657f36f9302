package main

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

const mod = "github.com/cocoon-desktop/cocoon-desktop"

// fyne is the prefix of every Fyne package path.
const fyne = "fyne.io"

// dependencyRules are the arrows that must not exist, each with its reason
// (the layout in docs/design.md): main → app → worker → {runtime/ollama, gpu,
// idle, network, earnings} → {receipt, ton} → libraries. A rule forbids the
// package (and its subpackages, when it ends in "/...") from depending on the
// prefix, directly or through any other package; a rule marked direct
// forbids only importing it (main reaches Fyne through app/, as it must).
var dependencyRules = []struct {
	pkg, forbidden, why string
	direct              bool
}{
	{"...", fyne, "Fyne belongs in app/ alone: the core must run headless and be tested without a display", true},
	{"...", mod + "/app", "nothing imports the GUI but the command line that starts it", true},
	{"receipt", mod + "/", "the money record is shared by the wire and the ledger, so it depends on neither (or anything of ours)", false},
	{"ton", mod + "/", "TON addresses, wallets and the chain know nothing of workers, ledgers or the wire", false},
	{"earnings", mod + "/network", "the stored ledger format must not change when the wire protocol does", false},
	{"earnings", mod + "/worker", "the ledger is a library the worker drives, not the other way round", false},
	{"network/...", mod + "/earnings", "the proxy keeps its own store; the worker's ledger is not the network's business", false},
	{"network/...", mod + "/worker", "the protocol and the proxy do not depend on the desktop core", false},
	{"network/...", mod + "/runtime", "the proxy never runs models itself; workers do", false},
	{"runtime/...", mod + "/worker", "the model runtime is driven by the core, it does not drive it", false},
	{"runtime/...", mod + "/gpu", "the runtime gets VRAM figures through an injected function, so it is testable without NVML", false},
	{"runtime/...", mod + "/network", "the runtime runs one job; how jobs arrive is the worker's business", false},
	{"gpu/...", mod + "/worker", "GPU detection is a leaf that the core and doctor both use", false},
	{"gpu/...", mod + "/runtime", "GPU detection does not depend on the model runtime", false},
	{"idle", mod + "/worker", "the idle policy is a pure state machine the core feeds", false},
	{"worker", mod + "/internal/cli", "the core is a library: flags and process set-up live above it", false},
	{"assets", mod + "/", "icons are data, embedded; they import nothing of ours", false},
}

type goPackage struct {
	ImportPath string
	Imports    []string
	Deps       []string
}

func listPackages(t *testing.T) []goPackage {
	t.Helper()
	out, err := exec.Command("go", "list", "-json=ImportPath,Imports,Deps", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []goPackage
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p goPackage
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 10 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	return pkgs
}

// ruleApplies reports whether a rule for pkg ("..." for all, "x/..." for x
// and below, "x" for x alone) covers the package at rel (relative to mod).
func ruleApplies(pkg, rel string) bool {
	switch {
	case pkg == "...":
		return true
	case strings.HasSuffix(pkg, "/..."):
		base := strings.TrimSuffix(pkg, "/...")
		return rel == base || strings.HasPrefix(rel, base+"/")
	default:
		return rel == pkg
	}
}

// exempt lists who may break a "..." rule: app/ itself, and the command
// line that starts the GUI.
func exempt(rule, rel string) bool {
	inApp := rel == "app" || strings.HasPrefix(rel, "app/")
	switch rule {
	case fyne:
		return inApp
	case mod + "/app":
		return inApp || rel == "internal/cli"
	}
	return false
}

// TestDependencyDirection enforces dependencyRules on every package of the
// module. Each rule must match at least one package, so a renamed package
// cannot make a rule pass vacuously.
func TestDependencyDirection(t *testing.T) {
	pkgs := listPackages(t)
	for _, r := range dependencyRules {
		matched := false
		for _, p := range pkgs {
			rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, mod), "/")
			if !ruleApplies(r.pkg, rel) || exempt(r.forbidden, rel) {
				continue
			}
			matched = true
			if v := violation(p, r.forbidden, r.direct); v != "" {
				t.Errorf("%s depends on %s: %s", p.ImportPath, v, r.why)
			}
		}
		if !matched {
			t.Errorf("rule %q → %q matches no package: update the table", r.pkg, r.forbidden)
		}
	}
}

// violation is the first import (or, unless direct, dependency) of p under
// prefix, or "".
func violation(p goPackage, prefix string, direct bool) string {
	lists := [][]string{p.Imports, p.Deps}
	if direct {
		lists = lists[:1]
	}
	for _, list := range lists {
		for _, d := range list {
			if d == p.ImportPath {
				continue
			}
			if strings.HasPrefix(d, prefix) || d == strings.TrimSuffix(prefix, "/") {
				return d
			}
		}
	}
	return ""
}
