package gpu

import (
	"fmt"
	"strings"
)

// Primary returns the device with the most VRAM (the lowest index on a tie),
// the one a model would be placed on; ok is false when there is none.
func (s Snapshot) Primary() (Device, bool) {
	if len(s.Devices) == 0 {
		return Device{}, false
	}
	best := s.Devices[0]
	for _, d := range s.Devices[1:] {
		if d.MemoryTotal > best.MemoryTotal {
			best = d
		}
	}
	return best, true
}

// FreeVRAM returns the largest free VRAM among the devices, in bytes; ok is
// false when there is no device.
func (s Snapshot) FreeVRAM() (bytes uint64, ok bool) {
	for _, d := range s.Devices {
		if !ok || d.MemoryFree > bytes {
			bytes, ok = d.MemoryFree, true
		}
	}
	return bytes, ok
}

// Summary is one human line, e.g.
// "NVIDIA GeForce RTX 4090 · 24.0 GB VRAM (21.3 GB free) · driver 550.54 · CUDA 12.4",
// or the Reason when no GPU can be used.
func (s Snapshot) Summary() string {
	if s.State != StateOK || len(s.Devices) == 0 {
		if s.Reason != "" {
			return s.Reason
		}
		switch s.State {
		case StateNoDriver:
			return ReasonNoDriver
		case StateNoDevice:
			return ReasonNoDevice
		case "":
			return "GPU not checked yet"
		}
		return "GPU error"
	}
	var parts []string
	if len(s.Devices) == 1 {
		d := s.Devices[0]
		parts = append(parts, deviceName(d), fmt.Sprintf("%s VRAM (%s free)", gb(d.MemoryTotal), gb(d.MemoryFree)))
	} else {
		names := make([]string, len(s.Devices))
		for i, d := range s.Devices {
			names[i] = fmt.Sprintf("%s (%s, %s free)", deviceName(d), gb(d.MemoryTotal), gb(d.MemoryFree))
		}
		parts = append(parts, fmt.Sprintf("%d GPUs: %s", len(s.Devices), strings.Join(names, ", ")))
	}
	if s.DriverVersion != "" {
		parts = append(parts, "driver "+s.DriverVersion)
	}
	if s.CUDAVersion != "" {
		parts = append(parts, "CUDA "+s.CUDAVersion)
	}
	if s.Reason != "" {
		parts = append(parts, s.Reason)
	}
	return strings.Join(parts, " · ")
}

func deviceName(d Device) string {
	if d.Name != "" {
		return d.Name
	}
	return fmt.Sprintf("GPU %d", d.Index)
}

// gb formats bytes in GiB with one decimal, labelled "GB" as owners expect.
func gb(b uint64) string {
	return fmt.Sprintf("%.1f GB", float64(b)/(1<<30))
}
