//go:build windows

package gpu

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/windows"
)

// smiCandidates are where NVIDIA drivers install nvidia-smi.exe: System32
// (drivers since 2019) and the older NVSMI folder.
func smiCandidates() []string {
	var c []string
	if sys, err := windows.GetSystemDirectory(); err == nil {
		c = append(c, filepath.Join(sys, "nvidia-smi.exe"))
	}
	if pf := os.Getenv("ProgramFiles"); pf != "" {
		c = append(c, filepath.Join(pf, "NVIDIA Corporation", "NVSMI", "nvidia-smi.exe"))
	}
	return c
}

// hideWindow keeps nvidia-smi (a console program) from flashing a console
// window when the tray app, a GUI program, runs it.
func hideWindow(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{HideWindow: true, CreationFlags: windows.CREATE_NO_WINDOW}
}
