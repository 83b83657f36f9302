//go:build linux && cgo

package cli

import (
	"github.com/cocoon-desktop/cocoon-desktop/gpu"
	"github.com/cocoon-desktop/cocoon-desktop/gpu/gputest"
)

// demoGPU is --demo-gpu's detector: go-nvml's mock of an RTX 4090.
func demoGPU() (*gpu.Detector, error) {
	return gpu.NewDetector(gputest.Library(gputest.RTX4090())), nil
}
