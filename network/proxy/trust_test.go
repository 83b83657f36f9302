package proxy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/cocoon-desktop/cocoon-desktop/network"
	"github.com/cocoon-desktop/cocoon-desktop/network/proxy"
	"github.com/cocoon-desktop/cocoon-desktop/network/proxy/proxytest"
)

// fakeClock is the proxy's clock of holds and UTC days in these tests:
// time moves only when a test says so.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock(t time.Time) *fakeClock { return &fakeClock{t: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// trustStart is a fake clock's start: mid-morning UTC.
var trustStart = time.Date(2030, 1, 2, 10, 0, 0, 0, time.UTC)

const adminKey = "admin-0123456789abcdef"

// startClockProxy is startProxy with the fake clock set before Run.
func startClockProxy(t *testing.T, dir string, clock *fakeClock, mod func(*proxy.Config)) *testProxy {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	cfg := baseConfig(dir)
	cfg.AdminKey = adminKey
	if mod != nil {
		mod(&cfg)
	}
	p, err := proxy.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	proxy.SetClock(p, clock.Now)
	ctx, cancel := context.WithCancel(context.Background())
	tp := &testProxy{Proxy: p, dir: dir, cancel: cancel, errc: make(chan error, 1)}
	go func() { tp.errc <- p.Run(ctx) }()
	t.Cleanup(func() { tp.stop(t) })
	return tp
}

func standingOf(b network.Balance) network.Standing {
	if b.Standing == nil {
		return network.Standing{}
	}
	return *b.Standing
}

// waitStanding waits until the worker's newest balance has a standing for
// which ok holds.
func waitStanding(t *testing.T, w *proxytest.Worker, what string, ok func(s network.Standing) bool) network.Balance {
	t.Helper()
	b, err := w.WaitBalance(waitCtx(t, 10*time.Second), func(b network.Balance) bool { return b.Standing != nil && ok(*b.Standing) })
	if err != nil {
		last, _ := w.Balance()
		t.Fatalf("%s: %v; newest balance %+v, standing %+v", what, err, last, standingOf(last))
	}
	return b
}

// chat sends one chat completion with the test key.
func chat(t *testing.T, tp *testProxy, opts ...option.RequestOption) (*openai.ChatCompletion, error) {
	t.Helper()
	return tp.client().Chat.Completions.New(testCtx(t), chatParams(), opts...)
}

// wantAPIError fails unless err is an API error with that status whose
// code is code (when set) and whose message contains msg.
func wantAPIError(t *testing.T, err error, status int, code, msg string) {
	t.Helper()
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != status || (code != "" && apiErr.Code != code) || !strings.Contains(apiErr.Message, msg) {
		t.Fatalf("error %v, want %d %s with %q", err, status, code, msg)
	}
}

func trustLevel(t *testing.T, tp *testProxy, workerID string) string {
	t.Helper()
	r, _, err := tp.Store().Trust(context.Background(), workerID)
	if err != nil {
		t.Fatal(err)
	}
	if r.Level == "" {
		return network.TrustNew
	}
	return r.Level
}

func workerStatus(t *testing.T, tp *testProxy, workerID string) (proxy.WorkerStatus, proxy.Status) {
	t.Helper()
	st, err := tp.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range st.Workers {
		if w.ID == workerID {
			return w, st
		}
	}
	t.Fatalf("worker %s not in the status", workerID[:16])
	return proxy.WorkerStatus{}, st
}

