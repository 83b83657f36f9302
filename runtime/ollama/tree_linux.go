package ollama

import (
	"bufio"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cocoon-desktop/cocoon-desktop/internal/memtrim"
)

// On Linux the supervisor does not start `ollama serve` itself but a guard:
// this same executable, re-executed with guardArg as its first argument and
// guardEnv set to the pid of the process that started it. The guard is a
// child subreaper, so runners orphaned by a dying server re-parent to it
// instead of to init, and it makes sure that nothing of the server's tree
// outlives the server or Cocoon. See the package doc for the whole design.
// (A PID namespace would give the same guarantee without a guard, its init
// taking everything with it, but it needs an unprivileged user namespace,
// which many distributions disable.)
const (
	guardArg = "cocoon-ollama-guard"
	guardEnv = "COCOON_OLLAMA_GUARD"
	// guardGrace is how long the guard lets `ollama serve` shut down after
	// SIGTERM before it kills the whole tree.
	guardGrace = 5 * time.Second
	// stopGrace is how long the supervisor waits for the guard to finish
	// (its own grace plus the cleanup) before it kills everything itself.
	stopGrace = guardGrace + 3*time.Second
)

// init turns this process into the guard when it was started as one. It is
// an init function, not a call in main, so that every binary that links
// this package (the app, the other commands, and every test binary whose
// tests start a Supervisor) can be re-executed as the guard without code of
// its own: a test binary's TestMain, or the app's main, never runs in the
// guard. What does run first are the inits of the packages this one
// depends on and of those that sort before it by import path (Fyne's, in
// the app): they must stay cheap and free of side effects.
func init() {
	if len(os.Args) > 1 && os.Args[1] == guardArg && os.Getenv(guardEnv) != "" {
		os.Exit(runGuard(os.Args[2:]))
	}
}

// procTree is one managed Ollama on Linux: the guard (Cocoon's child) and,
// under it, `ollama serve` with its runners.
type procTree struct {
	cmd    *exec.Cmd // the guard
	serve  int       // pid of `ollama serve`, also its process group
	done   chan struct{}
	err    error               // the guard's Wait result; set before done closes
	final  *syscall.WaitStatus // serve's status as the guard reported it after cleaning up
	report chan struct{}       // closed when the guard's report pipe is at EOF
}

// startTree starts the guard for cmd (a prepared `ollama serve` command:
// Path, Args, Env, Dir, Stdout, Stderr) and returns once the guard has
// started the server.
func startTree(cmd *exec.Cmd, _ *slog.Logger) (*procTree, error) {
	exe := "/proc/self/exe" // works even when the binary was replaced on disk since
	if _, err := os.Stat(exe); err != nil {
		if exe, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("find own executable for the guard: %w", err)
		}
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	env := cmd.Env
	if env == nil {
		env = os.Environ()
	}
	g := &exec.Cmd{
		Path:       exe,
		Args:       append([]string{os.Args[0], guardArg, cmd.Path}, cmd.Args[1:]...),
		Env:        append(env[:len(env):len(env)], guardEnv+"="+strconv.Itoa(os.Getpid())),
		Dir:        cmd.Dir,
		Stdin:      cmd.Stdin,
		Stdout:     cmd.Stdout,
		Stderr:     cmd.Stderr,
		ExtraFiles: []*os.File{w}, // fd 3 in the guard: its report pipe
		// Its own process group keeps the terminal's ^C away from it (Cocoon
		// decides when Ollama stops); Pdeathsig tells it when Cocoon is gone.
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM},
		// Only the guard and its tree hold the output pipe; should a stray
		// process keep it open, Wait must not wait for it forever.
		WaitDelay: time.Second,
	}
	t := &procTree{cmd: g, done: make(chan struct{}), report: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		// Pdeathsig fires when the thread that forked the child exits, not
		// the process: keep this goroutine on its own thread for as long as
		// the guard lives, so no other goroutine can end that thread.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := g.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		t.err = g.Wait()
		<-t.report
		close(t.done)
	}()
	if err := <-started; err != nil {
		r.Close()
		w.Close()
		return nil, err
	}
	w.Close()
	servePID := make(chan int, 1)
	go t.readReport(r, servePID)
	select {
	case pid := <-servePID:
		t.serve = pid
		return t, nil
	case <-t.done:
		select {
		case pid := <-servePID: // it did start one, which died at once: runOnce sees done
			t.serve = pid
			return t, nil
		default:
		}
		return nil, fmt.Errorf("the guard exited before starting ollama serve: %v", t.err)
	case <-time.After(30 * time.Second):
		t.kill()
		<-t.done
		return nil, errors.New("the guard did not start ollama serve within 30 s")
	}
}

