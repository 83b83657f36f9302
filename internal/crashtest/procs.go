//go:build linux

package crashtest

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is one child process of the harness. Its owner goroutine (started by
// spawn, counted in the harness's WaitGroup) waits for it.
type proc struct {
	name    string
	cmd     *exec.Cmd
	started time.Time
	done    chan struct{} // closed once the process has been reaped
	err     error         // cmd.Wait's result; read after done
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// kill SIGKILLs the process and waits until it has been reaped.
func (p *proc) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// stop sends sig and waits up to bound for the process to exit; past the
// bound it kills it and says so.
func (p *proc) stop(sig syscall.Signal, bound time.Duration) error {
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
		return nil
	case <-time.After(bound):
		p.kill()
		return fmt.Errorf("%s did not exit within %v of %v: killed", p.name, bound, sig)
	}
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// spawn starts argv with stdout going to out (and to log), stderr to log.
// The child gets SIGKILL when the harness dies (Pdeathsig), so a killed or
// panicking harness leaves nothing running: a worker dying takes its Ollama
// guard, and so its Ollama, with it.
func (h *harness) spawn(name string, argv, env []string, out io.Writer, logPath string) (*proc, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("spawn %s: %w", name, err)
	}
	fmt.Fprintf(logf, "=== %s start %s\n", time.Now().Format(time.RFC3339Nano), strings.Join(argv, " "))
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Stderr = logf
	cmd.Stdout = logf
	if out != nil {
		cmd.Stdout = io.MultiWriter(logf, out)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	// Should a grandchild keep the output pipe open, Wait must not hang on it.
	cmd.WaitDelay = 5 * time.Second
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	started := make(chan error, 1)
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		defer logf.Close()
		// Pdeathsig fires when the thread that forked the child exits, not
		// the process: this goroutine keeps its thread while the child lives.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		p.started = time.Now()
		started <- nil
		p.err = cmd.Wait()
		close(p.done)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("spawn %s: %w", name, err)
	}
	return p, nil
}

// lineWriter calls onLine for every complete line written to it. exec
// copies a child's output from one goroutine, so it needs no lock.
type lineWriter struct {
	buf    []byte
	onLine func(string)
}

func (w *lineWriter) Write(b []byte) (int, error) {
	w.buf = append(w.buf, b...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			return len(b), nil
		}
		w.onLine(string(w.buf[:i]))
		w.buf = w.buf[i+1:]
	}
}

// procID names one process instance: a pid alone may be reused.
type procID struct {
	PID   int
	Start uint64 // start time in clock ticks since boot (/proc/PID/stat field 22)
}

// procStat reads a process's parent, state and start time.
func procStat(pid int) (ppid int, state byte, start uint64, ok bool) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, 0, false
	}
	// "pid (comm) state ppid ...": comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, 0, 0, false
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 20 {
		return 0, 0, 0, false
	}
	ppid, err1 := strconv.Atoi(f[1])
	start, err2 := strconv.ParseUint(f[19], 10, 64)
	if err1 != nil || err2 != nil || len(f[0]) == 0 {
		return 0, 0, 0, false
	}
	return ppid, f[0][0], start, true
}

// alive reports whether that very process still runs. A zombie does not
// count: it runs nothing, and where PID 1 does not reap (some containers)
// it would stay forever.
func (id procID) alive() bool {
	_, state, start, ok := procStat(id.PID)
	return ok && start == id.Start && state != 'Z' && state != 'X'
}

func pids() []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			out = append(out, pid)
		}
	}
	return out
}

// descendants lists every live process below root, from /proc.
func descendants(root int) []procID {
	children := map[int][]procID{}
	for _, pid := range pids() {
		if ppid, state, start, ok := procStat(pid); ok && state != 'Z' {
			children[ppid] = append(children[ppid], procID{pid, start})
		}
	}
	var out []procID
	queue := []int{root}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c.PID)
		}
	}
	return out
}

func cmdline(pid int) []string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil || len(b) == 0 {
		return nil
	}
	return strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
}

func isOllama(argv []string) bool {
	return len(argv) > 0 && (argv[0] == "ollama" || strings.HasSuffix(argv[0], "/ollama"))
}

// ollamaServe finds the `ollama serve` below a worker process (under its guard).
func ollamaServe(workerPID int) (procID, bool) {
	for _, d := range descendants(workerPID) {
		if argv := cmdline(d.PID); isOllama(argv) && len(argv) > 1 && argv[1] == "serve" {
			return d, true
		}
	}
	return procID{}, false
}

// stray is a process that belongs to this harness run.
type stray struct {
	procID
	Cmd string
}

func (s stray) String() string { return fmt.Sprintf("pid %d: %s", s.PID, s.Cmd) }

// ours lists the live processes tied to root, the harness's directory: its
// path on their command line (the workers, the proxy, Ollama runners with
// their model blob) or as their HOME / OLLAMA_MODELS (each managed Ollama,
// its guard and its runners: the supervisor gives them that environment).
func ours(root string) []stray {
	self := os.Getpid()
	var out []stray
	for _, pid := range pids() {
		if pid == self {
			continue
		}
		_, state, start, ok := procStat(pid)
		if !ok || state == 'Z' {
			continue
		}
		argv := cmdline(pid)
		mine := strings.Contains(strings.Join(argv, " "), root)
		if !mine {
			env, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
			for _, kv := range strings.Split(string(env), "\x00") {
				k, v, _ := strings.Cut(kv, "=")
				if (k == "HOME" || k == "OLLAMA_MODELS") && strings.HasPrefix(v, root) {
					mine = true
					break
				}
			}
		}
		if mine {
			out = append(out, stray{procID{pid, start}, strings.Join(argv, " ")})
		}
	}
	return out
}

// waitGone waits until none of ids runs, up to bound; it returns those left.
func waitGone(ids []procID, bound time.Duration) []procID {
	deadline := time.Now().Add(bound)
	for {
		var left []procID
		for _, id := range ids {
			if id.alive() {
				left = append(left, id)
			}
		}
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// procLog keeps the output lines of a process for a failure message.
type procLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *procLog) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, s)
	if len(l.lines) > 200 {
		l.lines = l.lines[len(l.lines)-100:]
	}
}

func (l *procLog) tail(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines[max(0, len(l.lines)-n):], "\n")
}