// TestNewWorkerEarnsTrust: the standing reaches the worker in the balance
// that answers register and in a fresh one at every change; a new worker's
// credits are held until credit time + hold_period; N passed canaries make
// it trusted, after which nothing new is held while the old hold runs to
// its time; all of it survives a restart, and the release is announced.
func TestNewWorkerEarnsTrust(t *testing.T) {
	clock := newFakeClock(trustStart)
	dir := t.TempDir()
	mod := func(c *proxy.Config) { c.Trust.CanariesToTrust = 3; c.Trust.HoldPeriod = time.Hour }
	tp := startClockProxy(t, dir, clock, mod)
	key, id := proxytest.NewKey()
	w := tp.worker(t, proxytest.Options{Key: key})
	waitStanding(t, w, "register", func(s network.Standing) bool {
		return s.Level == network.TrustNew && s.CanariesNeeded == 3 && s.Held == 0 && s.HeldUntil == 0 && strings.Contains(s.Reason, "0 of 3")
	})
	perJob, _ := amount(10, 3)
	if _, err := chat(t, tp); err != nil {
		t.Fatal(err)
	}
	release := trustStart.Add(time.Hour)
	b := waitStanding(t, w, "held after a job", func(s network.Standing) bool { return s.Held == perJob })
	if s := standingOf(b); s.HeldUntil < release.UnixMilli() || s.HeldUntil > release.Add(time.Hour/48).UnixMilli() || b.Cumulative != perJob {
		t.Fatalf("held until %v, cumulative %d; want about %v, %d", time.UnixMilli(s.HeldUntil).UTC(), b.Cumulative, release, perJob)
	}
	for i := int64(1); i <= 3; i++ {
		if err := proxy.NoteCanary(tp.Proxy, id, fmt.Sprint("canary-", i), model, true, "matched 48 of 48 tokens"); err != nil {
			t.Fatal(err)
		}
		want := network.TrustNew
		if i == 3 {
			want = network.TrustTrusted
		}
		waitStanding(t, w, fmt.Sprint("canary ", i), func(s network.Standing) bool {
			return s.CanariesPassed == i && s.Level == want && s.Held == perJob
		})
	}
	// Trusted: the next credit is not held, the first still is.
	if _, err := chat(t, tp); err != nil {
		t.Fatal(err)
	}
	if _, err := w.WaitReceipts(testCtx(t), 2); err != nil {
		t.Fatal(err)
	}
	bal, rec, err := tp.Store().WorkerTrust(context.Background(), id)
	if err != nil || bal.Cumulative != 2*perJob || rec.HeldAt(clock.Now()) != perJob {
		t.Fatalf("after trust: cumulative %d, held %d, %v; want %d, %d", bal.Cumulative, rec.HeldAt(clock.Now()), err, 2*perJob, perJob)
	}

	tp.stop(t)
	tp = startClockProxy(t, dir, clock, mod)
	w = tp.worker(t, proxytest.Options{Key: key})
	waitStanding(t, w, "after a restart", func(s network.Standing) bool {
		return s.Level == network.TrustTrusted && s.CanariesPassed == 3 && s.Held == perJob
	})
	clock.Advance(time.Hour + time.Hour/48)
	proxy.TrustTick(tp.Proxy)
	waitStanding(t, w, "after the release", func(s network.Standing) bool { return s.Held == 0 && s.HeldUntil == 0 })
}

// TestVouchedWorker: a worker on the operator's trusted_workers list is
// trusted from the start: nothing held, no daily cap.
func TestVouchedWorker(t *testing.T) {
	clock := newFakeClock(trustStart)
	key, id := proxytest.NewKey()
	tp := startClockProxy(t, "", clock, func(c *proxy.Config) {
		c.Trust.HoldPeriod, c.Trust.NewDailyCap, c.Trust.TrustedWorkers = time.Hour, 1, []string{strings.ToUpper(id)}
	})
	w := tp.worker(t, proxytest.Options{Key: key})
	waitStanding(t, w, "register", func(s network.Standing) bool { return s.Level == network.TrustTrusted && s.DailyCap == 0 })
	for i := 0; i < 2; i++ { // a new worker would be over its cap of 1 nanoTON after the first
		if _, err := chat(t, tp); err != nil {
			t.Fatal(err)
		}
	}
	if _, rec, err := tp.Store().WorkerTrust(context.Background(), id); err != nil || rec.HeldAt(clock.Now()) != 0 || rec.EarnedToday != 0 {
		t.Fatalf("vouched worker's record %+v %v", rec, err)
	}
	if ws, _ := workerStatus(t, tp, id); ws.Trust == nil || !ws.Trust.Vouched || ws.Trust.Level != network.TrustTrusted {
		t.Fatalf("status trust %+v", ws.Trust)
	}
}

