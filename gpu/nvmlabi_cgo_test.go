//go:build linux && cgo

package gpu

import (
	"testing"
	"unsafe"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// TestABIMatchesGoNVML checks the hand-written nvml.h layout used on Windows
// against go-nvml's generated (cgo-checked) types and constants.
func TestABIMatchesGoNVML(t *testing.T) {
	var p nvml.ProcessInfo
	var m nvml.Memory
	var u nvml.Utilization
	checks := []struct {
		what      string
		got, want uintptr
	}{
		{"sizeof ProcessInfo", sizeofProcessInfo, unsafe.Sizeof(p)},
		{"offset Pid", 0, unsafe.Offsetof(p.Pid)},
		{"offset UsedGpuMemory", 8, unsafe.Offsetof(p.UsedGpuMemory)},
		{"offset GpuInstanceId", 16, unsafe.Offsetof(p.GpuInstanceId)},
		{"sizeof ProcessInfo_v2", sizeofProcessInfo, unsafe.Sizeof(nvml.ProcessInfo_v2{})},
		{"sizeof Memory", sizeofMemory, unsafe.Sizeof(m)},
		{"offset Total", 0, unsafe.Offsetof(m.Total)},
		{"offset Free", 8, unsafe.Offsetof(m.Free)},
		{"offset Used", 16, unsafe.Offsetof(m.Used)},
		{"sizeof Utilization", sizeofUtilization, unsafe.Sizeof(u)},
		{"offset Memory (util)", 4, unsafe.Offsetof(u.Memory)},
		{"name buffer", nvmlDeviceNameV2BufferSize, nvml.DEVICE_NAME_V2_BUFFER_SIZE},
		{"UUID buffer", nvmlDeviceUUIDV2BufferSize, nvml.DEVICE_UUID_V2_BUFFER_SIZE},
		{"driver version buffer", nvmlSystemDriverVersionBufSize, nvml.SYSTEM_DRIVER_VERSION_BUFFER_SIZE},
		{"TEMPERATURE_GPU", nvmlTemperatureGPU, uintptr(nvml.TEMPERATURE_GPU)},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %d, go-nvml says %d", c.what, c.got, c.want)
		}
	}
	// Return codes: the neutral constants are go-nvml's values.
	codes := map[Return]nvml.Return{
		retSuccess: nvml.SUCCESS, retUninitialized: nvml.ERROR_UNINITIALIZED, retInvalidArgument: nvml.ERROR_INVALID_ARGUMENT,
		retNotSupported: nvml.ERROR_NOT_SUPPORTED, retNoPermission: nvml.ERROR_NO_PERMISSION,
		retAlreadyInitialized: nvml.ERROR_ALREADY_INITIALIZED, retNotFound: nvml.ERROR_NOT_FOUND,
		retInsufficientSize: nvml.ERROR_INSUFFICIENT_SIZE, retInsufficientPower: nvml.ERROR_INSUFFICIENT_POWER,
		retDriverNotLoaded: nvml.ERROR_DRIVER_NOT_LOADED, retTimeout: nvml.ERROR_TIMEOUT, retIRQIssue: nvml.ERROR_IRQ_ISSUE,
		retLibraryNotFound: nvml.ERROR_LIBRARY_NOT_FOUND, retFunctionNotFound: nvml.ERROR_FUNCTION_NOT_FOUND,
		retCorruptedInforom: nvml.ERROR_CORRUPTED_INFOROM, retGPUIsLost: nvml.ERROR_GPU_IS_LOST,
		retResetRequired: nvml.ERROR_RESET_REQUIRED, retOperatingSystem: nvml.ERROR_OPERATING_SYSTEM,
		retLibRMVersionMismatch: nvml.ERROR_LIB_RM_VERSION_MISMATCH, retInUse: nvml.ERROR_IN_USE, retMemory: nvml.ERROR_MEMORY,
		retNoData: nvml.ERROR_NO_DATA, retInsufficientResources: nvml.ERROR_INSUFFICIENT_RESOURCES,
		retNotReady: nvml.ERROR_NOT_READY, retUnknown: nvml.ERROR_UNKNOWN,
	}
	for ours, theirs := range codes {
		if int32(ours) != int32(theirs) {
			t.Errorf("code %d != go-nvml %d", ours, theirs)
		}
	}
}