// readReport reads the guard's report pipe: "serve PID" once the server
// runs, "exit STATUS" once the guard has cleaned up after it.
func (t *procTree) readReport(r *os.File, servePID chan<- int) {
	defer close(t.report)
	defer r.Close()
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		kind, val, _ := strings.Cut(sc.Text(), " ")
		n, err := strconv.ParseUint(val, 10, 32)
		if err != nil {
			continue
		}
		switch kind {
		case "serve":
			servePID <- int(n)
		case "exit":
			ws := syscall.WaitStatus(n)
			t.final = &ws
		}
	}
}

func (t *procTree) servePID() int { return t.serve }
func (t *procTree) rootPID() int  { return t.cmd.Process.Pid }

// pids are the guard and all its descendants.
func (t *procTree) pids() []int {
	return append([]int{t.rootPID()}, descendants(t.rootPID())...)
}

// terminate asks the guard to stop the server; it kills what remains after
// guardGrace.
func (t *procTree) terminate() { _ = t.cmd.Process.Signal(syscall.SIGTERM) }

// kill ends the whole tree now: the server's process group (runners
// included), every other descendant of the guard, and the guard.
func (t *procTree) kill() {
	if t.serve > 0 {
		_ = syscall.Kill(-t.serve, syscall.SIGKILL)
	}
	for _, pid := range descendants(t.rootPID()) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	_ = t.cmd.Process.Kill()
}

// release runs once the guard has exited. A guard that reported its
// cleanup left nothing behind; one that did not (it was killed) may have
// left runners, orphaned to init but still in the server's process group.
func (t *procTree) release() {
	if t.final == nil && t.serve > 0 {
		_ = syscall.Kill(-t.serve, syscall.SIGKILL)
	}
}

// exitErr says how the server ended: its own status as the guard reported
// it, or the guard's when it reported none.
func (t *procTree) exitErr() error {
	if t.final != nil {
		ws := *t.final
		switch {
		case ws.Exited() && ws.ExitStatus() == 0:
			return nil
		case ws.Exited():
			return fmt.Errorf("exit status %d", ws.ExitStatus())
		case ws.Signaled():
			return fmt.Errorf("signal: %v", ws.Signal())
		}
		return fmt.Errorf("wait status %#x", uint32(ws))
	}
	if t.err != nil {
		return fmt.Errorf("ollama guard: %w", t.err)
	}
	return errors.New("ollama guard exited without a report")
}

// runGuard is the guard's main: args are the server's command line. It
// returns the guard's exit code: the server's own, 128+N when the server
// died of signal N.
func runGuard(args []string) int {
	// Init runs on the main thread; stay there: the server's Pdeathsig
	// (below) follows the thread that forks it.
	runtime.LockOSThread()
	parent, _ := strconv.Atoi(os.Getenv(guardEnv))
	os.Unsetenv(guardEnv)
	report := os.NewFile(3, "guard-report")
	syscall.CloseOnExec(3) // for the guard only, not for the server and its runners

	sigs := make(chan os.Signal, 32)
	// SIGPIPE: keep writing (and cleaning up) when Cocoon is gone and nobody
	// reads our stderr. SIGHUP: not ours to act on. Notify, not Ignore: an
	// ignored signal would stay ignored in the server.
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD, syscall.SIGPIPE, syscall.SIGHUP)
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		// Without it orphaned runners escape to init; the server's process
		// group still catches them unless they left it.
		fmt.Fprintf(os.Stderr, "%s: cannot become a subreaper: %v\n", guardArg, err)
	}
	if len(args) == 0 || parent <= 0 {
		fmt.Fprintf(os.Stderr, "%s: nothing to run\n", guardArg)
		return 2
	}
	if os.Getppid() != parent {
		return 1 // Cocoon is gone already: start nothing
	}
	pid, err := syscall.ForkExec(args[0], args, &syscall.ProcAttr{
		Env:   os.Environ(),
		Files: []uintptr{0, 1, 2},
		// Its own group, so one signal reaches the server and its runners
		// (they inherit the group); Pdeathsig in case the guard is killed.
		Sys: &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: start %s: %v\n", guardArg, args[0], err)
		return 127
	}
	// The guard is this whole program re-executed, and from here on it
	// touches little of it: drop its own mapping of the program's and the
	// libraries' pages, so that they are the app's alone and a hidden app
	// can page out those it does not use (app's releaseMemory).
	if _, err := memtrim.DropFileMappings(); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", guardArg, err)
	}
	fmt.Fprintf(report, "serve %d\n", pid)
	g := &guard{serve: pid, sigs: sigs}
	defer func() {
		if g.serveGone && g.clean { // else the supervisor falls back on killing the group
			fmt.Fprintf(report, "exit %d\n", uint32(g.status))
		}
		report.Close()
	}()

	if os.Getppid() != parent { // Cocoon died while we started the server
		return g.shutdown()
	}
	poll := time.NewTicker(time.Second)
	defer poll.Stop()
	for !g.serveGone {
		select {
		case s := <-sigs:
			switch s {
			case syscall.SIGTERM, syscall.SIGINT:
				return g.shutdown()
			case syscall.SIGCHLD:
				g.reap()
			}
		case <-poll.C:
			g.reap()
			if os.Getppid() != parent { // belt and braces, should Pdeathsig be lost
				return g.shutdown()
			}
		}
	}
	// The server exited on its own: its runners are of no use to anyone.
	g.killAll(time.Now().Add(guardGrace))
	return g.exitCode()
}