// TestQuarantine drives the hooks as the metering and canary parts call
// them and checks the level after each report: K = 3 failure points within
// the window quarantine (a failed canary or a strike 1, an over-claim ½,
// a disagreement within the tolerance nothing, a pass washes nothing out,
// failures older than the window no longer count). A quarantined worker
// gets no client job nor canary, its whole unpaid balance is held, the
// standing and the admin status carry the evidence, and everything —
// counters included — survives a restart.
func TestQuarantine(t *testing.T) {
	const (
		N = network.TrustNew
		Q = network.TrustQuarantined
	)
	tests := []struct {
		name   string
		ops    []string // canary (failed), pass, strike, over (a claim over the tolerance), harmless, wait (61 min)
		levels []string // after each op
	}{
		{name: "three failed canaries", ops: []string{"canary", "canary", "canary"}, levels: []string{N, N, Q}},
		{name: "three strikes", ops: []string{"strike", "strike", "strike"}, levels: []string{N, N, Q}},
		{name: "a canary, a strike and two over-claims", ops: []string{"canary", "strike", "over", "over"}, levels: []string{N, N, N, Q}},
		{name: "over-claims count half", ops: []string{"over", "over", "over", "over", "over", "over"}, levels: []string{N, N, N, N, N, Q}},
		{name: "passes wash nothing out", ops: []string{"canary", "pass", "pass", "strike", "pass", "canary"}, levels: []string{N, N, N, N, N, Q}},
		{name: "failures age out of the window", ops: []string{"canary", "canary", "wait", "canary", "strike", "strike"}, levels: []string{N, N, N, N, N, Q}},
		{name: "harmless disagreements never count", ops: append(strings.Fields(strings.Repeat("harmless ", 70)), "canary", "canary"),
			levels: append(strings.Fields(strings.Repeat("new ", 70)), N, N)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock(trustStart)
			dir := t.TempDir()
			mod := func(c *proxy.Config) { c.Trust.QuarantineAfter, c.Trust.FailureWindow = 3, time.Hour }
			tp := startClockProxy(t, dir, clock, mod)
			key, id := proxytest.NewKey()
			w := tp.worker(t, proxytest.Options{Key: key})
			if _, err := chat(t, tp); err != nil {
				t.Fatal(err)
			}
			perJob, _ := amount(10, 3)
			var want [4]int64 // disagreements, strikes, passed, failed
			for i, op := range tt.ops {
				job := fmt.Sprint("job-", i)
				var err error
				switch op {
				case "canary":
					want[3]++
					err = proxy.NoteCanary(tp.Proxy, id, job, model, false, "diverged at token 3 of 48, margin 2.1")
				case "pass":
					want[2]++
					err = proxy.NoteCanary(tp.Proxy, id, job, model, true, "matched 48 of 48 tokens")
				case "strike":
					want[1]++
					err = proxy.Strike(tp.Proxy, id, job, "stream over 4 MiB for max_tokens 1")
				case "over":
					want[0]++
					err = proxy.NoteMetering(tp.Proxy, id, job, "prompt", 1_000_000_000_000, 2, 6)
				case "harmless":
					want[0]++
					err = proxy.NoteMetering(tp.Proxy, id, job, "completion", 47, 48, 47)
				case "wait":
					clock.Advance(61 * time.Minute)
				}
				if err != nil {
					t.Fatal(err)
				}
				if got := trustLevel(t, tp, id); got != tt.levels[i] {
					t.Fatalf("after op %d (%s): level %s, want %s", i, op, got, tt.levels[i])
				}
			}
			counts := func(tp *testProxy) [4]int64 {
				d, s, p, f := proxy.TrustCounts(tp.Proxy, id)
				return [4]int64{d, s, p, f}
			}
			if got := counts(tp); got != want {
				t.Fatalf("counts (disagreements, strikes, passed, failed) %v, want %v", got, want)
			}
			final := tt.levels[len(tt.levels)-1]
			// The standing's reason quotes the last failure's evidence.
			lastWords := map[string]string{"canary": "failed a check job (tiny: diverged at token 3 of 48", "strike": "strike (stream over 4 MiB",
				"over": "claimed more tokens than it produced (prompt tokens: claimed 1000000000000, counted 2, billed 6)"}[tt.ops[len(tt.ops)-1]]
			check := func(tp *testProxy, w *proxytest.Worker) {
				t.Helper()
				jobs := len(w.Jobs())
				_, err := chat(t, tp)
				if final != Q {
					if err != nil {
						t.Fatalf("a %s worker got no job: %v", final, err)
					}
					return
				}
				wantAPIError(t, err, http.StatusServiceUnavailable, "no_worker_available", "no worker")
				if len(w.Jobs()) != jobs {
					t.Fatal("the quarantined worker got a job")
				}
				if proxy.CanaryAllowed(tp.Proxy, id) {
					t.Error("a canary may go to the quarantined worker")
				}
				waitStanding(t, w, "quarantined", func(s network.Standing) bool {
					return s.Level == Q && s.Held == perJob && s.HeldUntil == 0 && strings.HasPrefix(s.Reason, lastWords)
				})
				ws, st := workerStatus(t, tp, id)
				if ws.Trust == nil || ws.Trust.Level != Q || ws.Trust.Held != perJob || len(ws.Trust.Evidence) == 0 {
					t.Fatalf("status trust %+v", ws.Trust)
				}
				if len(st.Quarantined) != 1 || st.Quarantined[0].WorkerID != id {
					t.Fatalf("status quarantined %+v", st.Quarantined)
				}
				if ev := ws.Trust.Evidence[len(ws.Trust.Evidence)-1]; ev.Kind != proxy.EventQuarantined {
					t.Errorf("last evidence %+v", ev)
				}
			}
			check(tp, w)
			tp.stop(t)
			tp = startClockProxy(t, dir, clock, mod)
			if got := counts(tp); got != want {
				t.Fatalf("after a restart: counts %v, want %v", got, want)
			}
			check(tp, tp.worker(t, proxytest.Options{Key: key}))
		})
	}
}

