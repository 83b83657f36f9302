package ollama_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ollama/ollama/api"

	"github.com/cocoon-desktop/cocoon-desktop/internal/testollama"
	"github.com/cocoon-desktop/cocoon-desktop/internal/tinymodel"
	"github.com/cocoon-desktop/cocoon-desktop/runtime/ollama"
)

// proc identifies one process across pid reuse: its pid and start time.
type proc struct {
	pid   int
	start string
	cmd   string
}

// procStat returns the fields of /proc/PID/stat after the command name
// (state is [0], ppid [1], starttime [19]).
func procStat(pid int) []string {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil
	}
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(string(data[i+1:]))
}

func cmdline(pid int) string {
	data, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	return strings.TrimSpace(strings.ReplaceAll(string(data), "\x00", " "))
}

func snapshot(t *testing.T, pids []int) []proc {
	t.Helper()
	var out []proc
	for _, pid := range pids {
		if f := procStat(pid); len(f) > 19 {
			out = append(out, proc{pid: pid, start: f[19], cmd: cmdline(pid)})
		}
	}
	return out
}

// alive: the same process (not a reused pid) still exists and is not a zombie.
func (p proc) alive() bool {
	f := procStat(p.pid)
	return len(f) > 19 && f[19] == p.start && f[0] != "Z"
}

func survivors(ps []proc) []proc {
	var out []proc
	for _, p := range ps {
		if p.alive() {
			out = append(out, p)
		}
	}
	return out
}

// withEnv lists live processes whose environment holds the entry kv.
func withEnv(kv string) []proc {
	entries, _ := os.ReadDir("/proc")
	var out []proc
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err != nil || !slices.Contains(strings.Split(string(env), "\x00"), kv) {
			continue
		}
		if f := procStat(pid); len(f) > 19 && f[0] != "Z" {
			out = append(out, proc{pid: pid, start: f[19], cmd: cmdline(pid)})
		}
	}
	return out
}

// killLeftovers kills processes a failed test left behind (ours only).
func killLeftovers(ps []proc) {
	for _, p := range ps {
		if p.alive() {
			_ = syscall.Kill(p.pid, syscall.SIGKILL)
		}
	}
}

// waitGone waits until none of ps is alive, failing the test after d.
func waitGone(t *testing.T, d time.Duration, what string, ps []proc) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		left := survivors(ps)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			killLeftovers(left)
			t.Fatalf("%s: still alive after %v: %+v", what, d, left)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func runners(ps []proc) []proc {
	var out []proc
	for _, p := range ps {
		if f := strings.Fields(p.cmd); len(f) > 1 && f[1] == "runner" {
			out = append(out, p)
		}
	}
	return out
}

func fakeRunner(t *testing.T, sup *ollama.Supervisor) int {
	t.Helper()
	resp, err := http.Get(sup.Addr() + "/runner")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	pid, err := strconv.Atoi(string(body))
	if err != nil {
		t.Fatalf("fake runner: %s (%v)", body, err)
	}
	return pid
}

// checkTree checks the shape of a managed Ollama's tree on Linux: the guard
// first, serve its child, the runners below.
func checkTree(t *testing.T, sup *ollama.Supervisor, serve int, runnerPIDs ...int) []int {
	t.Helper()
	pids := sup.PIDs()
	if len(pids) < 2 || !slices.Contains(pids, serve) {
		t.Fatalf("PIDs() = %v: want the guard and serve %d", pids, serve)
	}
	if f := procStat(serve); len(f) < 2 || f[1] != strconv.Itoa(pids[0]) {
		t.Fatalf("serve %d is not the guard %d's child (stat %v)", serve, pids[0], f)
	}
	if f := procStat(pids[0]); len(f) < 2 || f[1] != strconv.Itoa(os.Getpid()) {
		t.Fatalf("the guard %d is not our child (stat %v)", pids[0], f)
	}
	for _, r := range runnerPIDs {
		if !slices.Contains(pids, r) {
			t.Fatalf("PIDs() = %v misses runner %d", pids, r)
		}
	}
	return pids
}

