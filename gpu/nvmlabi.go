package gpu

import (
	"bytes"
	"encoding/binary"
)

// The C ABI of the NVML calls made through nvml.dll on Windows (nvml.h,
// checked against go-nvml's generated types on Linux in nvmlabi_cgo_test.go).
// The decoders are platform-neutral so they are tested everywhere; the
// Windows backend only hands them the bytes NVML wrote.
const (
	nvmlDeviceNameV2BufferSize     = 96 // NVML_DEVICE_NAME_V2_BUFFER_SIZE
	nvmlDeviceUUIDV2BufferSize     = 96 // NVML_DEVICE_UUID_V2_BUFFER_SIZE
	nvmlSystemDriverVersionBufSize = 80 // NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE
	nvmlTemperatureGPU             = 0  // NVML_TEMPERATURE_GPU

	// sizeofMemory is sizeof(nvmlMemory_t): total, free, used (u64 each).
	sizeofMemory = 24
	// sizeofUtilization is sizeof(nvmlUtilization_t): gpu, memory (u32 each).
	sizeofUtilization = 8
	// sizeofProcessInfo is sizeof(nvmlProcessInfo_t) (= nvmlProcessInfo_v2_t):
	// pid u32 @0, 4 bytes padding, usedGpuMemory u64 @8, gpuInstanceId u32
	// @16, computeInstanceId u32 @20.
	sizeofProcessInfo = 24
)

// retFromCall turns the r1 of a Windows proc.Call into an NVML code. NVML
// returns a 32-bit enum in EAX; the upper half of RAX is undefined.
func retFromCall(r1 uintptr) Return { return Return(int32(uint32(r1))) }

// cString returns b up to its first NUL byte.
func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// decodeMemory reads an nvmlMemory_t (little-endian).
func decodeMemory(b []byte) memInfo {
	_ = b[sizeofMemory-1]
	le := binary.LittleEndian
	return memInfo{total: le.Uint64(b[0:]), free: le.Uint64(b[8:]), used: le.Uint64(b[16:])}
}

// decodeUtilization reads an nvmlUtilization_t.
func decodeUtilization(b []byte) utilRates {
	_ = b[sizeofUtilization-1]
	le := binary.LittleEndian
	return utilRates{gpu: le.Uint32(b[0:]), memory: le.Uint32(b[4:])}
}

// decodeProcessInfos reads n nvmlProcessInfo_t records from b; n is clamped
// to what b holds.
func decodeProcessInfos(b []byte, n int) []procInfo {
	if max := len(b) / sizeofProcessInfo; n > max {
		n = max
	}
	if n < 0 {
		n = 0
	}
	le := binary.LittleEndian
	out := make([]procInfo, n)
	for i := range out {
		r := b[i*sizeofProcessInfo:]
		out[i] = procInfo{pid: le.Uint32(r[0:]), usedMem: le.Uint64(r[8:])}
	}
	return out
}
