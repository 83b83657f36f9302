package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/gpu"
	"github.com/cocoon-desktop/cocoon-desktop/runtime/ollama"
	"github.com/cocoon-desktop/cocoon-desktop/worker"
)

// Report is what `doctor` finds. Healthy means the worker can serve now.
type Report struct {
	Healthy  bool           `json:"healthy"`
	Problems []string       `json:"problems"` // each one stops serving
	Warnings []string       `json:"warnings"` // worth knowing, not blocking
	Version  string         `json:"version"`
	GPU      gpu.Snapshot   `json:"gpu"`
	Ollama   ollama.Status  `json:"ollama"`
	Models   []ollama.Model `json:"models"`
	// RunsOn is where the served model runs: "gpu", "cpu", or "" when it
	// could not be loaded; Placement has the backend, the share in VRAM and,
	// with a GPU present but unused, why.
	RunsOn    string           `json:"runs_on"`
	Placement worker.Placement `json:"placement"`
	DataDir   string           `json:"data_dir"`
	LogDir    string           `json:"log_dir"`
}

func doctorCmd(args []string, c common, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print one JSON object")
	requireGPU := fs.Bool("require-gpu", false, "count a missing NVIDIA GPU as a problem (it is a warning on the local test network)")
	timeout := fs.Duration("timeout", 90*time.Second, "how long to wait for Ollama")
	c.register(fs)
	if err := fs.Parse(args); err != nil {
		return ExitUsage
	}
	env, err := setup(c, false, false, false)
	if err != nil {
		fmt.Fprintln(stderr, "cocoon-desktop doctor:", err)
		return ExitFailure
	}
	defer env.close()

	ctx, cancel := context.WithCancel(context.Background())
	coreDone := runCore(ctx, env)
	rep := Report{Version: Version, DataDir: env.dirs.Data, LogDir: env.dirs.Logs, Problems: []string{}, Warnings: []string{}}
	wctx, wcancel := context.WithTimeout(ctx, *timeout)
	readyErr := env.core.Runtime().WaitReady(wctx)
	if readyErr == nil {
		readyErr = env.core.WaitModels(wctx)
	}
	if readyErr == nil && env.core.Status().Model != "" {
		if p, err := env.core.ProbePlacement(wctx); err != nil {
			rep.Warnings = append(rep.Warnings, "could not load the model to see where it runs: "+err.Error())
		} else {
			rep.Placement, rep.RunsOn = p, p.RunsOn
		}
	}
	wcancel()
	st := env.core.Status()
	cancel()
	<-coreDone

	rep.GPU, rep.Ollama, rep.Models = st.GPU, env.core.Runtime().Status(), st.Models
	rep.Warnings = append(rep.Warnings, controllerWarnings()...)
	if rep.Models == nil {
		rep.Models = []ollama.Model{}
	}
	if readyErr != nil {
		rep.Ollama.Reachable = false
		if rep.Ollama.Error == "" {
			rep.Ollama.Error = readyErr.Error()
		}
		rep.Problems = append(rep.Problems, "Ollama is not reachable: "+rep.Ollama.Error)
	} else {
		rep.Ollama.Reachable = true // it answered; the core has stopped it since (managed mode)
		rep.Ollama.Error = ""
		rep.Ollama.PID = 0
	}
	if rep.Placement.Warning != "" {
		rep.Warnings = append(rep.Warnings, rep.Placement.Warning)
	}
	if readyErr == nil && len(rep.Models) == 0 {
		rep.Problems = append(rep.Problems, "no model is downloaded")
	}
	if rep.GPU.State != gpu.StateOK {
		msg := "no usable NVIDIA GPU: " + rep.GPU.Reason
		if *requireGPU {
			rep.Problems = append(rep.Problems, msg)
		} else {
			rep.Warnings = append(rep.Warnings, msg+" (models run on the CPU: fine for the local test network only)")
		}
	}
	rep.Healthy = len(rep.Problems) == 0

	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
	} else {
		printReport(stdout, rep)
	}
	if !rep.Healthy {
		return ExitUnhealthy
	}
	return ExitOK
}

func printReport(w io.Writer, r Report) {
	mark := func(ok bool) string {
		if ok {
			return "ok  "
		}
		return "FAIL"
	}
	fmt.Fprintf(w, "Cocoon Desktop %s doctor\n", r.Version)
	fmt.Fprintf(w, "[%s] GPU: %s\n", mark(r.GPU.State == gpu.StateOK), r.GPU.Summary())
	for _, d := range r.GPU.Devices {
		fmt.Fprintf(w, "       #%d %s %s VRAM, %s free, %d°C, %.0f/%.0f W, %d%% busy, %d process(es)\n", d.Index, d.Name,
			ollama.HumanBytes(int64(d.MemoryTotal)), ollama.HumanBytes(int64(d.MemoryFree)), d.TemperatureC,
			d.PowerW, d.PowerLimitW, d.UtilizationGPU, len(d.Processes))
	}
	if r.Ollama.Reachable {
		mode := string(r.Ollama.Mode)
		if r.Ollama.Source != "" {
			mode += " (" + r.Ollama.Source + ": " + r.Ollama.Binary + ")"
		}
		fmt.Fprintf(w, "[ok  ] Ollama %s, %s, at %s\n", r.Ollama.Version, mode, r.Ollama.Address)
	} else {
		fmt.Fprintf(w, "[FAIL] Ollama: %s\n", r.Ollama.Error)
	}
	if p := r.Placement; p.Model != "" {
		fmt.Fprintf(w, "[%s] %s runs on: %s\n", mark(!p.OnCPUWithGPU()), p.Model, placementText(p))
	}
	fmt.Fprintf(w, "[%s] Models: %d\n", mark(len(r.Models) > 0), len(r.Models))
	for _, m := range r.Models {
		fit := "fits VRAM"
		if !m.FitsVRAM {
			fit = m.FitNote
		}
		fmt.Fprintf(w, "       %s  %s  %s\n", m.Name, ollama.HumanBytes(m.Size), fit)
	}
	fmt.Fprintf(w, "       data: %s\n       logs: %s\n", r.DataDir, r.LogDir)
	for _, p := range r.Problems {
		fmt.Fprintf(w, "problem: %s\n", p)
	}
	for _, p := range r.Warnings {
		fmt.Fprintf(w, "warning: %s\n", p)
	}
	if r.Healthy {
		fmt.Fprintln(w, "Ready to serve.")
	} else {
		fmt.Fprintln(w, "Not ready to serve.")
	}
}

// placementText is where a model runs, in words ("the GPU (Vulkan, 100% in VRAM)").
func placementText(p worker.Placement) string {
	switch p.RunsOn {
	case ollama.RunsOnGPU:
		s := fmt.Sprintf("the GPU (%.0f%% in VRAM", 100*p.VRAMShare)
		if p.Backend != "" {
			s += ", " + p.Backend
		}
		return s + ")"
	case ollama.RunsOnCPU:
		return "the CPU"
	}
	return "not known (not loaded)"
}