// TestGuardKillsOrphanedRunnerWhenServeDies: when the server dies, the
// guard kills the runner it orphaned and exits; the supervisor starts a
// fresh tree.
func TestGuardKillsOrphanedRunnerWhenServeDies(t *testing.T) {
	sup, rec := fakeSupervisor(t, "serve")
	runSupervisor(t, sup)
	serve := waitServing(t, sup, 0)
	runner := fakeRunner(t, sup)
	old := snapshot(t, checkTree(t, sup, serve, runner))
	env, err := os.ReadFile("/proc/" + strconv.Itoa(serve) + "/environ")
	if err != nil {
		t.Fatal(err)
	}
	vars := strings.Split(string(env), "\x00")
	if !slices.Contains(vars, "OLLAMA_VULKAN=1") || slices.ContainsFunc(vars, func(kv string) bool { return strings.HasPrefix(kv, "COCOON_OLLAMA_GUARD=") }) {
		t.Errorf("serve's environment: want OLLAMA_VULKAN=1 and no guard marker, got %q", vars)
	}

	if err := syscall.Kill(serve, syscall.SIGKILL); err != nil { // the server only, not its group
		t.Fatal(err)
	}
	waitGone(t, 10*time.Second, "the dead server's tree", old)
	next := waitServing(t, sup, serve)
	checkTree(t, sup, next)
	if r := rec.restarts(); len(r) != 1 || !strings.Contains(r[0]["err"].String(), "signal: killed") {
		t.Errorf("restart records %v: want one, saying the server was killed", r)
	}
}

// TestGuardEndsTreeOnGracefulStop: when Run returns after cancel, no
// process of the tree is left, not even a runner that ignores SIGTERM
// (the fake's runners do).
func TestGuardEndsTreeOnGracefulStop(t *testing.T) {
	for _, mode := range []string{"serve", "serve-stubborn"} {
		t.Run(mode, func(t *testing.T) {
			sup, _ := fakeSupervisor(t, mode)
			stop := runSupervisor(t, sup)
			serve := waitServing(t, sup, 0)
			tree := snapshot(t, checkTree(t, sup, serve, fakeRunner(t, sup), fakeRunner(t, sup)))
			began := time.Now()
			stop()
			if left := survivors(tree); len(left) != 0 {
				killLeftovers(left)
				t.Fatalf("after Run returned: alive %+v", left)
			}
			t.Logf("stopped in %v", time.Since(began).Round(time.Millisecond))
		})
	}
}

// TestGuardRefusesWithoutItsParent: a guard whose parent is not the pid it
// was told starts nothing.
func TestGuardRefusesWithoutItsParent(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "started")
	cmd := exec.Command(os.Args[0], "cocoon-ollama-guard", "/bin/sh", "-c", "touch "+marker)
	cmd.Env = append(os.Environ(), "COCOON_OLLAMA_GUARD=1") // pid 1 is not our parent
	out, err := cmd.CombinedOutput()
	if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 1 {
		t.Fatalf("guard: %v, want exit status 1\n%s", err, out)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("the guard ran its command although its parent was not the expected one")
	}
}

// appHelperEnv runs TestAppKillHelper as a stand-in for the app: its value
// is the Ollama dir to use.
const appHelperEnv = "COCOON_TEST_APP_HELPER"

// TestAppKillHelper is not a test: it is the "app" that
// TestAppSIGKILLLeavesNoOllama starts and kills. It runs a Supervisor,
// makes sure a runner exists, prints the tree's pids and waits to be killed.
func TestAppKillHelper(t *testing.T) {
	dir := os.Getenv(appHelperEnv)
	if dir == "" {
		t.Skip("helper process of TestAppSIGKILLLeavesNoOllama")
	}
	bin := os.Getenv(appHelperEnv + "_BIN")
	sup := ollama.NewSupervisor(bin, dir, slog.New(slog.DiscardHandler))
	go sup.Run(context.Background())
	serve := waitServing(t, sup, 0)
	if os.Getenv(fakeEnv) != "" {
		fakeRunner(t, sup)
	} else {
		u, _ := url.Parse(sup.Addr())
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		num := 4
		err := api.NewClient(u, http.DefaultClient).Generate(ctx, &api.GenerateRequest{
			Model: tiny, Prompt: "hello", Options: map[string]any{"num_predict": num},
		}, func(api.GenerateResponse) error { return nil })
		if err != nil {
			t.Fatalf("generate: %v", err)
		}
	}
	fmt.Printf("COCOON-PIDS %d %s\n", serve, strings.Trim(fmt.Sprint(sup.PIDs()), "[]"))
	time.Sleep(2 * time.Minute) // until killed; bounded should the parent vanish
}

