package gpu

// The Detector reads GPUs through library, a small internal interface with
// one implementation per way of reaching the driver:
//
//   - nvmlLib (linux && cgo): go-nvml's nvml.Interface (and its mocks);
//   - dllLib (windows): nvml.dll called through golang.org/x/sys/windows;
//   - smiLib (every OS): the nvidia-smi command line tool;
//   - firstLib: the first of several that initialises (Windows: nvml.dll,
//     then nvidia-smi).
//
// Return codes keep NVML's numeric values (nvml.h nvmlReturn_t) everywhere.

// NVML return codes (nvml.h) used by this package. On Linux with cgo Return
// is go-nvml's nvml.Return, so these equal nvml.SUCCESS and so on.
const (
	retSuccess               Return = 0
	retUninitialized         Return = 1
	retInvalidArgument       Return = 2
	retNotSupported          Return = 3
	retNoPermission          Return = 4
	retAlreadyInitialized    Return = 5
	retNotFound              Return = 6
	retInsufficientSize      Return = 7
	retInsufficientPower     Return = 8
	retDriverNotLoaded       Return = 9
	retTimeout               Return = 10
	retIRQIssue              Return = 11
	retLibraryNotFound       Return = 12
	retFunctionNotFound      Return = 13
	retCorruptedInforom      Return = 14
	retGPUIsLost             Return = 15
	retResetRequired         Return = 16
	retOperatingSystem       Return = 17
	retLibRMVersionMismatch  Return = 18
	retInUse                 Return = 19
	retMemory                Return = 20
	retNoData                Return = 21
	retInsufficientResources Return = 23
	retNotReady              Return = 27
	retUnknown               Return = 999
)

// memInfo is nvmlMemory_t, in bytes.
type memInfo struct{ total, free, used uint64 }

// utilRates is nvmlUtilization_t, in percent.
type utilRates struct{ gpu, memory uint32 }

// procInfo is one process using a GPU. name is set only by backends that
// know it (nvidia-smi); the Detector's process-name lookup wins over it.
type procInfo struct {
	pid     uint32
	usedMem uint64 // bytes; ^uint64(0) is NVML_VALUE_NOT_AVAILABLE
	name    string
}

// library is the part of NVML the Detector uses. After init fails, the
// Detector calls nothing but init again.
type library interface {
	init() Return
	shutdown() Return
	driverVersion() (string, Return)
	cudaDriverVersion() (int, Return)
	// confidentialCompute reports whether confidential computing is
	// available (capable or enabled); any error means false.
	confidentialCompute() bool
	deviceCount() (int, Return)
	// deviceByIndex returns a nil device with a non-success code on failure.
	deviceByIndex(i int) (device, Return)
}

// device is one GPU of a library.
type device interface {
	name() (string, Return)
	uuid() (string, Return)
	memoryInfo() (memInfo, Return)
	temperature() (uint32, Return) // the GPU die sensor, °C
	utilization() (utilRates, Return)
	powerUsage() (uint32, Return)           // mW
	enforcedPowerLimit() (uint32, Return)   // mW
	powerManagementLimit() (uint32, Return) // mW
	computeProcesses() ([]procInfo, Return)
	graphicsProcesses() ([]procInfo, Return)
}

// firstLib uses the first of libs whose init succeeds. A library that fails
// because it is missing (library or function not found) hands over to the
// next one; any other failure is reported as it is. When all are missing,
// the first one's code is returned, so "no driver" stays "no driver".
type firstLib struct {
	libs []library
	cur  library // set by a successful init
}

func (f *firstLib) init() Return {
	f.cur = nil
	first := retLibraryNotFound
	for i, l := range f.libs {
		ret, panicked := safeInit(l)
		if panicked != nil {
			ret = retLibraryNotFound
		}
		if ret == retSuccess {
			f.cur = l
			return retSuccess
		}
		if i == 0 {
			first = ret
		}
		if ret != retLibraryNotFound && ret != retFunctionNotFound {
			return ret
		}
	}
	return first
}

func (f *firstLib) shutdown() Return {
	if f.cur == nil {
		return retUninitialized
	}
	ret := f.cur.shutdown()
	f.cur = nil
	return ret
}

func (f *firstLib) driverVersion() (string, Return)      { return f.cur.driverVersion() }
func (f *firstLib) cudaDriverVersion() (int, Return)     { return f.cur.cudaDriverVersion() }
func (f *firstLib) confidentialCompute() bool            { return f.cur.confidentialCompute() }
func (f *firstLib) deviceCount() (int, Return)           { return f.cur.deviceCount() }
func (f *firstLib) deviceByIndex(i int) (device, Return) { return f.cur.deviceByIndex(i) }

// safeInit calls lib.init and turns a panic (go-nvml may panic when
// libnvidia-ml cannot be loaded) into a value.
func safeInit(lib library) (ret Return, panicked any) {
	defer func() {
		if r := recover(); r != nil {
			ret, panicked = retLibraryNotFound, r
		}
	}()
	return lib.init(), nil
}
