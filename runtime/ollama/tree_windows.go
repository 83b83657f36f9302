package ollama

import (
	"fmt"
	"log/slog"
	"os/exec"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

// stopGrace is how long a stopping server gets before it is killed.
const stopGrace = 5 * time.Second

// procTree is one managed Ollama on Windows: `ollama serve` in a job object
// that kills every process in it when its last handle closes. Cocoon holds
// the only handle, so the server and its runners (children join their
// parent's job) end with Cocoon however it ends; release terminates the job
// when the server has died, which ends the runners it left.
type procTree struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error // Wait's result; set before done closes

	mu  sync.Mutex     // guards job: PIDs may be asked while it is released
	job windows.Handle // 0 when there is none (or no more)
}

func startTree(cmd *exec.Cmd, log *slog.Logger) (*procTree, error) {
	job, jobErr := newKillOnCloseJob()
	// ollama.exe is a console program: started from the GUI app without
	// CREATE_NO_WINDOW, Windows opens a console window for it (seen under
	// Wine: an empty black window beside Cocoon's).
	cmd.SysProcAttr = &syscall.SysProcAttr{HideWindow: true, CreationFlags: windows.CREATE_NO_WINDOW}
	if jobErr == nil {
		// Suspended until it is in the job, so that no runner it starts
		// can escape it.
		cmd.SysProcAttr.CreationFlags |= windows.CREATE_SUSPENDED
	}
	if err := cmd.Start(); err != nil {
		if job != 0 {
			windows.CloseHandle(job)
		}
		return nil, err
	}
	t := &procTree{cmd: cmd, job: job, done: make(chan struct{})}
	if jobErr == nil {
		if err := assignToJob(job, cmd.Process.Pid); err != nil {
			windows.CloseHandle(job)
			t.job, jobErr = 0, err
		}
		if err := resumeProcess(cmd.Process.Pid); err != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.release()
			return nil, fmt.Errorf("resume the suspended server: %w", err)
		}
	}
	if jobErr != nil && log != nil {
		log.Warn("ollama runs without a job object: its runners may outlive Cocoon", "err", jobErr)
	}
	go func() { t.err = cmd.Wait(); close(t.done) }()
	return t, nil
}

func newKillOnCloseJob() (windows.Handle, error) {
	job, err := windows.CreateJobObject(nil, nil)
	if err != nil {
		return 0, fmt.Errorf("create job object: %w", err)
	}
	info := windows.JOBOBJECT_EXTENDED_LIMIT_INFORMATION{
		BasicLimitInformation: windows.JOBOBJECT_BASIC_LIMIT_INFORMATION{
			LimitFlags: windows.JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE,
		},
	}
	if _, err := windows.SetInformationJobObject(job, windows.JobObjectExtendedLimitInformation,
		uintptr(unsafe.Pointer(&info)), uint32(unsafe.Sizeof(info))); err != nil {
		windows.CloseHandle(job)
		return 0, fmt.Errorf("set kill-on-close on the job object: %w", err)
	}
	return job, nil
}

func assignToJob(job windows.Handle, pid int) error {
	h, err := windows.OpenProcess(windows.PROCESS_SET_QUOTA|windows.PROCESS_TERMINATE, false, uint32(pid))
	if err != nil {
		return fmt.Errorf("open process %d: %w", pid, err)
	}
	defer windows.CloseHandle(h)
	if err := windows.AssignProcessToJobObject(job, h); err != nil {
		return fmt.Errorf("assign process %d to the job object: %w", pid, err)
	}
	return nil
}

// resumeProcess resumes the threads of a process created suspended (the
// standard library closes the main thread's handle, so find it again).
func resumeProcess(pid int) error {
	snap, err := windows.CreateToolhelp32Snapshot(windows.TH32CS_SNAPTHREAD, 0)
	if err != nil {
		return err
	}
	defer windows.CloseHandle(snap)
	te := windows.ThreadEntry32{Size: uint32(unsafe.Sizeof(windows.ThreadEntry32{}))}
	resumed := 0
	for err = windows.Thread32First(snap, &te); err == nil; err = windows.Thread32Next(snap, &te) {
		if te.OwnerProcessID != uint32(pid) {
			continue
		}
		th, err := windows.OpenThread(windows.THREAD_SUSPEND_RESUME, false, te.ThreadID)
		if err != nil {
			return fmt.Errorf("open thread %d: %w", te.ThreadID, err)
		}
		_, err = windows.ResumeThread(th)
		windows.CloseHandle(th)
		if err != nil {
			return fmt.Errorf("resume thread %d: %w", te.ThreadID, err)
		}
		resumed++
	}
	if resumed == 0 {
		return fmt.Errorf("no thread of process %d found", pid)
	}
	return nil
}

func (t *procTree) servePID() int { return t.cmd.Process.Pid }
func (t *procTree) rootPID() int  { return t.cmd.Process.Pid }

// pids lists the processes in the job (the server alone without one).
func (t *procTree) pids() []int {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.job == 0 {
		return []int{t.cmd.Process.Pid}
	}
	var list struct {
		Assigned, InList uint32
		PIDs             [1024]uintptr
	}
	if err := windows.QueryInformationJobObject(t.job, windows.JobObjectBasicProcessIdList,
		uintptr(unsafe.Pointer(&list)), uint32(unsafe.Sizeof(list)), nil); err != nil {
		return []int{t.cmd.Process.Pid}
	}
	out := make([]int, 0, list.InList)
	for _, pid := range list.PIDs[:min(int(list.InList), len(list.PIDs))] {
		out = append(out, int(pid))
	}
	return out
}

// terminate: Windows has no SIGTERM for a console-less child; stop it as
// before, then release ends its runners.
func (t *procTree) terminate() { _ = t.cmd.Process.Kill() }

func (t *procTree) kill() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.job != 0 {
		_ = windows.TerminateJobObject(t.job, 1)
	}
	_ = t.cmd.Process.Kill()
}

// release ends every process left in the job and closes it.
func (t *procTree) release() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.job != 0 {
		_ = windows.TerminateJobObject(t.job, 1)
		windows.CloseHandle(t.job)
		t.job = 0
	}
}

func (t *procTree) exitErr() error { return t.err }
