package app

import (
	"strings"
	"testing"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/gpu"
	"github.com/cocoon-desktop/cocoon-desktop/network"
	"github.com/cocoon-desktop/cocoon-desktop/runtime/ollama"
	"github.com/cocoon-desktop/cocoon-desktop/worker"
)

func TestHumanBytes(t *testing.T) {
	tests := []struct {
		in   int64
		want string
	}{
		{0, "0 B"},
		{999, "999 B"},
		{1000, "1 KB"},
		{812_000, "812 KB"},
		{812_345, "812 KB"},
		{1_500_000, "1.5 MB"},
		{99_960_000, "100 MB"},
		{999_999_999, "1 GB"},
		{4_700_000_000, "4.7 GB"},
		{4_661_224_676, "4.7 GB"},
		{24_000_000_000, "24 GB"},
		{-2000, "-2 KB"},
	}
	for _, tt := range tests {
		if got := humanBytes(tt.in); got != tt.want {
			t.Errorf("humanBytes(%d) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestHumanIBytes(t *testing.T) {
	tests := []struct {
		in   uint64
		want string
	}{
		{512, "512 B"},
		{24 << 30, "24 GiB"},
		{8704 << 20, "8.5 GiB"},
		{1536 << 20, "1.5 GiB"},
		{1023 << 20, "1023 MiB"},
	}
	for _, tt := range tests {
		if got := humanIBytes(tt.in); got != tt.want {
			t.Errorf("humanIBytes(%d) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestHumanRate(t *testing.T) {
	tests := []struct {
		in   float64
		want string
	}{
		{0, "0 B/s"},
		{-5, "0 B/s"},
		{512, "512 B/s"},
		{12_345_678, "12.3 MB/s"},
		{125_000_000, "125 MB/s"},
	}
	for _, tt := range tests {
		if got := humanRate(tt.in); got != tt.want {
			t.Errorf("humanRate(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestStateWordsAndColours(t *testing.T) {
	tests := []struct {
		in    worker.State
		word  string
		lower string
	}{
		{worker.StateStopped, "Stopped", "stopped"},
		{"", "Stopped", "stopped"},
		{worker.StateServing, "Serving", "serving"},
		{worker.StateError, "Error", "error"},
		{"paused", "Paused", "paused"},
	}
	for _, tt := range tests {
		if got := stateWord(tt.in); got != tt.word {
			t.Errorf("stateWord(%q) = %q, want %q", tt.in, got, tt.word)
		}
		if got := stateWordLower(tt.in); got != tt.lower {
			t.Errorf("stateWordLower(%q) = %q, want %q", tt.in, got, tt.lower)
		}
	}
	if stateColor(worker.StateServing) == stateColor(worker.StateStopped) ||
		stateColor(worker.StateError) == stateColor(worker.StateServing) {
		t.Error("state colours must differ")
	}
}

func TestTrayStateLine(t *testing.T) {
	tests := []struct {
		state worker.State
		err   string
		want  string
	}{
		{worker.StateServing, "", "Cocoon: serving"},
		{worker.StateStopped, "ignored", "Cocoon: stopped"},
		{worker.StateError, "Ollama not answering", "Cocoon: error — Ollama not answering"},
	}
	for _, tt := range tests {
		if got := trayStateLine(tt.state, tt.err); got != tt.want {
			t.Errorf("trayStateLine(%q, %q) = %q, want %q", tt.state, tt.err, got, tt.want)
		}
	}
	long := trayStateLine(worker.StateError, strings.Repeat("x", 200))
	if n := len([]rune(long)); n > 90 {
		t.Errorf("long error not shortened: %d runes", n)
	}
	if trayIcon(worker.StateServing) == trayIcon(worker.StateStopped) || trayIcon(worker.StateError) == trayIcon(worker.StateServing) {
		t.Error("tray icons must differ per state")
	}
}

func TestPullText(t *testing.T) {
	tests := []struct {
		name string
		in   ollama.PullProgress
		want string
	}{
		{"starting", ollama.PullProgress{}, "Starting…"},
		{"status only", ollama.PullProgress{Status: "pulling manifest"}, "pulling manifest"},
		{"progress", ollama.PullProgress{Completed: 1_880_000_000, Total: 4_700_000_000, Percent: 40, Rate: 12_300_000}, "40% · 1.9 GB of 4.7 GB · 12.3 MB/s"},
		{"percent from bytes", ollama.PullProgress{Completed: 250, Total: 1000}, "25% · 250 B of 1 KB"},
		{"done", ollama.PullProgress{Done: true, Percent: 100}, "Downloaded"},
		{"error", ollama.PullProgress{Err: "model not found"}, "Failed: model not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := pullText(tt.in); got != tt.want {
				t.Errorf("pullText = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestGPUText(t *testing.T) {
	d := gpu.Device{MemoryTotal: 24 << 30, MemoryUsed: 6 << 30, PowerW: 312.4, PowerLimitW: 450}
	tests := []struct {
		name, got, want string
	}{
		{"vram", vramText(d), "6 GiB / 24 GiB"},
		{"power", powerText(d), "312 / 450 W"},
		{"power unknown", powerText(gpu.Device{}), "—"},
		{"driver", driverText(gpu.Snapshot{DriverVersion: "550.54.14", CUDAVersion: "12.4"}), "Driver 550.54.14 · CUDA 12.4"},
		{"driver unknown", driverText(gpu.Snapshot{}), "Driver version unknown"},
		{"reason given", gpuReason(gpu.Snapshot{State: gpu.StateNoDriver, Reason: "custom"}), "custom"},
		{"reason default", gpuReason(gpu.Snapshot{State: gpu.StateNoDriver}), "No NVIDIA driver found — Cocoon can still run models on the CPU for testing."},
		{"no procs", processText(nil), "No other programs are using the GPU."},
		{"procs", processText([]gpu.Process{{PID: 4242, Name: "Cyberpunk2077.exe", MemoryUsed: 6 << 30}, {PID: 7}}), "Cyberpunk2077.exe (pid 4242) — 6 GiB\npid 7"},
		{"details", modelDetails(ollama.Model{Size: 4_700_000_000, Family: "llama", Parameters: "8.0B", Quant: "Q4_K_M"}), "4.7 GB · Llama · 8.0B parameters · 4-bit"},
		{"details, unknown quantization", modelDetails(ollama.Model{Size: 572_000, Family: "llama", Parameters: "140K", Quant: "unknown"}), "572 KB · Llama · 140K parameters"},
		{"details, size only", modelDetails(ollama.Model{Size: 2_000_000_000}), "2 GB"},
		{"fit", fitText(ollama.Model{FitsVRAM: true}), "Fits in VRAM"},
		{"fit note", fitText(ollama.Model{FitNote: "no GPU: runs on CPU"}), "no GPU: runs on CPU"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, tt.got, tt.want)
		}
	}
	if f := vramFraction(d); f != 0.25 {
		t.Errorf("vramFraction = %v, want 0.25", f)
	}
	if f := vramFraction(gpu.Device{}); f != 0 {
		t.Errorf("vramFraction(empty) = %v, want 0", f)
	}
}

func TestModelEarnings(t *testing.T) {
	priced := &network.Balance{Network: "testnet", CommissionBPS: 1000,
		Prices: []network.ModelPrice{{Model: "cocoon-tiny", PricePrompt: 100, PriceCompletion: 400}}}
	tests := []struct {
		name string
		st   worker.Status
		want string
	}{
		{"no word from the proxy", worker.Status{}, ""},
		{"not priced", worker.Status{Earnings: worker.EarningsStatus{Proxy: priced}}, "not priced"},
		{"priced, speed unknown", worker.Status{Earnings: worker.EarningsStatus{Proxy: priced}}, "0.36 TON per 1M tokens"},
		{"one job's speed moves nothing", worker.Status{Earnings: worker.EarningsStatus{Proxy: priced},
			Benchmark: &worker.BenchmarkResult{Model: "cocoon-tiny:latest", TokensPerSec: 200},
			Jobs:      worker.JobStats{LastModel: "cocoon-tiny", LastTokensPS: 100}}, "~0.259 TON/h at 200 tokens/s"},
		{"the served model: the average while sharing", worker.Status{Model: "cocoon-tiny:latest",
			Earnings:  worker.EarningsStatus{Proxy: priced, Rate: worker.EarnRate{Known: true, NanoPerHour: 412_000_000, Serving: 3 * time.Hour}},
			Benchmark: &worker.BenchmarkResult{Model: "cocoon-tiny:latest", TokensPerSec: 200}}, "~0.412 TON/h on average while sharing"},
		{"an average not known yet: the speed test", worker.Status{Model: "cocoon-tiny:latest",
			Earnings:  worker.EarningsStatus{Proxy: priced, Rate: worker.EarnRate{NanoPerHour: 9_000_000_000, Serving: time.Minute}},
			Benchmark: &worker.BenchmarkResult{Model: "cocoon-tiny:latest", TokensPerSec: 200}}, "~0.259 TON/h at 200 tokens/s"},
		{"priced, speed from the local benchmark", worker.Status{Earnings: worker.EarningsStatus{Proxy: priced},
			Benchmark: &worker.BenchmarkResult{Model: "cocoon-tiny:latest", TokensPerSec: 200}}, "~0.259 TON/h at 200 tokens/s"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			model := "cocoon-tiny:latest"
			if i == 1 {
				model = "llama3.2:1b"
			}
			got := modelEarnings(tc.st, model)
			if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
				t.Fatalf("modelEarnings = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestQuantBits(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"k-quant", "Q4_K_M", "4-bit"},
		{"legacy", "Q8_0", "8-bit"},
		{"i-quant", "IQ3_XXS", "3-bit"},
		{"lower case", "q5_k_s", "5-bit"},
		{"half", "F16", "16-bit"},
		{"bfloat", "BF16", "16-bit"},
		{"full", "F32", "32-bit"},
		{"unknown", "unknown", ""},
		{"empty", "", ""},
		{"no digits", "Q_K", ""},
		{"not a quantization", "MXFP4", ""},
		{"I alone", "I8", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := quantBits(c.in); got != c.want {
				t.Errorf("quantBits(%q) = %q, want %q", c.in, got, c.want)
			}
		})
	}
}

func TestUpperFirst(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"word", "llama", "Llama"},
		{"already", "Qwen2", "Qwen2"},
		{"empty", "", ""},
		{"non-ASCII first letter", "ébauche", "Ébauche"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := upperFirst(c.in); got != c.want {
				t.Errorf("upperFirst(%q) = %q, want %q", c.in, got, c.want)
			}
		})
	}
}
