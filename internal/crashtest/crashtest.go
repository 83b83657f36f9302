//go:build linux

// Package crashtest is the crash-safety harness: the real proxy
// (cocoon-proxy) and headless workers (cocoon-desktop --headless, each with
// its managed Ollama) as separate processes, a stream of OpenAI-client jobs
// through them, and SIGKILLs of a worker, the proxy and a worker's
// `ollama serve` at random moments, each restarted. Afterwards every side's
// money must agree to the nanoTON, every ledger must verify, no job may be
// credited twice and no process of the run may be left; it reports how long
// each kind of crash took to recover from.
//
// TestCrashSafety runs a short round in `make test`; `make crash`
// (cmd/cocoon-crash) runs the full one and writes its figures to
// docs/BENCHMARKS.md.
package crashtest

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/earnings"
	"github.com/cocoon-desktop/cocoon-desktop/network"
	"github.com/cocoon-desktop/cocoon-desktop/network/proxy"
)

// The network the harness runs: one model at the local network's prices.
const (
	model           = "cocoon-tiny"
	pricePrompt     = 100 // nanoTON per token
	priceCompletion = 400
	apiKey          = "sk-crash-harness-0123456789"
	// adminKey reads the proxy's /v1/status (it always needs the admin key).
	adminKey = "admin-crash-harness-0123456789"
)

// Bounds: only for a hang, never a timed assertion.
const (
	startBound   = 3 * time.Minute  // a worker from its start to serving (builds its Ollama, seeds the model)
	recoverBound = 3 * time.Minute  // any crash to serving again
	treeBound    = 20 * time.Second // a killed worker's or server's processes to be gone (the guard gives Ollama 5 s)
	settleBound  = 90 * time.Second // the end: running jobs finish, receipts reach the ledgers
	stopBound    = 30 * time.Second // a clean stop
)

// Kind is what a kill hits.
type Kind string

// The kinds of kill.
const (
	KillWorker Kind = "worker" // the worker process (cocoon-desktop --headless), restarted at once
	KillProxy  Kind = "proxy"  // the proxy process, restarted at once on the same config and store
	KillOllama Kind = "ollama" // a worker's managed `ollama serve`; the worker restarts it itself
)

// Kinds in report order.
var Kinds = []Kind{KillWorker, KillProxy, KillOllama}

// Config sizes a run.
type Config struct {
	WorkerKills, ProxyKills, OllamaKills int
	Workers                              int    // headless workers; default 2
	Clients                              int    // concurrent client goroutines; default 3
	Seed                                 uint64 // picks the order, the victims, the moments and the requests; 0: from the clock
	Ollama                               string // the ollama binary the workers run (COCOON_OLLAMA)
	// Dir is where binaries, data dirs and logs go; empty: a new temporary
	// directory, removed at the end unless Keep.
	Dir  string
	Keep bool
	// Logf receives progress lines; nil: none.
	Logf func(format string, args ...any)
}

// Recovery is one kill and how long the network took to serve again.
type Recovery struct {
	Kind   Kind
	Target string    // "w1", "w2", … or "proxy"
	At     time.Time // the kill
	// Back: from the restart (for Ollama: the kill) until the worker is
	// connected and accepting at the proxy again (for the proxy: every
	// worker; for Ollama: until a new `ollama serve` runs).
	Back time.Duration
	// Serving: from the same moment until the proxy's /v1/status shows a
	// job finished by that worker on its new connection (for the proxy:
	// by every worker; for Ollama: after its new server appeared).
	Serving time.Duration
}

// Report is a run's figures and every disagreement found.
type Report struct {
	Config     Config
	Started    time.Time
	Wall       time.Duration
	Recoveries []Recovery
	Client     ClientTotals
	Proxy      ProxyTotals
	Workers    []WorkerTotals
	Leftovers  int // processes of the run left after the end, or after a kill past treeBound
	Problems   []string
}

// Err is nil when the run found nothing wrong.
func (r *Report) Err() error {
	if len(r.Problems) == 0 {
		return nil
	}
	return fmt.Errorf("crash test: %d problem(s):\n  %s", len(r.Problems), strings.Join(r.Problems, "\n  "))
}

func (r *Report) problem(format string, args ...any) {
	r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
}