// TestQuarantineRelease: of two workers, the quarantined one gets no job
// (all go to the other), also after a restart; only the admin key lifts
// the quarantine (POST /v1/admin/trust/release; loopback is not enough);
// then the worker gets jobs and a fresh standing again.
func TestQuarantineRelease(t *testing.T) {
	clock := newFakeClock(trustStart)
	dir := t.TempDir()
	tp := startClockProxy(t, dir, clock, nil)
	keyA, idA := proxytest.NewKey()
	keyB, idB := proxytest.NewKey()
	a := tp.worker(t, proxytest.Options{Key: keyA})
	tp.worker(t, proxytest.Options{Key: keyB})
	for i := 0; i < 3; i++ {
		if err := proxy.Strike(tp.Proxy, idA, fmt.Sprint("job-", i), "oversized stream"); err != nil {
			t.Fatal(err)
		}
	}
	waitStanding(t, a, "quarantined", func(s network.Standing) bool { return s.Level == network.TrustQuarantined })
	serve := func(tp *testProxy, n int, a *proxytest.Worker) {
		t.Helper()
		before := len(a.Jobs())
		for i := 0; i < n; i++ {
			if _, err := chat(t, tp); err != nil {
				t.Fatal(err)
			}
		}
		if len(a.Jobs()) != before {
			t.Fatalf("the quarantined worker got %d jobs", len(a.Jobs())-before)
		}
	}
	serve(tp, 4, a)
	tp.stop(t)
	tp = startClockProxy(t, dir, clock, nil)
	a = tp.worker(t, proxytest.Options{Key: keyA})
	b := tp.worker(t, proxytest.Options{Key: keyB})
	serve(tp, 4, a)

	post := func(key, body string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, tp.url(proxy.TrustReleasePath), bytes.NewBufferString(body))
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			var ts proxy.TrustStatus
			if err := json.NewDecoder(resp.Body).Decode(&ts); err != nil || ts.WorkerID != idA || ts.Level != network.TrustNew || ts.Releases != 1 {
				t.Errorf("release answered %+v %v", ts, err)
			}
		}
		return resp.StatusCode
	}
	body := func(id string) string { return `{"worker_id":"` + id + `"}` }
	for _, c := range []struct {
		name, key, body string
		status          int
	}{
		{"no key (loopback is not enough)", "", body(idA), http.StatusUnauthorized},
		{"an API key", testKey, body(idA), http.StatusUnauthorized},
		{"not a worker id", adminKey, body("abc"), http.StatusBadRequest},
		{"not JSON", adminKey, "worker", http.StatusBadRequest},
		{"a worker not quarantined", adminKey, body(idB), http.StatusConflict},
		{"the quarantined worker", adminKey, body(idA), http.StatusOK},
		{"again", adminKey, body(idA), http.StatusConflict},
	} {
		if got := post(c.key, c.body); got != c.status {
			t.Fatalf("%s: status %d, want %d", c.name, got, c.status)
		}
	}
	waitStanding(t, a, "released", func(s network.Standing) bool { return s.Level == network.TrustNew && s.Held == 0 })
	if err := b.SetAvailability(testCtx(t), network.Paused); err != nil {
		t.Fatal(err)
	}
	if _, err := chat(t, tp); err != nil {
		t.Fatalf("the released worker got no job: %v", err)
	}
	if len(a.Jobs()) != 1 {
		t.Fatalf("released worker jobs %d", len(a.Jobs()))
	}
	ws, st := workerStatus(t, tp, idA)
	if len(st.Quarantined) != 0 || ws.Trust.Releases != 1 || ws.Trust.FailurePoints != 0 || ws.Trust.Evidence[len(ws.Trust.Evidence)-1].Kind != proxy.EventReleased {
		t.Fatalf("status after release: %+v, quarantined %+v", ws.Trust, st.Quarantined)
	}
	// Failures before the release no longer count: one more strike is one point.
	clock.Advance(time.Second)
	if err := proxy.Strike(tp.Proxy, idA, "job-x", "oversized stream"); err != nil {
		t.Fatal(err)
	}
	if ws, _ := workerStatus(t, tp, idA); ws.Trust.Level != network.TrustNew || ws.Trust.FailurePoints != 1 {
		t.Fatalf("one strike after the release: %+v", ws.Trust)
	}
}

