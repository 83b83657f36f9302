// Package packaging holds the test of the release packaging (dist.sh, nfpm.yaml).
package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/internal/testx"

	"github.com/cocoon-desktop/cocoon-desktop/internal/testollama"
	"github.com/cocoon-desktop/cocoon-desktop/runtime/ollama"
)

const testVersion = "0.0.0-test"

// TestDistBundlesOllamaBackends runs packaging/dist.sh (Linux only, with a
// stand-in for the app so it takes seconds; the Ollama and GPU backends are
// the real, cached builds `make test` made) and checks that the tarball and
// the .deb carry Ollama in its own layout, bin/ollama + lib/ollama/ with the
// Vulkan backend, with `ollama` next to the app as a link to it; then starts
// the packaged Ollama from the unpacked tarball and from the unpacked .deb
// and checks that it discovers a device through the bundled Vulkan library.
func TestDistBundlesOllamaBackends(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the Linux packages are built on Linux")
	}
	bin := testollama.Binary()
	if bin == "" {
		testollama.Skip(t)
	}
	testollama.VulkanLibrary(t, bin) // dist.sh bundles the cached backend build
	for _, tool := range []string{"tar", "dpkg"} {
		if _, err := exec.LookPath(tool); err != nil {
			testx.SkipOrFail(t, tool, tool+" not installed (scripts/install-deps.sh installs it)")
		}
	}

	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Dir(wd)
	tmp := t.TempDir()
	out := filepath.Join(tmp, "dist")
	app := filepath.Join(tmp, "stand-in-app")
	if err := os.WriteFile(app, []byte("#!/bin/sh\necho stand-in for cocoon-desktop\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", "packaging/dist.sh")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "VERSION="+testVersion, "DIST_DIR="+out, "WINDOWS=0", "CUDA=0",
		"APP_BINARY="+app, "GZIP_LEVEL=1", "GO="+filepath.Join(runtime.GOROOT(), "bin", "go"))
	start := time.Now()
	log, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("packaging/dist.sh: %v\n%s", err, log)
	}
	t.Logf("dist.sh took %v", time.Since(start).Round(time.Millisecond))
	if !strings.Contains(string(log), "dist: GPU backends bundled: vulkan") {
		t.Errorf("dist.sh did not say it bundled the Vulkan backend:\n%s", log)
	}

	top := "cocoon-desktop-" + testVersion + "-linux-amd64/"
	tarball := filepath.Join(out, "cocoon-desktop-"+testVersion+"-linux-amd64.tar.gz")
	deb := filepath.Join(out, "cocoon-desktop_"+testVersion+"_amd64.deb")

	t.Run("tarball", func(t *testing.T) {
		list := run(t, "tar", "tvzf", tarball)
		checkListing(t, list, top)
		dir := filepath.Join(tmp, "tar")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		run(t, "tar", "xzf", tarball, "-C", dir)
		// As the app runs it: the `ollama` next to the app (a link to bin/ollama).
		checkDiscovery(t, filepath.Join(dir, top, "ollama"), filepath.Join(dir, top, "lib", "ollama"))
	})
	t.Run("deb", func(t *testing.T) {
		list := run(t, "dpkg", "-c", deb)
		checkListing(t, list, "usr/lib/cocoon-desktop/")
		dir := filepath.Join(tmp, "deb")
		run(t, "dpkg", "-x", deb, dir)
		checkDiscovery(t, filepath.Join(dir, "usr/lib/cocoon-desktop/ollama"), filepath.Join(dir, "usr/lib/cocoon-desktop/lib/ollama"))
	})
}

// checkListing checks a `tar tv` / `dpkg -c` listing of a package whose
// app directory is prefix (a leading "./" in the listing is ignored).
func checkListing(t *testing.T, list, prefix string) {
	t.Helper()
	entries := map[string]string{} // path -> the whole line
	for _, line := range strings.Split(strings.TrimSpace(list), "\n") {
		f := strings.Fields(line)
		if len(f) < 6 {
			continue
		}
		name := f[5]
		if i := strings.Index(line, " -> "); i >= 0 {
			name = strings.Fields(line[:i])[len(strings.Fields(line[:i]))-1]
		}
		entries[strings.TrimPrefix(name, "./")] = line
	}
	p := prefix
	want := map[string]string{
		p + "cocoon-desktop":                      "-rwxr-xr-x",
		p + "bin/ollama":                          "-rwxr-xr-x",
		p + "ollama":                              "l", // -> bin/ollama
		p + "lib/ollama/libggml-base.so":          "",
		p + "lib/ollama/vulkan/libggml-vulkan.so": "-rw",
	}
	for name, mode := range want {
		line, ok := entries[name]
		if !ok {
			t.Errorf("package lacks %s; listing:\n%s", name, list)
			continue
		}
		if mode != "" && !strings.HasPrefix(line, mode) {
			t.Errorf("%s: %q, want mode %s...", name, line, mode)
		}
	}
	if line := entries[p+"ollama"]; !strings.HasSuffix(line, "-> bin/ollama") {
		t.Errorf("ollama next to the app: %q, want a link to bin/ollama", line)
	}
	t.Logf("%d entries, the Ollama ones:", len(entries))
	for name, line := range entries {
		if strings.Contains(name, "ollama") {
			t.Logf("  %s", line)
		}
	}
}

// checkDiscovery starts the packaged Ollama at bin with the Vulkan backend
// enabled and checks that it found a Vulkan device through the library in
// libDir (the package's own lib/ollama, not the build cache's).
func checkDiscovery(t *testing.T, bin, libDir string) {
	t.Helper()
	if got := testollama.LibDir(bin); got != filepath.Clean(libDir) {
		t.Fatalf("Ollama would look for its backends in %s, want the package's %s", got, libDir)
	}
	srv := testollama.StartWith(t, testollama.Options{
		Binary: bin,
		// OLLAMA_DEBUG=1 logs the library paths the discovery loaded.
		Env: append([]string{"OLLAMA_DEBUG=1"}, testollama.VulkanTestEnv()...),
	})
	log := srv.WaitLog(t, testollama.DiscoveryDone, time.Minute)
	var found bool
	for _, c := range ollama.ParseComputes(log) {
		t.Logf("packaged ollama: library=%s description=%q libdirs=%s total=%s", c.Library, c.Description, c.LibDirs, c.Total)
		if c.Library == "Vulkan" && strings.Contains(c.LibDirs, "vulkan") {
			found = true
		}
	}
	if !found {
		t.Fatalf("the packaged Ollama did not discover a Vulkan device; its log:\n%s", log)
	}
	if vk := filepath.Join(libDir, "vulkan"); !strings.Contains(log, vk) {
		t.Errorf("the packaged Ollama's log never names its bundled backend dir %s:\n%s", vk, log)
	}
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}
