//go:build linux

package crashtest

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/internal/testollama"
	"github.com/cocoon-desktop/cocoon-desktop/network/proxy"
)

// TestCrashSafety is the short round of the harness: 3 worker kills, 3
// proxy kills, 2 Ollama kills under a stream of jobs; every side's money
// must agree afterwards (`make crash` runs the full 20/20/10).
// COCOON_CRASH_SEED replays a run's order, victims and moments.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the proxy, two workers and their Ollama as processes for about 30 s")
	}
	bin := testollama.Binary()
	if bin == "" {
		testollama.Skip(t)
	}
	seed, _ := strconv.ParseUint(os.Getenv("COCOON_CRASH_SEED"), 10, 64)
	// Only for a hang: each step has its own bound too.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	rep, err := Run(ctx, Config{WorkerKills: 3, ProxyKills: 3, OllamaKills: 2, Seed: seed, Ollama: bin, Dir: t.TempDir(), Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", rep.Markdown(Machine(), "(test)"))
	if err := rep.Err(); err != nil {
		t.Fatalf("seed %d: %v", rep.Config.Seed, err)
	}
	if rep.Client.Answered == 0 || rep.Proxy.Jobs == 0 {
		t.Fatalf("the run served nothing: %+v %+v", rep.Client, rep.Proxy)
	}
}

func TestParseTON(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0.000014900", 14_900, true},
		{"12.000000345", 12_000_000_345, true},
		{"0.000000000", 0, true},
		{"1.5", 0, false},
		{"abc", 0, false},
		{"-1.000000000", 0, false},
	} {
		got, err := parseTON(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseTON(%q) = %d, %v; want %d, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestReplaceSection(t *testing.T) {
	const sec = SectionTitle + "\n\nnew\n"
	for _, tc := range []struct{ name, doc, want string }{
		{"appended", "# B\n\n## A\n\na\n", "# B\n\n## A\n\na\n\n" + sec},
		{"before the GPU section", "# B\n\n## A\n\na\n\n## On a real GPU\n\ng\n", "# B\n\n## A\n\na\n\n" + sec + "\n## On a real GPU\n\ng\n"},
		{"replaced in place", "# B\n\n" + SectionTitle + "\n\nold\n\n## Z\n\nz\n", "# B\n\n" + sec + "\n## Z\n\nz\n"},
		{"replaced at the end", "# B\n\n" + SectionTitle + "\n\nold\n", "# B\n\n" + sec},
	} {
		if got := ReplaceSection(tc.doc, sec); got != tc.want {
			t.Errorf("%s:\n%q\nwant\n%q", tc.name, got, tc.want)
		}
	}
}

func TestWorkersText(t *testing.T) {
	since := time.Date(2026, 12, 3, 11, 40, 5, 0, time.UTC)
	cases := []struct {
		name string
		st   *proxy.Status
		want []string
	}{
		{"none read", nil, []string{"(none read)"}},
		{"one worker", &proxy.Status{JobsRunning: 1, Workers: []proxy.WorkerStatus{{
			ID: "0123456789abcdef", State: "accepting", Registered: true, Running: 1, MaxConcurrent: 2, AvgJobMS: 40, JobsDone: 7,
			ConnectedSince: since, Trust: &proxy.TrustStatus{Level: "probation", CanariesNeeded: 3, QuarantineAt: 5},
		}}}, []string{"jobs running 1", "01234567 state accepting", "running 1/2 avg 40 ms jobs 7 since 11:40:05.000",
			"trust probation, canaries 0 passed 0 failed 3 needed"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := workersText(c.st)
			for _, w := range c.want {
				if !strings.Contains(got, w) {
					t.Errorf("workersText lacks %q:\n%s", w, got)
				}
			}
		})
	}
}
