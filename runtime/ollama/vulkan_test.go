package ollama_test

import (
	"strings"
	"testing"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/internal/testollama"
	"github.com/cocoon-desktop/cocoon-desktop/runtime/ollama"
)

// TestVulkanBackend runs the managed Ollama with the Vulkan backend that
// scripts/build-ollama-gpu.sh installs beside it (lib/ollama/vulkan), on
// Mesa's software Vulkan device (lavapipe) when there is no GPU: Ollama must
// discover the device through that library, put the whole tiny model on it
// and answer a chat. `make test` builds the backend and sets
// COCOON_REQUIRE_VULKAN=1, so there a missing backend fails the test.
func TestVulkanBackend(t *testing.T) {
	bin := testollama.Binary()
	if bin == "" {
		testollama.Skip(t)
	}
	t.Logf("Vulkan backend: %s", testollama.VulkanLibrary(t, bin))

	rt := startManaged(t, func(c *ollama.Config) { c.ExtraEnv = testollama.VulkanTestEnv() })
	// Ollama logs its devices before it serves; the lines reach the
	// supervisor's tail through a pipe, so they may still be on their way.
	var boot string
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
		boot = strings.Join(rt.Supervisor().Tail(), "\n")
		if strings.Contains(boot, testollama.DiscoveryDone) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ollama did not finish its GPU discovery within a minute of serving; its output:\n%s", boot)
		}
	}
	var vk *ollama.Compute
	for _, c := range ollama.ParseComputes(boot) {
		t.Logf("ollama device: library=%s name=%s description=%q libdirs=%s total=%s",
			c.Library, c.Name, c.Description, c.LibDirs, c.Total)
		if c.Library == "Vulkan" {
			vk = &c
		}
	}
	if vk == nil {
		t.Fatalf("ollama did not discover a Vulkan device; its start-up output:\n%s", boot)
	}
	if !strings.Contains(vk.LibDirs, "vulkan") {
		t.Errorf("Vulkan device found through libdirs=%q, want the vulkan library dir", vk.LibDirs)
	}
	if !strings.Contains(vk.Description, "llvmpipe") && !strings.Contains(vk.Description, "NVIDIA") {
		t.Logf("note: Vulkan device %q is neither lavapipe (llvmpipe) nor an NVIDIA GPU", vk.Description)
	}

	registerTiny(t, rt, tiny)
	// The first prompt compiles the backend's pipelines (tens of seconds on
	// lavapipe on 2 cores unless Mesa's shader cache has them): the bound is
	// only against a hang.
	seed := 1
	var text strings.Builder
	usage, err := rt.Chat(ctxT(t, 5*time.Minute),
		ollama.Job{Model: tiny, Messages: []ollama.Message{{Role: "user", Content: "Say something about GPUs."}}, MaxTokens: 32, Seed: &seed},
		func(s string) error { text.WriteString(s); return nil })
	if err != nil {
		t.Fatalf("chat on the Vulkan backend: %v", err)
	}
	if usage.CompletionTokens <= 0 || text.Len() == 0 {
		t.Fatalf("chat on the Vulkan backend produced nothing: usage %+v", usage)
	}
	t.Logf("chat on Vulkan: %d tokens, load %v, prompt %v, eval %v",
		usage.CompletionTokens, usage.LoadDuration, usage.PromptDuration, usage.EvalDuration)

	// /api/ps: the model is loaded and every byte of it is on the device.
	loaded, err := rt.Loaded(ctxT(t, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if len(loaded) != 1 || loaded[0].Name != tiny {
		t.Fatalf("/api/ps = %+v, want the tiny model", loaded)
	}
	if m := loaded[0]; m.Size <= 0 || m.SizeVRAM != m.Size {
		t.Fatalf("/api/ps: size_vram=%d size=%d, want the model fully offloaded to the Vulkan device", m.SizeVRAM, m.Size)
	}
	t.Logf("/api/ps: size_vram = size = %d bytes", loaded[0].Size)
	// What the app shows: the runtime names the backend it found in
	// Ollama's log, and the loaded model runs wholly on the GPU.
	if got := rt.Status().GPUBackend; got != "Vulkan" {
		t.Errorf("Status().GPUBackend = %q, want Vulkan (computes %+v)", got, rt.Status().Computes)
	}
	if m := loaded[0]; m.RunsOn() != ollama.RunsOnGPU || m.VRAMShare() != 1 {
		t.Errorf("RunsOn %q, VRAMShare %v; want gpu, 1", m.RunsOn(), m.VRAMShare())
	}
	if tail := strings.Join(rt.Supervisor().Tail(), "\n"); strings.Contains(tail, "offloaded") {
		for _, l := range strings.Split(tail, "\n") {
			if strings.Contains(l, "offloaded") {
				t.Logf("ollama: %s", strings.TrimSpace(l))
			}
		}
	}
}