// appKillRound starts TestAppKillHelper, lets it bring up Ollama with a
// runner, SIGKILLs it and waits until nothing it started is left: none of
// the pids it reported, and no process carrying the round's mark in its
// environment (set on the helper, so inherited by everything below it even
// once re-parented).
func appKillRound(t *testing.T, round int, dir, bin string, env ...string) {
	t.Helper()
	mark := fmt.Sprintf("COCOON_TEST_APP_ROUND=%d-%d-%d", os.Getpid(), round, time.Now().UnixNano())
	cmd := exec.Command(os.Args[0], "-test.run=^TestAppKillHelper$", "-test.timeout=3m")
	cmd.Env = append(os.Environ(), append(env, appHelperEnv+"="+dir, appHelperEnv+"_BIN="+bin, mark)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { killLeftovers(withEnv(mark)) }() // whatever happens, leave nothing of ours
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "COCOON-PIDS "); ok {
				line <- rest
			}
		}
		close(line)
	}()
	var fields []string
	select {
	case l, ok := <-line:
		if !ok {
			cmd.Wait()
			t.Fatalf("round %d: helper ended without reporting pids\n%s", round, stderr.String())
		}
		fields = strings.Fields(l)
	case <-time.After(90 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("round %d: helper reported no pids within 90 s\n%s", round, stderr.String())
	}
	var pids []int
	for _, f := range fields {
		pid, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("round %d: bad pid line %q", round, fields)
		}
		pids = append(pids, pid)
	}
	serve, tree := pids[0], snapshot(t, pids[1:])
	if len(tree) < 3 || len(runners(tree)) == 0 || !slices.ContainsFunc(tree, func(p proc) bool { return p.pid == serve }) {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("round %d: want the guard, serve %d and a runner, got %+v", round, serve, tree)
	}
	if marked := withEnv(mark); len(marked) < len(tree)+1 {
		t.Fatalf("round %d: only %d processes carry the mark, want the helper and its %d: %+v", round, len(marked), len(tree), marked)
	}
	up := time.Since(began)

	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	killed := time.Now()
	deadline := killed.Add(20 * time.Second)
	for {
		left := append(survivors(tree), withEnv(mark)...)
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("round %d: 20 s after the app was SIGKILLed, alive: %+v", round, left)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("round %d: up with %d runner(s) in %v, tree of %d gone %v after the kill",
		round, len(runners(tree)), up.Round(time.Millisecond), len(tree), time.Since(killed).Round(time.Millisecond))
}

// TestAppSIGKILLLeavesNoOllama kills the "app" (a helper process running a
// Supervisor on the real Ollama, with a model loaded) with SIGKILL ten
// times; each time every Ollama process it started must end.
func TestAppSIGKILLLeavesNoOllama(t *testing.T) {
	bin := testollama.Binary()
	if bin == "" {
		testollama.Skip(t)
	}
	// One Ollama dir for all rounds, with the tiny model registered once.
	dir := t.TempDir()
	func() {
		sup := ollama.NewSupervisor(bin, dir, slog.New(slog.DiscardHandler))
		stop := runSupervisor(t, sup)
		defer stop()
		waitServing(t, sup, 0)
		gguf := filepath.Join(t.TempDir(), "tiny.gguf")
		if err := tinymodel.WriteFile(gguf, tinymodel.Options{Seed: 7}); err != nil {
			t.Fatal(err)
		}
		u, _ := url.Parse(sup.Addr())
		if err := tinymodel.Register(ctxT(t, time.Minute), api.NewClient(u, http.DefaultClient), tiny, gguf); err != nil {
			t.Fatal(err)
		}
	}()
	for round := 1; round <= 10; round++ {
		appKillRound(t, round, dir, bin)
	}
}

// TestAppSIGKILLLeavesNoFakeOllama is the same with the fake Ollama, so the
// guard is covered where the real one is not available.
func TestAppSIGKILLLeavesNoFakeOllama(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for round := 1; round <= 3; round++ {
		appKillRound(t, round, dir, exe, fakeEnv+"=serve")
	}
}

