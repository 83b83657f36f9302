//go:build !windows

package gpu

import "os/exec"

// smiCandidates are places to look for nvidia-smi when it is not on $PATH.
func smiCandidates() []string { return []string{"/usr/bin/nvidia-smi", "/usr/local/bin/nvidia-smi"} }

// hideWindow does nothing outside Windows.
func hideWindow(*exec.Cmd) {}
