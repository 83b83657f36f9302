package testollama

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/cocoon-desktop/cocoon-desktop/internal/testx"
)

// VulkanEnv makes Ollama v0.17.4 use its Vulkan backend: Vulkan is opt-in
// (OLLAMA_VULKAN=1), and ggml skips CPU-type Vulkan devices such as Mesa's
// lavapipe (llvmpipe), the software device tests run on, unless they are
// named in GGML_VK_VISIBLE_DEVICES.
var VulkanEnv = []string{"OLLAMA_VULKAN=1", "GGML_VK_VISIBLE_DEVICES=0"}

// VulkanTestEnv is VulkanEnv plus a Mesa shader cache that outlives the
// test (in the user cache dir, next to the Ollama build). Tests run Ollama
// with a throwaway HOME, where Mesa's default cache would start empty every
// time: lavapipe then compiles ggml's pipelines on the first prompt for
// ~40 s on 2 cores, against ~1 s with the cache warm.
func VulkanTestEnv() []string {
	env := append([]string(nil), VulkanEnv...)
	if dir, err := os.UserCacheDir(); err == nil {
		env = append(env, "MESA_SHADER_CACHE_DIR="+filepath.Join(dir, "cocoon-desktop", "mesa-shader-cache"))
	}
	return env
}

// RequireVulkanEnvVar names the environment variable that, set to 1 (as
// `make test` does), makes tests fail instead of skip when the Vulkan
// backend is not installed beside the Ollama binary.
const RequireVulkanEnvVar = "COCOON_REQUIRE_VULKAN"

// LibDir returns the directory Ollama loads its backend libraries from when
// it runs from the binary at bin, by Ollama's own rule (ml.LibOllamaPath):
// lib/ollama next to the directory of the executable with symlinks
// resolved, i.e. <prefix>/lib/ollama for <prefix>/bin/ollama (on Windows
// <dir>/lib/ollama). Backends live in subdirectories: vulkan, cuda_v11, ...
func LibDir(bin string) string {
	if p, err := filepath.EvalSymlinks(bin); err == nil {
		bin = p
	}
	dir := filepath.Dir(bin)
	if runtime.GOOS == "windows" {
		return filepath.Join(dir, "lib", "ollama")
	}
	return filepath.Clean(filepath.Join(dir, "..", "lib", "ollama"))
}

// VulkanLibrary returns the path of the Vulkan backend
// (lib/ollama/vulkan/libggml-vulkan.so) installed for the Ollama binary bin
// by scripts/build-ollama-gpu.sh. When it is missing the test is skipped,
// or failed when COCOON_REQUIRE_VULKAN=1 or COCOON_REQUIRE_ALL=1.
func VulkanLibrary(t testing.TB, bin string) string {
	t.Helper()
	lib := LibDir(bin)
	want := []string{filepath.Join(lib, "vulkan", "libggml-vulkan.so"), filepath.Join(lib, "libggml-base.so")}
	for _, p := range want {
		if _, err := os.Stat(p); err != nil {
			msg := "Ollama's Vulkan backend is not installed beside " + bin + ": " + err.Error() +
				" (run `bash scripts/build-ollama-gpu.sh vulkan`, or `make test`, which does)"
			if os.Getenv(RequireVulkanEnvVar) == "1" {
				t.Fatal(msg + "; " + RequireVulkanEnvVar + "=1 requires it")
			}
			testx.SkipOrFail(t, "Ollama's Vulkan backend", msg)
		}
	}
	return want[0]
}

// DiscoveryDone is what `ollama serve` logs right after the "inference
// compute" lines of its GPU discovery: wait for it before reading them.
const DiscoveryDone = `msg="vram-based default context"`
