//go:build !linux && !windows

package ollama

import (
	"log/slog"
	"os/exec"
	"syscall"
	"time"
)

// stopGrace is how long a stopping server gets before it is killed.
const stopGrace = 5 * time.Second

// procTree is one managed Ollama here: `ollama serve` as Cocoon's child,
// leading its own process group, which its runners inherit. Nothing ties
// the runners to Cocoon's life on these systems (see the package doc).
type procTree struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error // Wait's result; set before done closes
}

func startTree(cmd *exec.Cmd, _ *slog.Logger) (*procTree, error) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	t := &procTree{cmd: cmd, done: make(chan struct{})}
	go func() { t.err = cmd.Wait(); close(t.done) }()
	return t, nil
}

func (t *procTree) servePID() int  { return t.cmd.Process.Pid }
func (t *procTree) rootPID() int   { return t.cmd.Process.Pid }
func (t *procTree) pids() []int    { return []int{t.cmd.Process.Pid} }
func (t *procTree) terminate()     { _ = syscall.Kill(-t.cmd.Process.Pid, syscall.SIGTERM) }
func (t *procTree) kill()          { _ = syscall.Kill(-t.cmd.Process.Pid, syscall.SIGKILL) }
func (t *procTree) release()       {}
func (t *procTree) exitErr() error { return t.err }
