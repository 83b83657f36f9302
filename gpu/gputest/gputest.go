//go:build linux && cgo

package gputest

import (
	"sync"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock"
)

const gib = 1 << 30

// Card is a fake GPU whose telemetry a test can change while it runs.
type Card struct {
	mu        sync.Mutex
	Name      string
	UUID      string
	Total     uint64
	Used      uint64
	TempC     uint32
	UtilGPU   uint32
	PowerMW   uint32
	LimitMW   uint32
	Processes []nvml.ProcessInfo // graphics processes (games show up here)

	reads int // temperature reads: one per sample
}

// Reads is how many times the card's temperature was read (once per
// sample), so a test can wait for samples instead of sleeping.
func (c *Card) Reads() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reads
}

// RTX4090 is a 24 GiB card at rest: 1.5 GiB used by the desktop, 42 °C, 30 W.
func RTX4090() *Card {
	return &Card{
		Name: "NVIDIA GeForce RTX 4090", UUID: "GPU-4090-0000-fake",
		Total: 24 * gib, Used: 1536 << 20, TempC: 42, UtilGPU: 3, PowerMW: 30_000, LimitMW: 450_000,
	}
}

// Set changes the card under its lock (for tests that simulate a game starting).
func (c *Card) Set(f func(c *Card)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f(c)
}

func (c *Card) device() *mock.Device {
	lock := func() func() { c.mu.Lock(); return c.mu.Unlock }
	return &mock.Device{
		GetNameFunc: func() (string, nvml.Return) { defer lock()(); return c.Name, nvml.SUCCESS },
		GetUUIDFunc: func() (string, nvml.Return) { defer lock()(); return c.UUID, nvml.SUCCESS },
		GetMemoryInfoFunc: func() (nvml.Memory, nvml.Return) {
			defer lock()()
			return nvml.Memory{Total: c.Total, Used: c.Used, Free: c.Total - c.Used}, nvml.SUCCESS
		},
		GetTemperatureFunc: func(nvml.TemperatureSensors) (uint32, nvml.Return) {
			defer lock()()
			c.reads++
			return c.TempC, nvml.SUCCESS
		},
		GetUtilizationRatesFunc: func() (nvml.Utilization, nvml.Return) {
			defer lock()()
			return nvml.Utilization{Gpu: c.UtilGPU, Memory: c.UtilGPU / 2}, nvml.SUCCESS
		},
		GetPowerUsageFunc:           func() (uint32, nvml.Return) { defer lock()(); return c.PowerMW, nvml.SUCCESS },
		GetEnforcedPowerLimitFunc:   func() (uint32, nvml.Return) { defer lock()(); return c.LimitMW, nvml.SUCCESS },
		GetPowerManagementLimitFunc: func() (uint32, nvml.Return) { defer lock()(); return c.LimitMW, nvml.SUCCESS },
		GetComputeRunningProcessesFunc: func() ([]nvml.ProcessInfo, nvml.Return) {
			return nil, nvml.SUCCESS
		},
		GetGraphicsRunningProcessesFunc: func() ([]nvml.ProcessInfo, nvml.Return) {
			defer lock()()
			return append([]nvml.ProcessInfo(nil), c.Processes...), nvml.SUCCESS
		},
	}
}

// Library returns a fake NVML with these cards, driver 550.54.14 and CUDA 12.4.
func Library(cards ...*Card) nvml.Interface {
	devs := make([]*mock.Device, len(cards))
	for i, c := range cards {
		devs[i] = c.device()
	}
	return &mock.Interface{
		InitFunc:                       func() nvml.Return { return nvml.SUCCESS },
		ShutdownFunc:                   func() nvml.Return { return nvml.SUCCESS },
		SystemGetDriverVersionFunc:     func() (string, nvml.Return) { return "550.54.14", nvml.SUCCESS },
		SystemGetCudaDriverVersionFunc: func() (int, nvml.Return) { return 12040, nvml.SUCCESS },
		SystemGetConfComputeCapabilitiesFunc: func() (nvml.ConfComputeSystemCaps, nvml.Return) {
			return nvml.ConfComputeSystemCaps{}, nvml.ERROR_NOT_SUPPORTED
		},
		SystemGetConfComputeStateFunc: func() (nvml.ConfComputeSystemState, nvml.Return) {
			return nvml.ConfComputeSystemState{}, nvml.ERROR_NOT_SUPPORTED
		},
		DeviceGetCountFunc: func() (int, nvml.Return) { return len(devs), nvml.SUCCESS },
		DeviceGetHandleByIndexFunc: func(i int) (nvml.Device, nvml.Return) {
			if i < 0 || i >= len(devs) {
				return nil, nvml.ERROR_INVALID_ARGUMENT
			}
			return devs[i], nvml.SUCCESS
		},
	}
}

// NoDriver returns a fake NVML whose Init fails as on a machine without the driver.
func NoDriver() nvml.Interface {
	return &mock.Interface{InitFunc: func() nvml.Return { return nvml.ERROR_LIBRARY_NOT_FOUND }}
}
