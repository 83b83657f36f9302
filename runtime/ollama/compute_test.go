package ollama

import (
	"strings"
	"testing"
)

func TestParseComputeLine(t *testing.T) {
	tests := []struct {
		name string
		line string
		ok   bool
		want Compute
	}{
		{
			name: "cuda card",
			line: `time=2026-12-02T05:00:00.000Z level=INFO source=types.go:42 msg="inference compute" id=GPU-452cac9f filter_id="" library=CUDA compute=8.9 name=CUDA0 description="NVIDIA GeForce RTX 4090" libdirs=ollama,cuda_v12 driver=12.8 pci_id=0000:01:00.0 type=discrete total="24.0 GiB" available="23.1 GiB"`,
			ok:   true,
			want: Compute{ID: "GPU-452cac9f", Library: "CUDA", Name: "CUDA0", Description: "NVIDIA GeForce RTX 4090", Driver: "12.8", LibDirs: "ollama,cuda_v12", Total: "24.0 GiB", Available: "23.1 GiB"},
		},
		{
			name: "vulkan on lavapipe",
			line: `time=2026-12-02T05:00:00.000Z level=INFO source=types.go:42 msg="inference compute" id=0 filter_id=0 library=Vulkan compute=0.0 name=Vulkan0 description="llvmpipe (LLVM 15.0.6, 256 bits)" libdirs=ollama,vulkan driver=0.0 pci_id="" type=iGPU total="23.4 GiB" available="23.4 GiB"`,
			ok:   true,
			want: Compute{ID: "0", Library: "Vulkan", Name: "Vulkan0", Description: "llvmpipe (LLVM 15.0.6, 256 bits)", Driver: "0.0", LibDirs: "ollama,vulkan", Total: "23.4 GiB", Available: "23.4 GiB"},
		},
		{
			name: "cpu only",
			line: `time=2026-12-02T05:00:00.000Z level=INFO source=types.go:60 msg="inference compute" id=cpu library=cpu compute="" name=cpu description=cpu libdirs=ollama driver="" pci_id="" type="" total="23.4 GiB" available="22.0 GiB"`,
			ok:   true,
			want: Compute{ID: "cpu", Library: "cpu", Name: "cpu", Description: "cpu", LibDirs: "ollama", Total: "23.4 GiB", Available: "22.0 GiB"},
		},
		{name: "other line", line: `time=x level=INFO msg="Listening on 127.0.0.1:1234 (version 0.17.4)"`},
		{name: "no library", line: `msg="inference compute" id=0`},
		{name: "empty", line: ""},
		{name: "too long", line: `msg="inference compute" library=CUDA ` + strings.Repeat("x", maxComputeLine)},
		{name: "escaped quote", line: `msg="inference compute" library=Vulkan description="a \"quoted\" card"`, ok: true,
			want: Compute{Library: "Vulkan", Description: `a "quoted" card`}},
		{name: "unterminated quote", line: `msg="inference compute" library=CUDA description="half`, ok: true,
			want: Compute{Library: "CUDA", Description: "half"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := ParseComputeLine(tc.line)
			if ok != tc.ok || got != tc.want {
				t.Fatalf("ParseComputeLine = %+v, %v; want %+v, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func FuzzParseComputeLine(f *testing.F) {
	f.Add(`msg="inference compute" id=GPU-1 library=CUDA description="NVIDIA GeForce RTX 4090" total="24.0 GiB"`)
	f.Add(`msg="inference compute" library=cpu`)
	f.Add(`msg="inference compute" library="\`)
	f.Add("msg=\"inference compute\" library=\xff\xfe")
	f.Fuzz(func(t *testing.T, line string) {
		c, ok := ParseComputeLine(line)
		if ok && c.Library == "" {
			t.Fatalf("ok with no library: %+v", c)
		}
		if !ok && c != (Compute{}) {
			t.Fatalf("not ok but %+v", c)
		}
	})
}

func TestGPUBackendAndPlacement(t *testing.T) {
	tests := []struct {
		name     string
		computes []Compute
		want     string
	}{
		{"none", nil, ""},
		{"cpu only", []Compute{{Library: "cpu"}}, ""},
		{"vulkan", []Compute{{Library: "Vulkan"}}, "Vulkan"},
		{"cuda first", []Compute{{Library: "CUDA"}, {Library: "Vulkan"}}, "CUDA"},
	}
	for _, tc := range tests {
		if got := GPUBackend(tc.computes); got != tc.want {
			t.Errorf("%s: GPUBackend = %q, want %q", tc.name, got, tc.want)
		}
	}
	loaded := []struct {
		name  string
		l     Loaded
		on    string
		share float64
	}{
		{"all in vram", Loaded{Size: 100, SizeVRAM: 100}, RunsOnGPU, 1},
		{"split", Loaded{Size: 100, SizeVRAM: 25}, RunsOnGPU, 0.25},
		{"cpu", Loaded{Size: 100}, RunsOnCPU, 0},
		{"unknown size", Loaded{SizeVRAM: 5}, RunsOnGPU, 0},
	}
	for _, tc := range loaded {
		if on, share := tc.l.RunsOn(), tc.l.VRAMShare(); on != tc.on || share != tc.share {
			t.Errorf("%s: RunsOn, VRAMShare = %q, %v; want %q, %v", tc.name, on, share, tc.on, tc.share)
		}
	}
}
