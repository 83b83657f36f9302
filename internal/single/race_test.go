package single

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
)

// helperEnv makes the test binary a launch of its own (see TestMain-free
// helper below): it calls Acquire on the dir, prints RUNNING or ALREADY,
// and, when it runs, serves until its stdin closes.
const helperEnv = "SINGLE_TEST_LAUNCH_DIR"

func TestLaunchHelper(t *testing.T) {
	dir := os.Getenv(helperEnv)
	if dir == "" {
		t.Skip("helper process for TestSimultaneousLaunches")
	}
	release, err := Acquire(dir, func() {})
	switch {
	case err == nil:
		fmt.Println("RUNNING")
		_, _ = io.Copy(io.Discard, os.Stdin) // until the parent says stop
		release()
	case err == ErrAlreadyRunning:
		fmt.Println("ALREADY")
	default:
		fmt.Println("ERROR", err)
	}
}

// TestSimultaneousLaunches starts 20 launches of a separate process at the
// same moment, several rounds, each over the files a killed instance left:
// exactly one runs each time and the others reach it. (The old check — try
// the socket, else remove it and listen — let two run, the second deleting
// the first one's live socket.)
func TestSimultaneousLaunches(t *testing.T) {
	both(t, func(t *testing.T) {
		dir := t.TempDir()
		for round := range 3 {
			const n = 20
			type launch struct {
				cmd   *exec.Cmd
				stdin io.WriteCloser
				out   string
			}
			ls := make([]*launch, n)
			var wg sync.WaitGroup
			for i := range ls {
				cmd := exec.Command(os.Args[0], "-test.run=^TestLaunchHelper$")
				cmd.Env = append(os.Environ(), helperEnv+"="+dir)
				if useTCP {
					cmd.Env = append(cmd.Env, "SINGLE_TEST_TCP=1")
				}
				stdin, _ := cmd.StdinPipe()
				stdout, _ := cmd.StdoutPipe()
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				l := &launch{cmd: cmd, stdin: stdin}
				ls[i] = l
				wg.Add(1)
				go func() {
					defer wg.Done()
					line, _ := bufio.NewReader(stdout).ReadString('\n')
					l.out = strings.TrimSpace(line)
				}()
			}
			wg.Wait() // every launch has decided
			running, already := 0, 0
			for _, l := range ls {
				switch l.out {
				case "RUNNING":
					running++
				case "ALREADY":
					already++
				default:
					t.Errorf("round %d: a launch said %q", round, l.out)
				}
			}
			if running != 1 || already != n-1 {
				t.Fatalf("round %d: %d running, %d told another runs; want exactly 1 and %d", round, running, already, n-1)
			}
			// The winner is reachable: a later launch activates it.
			if _, err := Acquire(dir, nil); err != ErrAlreadyRunning {
				t.Fatalf("round %d: a later Acquire = %v", round, err)
			}
			// Kill the winner: its lock goes with it, its files stay (stale).
			for _, l := range ls {
				if l.out == "RUNNING" {
					_ = l.cmd.Process.Kill()
				}
				l.stdin.Close()
				_ = l.cmd.Wait()
			}
		}
	})
}

func init() {
	if os.Getenv("SINGLE_TEST_TCP") == "1" {
		useTCP = true
	}
}
