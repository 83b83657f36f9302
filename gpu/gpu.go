// Package gpu detects NVIDIA GPUs through NVML and samples their telemetry.
//
// NVML is reached through github.com/NVIDIA/go-nvml's nvml.Interface so tests
// can inject fakes (pkg/nvml/mock). A failed nvml.Init is terminal for the
// Detector: calling any device function after it kills the process, so the
// Detector never does.
package gpu

import "time"

// State says whether GPUs can be used, in one word.
type State string

const (
	// StateOK means NVML answered and at least one device was found.
	StateOK State = "ok"
	// StateNoDriver means the NVML library (the NVIDIA driver) is not installed.
	StateNoDriver State = "no_driver"
	// StateNoDevice means the driver is present but reports no GPU.
	StateNoDevice State = "no_device"
	// StateError means NVML is present but failed for another reason.
	StateError State = "error"
)

// Snapshot is everything known about the machine's NVIDIA GPUs at one time.
type Snapshot struct {
	State  State  `json:"state"`
	Reason string `json:"reason,omitempty"` // plain words for the owner when State != ok
	// DriverVersion and CUDAVersion are the system-wide versions, e.g. "550.54.14" and "12.4".
	DriverVersion string    `json:"driver_version,omitempty"`
	CUDAVersion   string    `json:"cuda_version,omitempty"`
	Devices       []Device  `json:"devices"`
	Time          time.Time `json:"time"`
}

// Device is one GPU's identity and telemetry. Memory is in bytes.
type Device struct {
	Index               int       `json:"index"`
	Name                string    `json:"name"`
	UUID                string    `json:"uuid"`
	MemoryTotal         uint64    `json:"memory_total"`
	MemoryUsed          uint64    `json:"memory_used"`
	MemoryFree          uint64    `json:"memory_free"`
	TemperatureC        int       `json:"temperature_c"`
	UtilizationGPU      int       `json:"utilization_gpu"`    // percent
	UtilizationMemory   int       `json:"utilization_memory"` // percent
	PowerW              float64   `json:"power_w"`
	PowerLimitW         float64   `json:"power_limit_w"`
	Processes           []Process `json:"processes"`
	ConfidentialCompute bool      `json:"confidential_compute"` // CC mode available (H100-class)
	// Errors lists telemetry fields this device could not report (e.g. "power: not supported").
	Errors []string `json:"errors,omitempty"`
}

// Process is another program using the GPU (a game shows up here).
type Process struct {
	PID        uint32 `json:"pid"`
	Name       string `json:"name"`
	MemoryUsed uint64 `json:"memory_used"`
}
