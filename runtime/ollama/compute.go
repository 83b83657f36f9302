package ollama

import (
	"strings"
	"unicode/utf8"
)

// Where a loaded model runs, in Loaded.RunsOn and the app's runs_on.
const (
	RunsOnGPU = "gpu" // some or all of its weights are in VRAM (VRAMShare says how much)
	RunsOnCPU = "cpu" // none of it is in VRAM
)

// Compute is one inference device the Ollama server found at start-up, as
// its log names it ("inference compute" lines; Ollama's API does not say).
// A server without a usable GPU backend logs one device of library "cpu".
type Compute struct {
	ID          string `json:"id"`
	Library     string `json:"library"` // "CUDA", "Vulkan", "ROCm", "cpu", ...
	Name        string `json:"name,omitempty"`
	Description string `json:"description,omitempty"`
	Driver      string `json:"driver,omitempty"`
	LibDirs     string `json:"libdirs,omitempty"` // the lib/ollama dirs it was found through ("ollama,vulkan")
	Total       string `json:"total,omitempty"`   // memory, as Ollama prints it ("24.0 GiB")
	Available   string `json:"available,omitempty"`
}

// IsCPU reports whether the device is the CPU fallback.
func (c Compute) IsCPU() bool { return strings.EqualFold(c.Library, "cpu") }

// GPUBackend is the library of the first GPU device in cs ("" when Ollama
// found none: it computes on the CPU).
func GPUBackend(cs []Compute) string {
	for _, c := range cs {
		if !c.IsCPU() && c.Library != "" {
			return c.Library
		}
	}
	return ""
}

// ParseComputes returns the inference devices in a stretch of Ollama's log, in order.
func ParseComputes(log string) []Compute {
	var out []Compute
	for _, line := range strings.Split(log, "\n") {
		if c, ok := ParseComputeLine(line); ok {
			out = append(out, c)
		}
	}
	return out
}

// maxComputeLine bounds what ParseComputeLine reads of one log line.
const maxComputeLine = 4096

// ParseComputeLine reads one "inference compute" line of Ollama's log
// (logfmt: key=value or key="quoted value"). ok is false for any other line.
// The log is Ollama's output, read as untrusted text: a malformed line never
// panics and yields at most a partial Compute.
func ParseComputeLine(line string) (c Compute, ok bool) {
	if len(line) > maxComputeLine || !strings.Contains(line, `msg="inference compute"`) {
		return Compute{}, false
	}
	for key, val := range logfmt(line) {
		switch key {
		case "id":
			c.ID = val
		case "library":
			c.Library = val
		case "name":
			c.Name = val
		case "description":
			c.Description = val
		case "driver":
			c.Driver = val
		case "libdirs":
			c.LibDirs = val
		case "total":
			c.Total = val
		case "available":
			c.Available = val
		}
	}
	if c.Library == "" {
		return Compute{}, false
	}
	return c, true
}

// logfmt yields the key=value pairs of a logfmt line; a value may be
// double-quoted with backslash escapes. Invalid UTF-8 is replaced.
func logfmt(line string) func(yield func(string, string) bool) {
	return func(yield func(string, string) bool) {
		s := strings.ToValidUTF8(line, string(utf8.RuneError))
		for len(s) > 0 {
			s = strings.TrimLeft(s, " \t")
			eq := strings.IndexByte(s, '=')
			if eq <= 0 {
				return
			}
			key := s[:eq]
			if sp := strings.IndexAny(key, " \t"); sp >= 0 { // a bare word: skip it
				s = s[sp:]
				continue
			}
			s = s[eq+1:]
			var val string
			if strings.HasPrefix(s, `"`) {
				var b strings.Builder
				i := 1
				for ; i < len(s) && s[i] != '"'; i++ {
					if s[i] == '\\' && i+1 < len(s) {
						i++
					}
					b.WriteByte(s[i])
				}
				val = b.String()
				s = s[min(i+1, len(s)):]
			} else {
				end := strings.IndexAny(s, " \t")
				if end < 0 {
					end = len(s)
				}
				val, s = s[:end], s[end:]
			}
			if !yield(key, val) {
				return
			}
		}
	}
}

// RunsOn says where the loaded model runs: RunsOnGPU when any of it is in
// VRAM, else RunsOnCPU.
func (l Loaded) RunsOn() string {
	if l.SizeVRAM > 0 {
		return RunsOnGPU
	}
	return RunsOnCPU
}

// VRAMShare is the part of the model in VRAM, 0..1.
func (l Loaded) VRAMShare() float64 {
	if l.Size <= 0 || l.SizeVRAM <= 0 {
		return 0
	}
	return min(float64(l.SizeVRAM)/float64(l.Size), 1)
}