type harness struct {
	cfg  Config
	rep  *Report
	dir  string
	logf func(string, ...any)
	wg   sync.WaitGroup // every child's owner goroutine

	app, proxyBin string // the built binaries
	proxyConfig   string
	proxyData     string
	apiAddr       string
	workerAddr    string
	proxyKey      string // hex
	proxy         *proc
	workers       []*workerProc
	http          *http.Client
}

// workerProc is one worker data dir and its current process.
type workerProc struct {
	name    string
	dataDir string
	id      string // worker id (hex of its key), known after its first start
	p       *proc
	starts  int
	out     procLog

	jobs []earnings.Job // its ledger, read once it has stopped

	mu       sync.Mutex
	earned   int64 // from its latest "network connected" status line
	receipts int64
}

var statusRE = regexp.MustCompile(`network connected · \d+ jobs · earned (\d+) nanoTON \((\d+) receipts\)`)

func (w *workerProc) line(s string) {
	w.out.add(s)
	if m := statusRE.FindStringSubmatch(s); m != nil {
		e, _ := strconv.ParseInt(m[1], 10, 64)
		r, _ := strconv.ParseInt(m[2], 10, 64)
		w.mu.Lock()
		w.earned, w.receipts = e, r
		w.mu.Unlock()
	}
}

func (w *workerProc) ledgerView() (earned, receipts int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.earned, w.receipts
}

// Run runs the harness. The error is for a run that could not be set up;
// what the run found is in the report (Report.Err).
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Workers <= 0 {
		cfg.Workers = 2
	}
	if cfg.Clients <= 0 {
		cfg.Clients = 3
	}
	if cfg.Seed == 0 {
		cfg.Seed = uint64(time.Now().UnixNano())
	}
	if cfg.Ollama == "" {
		return nil, errors.New("crash test: no Ollama binary (set COCOON_OLLAMA)")
	}
	h := &harness{cfg: cfg, rep: &Report{Config: cfg, Started: time.Now()}, logf: cfg.Logf,
		http: &http.Client{Timeout: 5 * time.Second}}
	h.rep.Config.Logf = nil
	if h.logf == nil {
		h.logf = func(string, ...any) {}
	}
	h.dir = cfg.Dir
	if h.dir == "" {
		d, err := os.MkdirTemp("", "cocoon-crash-")
		if err != nil {
			return nil, fmt.Errorf("crash test: %w", err)
		}
		h.dir = d
		if !cfg.Keep {
			defer os.RemoveAll(d)
		}
	}
	h.logf("crash test in %s, seed %d", h.dir, cfg.Seed)
	defer h.teardown()
	if err := h.setup(ctx); err != nil {
		return h.rep, err
	}
	h.run(ctx)
	h.rep.Wall = time.Since(h.rep.Started)
	return h.rep, nil
}

// teardown kills whatever still runs (a run cut short) and waits for every
// child's owner goroutine.
func (h *harness) teardown() {
	for _, w := range h.workers {
		if w.p != nil && !w.p.exited() {
			_ = w.p.stop(syscall.SIGINT, stopBound)
		}
	}
	if h.proxy != nil && !h.proxy.exited() {
		_ = h.proxy.stop(syscall.SIGTERM, stopBound)
	}
	h.wg.Wait()
}

