//go:build unix

package testollama

import (
	"os/exec"
	"syscall"
)

func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

func killProcessGroup(cmd *exec.Cmd) {
	if cmd.Process == nil {
		return
	}
	// The server and its runners share the process group the server leads.
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
}
