//go:build !linux || !cgo

package cli

import (
	"errors"

	"github.com/cocoon-desktop/cocoon-desktop/gpu"
)

// demoGPU: the simulated card is go-nvml's mock, which builds on Linux only.
func demoGPU() (*gpu.Detector, error) {
	return nil, errors.New("--demo-gpu is available on Linux only")
}
