//go:build !windows && !(linux && cgo)

package gpu

// ReasonNoDriver is shown when no way to reach the NVIDIA driver was found
// (go-nvml needs cgo; here only nvidia-smi is tried).
const ReasonNoDriver = "no NVIDIA driver found (nvidia-smi is not installed)"

// defaultLibrary runs nvidia-smi: go-nvml needs cgo on Linux and does not
// exist elsewhere.
func defaultLibrary() library { return newSMILib(nil) }

// defaultProcName reads /proc/<pid>/comm on Linux and returns "" elsewhere.
var defaultProcName = procComm
