//go:build windows

package gpu

import (
	"os"
	"path/filepath"
	"sync"
	"unsafe"

	"golang.org/x/sys/windows"
)

// ReasonNoDriver is shown when neither nvml.dll nor nvidia-smi is found.
const ReasonNoDriver = "no NVIDIA driver found (nvml.dll is not installed)"

// defaultLibrary is nvml.dll, and nvidia-smi when nvml.dll cannot be loaded
// or lacks a function the Detector needs to initialise.
func defaultLibrary() library {
	return &firstLib{libs: []library{newDLLLib(), newSMILib(nil)}}
}

// dllLib calls nvml.dll (installed by the NVIDIA driver in System32, and by
// older drivers in %ProgramFiles%\NVIDIA Corporation\NVSMI) through
// golang.org/x/sys/windows, without cgo. Struct layouts are decoded by the
// platform-neutral functions in nvmlabi.go.
type dllLib struct {
	loadOnce sync.Once
	dll      *windows.LazyDLL // nil when nvml.dll could not be loaded
	procs    map[string]*windows.LazyProc
	mu       sync.Mutex
}

func newDLLLib() *dllLib { return &dllLib{procs: map[string]*windows.LazyProc{}} }

// load finds nvml.dll once: System32 first (LoadLibraryEx restricted to the
// system directory, so no DLL planted next to the executable is used), then
// the NVSMI folder by full path.
func (l *dllLib) load() *windows.LazyDLL {
	l.loadOnce.Do(func() {
		sys := windows.NewLazySystemDLL("nvml.dll")
		if sys.Load() == nil {
			l.dll = sys
			return
		}
		pf := os.Getenv("ProgramFiles")
		if pf == "" {
			pf = `C:\Program Files`
		}
		alt := windows.NewLazyDLL(filepath.Join(pf, "NVIDIA Corporation", "NVSMI", "nvml.dll"))
		if alt.Load() == nil {
			l.dll = alt
		}
	})
	return l.dll
}

// call calls an NVML function by name. A function the DLL lacks returns
// NVML_ERROR_FUNCTION_NOT_FOUND instead of panicking as LazyProc.Call would.
//
// Like LazyProc.Call it is marked go:uintptrescapes: every caller passes
// uintptr(unsafe.Pointer(&x)) directly in the call expression, which makes
// the compiler move x to the heap and keep it alive until call returns (a
// pointer hidden in a uintptr is otherwise invisible to the stack copier).
//
//go:uintptrescapes
func (l *dllLib) call(name string, args ...uintptr) Return {
	dll := l.load()
	if dll == nil {
		return retLibraryNotFound
	}
	l.mu.Lock()
	p, ok := l.procs[name]
	if !ok {
		p = dll.NewProc(name)
		if p.Find() != nil {
			p = nil
		}
		l.procs[name] = p
	}
	l.mu.Unlock()
	if p == nil {
		return retFunctionNotFound
	}
	r1, _, _ := p.Call(args...)
	return retFromCall(r1)
}

func (l *dllLib) init() Return {
	if l.load() == nil {
		return retLibraryNotFound
	}
	return l.call("nvmlInit_v2")
}

func (l *dllLib) shutdown() Return { return l.call("nvmlShutdown") }

func (l *dllLib) driverVersion() (string, Return) {
	buf := make([]byte, nvmlSystemDriverVersionBufSize)
	ret := l.call("nvmlSystemGetDriverVersion", uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)))
	if ret != retSuccess {
		return "", ret
	}
	return cString(buf), retSuccess
}

func (l *dllLib) cudaDriverVersion() (int, Return) {
	var v int32
	ret := l.call("nvmlSystemGetCudaDriverVersion", uintptr(unsafe.Pointer(&v)))
	if ret == retFunctionNotFound {
		ret = l.call("nvmlSystemGetCudaDriverVersion_v2", uintptr(unsafe.Pointer(&v)))
	}
	return int(v), ret
}

// confidentialCompute: consumer cards on Windows have none.
func (l *dllLib) confidentialCompute() bool { return false }

func (l *dllLib) deviceCount() (int, Return) {
	var n uint32
	ret := l.call("nvmlDeviceGetCount_v2", uintptr(unsafe.Pointer(&n)))
	return int(n), ret
}

