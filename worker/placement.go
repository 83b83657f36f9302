package worker

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/cocoon-desktop/cocoon-desktop/gpu"
	"github.com/cocoon-desktop/cocoon-desktop/runtime/ollama"
)

// Why a model runs on the CPU although an NVIDIA GPU is present, in
// Placement.CPUReason.
const (
	CPUNoBackend   = "no_gpu_backend" // Ollama found no GPU backend library (or none that works with this card)
	CPUOldDriver   = "driver_too_old" // the NVIDIA driver is older than the backends need
	CPUTooBig      = "model_too_big"  // the model does not fit in the card's memory
	CPUVRAMReserve = "vram_reserve"   // it would fit, but not beside the VRAM kept for the owner
	CPUUnknown     = "unknown"        // Ollama chose the CPU and said nothing we can read
)

// minCUDADriver is the oldest CUDA driver API version (×1000 + minor×10, as
// NVML reports it) that the CUDA 11 backend runs on: 11.0.
const minCUDADriver = 11000

// Placement says where the served model runs: on the GPU (with which
// backend and how much of it in VRAM) or on the CPU, and — when an NVIDIA
// GPU is present but the model runs on the CPU — why, in words.
type Placement struct {
	Model string `json:"model"`
	// RunsOn is ollama.RunsOnGPU or ollama.RunsOnCPU; "" when the model is
	// not loaded now (Ollama decides where at load time).
	RunsOn string `json:"runs_on"`
	// Backend is the GPU library Ollama uses ("CUDA", "Vulkan"; "" on the
	// CPU or when unknown: an attached Ollama does not say).
	Backend string `json:"backend,omitempty"`
	// VRAMShare is the part of the model in VRAM, 0..1.
	VRAMShare float64 `json:"vram_share"`
	// Device is the GPU the model runs on, or the card present when it runs on the CPU.
	Device string `json:"device,omitempty"`
	// OllamaVRAM is the VRAM that NVML sees held by Ollama's processes, bytes.
	OllamaVRAM uint64 `json:"ollama_vram,omitempty"`
	// CPUReason is one of the CPU* codes when a GPU is present but unused
	// (or only partly used); Warning says it in words.
	CPUReason string `json:"cpu_reason,omitempty"`
	Warning   string `json:"warning,omitempty"`
}

// OnCPUWithGPU reports whether an NVIDIA GPU is present but the model runs
// wholly or partly on the CPU: the case the owner is warned about.
func (p Placement) OnCPUWithGPU() bool { return p.CPUReason != "" }

// placementOf works out where model runs from the status parts it needs.
func placementOf(model string, g gpu.Snapshot, o ollama.Status, models []ollama.Model, loaded []ollama.Loaded) Placement {
	p := Placement{Model: model, Backend: o.GPUBackend}
	var card *gpu.Device
	if g.State == gpu.StateOK && len(g.Devices) > 0 {
		card = &g.Devices[0]
		p.Device = card.Name
		p.OllamaVRAM = ollamaVRAM(g, nil)
	}
	for _, l := range loaded {
		if sameModel(l.Name, model) {
			p.RunsOn, p.VRAMShare = l.RunsOn(), l.VRAMShare()
			break
		}
	}
	if p.RunsOn == ollama.RunsOnCPU {
		p.Backend = ""
	}
	if card == nil || model == "" {
		return p // no GPU: the CPU is all there is, nothing to warn about
	}
	switch {
	case p.RunsOn == ollama.RunsOnGPU && p.VRAMShare >= 0.999:
		return p
	case p.RunsOn == "" && !backendMissing(o):
		return p // not loaded: where it will run is decided at load time
	}
	p.CPUReason, p.Warning = cpuReason(p, card, g, o, models, model)
	return p
}

// backendMissing reports whether a managed Ollama said it found no GPU.
func backendMissing(o ollama.Status) bool {
	return len(o.Computes) > 0 && o.GPUBackend == ""
}

