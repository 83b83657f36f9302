package worker

import (
	"strings"
	"testing"

	"github.com/cocoon-desktop/cocoon-desktop/gpu"
	"github.com/cocoon-desktop/cocoon-desktop/runtime/ollama"
)

func TestPlacement(t *testing.T) {
	const gib = 1 << 30
	card := gpu.Snapshot{State: gpu.StateOK, DriverVersion: "550.54", CUDAVersion: "12.4", Devices: []gpu.Device{{
		Name: "NVIDIA GeForce RTX 4060", MemoryTotal: 8 * gib,
		Processes: []gpu.Process{{PID: 10, Name: "/usr/lib/ollama/ollama", MemoryUsed: 2 * gib}, {PID: 11, Name: "game.exe", MemoryUsed: gib}},
	}}}
	oldDriver := card
	oldDriver.CUDAVersion, oldDriver.DriverVersion = "10.2", "440.33"
	noGPU := gpu.Snapshot{State: gpu.StateNoDriver}
	vulkan := ollama.Status{Computes: []ollama.Compute{{Library: "Vulkan"}}, GPUBackend: "Vulkan"}
	cpuOnly := ollama.Status{Computes: []ollama.Compute{{Library: "cpu"}}}
	attached := ollama.Status{} // an attached Ollama logs nothing we can read
	small := []ollama.Model{{Name: "tiny:latest", Size: gib, FitsVRAM: true}}
	huge := []ollama.Model{{Name: "tiny:latest", Size: 40 * gib}}
	reserved := []ollama.Model{{Name: "tiny:latest", Size: 7 * gib, FitNote: "needs 7.0 GB, 5.5 GB free after your 2.0 GB reserve"}}
	onGPU := []ollama.Loaded{{Name: "tiny:latest", Size: gib, SizeVRAM: gib}}
	split := []ollama.Loaded{{Name: "tiny:latest", Size: 4 * gib, SizeVRAM: gib}}
	onCPU := []ollama.Loaded{{Name: "tiny:latest", Size: gib}}

	tests := []struct {
		name     string
		g        gpu.Snapshot
		o        ollama.Status
		models   []ollama.Model
		loaded   []ollama.Loaded
		runsOn   string
		backend  string
		reason   string
		warnSays string
	}{
		{name: "all on the gpu", g: card, o: vulkan, models: small, loaded: onGPU, runsOn: "gpu", backend: "Vulkan"},
		{name: "attached ollama on the gpu", g: card, o: attached, models: small, loaded: onGPU, runsOn: "gpu"},
		{name: "not loaded yet", g: card, o: vulkan, models: small, runsOn: "", backend: "Vulkan"},
		{name: "no gpu at all", g: noGPU, o: cpuOnly, models: small, loaded: onCPU, runsOn: "cpu"},
		{name: "no backend", g: card, o: cpuOnly, models: small, loaded: onCPU, runsOn: "cpu", reason: CPUNoBackend, warnSays: "no GPU backend"},
		{name: "no backend, not loaded", g: card, o: cpuOnly, models: small, runsOn: "", reason: CPUNoBackend, warnSays: "found only the CPU"},
		{name: "driver too old", g: oldDriver, o: cpuOnly, models: small, loaded: onCPU, runsOn: "cpu", reason: CPUOldDriver, warnSays: "too old"},
		{name: "too big", g: card, o: vulkan, models: huge, loaded: onCPU, runsOn: "cpu", reason: CPUTooBig, warnSays: "smaller model"},
		{name: "vram reserve", g: card, o: vulkan, models: reserved, loaded: split, runsOn: "gpu", backend: "Vulkan", reason: CPUVRAMReserve, warnSays: "25% on the GPU"},
		{name: "cpu for no known reason", g: card, o: vulkan, models: small, loaded: onCPU, runsOn: "cpu", reason: CPUUnknown, warnSays: "log may say"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := placementOf("tiny", tc.g, tc.o, tc.models, tc.loaded)
			if p.RunsOn != tc.runsOn || p.Backend != tc.backend || p.CPUReason != tc.reason {
				t.Fatalf("placement = %+v; want runs_on %q backend %q reason %q", p, tc.runsOn, tc.backend, tc.reason)
			}
			if !strings.Contains(p.Warning, tc.warnSays) || (tc.reason == "") != (p.Warning == "") {
				t.Fatalf("warning %q, want it to say %q", p.Warning, tc.warnSays)
			}
			if p.OnCPUWithGPU() != (tc.reason != "") {
				t.Fatalf("OnCPUWithGPU = %v", p.OnCPUWithGPU())
			}
		})
	}
	if p := placementOf("tiny", card, vulkan, small, onGPU); p.OllamaVRAM != 2*gib || p.Device != "NVIDIA GeForce RTX 4060" || p.VRAMShare != 1 {
		t.Fatalf("VRAM held by Ollama or device: %+v", p)
	}
}