// TestDailyCap: a new worker that earned new_daily_cap today gets no
// client jobs (canaries still may go to it) until 00:00 UTC, across a
// restart; the standing shows the cap and today's earnings.
func TestDailyCap(t *testing.T) {
	clock := newFakeClock(time.Date(2030, 1, 2, 22, 0, 0, 0, time.UTC))
	dir := t.TempDir()
	perJob, _ := amount(10, 3)
	mod := func(c *proxy.Config) { c.Trust.NewDailyCap = 2*perJob - 1 }
	tp := startClockProxy(t, dir, clock, mod)
	key, id := proxytest.NewKey()
	w := tp.worker(t, proxytest.Options{Key: key})
	for i := 0; i < 2; i++ {
		if _, err := chat(t, tp); err != nil {
			t.Fatalf("job %d under the cap: %v", i, err)
		}
	}
	waitStanding(t, w, "capped", func(s network.Standing) bool {
		return s.DailyCap == 2*perJob-1 && s.EarnedToday == 2*perJob && strings.Contains(s.Reason, "cap")
	})
	capped := func(tp *testProxy, w *proxytest.Worker) {
		t.Helper()
		jobs := len(w.Jobs())
		_, err := chat(t, tp)
		wantAPIError(t, err, http.StatusServiceUnavailable, "no_worker_available", "no worker")
		if len(w.Jobs()) != jobs {
			t.Fatal("a capped worker got a client job")
		}
		if !proxy.CanaryAllowed(tp.Proxy, id) {
			t.Error("no canary may go to the capped worker")
		}
	}
	capped(tp, w)
	tp.stop(t)
	tp = startClockProxy(t, dir, clock, mod)
	w = tp.worker(t, proxytest.Options{Key: key})
	capped(tp, w)
	clock.Advance(2 * time.Hour) // 00:00 UTC
	proxy.TrustTick(tp.Proxy)
	waitStanding(t, w, "a new day", func(s network.Standing) bool { return s.EarnedToday == 0 })
	if _, err := chat(t, tp); err != nil {
		t.Fatalf("the next day: %v", err)
	}
}