func (h *harness) setup(ctx context.Context) error {
	bin := filepath.Join(h.dir, "bin")
	if err := build(ctx, bin); err != nil {
		return err
	}
	h.app, h.proxyBin = filepath.Join(bin, "cocoon-desktop"), filepath.Join(bin, "cocoon-proxy")
	// Fixed ports, so that a restarted proxy is where the workers and clients look.
	apiAddr, err := freeAddr()
	if err != nil {
		return err
	}
	workerAddr, err := freeAddr()
	if err != nil {
		return err
	}
	h.apiAddr, h.workerAddr = apiAddr, workerAddr
	pdir := filepath.Join(h.dir, "proxy")
	h.proxyData = filepath.Join(pdir, "data")
	h.proxyConfig = filepath.Join(pdir, "proxy.json")
	if err := os.MkdirAll(pdir, 0o700); err != nil {
		return fmt.Errorf("crash test: %w", err)
	}
	conf := map[string]any{
		"api_addr": apiAddr, "worker_addr": workerAddr, "data_dir": h.proxyData,
		"models":    map[string]proxy.ModelPrice{model: {PricePrompt: pricePrompt, PriceCompletion: priceCompletion}},
		"api_keys":  []proxy.APIKey{{Key: apiKey, Name: "crash"}},
		"admin_key": adminKey,
		// A dead connection is noticed within 3 s.
		"heartbeat": "1s",
	}
	b, _ := json.MarshalIndent(conf, "", "  ")
	if err := os.WriteFile(h.proxyConfig, b, 0o600); err != nil {
		return fmt.Errorf("crash test: %w", err)
	}
	key, err := exec.CommandContext(ctx, h.proxyBin, "-config", h.proxyConfig, "-print-key").Output()
	if err != nil {
		return fmt.Errorf("crash test: cocoon-proxy -print-key: %w", err)
	}
	h.proxyKey = strings.TrimSpace(string(key))
	if err := h.startProxy(ctx); err != nil {
		return err
	}
	for i := range h.cfg.Workers {
		w := &workerProc{name: fmt.Sprintf("w%d", i+1), dataDir: filepath.Join(h.dir, fmt.Sprintf("w%d", i+1))}
		h.workers = append(h.workers, w)
		if err := h.startWorker(w); err != nil {
			return err
		}
	}
	for _, w := range h.workers {
		if _, err := h.waitStatus(ctx, startBound, w.name+" with its key made", func(*proxy.Status) bool {
			return w.id != "" || h.learnID(w) != ""
		}); err != nil {
			return fmt.Errorf("crash test: %w\n%s", err, w.out.tail(20))
		}
	}
	if _, err := h.waitStatus(ctx, startBound, "every worker accepting", h.allAccepting); err != nil {
		return fmt.Errorf("crash test: %w", err)
	}
	h.logf("proxy and %d workers up", len(h.workers))
	return nil
}

// build compiles the app and the proxy from this module, as they ship.
func build(ctx context.Context, bin string) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	goTool := "go"
	if p, err := exec.LookPath("go"); err == nil {
		goTool = p
	} else if p := filepath.Join(os.Getenv("GOROOT"), "bin", "go"); os.Getenv("GOROOT") != "" {
		goTool = p
	}
	for _, b := range []struct{ out, pkg string }{{"cocoon-desktop", "."}, {"cocoon-proxy", "./cmd/cocoon-proxy"}} {
		cmd := exec.CommandContext(ctx, goTool, "build", "-o", filepath.Join(bin, b.out), b.pkg)
		cmd.Dir = root
		cmd.Env = os.Environ()
		if os.Getenv("CGO_CFLAGS") == "" { // the Makefile's, so the build cache is shared
			cmd.Env = append(cmd.Env, "CGO_CFLAGS=-O2 -g -Wno-deprecated-declarations")
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("crash test: go build %s: %w\n%s", b.pkg, err, out)
		}
	}
	return nil
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("crash test: %w", err)
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.Contains(string(b), "module github.com/cocoon-desktop/cocoon-desktop\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("crash test: run inside the cocoon-desktop module (no go.mod above the working directory)")
		}
		dir = parent
	}
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("crash test: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func (h *harness) startProxy(ctx context.Context) error {
	p, err := h.spawn("proxy", []string{h.proxyBin, "-config", h.proxyConfig}, os.Environ(), nil, filepath.Join(h.dir, "proxy", "proxy.log"))
	if err != nil {
		return err
	}
	h.proxy = p
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := h.http.Get("http://" + h.apiAddr + "/healthz")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		if p.exited() || time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("crash test: the proxy did not come up: %v (see %s)", p.err, filepath.Join(h.dir, "proxy", "proxy.log"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (h *harness) startWorker(w *workerProc) error {
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		k, _, _ := strings.Cut(kv, "=")
		return k == "COCOON_DATA_DIR" || k == "DISPLAY" || k == "WAYLAND_DISPLAY" || k == "COCOON_OLLAMA"
	})
	env = append(env, "COCOON_OLLAMA="+h.cfg.Ollama)
	argv := []string{h.app, "--headless", "--no-attach", "--data-dir", w.dataDir,
		"--network", "wss://" + h.workerAddr + "/v1/worker", "--proxy-key", h.proxyKey}
	p, err := h.spawn(w.name, argv, env, &lineWriter{onLine: w.line}, filepath.Join(h.dir, w.name+".log"))
	if err != nil {
		return err
	}
	w.p = p
	w.starts++
	return nil
}

// learnID reads the worker's id from its key once the worker has made it.
func (h *harness) learnID(w *workerProc) string {
	path := filepath.Join(w.dataDir, "keys", "worker.key")
	if _, err := os.Stat(path); err != nil {
		return ""
	}
	key, err := network.LoadOrCreateKey(path)
	if err != nil {
		return ""
	}
	w.id = network.WorkerID(key.Public().(ed25519.PublicKey))
	return w.id
}

func (h *harness) status(ctx context.Context) (*proxy.Status, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+h.apiAddr+"/v1/status", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+adminKey)
	resp, err := h.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status: HTTP %d", resp.StatusCode)
	}
	var st proxy.Status
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return nil, fmt.Errorf("status: %w", err)
	}
	return &st, nil
}