func (l *dllLib) deviceByIndex(i int) (device, Return) {
	var h uintptr // nvmlDevice_t is an opaque pointer
	ret := l.call("nvmlDeviceGetHandleByIndex_v2", uintptr(uint32(i)), uintptr(unsafe.Pointer(&h)))
	if ret != retSuccess {
		return nil, ret
	}
	if h == 0 {
		return nil, retUnknown
	}
	return dllDevice{l: l, h: h}, retSuccess
}

// dllDevice is one nvmlDevice_t.
type dllDevice struct {
	l *dllLib
	h uintptr
}

func (d dllDevice) str(fn string, size int) (string, Return) {
	buf := make([]byte, size)
	ret := d.l.call(fn, d.h, uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)))
	if ret != retSuccess {
		return "", ret
	}
	return cString(buf), retSuccess
}

// u32 calls fn(device, unsigned int *value).
func (d dllDevice) u32(fn string) (uint32, Return) {
	var v uint32
	ret := d.l.call(fn, d.h, uintptr(unsafe.Pointer(&v)))
	return v, ret
}

func (d dllDevice) name() (string, Return) {
	return d.str("nvmlDeviceGetName", nvmlDeviceNameV2BufferSize)
}

func (d dllDevice) uuid() (string, Return) {
	return d.str("nvmlDeviceGetUUID", nvmlDeviceUUIDV2BufferSize)
}

func (d dllDevice) memoryInfo() (memInfo, Return) {
	var buf [sizeofMemory / 8]uint64 // 8-byte aligned
	ret := d.l.call("nvmlDeviceGetMemoryInfo", d.h, uintptr(unsafe.Pointer(&buf[0])))
	if ret != retSuccess {
		return memInfo{}, ret
	}
	return decodeMemory(unsafe.Slice((*byte)(unsafe.Pointer(&buf[0])), sizeofMemory)), retSuccess
}

func (d dllDevice) temperature() (uint32, Return) {
	var v uint32
	ret := d.l.call("nvmlDeviceGetTemperature", d.h, nvmlTemperatureGPU, uintptr(unsafe.Pointer(&v)))
	return v, ret
}

func (d dllDevice) utilization() (utilRates, Return) {
	var buf [sizeofUtilization / 4]uint32
	ret := d.l.call("nvmlDeviceGetUtilizationRates", d.h, uintptr(unsafe.Pointer(&buf[0])))
	if ret != retSuccess {
		return utilRates{}, ret
	}
	return decodeUtilization(unsafe.Slice((*byte)(unsafe.Pointer(&buf[0])), sizeofUtilization)), retSuccess
}

func (d dllDevice) powerUsage() (uint32, Return) { return d.u32("nvmlDeviceGetPowerUsage") }

func (d dllDevice) enforcedPowerLimit() (uint32, Return) {
	return d.u32("nvmlDeviceGetEnforcedPowerLimit")
}

func (d dllDevice) powerManagementLimit() (uint32, Return) {
	return d.u32("nvmlDeviceGetPowerManagementLimit")
}

func (d dllDevice) computeProcesses() ([]procInfo, Return) {
	return d.processes("nvmlDeviceGetComputeRunningProcesses_v3", "nvmlDeviceGetComputeRunningProcesses_v2")
}

func (d dllDevice) graphicsProcesses() ([]procInfo, Return) {
	return d.processes("nvmlDeviceGetGraphicsRunningProcesses_v3", "nvmlDeviceGetGraphicsRunningProcesses_v2")
}

// processes calls fn (or, on drivers without it, fallback: the _v2 call
// fills the same 24-byte nvmlProcessInfo_v2_t) with a growing buffer: the
// list can grow between asking for its size and reading it.
func (d dllDevice) processes(fn, fallback string) ([]procInfo, Return) {
	n := uint32(16)
	for attempt := 0; attempt < 4; attempt++ {
		count := n
		buf := make([]uint64, int(n)*sizeofProcessInfo/8+1) // 8-byte aligned; never empty
		ret := d.l.call(fn, d.h, uintptr(unsafe.Pointer(&count)), uintptr(unsafe.Pointer(&buf[0])))
		if ret == retFunctionNotFound && fallback != "" {
			fn, fallback = fallback, ""
			attempt--
			continue
		}
		switch ret {
		case retSuccess:
			if count > n {
				count = n
			}
			b := unsafe.Slice((*byte)(unsafe.Pointer(&buf[0])), len(buf)*8)
			return decodeProcessInfos(b, int(count)), retSuccess
		case retInsufficientSize:
			n = count + 16 // count holds the size needed now
		default:
			return nil, ret
		}
	}
	return nil, retInsufficientSize
}