// cpuReason explains why a model runs (partly) on the CPU beside a GPU.
func cpuReason(p Placement, card *gpu.Device, g gpu.Snapshot, o ollama.Status, models []ollama.Model, model string) (string, string) {
	where := "on the CPU"
	if p.RunsOn == ollama.RunsOnGPU {
		where = fmt.Sprintf("only %.0f%% on the GPU, the rest on the CPU", 100*p.VRAMShare)
	}
	if backendMissing(o) {
		if v := cudaDriverVersion(g.CUDAVersion); v > 0 && v < minCUDADriver {
			return CPUOldDriver, fmt.Sprintf("%s runs %s: the NVIDIA driver (%s, CUDA %s) is too old for the GPU backends; update the driver.",
				model, where, g.DriverVersion, g.CUDAVersion)
		}
		return CPUNoBackend, fmt.Sprintf("%s runs %s: the Ollama in use has no GPU backend for the %s (it found only the CPU). "+
			"Install the NVIDIA driver's Vulkan support, or an official Ollama, which has CUDA.", model, where, card.Name)
	}
	var m *ollama.Model
	for i := range models {
		if sameModel(models[i].Name, model) {
			m = &models[i]
		}
	}
	if m != nil && uint64(max(m.Size, 0)) > card.MemoryTotal {
		return CPUTooBig, fmt.Sprintf("%s runs %s: it needs %s, more than the %s of the %s. Choose a smaller model.",
			model, where, ollama.HumanBytes(m.Size), ollama.HumanBytes(int64(card.MemoryTotal)), card.Name)
	}
	if m != nil && !m.FitsVRAM {
		note := m.FitNote
		if note == "" {
			note = "it does not fit beside the VRAM kept free for you"
		}
		return CPUVRAMReserve, fmt.Sprintf("%s runs %s: %s. Lower the VRAM reserve in Settings or choose a smaller model.", model, where, strings.TrimSuffix(note, "."))
	}
	return CPUUnknown, fmt.Sprintf("%s runs %s although the %s is present; Ollama's log may say why.", model, where, card.Name)
}

// cudaDriverVersion parses NVML's "12.4" into 12040 (0 when unknown).
func cudaDriverVersion(s string) int {
	major, minor, _ := strings.Cut(s, ".")
	ma, err1 := strconv.Atoi(major)
	mi, err2 := strconv.Atoi(minor)
	if err1 != nil || err2 != nil {
		return 0
	}
	return ma*1000 + mi*10
}

func isOllamaProcess(name string) bool {
	base := strings.ToLower(name)
	if i := strings.LastIndexAny(base, `/\`); i >= 0 {
		base = base[i+1:]
	}
	return strings.HasPrefix(base, "ollama")
}

// sameModel compares model names, "x" and "x:latest" being one.
func sameModel(a, b string) bool {
	return strings.TrimSuffix(a, ":latest") == strings.TrimSuffix(b, ":latest")
}

// ProbePlacement loads the served model (if it is not loaded yet), reads
// where Ollama put it, and unloads it again if it loaded it, so that doctor
// can say where the model runs without serving a job.
func (c *Core) ProbePlacement(ctx context.Context) (Placement, error) {
	c.mu.Lock()
	model := c.model
	c.mu.Unlock()
	if model == "" {
		return Placement{}, fmt.Errorf("worker: where does the model run: %w: no model chosen", ollama.ErrModelNotFound)
	}
	before, err := c.rt.Loaded(ctx)
	if err != nil {
		return Placement{}, fmt.Errorf("worker: where does %s run: %w", model, err)
	}
	wasLoaded := false
	for _, l := range before {
		wasLoaded = wasLoaded || sameModel(l.Name, model)
	}
	if !wasLoaded {
		if err := c.rt.Load(ctx, model); err != nil {
			return Placement{}, fmt.Errorf("worker: where does %s run: %w", model, err)
		}
		defer func() { _, _ = c.rt.Unload(context.WithoutCancel(ctx), model) }()
	}
	loaded, err := c.rt.Loaded(ctx)
	if err != nil {
		return Placement{}, fmt.Errorf("worker: where does %s run: %w", model, err)
	}
	rt := c.rt.Status()
	g := c.gpu.Snapshot() // fresh: NVML sees the VRAM the load took
	c.mu.Lock()
	models := c.models
	c.mu.Unlock()
	return placementOf(model, g, rt, models, loaded), nil
}