// TestCoefficientCap: a registration above the operator's maximum is
// priced at the maximum and the worker is told why; at or below it is
// priced as asked, without a word.
func TestCoefficientCap(t *testing.T) {
	tests := []struct {
		name        string
		asked, want int64
	}{
		{"below", 1500, 1500},
		{"at the maximum", 2000, 2000},
		{"far above", 100_000, 2000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tp := startProxy(t, "", func(c *proxy.Config) { c.Trust.MaxCoefficientMilli = 2000 })
			w := tp.worker(t, proxytest.Options{CoefficientMilli: tt.asked})
			if _, err := chat(t, tp); err != nil {
				t.Fatal(err)
			}
			rs := checkReceipts(t, tp, w, 1)
			if r := rs[0].Receipt; r.CoefficientMilli != tt.want {
				t.Errorf("receipt at coefficient %d, want %d", r.CoefficientMilli, tt.want)
			}
			if ws, _ := workerStatus(t, tp, w.ID()); ws.CoefficientMilli != tt.want {
				t.Errorf("status coefficient %d", ws.CoefficientMilli)
			}
			told := false
			for _, e := range w.Errors() {
				told = told || strings.Contains(e.Message, "maximum of 2000")
			}
			if told != (tt.asked != tt.want) {
				t.Errorf("errors %+v; told %v", w.Errors(), told)
			}
		})
	}
}

// gatedScript holds every job whose last message is "hold" until gate
// closes; the others take a few milliseconds, so that the worker's average
// job time, and so its load while it holds a job, is not 0.
func gatedScript(gate <-chan struct{}) proxytest.Script {
	return func(j network.Job) proxytest.Behavior {
		if j.Messages[len(j.Messages)-1].Content == "hold" {
			return proxytest.Behavior{Gate: gate}
		}
		return proxytest.Behavior{DeltaDelay: 3 * time.Millisecond}
	}
}

// holdJob starts a request held on a gated worker and returns when the
// worker has it; the returned func waits for its answer.
func holdJob(t *testing.T, tp *testProxy, w *proxytest.Worker) func() {
	t.Helper()
	n := len(w.Jobs())
	done := make(chan error, 1)
	go func() {
		params := chatParams()
		params.Messages = []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hold")}
		_, err := tp.client().Chat.Completions.New(context.Background(), params)
		done <- err
	}()
	if _, err := w.WaitJobs(testCtx(t), n+1); err != nil {
		t.Fatal(err)
	}
	return func() {
		t.Helper()
		if err := <-done; err != nil {
			t.Errorf("held request: %v", err)
		}
	}
}