// waitStatus polls the proxy's /v1/status until cond holds and returns
// when it first did; bound is only there for a hang.
func (h *harness) waitStatus(ctx context.Context, bound time.Duration, what string, cond func(*proxy.Status) bool) (time.Time, error) {
	deadline := time.Now().Add(bound)
	var last *proxy.Status
	for {
		st, err := h.status(ctx)
		if err == nil && cond(st) {
			return time.Now(), nil
		}
		if err == nil {
			last = st
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("not %s within %v; the proxy's last status:\n%s", what, bound, workersText(last))
		}
		if ctx.Err() != nil {
			return time.Time{}, fmt.Errorf("not %s: %w", what, ctx.Err())
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// workersText is one line per connection of a status, for a failure's
// message: which worker was not chosen, or not answering, and why.
func workersText(st *proxy.Status) string {
	if st == nil {
		return "  (none read)"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "  jobs running %d, queued %d\n", st.JobsRunning, st.Queued)
	for _, ws := range st.Workers {
		trust := "no trust status"
		if t := ws.Trust; t != nil {
			trust = fmt.Sprintf("trust %s, canaries %d passed %d failed %d needed, failure points %.1f of %d",
				t.Level, t.CanariesPassed, t.CanariesFailed, t.CanariesNeeded, t.FailurePoints, t.QuarantineAt)
		}
		fmt.Fprintf(&b, "  %.8s state %s registered %v running %d/%d avg %d ms jobs %d since %s; %s\n",
			ws.ID, ws.State, ws.Registered, ws.Running, ws.MaxConcurrent, ws.AvgJobMS, ws.JobsDone,
			ws.ConnectedSince.Format("15:04:05.000"), trust)
	}
	return b.String()
}

// workerLogs is the last lines of every worker's log, for a failure's message.
func (h *harness) workerLogs(n int) string {
	var b strings.Builder
	for _, w := range h.workers {
		fmt.Fprintf(&b, "--- %s (%.8s), last %d lines:\n%s\n", w.name, w.id, n, w.out.tail(n))
	}
	return b.String()
}

func accepting(ws proxy.WorkerStatus) bool {
	return ws.Registered && ws.State == network.Accepting &&
		slices.ContainsFunc(ws.Models, func(m network.ModelInfo) bool { return m.Name == model })
}

// conns are the proxy's connections of worker id that are accepting.
func conns(st *proxy.Status, id string) []proxy.WorkerStatus {
	var out []proxy.WorkerStatus
	for _, ws := range st.Workers {
		if ws.ID == id && accepting(ws) {
			out = append(out, ws)
		}
	}
	return out
}

func (h *harness) allAccepting(st *proxy.Status) bool {
	for _, w := range h.workers {
		if w.id == "" || len(conns(st, w.id)) == 0 {
			return false
		}
	}
	return true
}

// servingSince: the worker has an accepting connection made after t, and
// (withJob) has finished a job on it.
func servingSince(st *proxy.Status, id string, t time.Time, withJob bool) bool {
	for _, c := range conns(st, id) {
		if c.ConnectedSince.After(t) && (!withJob || c.JobsDone > 0) {
			return true
		}
	}
	return false
}

// run is the chaos loop, then the end: settle, stop, reconcile.
func (h *harness) run(ctx context.Context) {
	rng := rand.New(rand.NewPCG(h.cfg.Seed, 0))
	l := startLoad("http://"+h.apiAddr+"/v1/", apiKey, h.cfg.Clients, h.cfg.Seed)
	var kinds []Kind
	for _, k := range []struct {
		k Kind
		n int
	}{{KillWorker, h.cfg.WorkerKills}, {KillProxy, h.cfg.ProxyKills}, {KillOllama, h.cfg.OllamaKills}} {
		for range k.n {
			kinds = append(kinds, k.k)
		}
	}
	rng.Shuffle(len(kinds), func(i, j int) { kinds[i], kinds[j] = kinds[j], kinds[i] })
	for i, k := range kinds {
		if _, err := h.waitStatus(ctx, recoverBound, "every worker accepting", h.allAccepting); err != nil {
			h.rep.problem("stuck before kill %d: %v", i+1, err)
			break
		}
		// A random moment: the clients keep jobs of every length running.
		select {
		case <-time.After(time.Duration(200+rng.IntN(1800)) * time.Millisecond):
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			h.rep.problem("cut short after %d of %d kills: %v", i, len(kinds), ctx.Err())
			break
		}
		rec, err := h.kill(ctx, k, h.workers[rng.IntN(len(h.workers))])
		if err != nil {
			h.rep.problem("kill %d (%s): %v", i+1, k, err)
			break
		}
		h.rep.Recoveries = append(h.rep.Recoveries, rec)
		h.logf("kill %2d/%d %-6s %-5s back %6.2fs serving %6.2fs (answers so far %d)", i+1, len(kinds), k, rec.Target,
			rec.Back.Seconds(), rec.Serving.Seconds(), l.answered())
	}
	l.stop()
	h.settle(ctx)
	h.stopAll()
	var answers []answer
	var losts []lost
	var odd []string
	h.rep.Client, answers, losts, odd = l.snapshot()
	for _, o := range odd {
		h.rep.problem("client: %s", o)
	}
	if h.rep.Client.Hung > 0 {
		h.rep.problem("client: %d request(s) still open after %v", h.rep.Client.Hung, requestBound)
	}
	h.reconcile(ctx, answers, losts)
	if left := h.leftovers(); len(left) > 0 {
		h.rep.Leftovers += len(left)
		h.rep.problem("processes of the run left after everything stopped: %v", left)
	}
}

// kill does one kill of kind k (victim w for worker and Ollama kills),
// restarts what needs restarting and measures the recovery.
func (h *harness) kill(ctx context.Context, k Kind, w *workerProc) (Recovery, error) {
	rec := Recovery{Kind: k, Target: w.name}
	var tree []procID
	var t0 time.Time
	switch k {
	case KillWorker:
		tree = descendants(w.p.pid())
		rec.At = time.Now()
		w.p.kill()
		if err := h.startWorker(w); err != nil {
			return rec, err
		}
		t0 = w.p.started
		back, err := h.waitStatus(ctx, recoverBound, w.name+" accepting after its restart", func(st *proxy.Status) bool {
			return servingSince(st, w.id, t0, false)
		})
		if err != nil {
			return rec, fmt.Errorf("%w\n%s", err, w.out.tail(10))
		}
		serving, err := h.waitStatus(ctx, recoverBound, w.name+" finishing a job after its restart", func(st *proxy.Status) bool {
			return servingSince(st, w.id, t0, true)
		})
		if err != nil {
			return rec, fmt.Errorf("%w\n%s", err, w.out.tail(10))
		}
		rec.Back, rec.Serving = back.Sub(t0), serving.Sub(t0)
	case KillProxy:
		rec.Target = "proxy"
		rec.At = time.Now()
		h.proxy.kill()
		if err := h.startProxy(ctx); err != nil {
			return rec, err
		}
		t0 = h.proxy.started
		back, err := h.waitStatus(ctx, recoverBound, "every worker accepting after the proxy's restart", func(st *proxy.Status) bool {
			for _, w := range h.workers {
				if !servingSince(st, w.id, t0, false) {
					return false
				}
			}
			return true
		})
		if err != nil {
			return rec, fmt.Errorf("%w\n%s", err, h.workerLogs(15))
		}
		serving, err := h.waitStatus(ctx, recoverBound, "every worker finishing a job after the proxy's restart", func(st *proxy.Status) bool {
			for _, w := range h.workers {
				if !servingSince(st, w.id, t0, true) {
					return false
				}
			}
			return true
		})
		if err != nil {
			return rec, fmt.Errorf("%w\n%s", err, h.workerLogs(15))
		}
		rec.Back, rec.Serving = back.Sub(t0), serving.Sub(t0)
	case KillOllama:
		serve, ok := ollamaServe(w.p.pid())
		if !ok {
			return rec, fmt.Errorf("no `ollama serve` runs under %s (pid %d)", w.name, w.p.pid())
		}
		tree = append([]procID{serve}, descendants(serve.PID)...)
		// Its guard exits with it; the worker starts a new guard and server.
		if guard, _, _, ok := procStat(serve.PID); ok && guard != w.p.pid() {
			if _, _, start, ok := procStat(guard); ok {
				tree = append(tree, procID{guard, start})
			}
		}
		rec.At = time.Now()
		if err := syscall.Kill(serve.PID, syscall.SIGKILL); err != nil {
			return rec, fmt.Errorf("kill ollama serve %d: %w", serve.PID, err)
		}
		t0 = rec.At
		var t1 time.Time
		for {
			if s, ok := ollamaServe(w.p.pid()); ok && s != serve {
				t1 = time.Now()
				break
			}
			if time.Since(t0) > recoverBound || w.p.exited() {
				return rec, fmt.Errorf("%s started no new `ollama serve` within %v\n%s", w.name, recoverBound, w.out.tail(10))
			}
			time.Sleep(20 * time.Millisecond)
		}
		// Jobs the worker had finished on each connection when its new
		// server appeared: one finished later ran on the new server.
		before := map[time.Time]int64{}
		if st, err := h.status(ctx); err == nil {
			for _, c := range st.Workers {
				if c.ID == w.id {
					before[c.ConnectedSince] = c.JobsDone
				}
			}
		}
		serving, err := h.waitStatus(ctx, recoverBound, w.name+" finishing a job on its new Ollama", func(st *proxy.Status) bool {
			for _, c := range conns(st, w.id) {
				if n, ok := before[c.ConnectedSince]; (ok && c.JobsDone > n) || (!ok && c.JobsDone > 0) {
					return true
				}
			}
			return false
		})
		if err != nil {
			return rec, fmt.Errorf("%w\n%s", err, w.out.tail(10))
		}
		rec.Back, rec.Serving = t1.Sub(t0), serving.Sub(t0)
	}
	// What the kill ended must be gone: a worker's guard, server and
	// runners; a server's runners.
	if left := waitGone(tree, treeBound-time.Since(rec.At)); len(left) > 0 {
		var desc []string
		for _, id := range left {
			desc = append(desc, fmt.Sprintf("pid %d: %s", id.PID, strings.Join(cmdline(id.PID), " ")))
		}
		h.rep.Leftovers += len(left)
		h.rep.problem("%s kill of %s: %d process(es) still running %v later: %s", k, rec.Target, len(left), treeBound, strings.Join(desc, "; "))
	}
	return rec, nil
}

// settle waits, after the load stopped, for the running jobs to end and
// for every receipt the proxy signed to be in a ledger: the totals the
// workers print must reach the proxy's.
func (h *harness) settle(ctx context.Context) {
	if _, err := h.waitStatus(ctx, settleBound, "idle (no job running)", func(st *proxy.Status) bool { return st.JobsRunning == 0 }); err != nil {
		h.rep.problem("settle: %v", err)
	}
	var last string
	if _, err := h.waitStatus(ctx, settleBound, "with every signed receipt in a ledger", func(st *proxy.Status) bool {
		var earned, receipts int64
		for _, w := range h.workers {
			e, r := w.ledgerView()
			earned, receipts = earned+e, receipts+r
		}
		last = fmt.Sprintf("proxy: %d jobs, %d nanoTON paid; ledgers: %d receipts, %d nanoTON", st.Totals.Jobs, st.Totals.PaidToWorkers, receipts, earned)
		return earned == st.Totals.PaidToWorkers && receipts == st.Totals.Jobs
	}); err != nil {
		h.rep.problem("settle: %v (%s)", err, last)
	}
}

// stopAll stops the workers (SIGINT: a clean stop, which also stops their
// Ollama) and then the proxy (SIGTERM).
func (h *harness) stopAll() {
	for _, w := range h.workers {
		if err := w.p.stop(syscall.SIGINT, stopBound); err != nil {
			h.rep.problem("stop: %v", err)
		} else if w.p.err != nil {
			h.rep.problem("stop: %s exited with %v\n%s", w.name, w.p.err, w.out.tail(10))
		}
	}
	if err := h.proxy.stop(syscall.SIGTERM, stopBound); err != nil {
		h.rep.problem("stop: %v", err)
	} else if h.proxy.err != nil {
		h.rep.problem("stop: the proxy exited with %v", h.proxy.err)
	}
}

// leftovers waits a little for processes of the run to go, then lists those
// still running.
func (h *harness) leftovers() []stray {
	deadline := time.Now().Add(treeBound)
	for {
		left := ours(h.dir)
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(100 * time.Millisecond)
	}
}
