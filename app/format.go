package app

import (
	"fmt"
	"image/color"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/cocoon-desktop/cocoon-desktop/ton"

	"github.com/cocoon-desktop/cocoon-desktop/gpu"
	"github.com/cocoon-desktop/cocoon-desktop/runtime/ollama"
	"github.com/cocoon-desktop/cocoon-desktop/worker"
)

// Colours used for state badges. They are fixed (not themed) so the white
// text on them reads the same in light and dark variants.
var (
	colorGrey   = color.NRGBA{R: 0x6b, G: 0x72, B: 0x7c, A: 0xff}
	colorGreen  = color.NRGBA{R: 0x1e, G: 0x8e, B: 0x4e, A: 0xff}
	colorRed    = color.NRGBA{R: 0xc6, G: 0x28, B: 0x28, A: 0xff}
	colorAmber  = color.NRGBA{R: 0xb2, G: 0x6a, B: 0x00, A: 0xff}
	colorBlue   = color.NRGBA{R: 0x00, G: 0x78, B: 0xc8, A: 0xff}
	colorPurple = color.NRGBA{R: 0x6a, G: 0x3d, B: 0xb8, A: 0xff}
)

// humanBytes formats a byte count with decimal units, as Ollama and
// download tools do: "812 KB", "4.7 GB", "999 B".
func humanBytes(n int64) string {
	return humanUnits(n, 1000, []string{"B", "KB", "MB", "GB", "TB", "PB"})
}