// TestCheaperWorkerFirst: at equal load the cheaper worker gets the job
// (though the dearer one connected first); at unequal load the less
// loaded one does.
func TestCheaperWorkerFirst(t *testing.T) {
	tp := startProxy(t, "", nil)
	gate := make(chan struct{})
	dear := tp.worker(t, proxytest.Options{CoefficientMilli: 2000})
	cheap := tp.worker(t, proxytest.Options{CoefficientMilli: 1000, Script: gatedScript(gate)})
	for i := 0; i < 5; i++ {
		if _, err := chat(t, tp); err != nil {
			t.Fatal(err)
		}
	}
	if len(cheap.Jobs()) != 5 || len(dear.Jobs()) != 0 {
		t.Fatalf("jobs: cheap %d, dear %d; want 5, 0", len(cheap.Jobs()), len(dear.Jobs()))
	}
	wait := holdJob(t, tp, cheap)
	if _, err := chat(t, tp); err != nil {
		t.Fatal(err)
	}
	close(gate)
	wait()
	if len(dear.Jobs()) != 1 {
		t.Fatalf("with the cheap worker busy, the dear one got %d jobs", len(dear.Jobs()))
	}
}

// TestClientPriceCap: a request capped by the header or the body field
// (the lower of both) only goes to workers at or below the cap, even when
// a dearer one is less loaded; when none qualifies the 503 names the cap;
// a bad cap is a 400. Real OpenAI client, both ways of passing it.
func TestClientPriceCap(t *testing.T) {
	tp := startProxy(t, "", nil)
	gate := make(chan struct{})
	cheap := tp.worker(t, proxytest.Options{CoefficientMilli: 1000, MaxConcurrent: 4, Script: gatedScript(gate)})
	dear := tp.worker(t, proxytest.Options{CoefficientMilli: 3000})
	wait := holdJob(t, tp, cheap) // the cheap worker is busier from now on
	defer func() {
		close(gate)
		wait()
	}()
	header := func(v string) option.RequestOption { return option.WithHeader(proxy.PriceCapHeader, v) }
	field := func(v int64) option.RequestOption { return option.WithJSONSet(proxy.PriceCapField, v) }
	tests := []struct {
		name   string
		opts   []option.RequestOption
		served *proxytest.Worker // nil: an error
		status int
		msg    string
	}{
		{name: "no cap: the less loaded, dearer worker", served: dear},
		{name: "header 1500", opts: []option.RequestOption{header("1500")}, served: cheap},
		{name: "body field 1500", opts: []option.RequestOption{field(1500)}, served: cheap},
		{name: "header 3000, field 1000: the lower", opts: []option.RequestOption{header("3000"), field(1000)}, served: cheap},
		{name: "cap 3000: both qualify, the less loaded", opts: []option.RequestOption{header("3000")}, served: dear},
		{name: "cap 999: none qualifies", opts: []option.RequestOption{header("999")}, status: http.StatusServiceUnavailable, msg: "max_coefficient_milli 999"},
		{name: "header not a number", opts: []option.RequestOption{header("1.5")}, status: http.StatusBadRequest, msg: proxy.PriceCapHeader},
		{name: "header zero", opts: []option.RequestOption{header("0")}, status: http.StatusBadRequest, msg: proxy.PriceCapHeader},
		{name: "field over the protocol", opts: []option.RequestOption{field(100_001)}, status: http.StatusBadRequest, msg: proxy.PriceCapField},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nc, nd := len(cheap.Jobs()), len(dear.Jobs())
			_, err := chat(t, tp, tt.opts...)
			if tt.served == nil {
				wantAPIError(t, err, tt.status, "", tt.msg)
				if len(cheap.Jobs()) != nc || len(dear.Jobs()) != nd {
					t.Fatal("a refused request reached a worker")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			gotCheap, gotDear := len(cheap.Jobs())-nc, len(dear.Jobs())-nd
			if (tt.served == cheap) != (gotCheap == 1 && gotDear == 0) || (tt.served == dear) != (gotDear == 1 && gotCheap == 0) {
				t.Fatalf("served by cheap %d, dear %d", gotCheap, gotDear)
			}
		})
	}
}