// guard is the state of runGuard.
type guard struct {
	serve     int
	serveGone bool
	clean     bool               // killAll left no child behind
	status    syscall.WaitStatus // the server's, once serveGone
	sigs      chan os.Signal
}

// shutdown forwards SIGTERM to the server's process group, gives it
// guardGrace to exit, then kills everything that is left.
func (g *guard) shutdown() int {
	_ = syscall.Kill(-g.serve, syscall.SIGTERM)
	deadline := time.NewTimer(guardGrace)
	defer deadline.Stop()
	poll := time.NewTicker(100 * time.Millisecond)
	defer poll.Stop()
	for g.reap(); !g.serveGone; g.reap() {
		select {
		case <-g.sigs: // SIGCHLD (or a repeated SIGTERM): reap and look again
		case <-poll.C:
		case <-deadline.C:
			g.killAll(time.Now().Add(guardGrace))
			return g.exitCode()
		}
	}
	g.killAll(time.Now().Add(guardGrace))
	return g.exitCode()
}

// reap collects every child that has exited, noting the server's status.
// It reports whether no child at all is left.
func (g *guard) reap() (none bool) {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.ECHILD:
			return true
		case err != nil || pid <= 0:
			return false
		}
		if pid == g.serve {
			g.serveGone, g.status = true, ws
		}
	}
}

// killAll SIGKILLs the server's group and every descendant of the guard
// (as a subreaper, orphans anywhere below it are re-parented to it), reaps
// them, and repeats until the guard has no child left or deadline passes.
func (g *guard) killAll(deadline time.Time) {
	for {
		_ = syscall.Kill(-g.serve, syscall.SIGKILL)
		for _, pid := range descendants(os.Getpid()) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		if g.reap() {
			g.clean = true
			return
		}
		if time.Now().After(deadline) {
			fmt.Fprintf(os.Stderr, "%s: processes left after cleanup: %v\n", guardArg, descendants(os.Getpid()))
			return
		}
		select {
		case <-g.sigs:
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (g *guard) exitCode() int {
	switch {
	case !g.serveGone:
		return 1
	case g.status.Exited():
		return g.status.ExitStatus()
	case g.status.Signaled():
		return 128 + int(g.status.Signal())
	}
	return 1
}

// descendants lists every process below root, from /proc: children,
// their children, and so on.
func descendants(root int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]int{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, ok := parentPID(pid); ok {
			children[ppid] = append(children[ppid], pid)
		}
	}
	var out []int
	queue := []int{root}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

// parentPID reads a process's parent from /proc/PID/stat.
func parentPID(pid int) (int, bool) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	// "pid (comm) state ppid ...": comm may hold spaces and parentheses.
	i := strings.LastIndexByte(string(data), ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 2 {
		return 0, false
	}
	ppid, err := strconv.Atoi(f[1])
	return ppid, err == nil
}
