//go:build linux && cgo

package gpu

import "github.com/NVIDIA/go-nvml/pkg/nvml"

// ReasonNoDriver is shown when the NVML library cannot be loaded.
const ReasonNoDriver = "no NVIDIA driver found (libnvidia-ml is not installed)"

// Return is an NVML return code. On Linux with cgo it is go-nvml's
// nvml.Return, so errors.Is(err, nvml.ERROR_LIBRARY_NOT_FOUND) works on an
// InitError.
type Return = nvml.Return

// Library is what a Detector reads GPUs through: on Linux with cgo, go-nvml's
// nvml.Interface (real, or a pkg/nvml/mock fake).
type Library = nvml.Interface

// toLibrary wraps lib; nil means the real NVML library (nvml.New()).
func toLibrary(lib Library) library {
	if lib == nil {
		lib = nvml.New()
	}
	return nvmlLib{lib}
}

// defaultLibrary is the real NVML library through go-nvml.
func defaultLibrary() library { return toLibrary(nil) }

// defaultProcName reads /proc/<pid>/comm.
var defaultProcName = procComm

// nvmlLib adapts go-nvml's nvml.Interface to library, one call for one call.
type nvmlLib struct{ lib nvml.Interface }

func (l nvmlLib) init() Return                     { return l.lib.Init() }
func (l nvmlLib) shutdown() Return                 { return l.lib.Shutdown() }
func (l nvmlLib) driverVersion() (string, Return)  { return l.lib.SystemGetDriverVersion() }
func (l nvmlLib) cudaDriverVersion() (int, Return) { return l.lib.SystemGetCudaDriverVersion() }
func (l nvmlLib) deviceCount() (int, Return)       { return l.lib.DeviceGetCount() }

func (l nvmlLib) confidentialCompute() bool {
	cc := false
	if caps, ret := l.lib.SystemGetConfComputeCapabilities(); ret == nvml.SUCCESS &&
		caps.GpusCaps == nvml.CC_SYSTEM_GPUS_CC_CAPABLE {
		cc = true
	}
	if st, ret := l.lib.SystemGetConfComputeState(); ret == nvml.SUCCESS &&
		st.CcFeature == nvml.CC_SYSTEM_FEATURE_ENABLED {
		cc = true
	}
	return cc
}

func (l nvmlLib) deviceByIndex(i int) (device, Return) {
	h, ret := l.lib.DeviceGetHandleByIndex(i)
	if ret != nvml.SUCCESS || h == nil {
		if ret == nvml.SUCCESS {
			ret = nvml.ERROR_UNKNOWN
		}
		return nil, ret
	}
	return nvmlDevice{h}, nvml.SUCCESS
}

// nvmlDevice adapts nvml.Device to device.
type nvmlDevice struct{ h nvml.Device }

func (d nvmlDevice) name() (string, Return) { return d.h.GetName() }
func (d nvmlDevice) uuid() (string, Return) { return d.h.GetUUID() }

func (d nvmlDevice) memoryInfo() (memInfo, Return) {
	m, ret := d.h.GetMemoryInfo()
	return memInfo{total: m.Total, free: m.Free, used: m.Used}, ret
}

func (d nvmlDevice) temperature() (uint32, Return) { return d.h.GetTemperature(nvml.TEMPERATURE_GPU) }

func (d nvmlDevice) utilization() (utilRates, Return) {
	u, ret := d.h.GetUtilizationRates()
	return utilRates{gpu: u.Gpu, memory: u.Memory}, ret
}

func (d nvmlDevice) powerUsage() (uint32, Return)           { return d.h.GetPowerUsage() }
func (d nvmlDevice) enforcedPowerLimit() (uint32, Return)   { return d.h.GetEnforcedPowerLimit() }
func (d nvmlDevice) powerManagementLimit() (uint32, Return) { return d.h.GetPowerManagementLimit() }

func (d nvmlDevice) computeProcesses() ([]procInfo, Return) {
	ps, ret := d.h.GetComputeRunningProcesses()
	return procInfos(ps), ret
}

func (d nvmlDevice) graphicsProcesses() ([]procInfo, Return) {
	ps, ret := d.h.GetGraphicsRunningProcesses()
	return procInfos(ps), ret
}

func procInfos(ps []nvml.ProcessInfo) []procInfo {
	out := make([]procInfo, len(ps))
	for i, p := range ps {
		out[i] = procInfo{pid: p.Pid, usedMem: p.UsedGpuMemory}
	}
	return out
}