// humanIBytes formats a byte count with binary units, as nvidia-smi does
// for VRAM: "24 GiB", "8.5 GiB".
func humanIBytes(n uint64) string {
	if n > 1<<62 {
		n = 1 << 62
	}
	return humanUnits(int64(n), 1024, []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB"})
}

func humanUnits(n int64, base float64, units []string) string {
	if n < 0 {
		return "-" + humanUnits(-n, base, units)
	}
	if float64(n) < base {
		return strconv.FormatInt(n, 10) + " " + units[0]
	}
	v := float64(n)
	i := 0
	for v >= base && i < len(units)-1 {
		v /= base
		i++
	}
	// Three significant digits at most; rounding may carry into the next unit.
	var s string
	if v < 99.95 {
		s = strconv.FormatFloat(v, 'f', 1, 64)
		s = strings.TrimSuffix(s, ".0")
	} else {
		s = strconv.FormatFloat(v, 'f', 0, 64)
	}
	if s == strconv.Itoa(int(base)) && i < len(units)-1 {
		s, i = "1", i+1
	}
	return s + " " + units[i]
}

// humanRate formats a transfer rate in bytes per second: "12.3 MB/s".
func humanRate(bytesPerSec float64) string {
	if bytesPerSec <= 0 {
		return "0 B/s"
	}
	return humanBytes(int64(bytesPerSec+0.5)) + "/s"
}

// stateWord is the worker state in one word for the owner.
func stateWord(s worker.State) string {
	switch s {
	case worker.StateStopped, "":
		return "Stopped"
	case worker.StateWaiting:
		return "Waiting for idle"
	case worker.StateServing:
		return "Serving"
	case worker.StatePaused:
		return "Paused"
	case worker.StateError:
		return "Error"
	default:
		return upperFirst(string(s))
	}
}

// upperFirst is s with its first letter in upper case ("llama" → "Llama").
func upperFirst(s string) string {
	r, size := utf8.DecodeRuneInString(s)
	if size == 0 {
		return s
	}
	return string(unicode.ToUpper(r)) + s[size:]
}

// stateColor is the badge colour of a worker state.
func stateColor(s worker.State) color.Color {
	switch s {
	case worker.StateServing:
		return colorGreen
	case worker.StateWaiting:
		return colorBlue
	case worker.StatePaused:
		return colorAmber
	case worker.StateError:
		return colorRed
	default:
		return colorGrey
	}
}

// gpuHeadline says in a few words why no GPU can be used.
func gpuHeadline(s gpu.State) string {
	switch s {
	case gpu.StateOK:
		return "NVIDIA GPU ready"
	case gpu.StateNoDriver:
		return "No NVIDIA driver"
	case gpu.StateNoDevice:
		return "No NVIDIA GPU found"
	case gpu.StateError:
		return "GPU could not be read"
	default:
		return "GPU not detected yet"
	}
}

// gpuReason is the explanation shown when the GPU cannot be used.
func gpuReason(snap gpu.Snapshot) string {
	if snap.Reason != "" {
		return snap.Reason
	}
	switch snap.State {
	case gpu.StateNoDriver:
		return "No NVIDIA driver found — Cocoon can still run models on the CPU for testing."
	case gpu.StateNoDevice:
		return "The NVIDIA driver reports no GPU."
	case gpu.StateError:
		return "NVML reported an error while reading the GPU."
	case "":
		return "Waiting for the first GPU reading…"
	}
	return ""
}

// vramText is "8.5 GiB / 24 GiB used".
func vramText(d gpu.Device) string {
	return fmt.Sprintf("%s / %s", humanIBytes(d.MemoryUsed), humanIBytes(d.MemoryTotal))
}

// vramFraction is the used share of VRAM, 0..1.
func vramFraction(d gpu.Device) float64 {
	if d.MemoryTotal == 0 {
		return 0
	}
	f := float64(d.MemoryUsed) / float64(d.MemoryTotal)
	return min(max(f, 0), 1)
}

// driverText is "Driver 550.54.14 · CUDA 12.4".
func driverText(snap gpu.Snapshot) string {
	var parts []string
	if snap.DriverVersion != "" {
		parts = append(parts, "Driver "+snap.DriverVersion)
	}
	if snap.CUDAVersion != "" {
		parts = append(parts, "CUDA "+snap.CUDAVersion)
	}
	if len(parts) == 0 {
		return "Driver version unknown"
	}
	return strings.Join(parts, " · ")
}

// powerText is "312 / 450 W", or "312 W" without a limit.
func powerText(d gpu.Device) string {
	if d.PowerW <= 0 && d.PowerLimitW <= 0 {
		return "—"
	}
	if d.PowerLimitW > 0 {
		return fmt.Sprintf("%.0f / %.0f W", d.PowerW, d.PowerLimitW)
	}
	return fmt.Sprintf("%.0f W", d.PowerW)
}

// processText is one line per other program using the GPU.
func processText(ps []gpu.Process) string {
	if len(ps) == 0 {
		return "No other programs are using the GPU."
	}
	lines := make([]string, 0, len(ps))
	for _, p := range ps {
		name := p.Name
		if name == "" {
			name = "pid " + strconv.FormatUint(uint64(p.PID), 10)
		} else {
			name = fmt.Sprintf("%s (pid %d)", name, p.PID)
		}
		if p.MemoryUsed > 0 {
			name += " — " + humanIBytes(p.MemoryUsed)
		}
		lines = append(lines, name)
	}
	return strings.Join(lines, "\n")
}

// ollamaMode is "Managed by Cocoon" or "Your own Ollama (attached)".
func ollamaMode(m ollama.Mode) string {
	switch m {
	case ollama.ModeManaged:
		return "Managed by Cocoon"
	case ollama.ModeAttached:
		return "Your own Ollama (attached)"
	case "":
		return "—"
	default:
		return string(m)
	}
}

// modelDetails is "4.7 GB · Llama · 8.0B parameters · 4-bit", skipping
// unknown parts: what a gamer can weigh, not Ollama's field values
// ("llama · 8.0B · Q4_K_M"). The quantization's full name is in the log and
// in `ollama show`.
func modelDetails(m ollama.Model) string {
	parts := []string{humanBytes(m.Size)}
	if m.Family != "" {
		parts = append(parts, upperFirst(m.Family))
	}
	if m.Parameters != "" {
		parts = append(parts, m.Parameters+" parameters")
	}
	if b := quantBits(m.Quant); b != "" {
		parts = append(parts, b)
	}
	return strings.Join(parts, " · ")
}

// quantBits turns a GGUF quantization name into the bits each weight keeps:
// "Q4_K_M" and "IQ4_XS" → "4-bit", "Q8_0" → "8-bit", "F16" and "BF16" →
// "16-bit", "F32" → "32-bit"; "" for an unknown one ("unknown", "").
func quantBits(q string) string {
	u := strings.ToUpper(q)
	switch {
	case u == "F32":
		return "32-bit"
	case u == "F16" || u == "BF16":
		return "16-bit"
	}
	var digits string
	switch {
	case strings.HasPrefix(u, "IQ"):
		digits = u[2:]
	case strings.HasPrefix(u, "Q"):
		digits = u[1:]
	default:
		return ""
	}
	n := 0
	for n < len(digits) && digits[n] >= '0' && digits[n] <= '9' {
		n++
	}
	if n == 0 || n > 2 {
		return ""
	}
	return digits[:n] + "-bit"
}

// fitText is the model's VRAM fit in a few words.
func fitText(m ollama.Model) string {
	if m.FitsVRAM {
		return "Fits in VRAM"
	}
	if m.FitNote != "" {
		return m.FitNote
	}
	return "Does not fit in VRAM"
}

// pullText is "40% · 1.9 GB of 4.7 GB · 12.3 MB/s".
func pullText(p ollama.PullProgress) string {
	if p.Err != "" {
		return "Failed: " + p.Err
	}
	if p.Done {
		return "Downloaded"
	}
	if p.Total <= 0 {
		if p.Status != "" {
			return p.Status
		}
		return "Starting…"
	}
	s := fmt.Sprintf("%.0f%% · %s of %s", pullPercent(p), humanBytes(p.Completed), humanBytes(p.Total))
	if p.Rate > 0 {
		s += " · " + humanRate(p.Rate)
	}
	return s
}

// pullPercent is the progress in percent, from Percent or from the byte counts.
func pullPercent(p ollama.PullProgress) float64 {
	pc := p.Percent
	if pc == 0 && p.Total > 0 {
		pc = 100 * float64(p.Completed) / float64(p.Total)
	}
	return min(max(pc, 0), 100)
}

// modelEarnings says what the network pays for a local model, from the
// proxy's price list: the owner's share per million completion tokens and,
// for the served model, the TON/hour average over recent serving time
// (worker.EarnRate); before there is one, an estimate per hour of steady
// work at the speed the speed test measured. Never one job's speed: the
// figure would jump with every job. "" when the network does not price
// the model.
func modelEarnings(st worker.Status, local string) string {
	p := st.Earnings.Proxy
	if p == nil {
		return ""
	}
	name := strings.TrimSuffix(local, ":latest")
	perM, ok := p.WorkerShare(name, 0, 1_000_000)
	if !ok {
		return "not priced by this network"
	}
	s := ton.Format(perM) + " TON per 1M tokens"
	if r := st.Earnings.Rate; r.Known && strings.TrimSuffix(st.Model, ":latest") == name {
		return s + " · ~" + roughTON(r.NanoPerHour) + " TON/h on average while sharing"
	}
	tps := 0.0
	if b := st.Benchmark; b != nil && strings.TrimSuffix(b.Model, ":latest") == name {
		tps = b.TokensPerSec // measured here, on purpose
	}
	if tps > 0 {
		perHour, _ := p.WorkerShare(name, 0, int64(tps*3600))
		s += fmt.Sprintf(" · ~%s TON/h at %.0f tokens/s while busy", roughTON(perHour), tps)
	}
	return s
}

// roughTON formats an estimate with 3 significant digits ("10.3", "0.13"),
// and whole TON from 1000 up ("123457", never "1.23e+05").
func roughTON(nano int64) string {
	if v := float64(nano) / 1e9; v >= 1000 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(float64(nano)/1e9, 'g', 3, 64)
}

// runsOnText says where the served model runs, for the Ollama panel:
// "GPU · Vulkan · 100% in VRAM", "CPU (no GPU backend)", "not loaded · GPU backend: CUDA".
func runsOnText(p worker.Placement, o ollama.Status) string {
	switch p.RunsOn {
	case ollama.RunsOnGPU:
		s := "GPU"
		if p.Backend != "" {
			s += " · " + p.Backend
		}
		return s + fmt.Sprintf(" · %.0f%% in VRAM", 100*p.VRAMShare)
	case ollama.RunsOnCPU:
		if p.CPUReason != "" {
			return "CPU (" + cpuReasonWords(p.CPUReason) + ")"
		}
		return "CPU"
	}
	switch {
	case p.CPUReason != "":
		return "CPU (" + cpuReasonWords(p.CPUReason) + ")"
	case o.GPUBackend != "":
		return "not loaded · GPU backend: " + o.GPUBackend
	case len(o.Computes) > 0:
		return "not loaded · CPU only"
	}
	return "not loaded"
}

// cpuReasonWords is a few words for a worker.CPU* code.
func cpuReasonWords(code string) string {
	switch code {
	case worker.CPUNoBackend:
		return "no GPU backend"
	case worker.CPUOldDriver:
		return "driver too old"
	case worker.CPUTooBig:
		return "model too big"
	case worker.CPUVRAMReserve:
		return "VRAM reserve"
	}
	return "reason unknown"
}

// cpuCost says what running on the CPU costs the owner: what the model earns
// per hour at the speed measured here on the CPU, against an estimate for
// the GPU from its memory bandwidth. "" when neither is known.
func cpuCost(st worker.Status) string {
	p, prices := st.Placement, st.Earnings.Proxy
	name := strings.TrimSuffix(p.Model, ":latest")
	cpuTPS := 0.0
	if b := st.Benchmark; b != nil && b.RunsOn == ollama.RunsOnCPU && strings.TrimSuffix(b.Model, ":latest") == name {
		cpuTPS = b.TokensPerSec
	}
	// A job's speed is the CPU's when the model was on the CPU, or when this
	// Ollama cannot use the GPU at all.
	allCPU := p.RunsOn == ollama.RunsOnCPU || p.CPUReason == worker.CPUNoBackend || p.CPUReason == worker.CPUOldDriver
	if st.Jobs.LastTokensPS > 0 && strings.TrimSuffix(st.Jobs.LastModel, ":latest") == name && allCPU {
		cpuTPS = st.Jobs.LastTokensPS
	}
	var size int64
	for _, m := range st.Models {
		if strings.TrimSuffix(m.Name, ":latest") == name {
			size = m.Size
		}
	}
	gpuTPS, haveGPU := worker.EstimateGPUTokensPerSec(p.Device, size)
	perHour := func(tps float64) string {
		if prices == nil {
			return fmt.Sprintf("%.0f tokens/s", tps)
		}
		n, ok := prices.WorkerShare(name, 0, int64(tps*3600))
		if !ok {
			return fmt.Sprintf("%.0f tokens/s", tps)
		}
		return fmt.Sprintf("~%s TON/h (%.0f tokens/s)", roughTON(n), tps)
	}
	switch {
	case cpuTPS > 0 && haveGPU:
		return fmt.Sprintf("On the CPU it earns %s while busy; on the %s it would earn an estimated %s.", perHour(cpuTPS), p.Device, perHour(gpuTPS))
	case haveGPU:
		return fmt.Sprintf("On the %s it would earn an estimated %s while busy.", p.Device, perHour(gpuTPS))
	case cpuTPS > 0:
		return fmt.Sprintf("On the CPU it earns %s while busy.", perHour(cpuTPS))
	}
	return ""
}