// TestServeCrashKillsItsRunners SIGKILLs the real `ollama serve` (not its
// process group) while a runner is loaded: the runner must end with it, and
// the supervisor must bring up a fresh server that answers.
func TestServeCrashKillsItsRunners(t *testing.T) {
	rt := startManaged(t, nil)
	registerTiny(t, rt, tiny)
	ctx := ctxT(t, 2*time.Minute)
	job := ollama.Job{Model: tiny, Messages: []ollama.Message{{Role: "user", Content: "hi"}}, MaxTokens: 4}
	if _, err := rt.Chat(ctx, job, nil); err != nil {
		t.Fatal(err)
	}
	sup := rt.Supervisor()
	serve := sup.PID()
	old := snapshot(t, checkTree(t, sup, serve))
	if len(runners(old)) == 0 {
		t.Fatalf("no runner in the tree after a chat: %+v", old)
	}

	if err := syscall.Kill(serve, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitGone(t, 15*time.Second, "the killed server's guard and runners", old)
	var st ollama.Status
	waitFor(t, time.Minute, "a restarted server", func() bool {
		st = rt.Status()
		return st.Reachable && st.PID != 0 && st.PID != serve && st.Restarts >= 1
	})
	if _, err := rt.Chat(ctx, job, nil); err != nil {
		t.Fatalf("chat on the restarted server: %v", err)
	}
	fresh := checkTree(t, sup, st.PID)
	for _, p := range old {
		if slices.Contains(fresh, p.pid) && p.alive() {
			t.Errorf("process %+v of the killed server is in the new tree", p)
		}
	}
}

// TestGracefulStopEndsWholeTree: once Run returns after cancel, the real
// server, its runner and the guard are all gone (reaped, not just dying).
func TestGracefulStopEndsWholeTree(t *testing.T) {
	bin := testollama.Binary()
	if bin == "" {
		testollama.Skip(t)
	}
	rt := ollama.New(ollama.Config{NoAttach: true, Binary: bin, Dir: t.TempDir()})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- rt.Run(ctx) }()
	if err := rt.WaitReady(ctxT(t, time.Minute)); err != nil {
		t.Fatal(err)
	}
	registerTiny(t, rt, tiny)
	if _, err := rt.Chat(ctxT(t, time.Minute), ollama.Job{Model: tiny, Messages: []ollama.Message{{Role: "user", Content: "hi"}}, MaxTokens: 4}, nil); err != nil {
		t.Fatal(err)
	}
	tree := snapshot(t, checkTree(t, rt.Supervisor(), rt.Status().PID))
	if len(runners(tree)) == 0 {
		t.Fatalf("no runner after a chat: %+v", tree)
	}
	began := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run() = %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return")
	}
	if left := survivors(tree); len(left) != 0 {
		killLeftovers(left)
		t.Fatalf("after Run returned: alive %+v", left)
	}
	t.Logf("stopped a tree of %d in %v", len(tree), time.Since(began).Round(time.Millisecond))
}

// TestGuardDropsProgramPages: the guard, this program re-executed, keeps
// resident only the few pages it touches while it waits, not the program's
// pages its start touched: the app alone maps those, and a hidden app can
// page out the ones it does not use.
func TestGuardDropsProgramPages(t *testing.T) {
	sup, _ := fakeSupervisor(t, "serve")
	stop := runSupervisor(t, sup)
	defer stop()
	serve := waitServing(t, sup, 0)
	f := procStat(serve)
	if len(f) < 2 {
		t.Fatalf("no /proc stat for serve %d", serve)
	}
	guard, _ := strconv.Atoi(f[1])
	guardKB, ownKB := rssFileKB(t, guard), rssFileKB(t, os.Getpid())
	t.Logf("file pages resident: guard %d kB, this test process %d kB", guardKB, ownKB)
	if guardKB*4 > ownKB {
		t.Errorf("the guard keeps %d kB of file pages resident, over a quarter of the %d kB this process has", guardKB, ownKB)
	}
}

// rssFileKB is RssFile of /proc/PID/status.
func rssFileKB(t *testing.T, pid int) int {
	t.Helper()
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "RssFile:" {
			kb, err := strconv.Atoi(f[1])
			if err != nil {
				t.Fatal(err)
			}
			return kb
		}
	}
	t.Fatalf("no RssFile in /proc/%d/status", pid)
	return 0
}
