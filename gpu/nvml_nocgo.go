//go:build !(linux && cgo)

package gpu

import "strconv"

// Return is an NVML return code (nvml.h nvmlReturn_t). On Linux with cgo it
// is go-nvml's nvml.Return; here, where go-nvml does not build, it is this
// package's own type with the same values.
type Return int32

// Error returns NVML's message for r, without calling the library.
func (r Return) Error() string { return returnText(r) }

// String is the same as Error.
func (r Return) String() string { return returnText(r) }

// GoString names the code, e.g. "gpu.Return(12)".
func (r Return) GoString() string { return "gpu.Return(" + strconv.Itoa(int(r)) + ")" }

// Library is what a Detector reads GPUs through. On Linux with cgo it is
// go-nvml's nvml.Interface; go-nvml does not build here, and no package
// outside gpu can implement this interface: pass nil to NewDetector for the
// platform's default backend (or call NewDefaultDetector / NewSMIDetector).
type Library interface {
	library
}

// toLibrary returns lib, or the platform's default backend for nil.
func toLibrary(lib Library) library {
	if lib == nil {
		return defaultLibrary()
	}
	return lib
}
