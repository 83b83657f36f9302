package ollama

import (
	"os/exec"
	"syscall"
)

// setProcessGroup puts the child in its own process group so that stopping it
// also stops the model runners it spawns, and kills it if Cocoon dies without
// cleaning up.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
