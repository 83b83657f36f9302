package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/network"
)

// Canary jobs: the proxy checks the work itself. At a configurable rate it
// sends each worker a job whose right answer it knows — a prompt from a
// corpus (canary_corpus.go), temperature 0, a seed, the model pinned by
// digest — through the same path as a client job (same job shape, ids,
// deadline, slot, pricing and crediting), and compares the answer with a
// reference from a trusted source (canary_reference.go) token by token,
// with a tolerance for float differences between machines
// (canary_compare.go). Each verdict goes to the trust record (noteCanary).

// Canary defaults (DefaultCanaryConfig, and a "canary" object in the
// config file that leaves a field out).
const (
	DefaultCanaryShareBPS     = 200 // 2% of each worker's client jobs are followed by a canary
	DefaultCanaryMinPerPeriod = 6   // and every worker gets at least 6 per period…
	DefaultCanaryPeriod       = time.Hour
	DefaultCanaryMaxDelay     = 30 * time.Second
	// DefaultCanaryMargin (nats): a worker's answer may leave the
	// reference's at a token only where the reference's choice beat the
	// worker's token by less than this. Measured float noise between
	// backends moved logprobs by ≤ 0.012 nats (docs/BENCHMARKS.md).
	DefaultCanaryMargin = 0.1
	// DefaultCanaryPenaltySlack (nats) widens the margin where the
	// reference's token had already appeared (repeat penalties lower such
	// a token's score by an amount its logprob does not show).
	DefaultCanaryPenaltySlack = 3.0
)

// CanaryKeyDigest is the usage key canary jobs are recorded under
// (Store.Usage): they are the proxy's own jobs, never a client's. It is
// not a hex SHA-256, so no API key's digest can equal it.
const CanaryKeyDigest = "canary"

// Limits checked by CanaryConfig validation.
const (
	maxCanaryTrustedWorkers = 64
	minCanaryPeriod         = 10 * time.Millisecond
	maxCanaryMargin         = 20.0
)

// CanaryConfig turns on canary jobs (Config.Canary; nil: off). Start from
// DefaultCanaryConfig: a zero Period or Margin takes the default, every
// other zero means zero.
type CanaryConfig struct {
	// ReferenceOllama is the base URL of an Ollama the operator runs and
	// trusts (e.g. http://127.0.0.1:11434) holding the priced models. The
	// proxy asks it for each canary's reference answer, with log
	// probabilities, and pins each model to its digest there.
	ReferenceOllama string
	// TrustedWorkers are worker ids (hex keys) whose answers are the
	// references when ReferenceOllama is empty; their digests are the pins.
	// They get no canaries themselves. Their answers carry no log
	// probabilities, so a canary checked against one must match exactly.
	TrustedWorkers []string
	// ShareBPS is the share of each worker's client jobs, in basis points,
	// that is followed by a canary to the same worker (200 = 2%).
	ShareBPS int64
	// MinPerPeriod canaries at least go to each connected worker per
	// Period, whatever its traffic (so an idle new worker can earn trust).
	MinPerPeriod int
	Period       time.Duration
	// MaxDelay: a canary that falls due waits a random time up to this
	// before it is sent, so it does not follow a client job like a shadow.
	MaxDelay time.Duration
	// Margin and PenaltySlack (nats) are the comparison's tolerance
	// (canary_compare.go).
	Margin       float64
	PenaltySlack float64
	// CorpusFile, when set, replaces the built-in corpus (JSON lines, see
	// canary/corpus.jsonl).
	CorpusFile string
}

// DefaultCanaryConfig returns a CanaryConfig with every default set and
// no reference source.
func DefaultCanaryConfig() CanaryConfig {
	return CanaryConfig{
		ShareBPS:     DefaultCanaryShareBPS,
		MinPerPeriod: DefaultCanaryMinPerPeriod,
		Period:       DefaultCanaryPeriod,
		MaxDelay:     DefaultCanaryMaxDelay,
		Margin:       DefaultCanaryMargin,
		PenaltySlack: DefaultCanaryPenaltySlack,
	}
}

// fileCanaryConfig is the JSON form of CanaryConfig; absent fields take the
// defaults.
type fileCanaryConfig struct {
	ReferenceOllama *string  `json:"reference_ollama"`
	TrustedWorkers  []string `json:"trusted_workers"`
	ShareBPS        *int64   `json:"share_bps"`
	MinPerPeriod    *int     `json:"min_per_period"`
	Period          *string  `json:"period"`
	MaxDelay        *string  `json:"max_delay"`
	Margin          *float64 `json:"margin"`
	PenaltySlack    *float64 `json:"penalty_slack"`
	CorpusFile      *string  `json:"corpus_file"`
}

func (f *fileCanaryConfig) parse() (*CanaryConfig, error) {
	c := DefaultCanaryConfig()
	if f.ReferenceOllama != nil {
		c.ReferenceOllama = *f.ReferenceOllama
	}
	c.TrustedWorkers = f.TrustedWorkers
	if f.ShareBPS != nil {
		c.ShareBPS = *f.ShareBPS
	}
	if f.MinPerPeriod != nil {
		c.MinPerPeriod = *f.MinPerPeriod
	}
	if f.Margin != nil {
		c.Margin = *f.Margin
	}
	if f.PenaltySlack != nil {
		c.PenaltySlack = *f.PenaltySlack
	}
	if f.CorpusFile != nil {
		c.CorpusFile = *f.CorpusFile
	}
	for _, d := range []struct {
		name string
		src  *string
		dst  *time.Duration
	}{{"period", f.Period, &c.Period}, {"max_delay", f.MaxDelay, &c.MaxDelay}} {
		if d.src == nil {
			continue
		}
		v, err := time.ParseDuration(*d.src)
		if err != nil {
			return nil, fmt.Errorf("proxy config: canary: %s: %q is not a duration like \"30s\"", d.name, truncateStr(*d.src, 32))
		}
		*d.dst = v
	}
	return &c, nil
}

func (c *CanaryConfig) withDefaults() *CanaryConfig {
	if c == nil {
		return nil
	}
	d := *c
	if d.Period == 0 {
		d.Period = DefaultCanaryPeriod
	}
	if d.Margin == 0 {
		d.Margin = DefaultCanaryMargin
	}
	d.TrustedWorkers = append([]string(nil), c.TrustedWorkers...)
	return &d
}

func (c *CanaryConfig) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("proxy config: canary: "+format, args...)
	}
	if c.ReferenceOllama == "" && len(c.TrustedWorkers) == 0 {
		return bad("reference_ollama or trusted_workers is required: canaries need a reference answer")
	}
	if c.ReferenceOllama != "" {
		u, err := url.Parse(c.ReferenceOllama)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return bad("reference_ollama: %q is not an http(s) URL like http://127.0.0.1:11434", truncateStr(c.ReferenceOllama, 64))
		}
	}
	if len(c.TrustedWorkers) > maxCanaryTrustedWorkers {
		return bad("trusted_workers: %d, limit %d", len(c.TrustedWorkers), maxCanaryTrustedWorkers)
	}
	for i, id := range c.TrustedWorkers {
		if len(id) != 64 || strings.Trim(strings.ToLower(id), "0123456789abcdef") != "" {
			return bad("trusted_workers[%d]: %q is not a worker id (64 hex digits)", i, truncateStr(id, 64))
		}
	}
	if c.ShareBPS < 0 || c.ShareBPS > 10000 {
		return bad("share_bps: %d out of range 0..10000", c.ShareBPS)
	}
	if c.MinPerPeriod < 0 || c.MinPerPeriod > 1_000_000 {
		return bad("min_per_period: %d out of range 0..1000000", c.MinPerPeriod)
	}
	if c.ShareBPS == 0 && c.MinPerPeriod == 0 {
		return bad("share_bps and min_per_period are both 0: no canary would ever be sent")
	}
	if c.Period < minCanaryPeriod || c.Period > 30*24*time.Hour {
		return bad("period: %v out of range %v..720h", c.Period, minCanaryPeriod)
	}
	if c.MaxDelay < 0 || c.MaxDelay > 24*time.Hour {
		return bad("max_delay: %v out of range 0..24h", c.MaxDelay)
	}
	if !(c.Margin > 0 && c.Margin <= maxCanaryMargin) {
		return bad("margin: %v out of range (0, %v] nats", c.Margin, maxCanaryMargin)
	}
	if !(c.PenaltySlack >= 0 && c.PenaltySlack <= maxCanaryMargin) {
		return bad("penalty_slack: %v out of range 0..%v nats", c.PenaltySlack, maxCanaryMargin)
	}
	return nil
}

// Ollama's sampling defaults (api.DefaultOptions in v0.17.4).
const (
	ollamaDefaultTemperature = 0.8
	ollamaDefaultTopP        = 0.9
)

// explicitSampling puts every sampling option on the wire: the client's
// when it set one, else the value Ollama would use, and a random seed.
// A canary needs temperature 0 and a seed; when every job carries both
// fields, a canary's are no tell.
func explicitSampling(o network.SamplingOptions) network.SamplingOptions {
	if o.Temperature == nil {
		t := ollamaDefaultTemperature
		o.Temperature = &t
	}
	if o.TopP == nil {
		tp := ollamaDefaultTopP
		o.TopP = &tp
	}
	if o.Seed == nil {
		s := randomSeed()
		o.Seed = &s
	}
	return o
}

// randomSeed is a seed like the ones explicitSampling gives client jobs.
func randomSeed() int { return rand.IntN(1 << 31) }

// canarySampling is a canary's options: greedy, with a seed as random as
// a client job's.
func canarySampling() network.SamplingOptions {
	t, tp, s := 0.0, ollamaDefaultTopP, randomSeed()
	return network.SamplingOptions{Temperature: &t, TopP: &tp, Seed: &s}
}

// canaryKey is the usage key canaries are credited under.
var canaryKey = &apiKeyState{digest: CanaryKeyDigest, name: "canary"}

// canaryState is the scheduler's view of one worker.
type canaryState struct {
	nextMin time.Time // when the per-period minimum wants the next canary
	owedAt  time.Time // a canary owed for client jobs falls due then; zero: none
	retryAt time.Time // no reference could be had: not before then
	running bool      // one canary at a time per worker
}

// canaries is the canary engine of a Proxy.
type canaries struct {
	p       *Proxy
	cfg     CanaryConfig
	log     *slog.Logger
	corpus  []canaryPrompt
	ollama  *ollamaReference // nil: references come from trusted workers
	trusted map[string]bool

	refSem chan struct{} // bounds reference fetches in flight
	wg     sync.WaitGroup

	mu       sync.Mutex
	workers  map[string]*canaryState // by worker id
	pins     map[string]string       // model → pinned digest (normalized)
	refs     map[string]*reference   // by refKey
	pinsNext time.Time               // when to ask the reference Ollama for digests again
	stopped  bool
}

// Scheduling and reference limits.
const (
	maxReferenceFetches = 2
	maxCachedReferences = 4096
	pinRefreshEvery     = 5 * time.Minute
	pinRetryEvery       = 10 * time.Second
)

func newCanaries(p *Proxy, cfg CanaryConfig) (*canaries, error) {
	corpus := builtinCorpus
	if cfg.CorpusFile != "" {
		var err error
		if corpus, err = loadCorpusFile(cfg.CorpusFile); err != nil {
			return nil, err
		}
	}
	c := &canaries{
		p: p, cfg: cfg, log: p.log.With("part", "canary"), corpus: corpus,
		trusted: map[string]bool{},
		refSem:  make(chan struct{}, maxReferenceFetches),
		workers: map[string]*canaryState{},
		pins:    map[string]string{},
		refs:    map[string]*reference{},
	}
	for _, id := range cfg.TrustedWorkers {
		c.trusted[strings.ToLower(id)] = true
	}
	if cfg.ReferenceOllama != "" {
		u, _ := url.Parse(cfg.ReferenceOllama) // validated
		c.ollama = newOllamaReference(u, &http.Client{})
	}
	return c, nil
}

// interval is the mean time between two canaries of the per-period minimum.
func (c *canaries) interval() time.Duration {
	if c.cfg.MinPerPeriod <= 0 {
		return 0
	}
	return max(c.cfg.Period/time.Duration(c.cfg.MinPerPeriod), time.Millisecond)
}

// tick is how often the scheduler looks for due canaries.
func (c *canaries) tick() time.Duration {
	t := time.Second
	if iv := c.interval(); iv > 0 {
		t = min(t, iv/8)
	}
	if c.cfg.MaxDelay > 0 {
		t = min(t, c.cfg.MaxDelay/4)
	}
	return max(t, 5*time.Millisecond)
}

// jitter returns d × a random factor in [0.5, 1.5).
func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.5 + rand.Float64()))
}

// start runs the scheduler until ctx ends; wait waits for it and for every
// canary it started. Both are no-ops on a nil engine.
func (c *canaries) start(ctx context.Context) {
	if c == nil {
		return
	}
	c.p.mu.Lock()
	defer c.p.mu.Unlock()
	if c.p.closing {
		return
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.loop(ctx)
	}()
}

func (c *canaries) wait() {
	if c == nil {
		return
	}
	c.wg.Wait()
}

// afterClientJob draws whether a client job the worker finished earns it a
// canary, due at a random time within MaxDelay.
func (c *canaries) afterClientJob(w *workerConn) {
	if c == nil || c.cfg.ShareBPS <= 0 || rand.Int64N(10000) >= c.cfg.ShareBPS {
		return
	}
	due := time.Now()
	if c.cfg.MaxDelay > 0 {
		due = due.Add(rand.N(c.cfg.MaxDelay))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.stateLocked(w.id, time.Now())
	if st.owedAt.IsZero() || due.Before(st.owedAt) {
		st.owedAt = due
	}
}

func (c *canaries) stateLocked(id string, now time.Time) *canaryState {
	st := c.workers[id]
	if st == nil {
		st = &canaryState{}
		if iv := c.interval(); iv > 0 {
			// A new worker's first canary comes at a random time within one interval.
			st.nextMin = now.Add(rand.N(iv) + 1)
		}
		c.workers[id] = st
	}
	return st
}

func (c *canaries) loop(ctx context.Context) {
	t := time.NewTicker(c.tick())
	defer t.Stop()
	c.log.Info("canaries on", "reference", c.referenceName(), "share_bps", c.cfg.ShareBPS,
		"min_per_period", c.cfg.MinPerPeriod, "period", c.cfg.Period, "corpus", len(c.corpus), "margin", c.cfg.Margin)
	for {
		select {
		case <-ctx.Done():
			c.mu.Lock()
			c.stopped = true
			c.mu.Unlock()
			return
		case now := <-t.C:
			c.refreshPins(ctx, now)
			for _, d := range c.due(now) {
				c.wg.Add(1)
				go func() {
					defer c.wg.Done()
					c.runDue(ctx, d)
				}()
			}
		}
	}
}

func (c *canaries) referenceName() string {
	if c.ollama != nil {
		return "ollama " + c.ollama.base.Redacted()
	}
	return fmt.Sprintf("%d trusted worker(s)", len(c.trusted))
}

// canaryTarget is a worker due for a canary and the models it can get one for.
type canaryTarget struct {
	w      *workerConn
	models []string
	digest map[string]string // model → the worker's (= the pinned) digest
}

// due picks the workers whose canary is due now, marks them running and
// returns them. It also forgets workers that left and, with trusted
// workers as the reference, takes the pins from their registrations.
func (c *canaries) due(now time.Time) []canaryTarget {
	p := c.p
	type cand struct {
		w      *workerConn
		models []network.ModelInfo
	}
	var cands []cand
	trustedPins := map[string]string{}
	connected := map[string]bool{}
	p.mu.Lock()
	for id, w := range p.workers {
		connected[id] = true
		if !w.registered {
			continue
		}
		if c.trusted[id] {
			for _, m := range w.reg.Models {
				if _, priced := p.cfg.Models[m.Name]; priced && m.Digest != "" {
					trustedPins[m.Name] = normalizeDigest(m.Digest)
				}
			}
			continue
		}
		if !p.canaryEligibleLocked(w) {
			continue
		}
		cands = append(cands, cand{w, w.reg.Models})
	}
	p.mu.Unlock()
	if c.ollama == nil && c.mergePins(trustedPins) {
		p.repin()
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return nil
	}
	var out []canaryTarget
	for _, cd := range cands {
		t := canaryTarget{w: cd.w, digest: map[string]string{}}
		for _, m := range cd.models {
			pin, ok := c.pins[m.Name]
			if _, priced := p.cfg.Models[m.Name]; !priced || !ok || normalizeDigest(m.Digest) != pin {
				continue
			}
			if _, dup := t.digest[m.Name]; !dup {
				t.models = append(t.models, m.Name)
				t.digest[m.Name] = pin
			}
		}
		if len(t.models) == 0 {
			continue
		}
		st := c.stateLocked(cd.w.id, now)
		if st.running || now.Before(st.retryAt) {
			continue
		}
		byShare := !st.owedAt.IsZero() && !now.Before(st.owedAt)
		byMin := !st.nextMin.IsZero() && !now.Before(st.nextMin)
		if !byShare && !byMin {
			continue
		}
		st.running = true
		out = append(out, t)
	}
	for id, st := range c.workers {
		if !connected[id] && !st.running {
			delete(c.workers, id) // a worker's schedule lasts while it is connected
		}
	}
	return out
}

// Outcomes of runOne.
const (
	canarySent    = iota
	canaryBusy    // the worker had no free slot: try again at the next tick
	canaryNoRefer // no reference answer: try again in a tenth of the period, at most pinRetryEvery
)

// runDue runs one canary for a due worker and books the outcome in its
// schedule: a canary that could not be sent stays due.
func (c *canaries) runDue(ctx context.Context, t canaryTarget) {
	out := c.runOne(ctx, t)
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.workers[t.w.id]
	if st == nil {
		return
	}
	st.running = false
	switch out {
	case canaryBusy:
		return
	case canaryNoRefer:
		st.retryAt = now.Add(min(pinRetryEvery, c.cfg.Period/10))
		return
	}
	if !st.owedAt.IsZero() && !now.Before(st.owedAt) {
		st.owedAt = time.Time{}
	}
	if iv := c.interval(); iv > 0 {
		st.nextMin = now.Add(jitter(iv))
	}
}

// runOne sends one canary to t.w and reports its verdict.
func (c *canaries) runOne(ctx context.Context, t canaryTarget) int {
	model := t.models[rand.IntN(len(t.models))]
	digest := t.digest[model]
	idx := rand.IntN(len(c.corpus))
	prompt := c.corpus[idx]
	ref, err := c.reference(ctx, idx, model, digest)
	if err != nil {
		if ctx.Err() == nil {
			c.log.Info("no canary reference", "model", model, "entry", idx, "err", err)
		}
		return canaryNoRefer
	}
	a := c.p.reserveOn(t.w, model)
	if a == nil {
		return canaryBusy // busy, paused or gone since it was picked
	}
	log := t.w.log.With("job", a.jobID, "model", model)
	res, ok := c.p.runCanaryJob(ctx, a, model, prompt)
	if !ok {
		// A failed job (worker error, timeout, disconnect) is no verdict:
		// the worker cannot tell a canary from a client job, so failing
		// canaries means failing client jobs alike, which is seen anyway.
		log.Info("canary job did not finish", "status", res.status)
		return canarySent
	}
	v := compareCanary(ref, prompt.text(), res.text, c.cfg.Margin, c.cfg.PenaltySlack)
	log.Debug("canary compared", "entry", idx) // the verdict itself is logged by noteCanary (trust.go)
	c.p.noteCanary(t.w, a.jobID, model, v.passed, v.evidence)
	return canarySent
}

// canaryResult is what a canary job's client would have received.
type canaryResult struct {
	status int
	text   string
	finish string
}

// runCanaryJob runs a canary on the slot a booked, exactly as a client
// job (same shape, deadline, metering and crediting), answering into
// memory. ok is false when the job did not finish with an answer.
func (p *Proxy) runCanaryJob(ctx context.Context, a *attempt, model string, prompt canaryPrompt) (canaryResult, bool) {
	rec := &canaryRecorder{header: http.Header{}}
	c := &completion{
		p:       p,
		w:       rec,
		id:      newCompletionID(),
		created: time.Now().Unix(),
		model:   model,
		key:     canaryKey,
		price:   p.cfg.Models[model],
		canary:  a,
	}
	job := network.Job{Model: model, Messages: prompt.messages(), Options: canarySampling(), MaxTokens: prompt.MaxTokens}
	p.serveCompletion(ctx, c, job)
	res := canaryResult{status: rec.status}
	if rec.status != http.StatusOK || rec.overflow {
		return res, false
	}
	var out completionOut
	if err := json.Unmarshal(rec.body, &out); err != nil || len(out.Choices) != 1 {
		return res, false
	}
	res.finish = out.Choices[0].FinishReason
	if text := out.Choices[0].Message.Content; text != nil { // nil only for tool calls, which a canary never offers
		res.text = *text
	}
	return res, true
}

// maxCanaryAnswer bounds what a canary's answer may hold in memory.
const maxCanaryAnswer = 8 << 20

// canaryRecorder is the http.ResponseWriter a canary answers into.
type canaryRecorder struct {
	header   http.Header
	status   int
	body     []byte
	overflow bool
}

func (r *canaryRecorder) Header() http.Header { return r.header }

func (r *canaryRecorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *canaryRecorder) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	if len(r.body)+len(b) > maxCanaryAnswer {
		r.overflow = true
		return 0, errors.New("canary: answer over the limit")
	}
	r.body = append(r.body, b...)
	return len(b), nil
}

// reserveOn books a slot for a job of model on w itself, bypassing the
// router's choice, when w may get a canary, offers model (with the pinned
// digest) and has a free slot.
func (p *Proxy) reserveOn(w *workerConn, model string) *attempt {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closing || !p.canaryEligibleLocked(w) || !slices.ContainsFunc(w.routes, func(e routeEntry) bool { return e.model == model }) {
		return nil
	}
	return p.bookLocked(w)
}

// canaryEligibleLocked reports whether w may get a canary now: connected,
// registered, accepting, below its concurrency and not quarantined (the
// trust record's canaryAllowedLocked). A new worker over its daily cap,
// which gets no client jobs, stays eligible: canaries are how it earns
// trust.
func (p *Proxy) canaryEligibleLocked(w *workerConn) bool { return p.canaryAllowedLocked(w) }

// normalizeDigest makes "sha256:<hex>" and "<HEX>" compare equal.
func normalizeDigest(d string) string {
	return strings.TrimPrefix(strings.ToLower(strings.TrimSpace(d)), "sha256:")
}

// mergePins records pins (model → digest) and reports whether any changed.
func (c *canaries) mergePins(pins map[string]string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	changed := false
	for m, d := range pins {
		if c.pins[m] != d {
			c.pins[m] = d
			changed = true
		}
	}
	return changed
}

// refreshPins asks the reference Ollama for the priced models' digests
// when due; a changed pin re-indexes the workers.
func (c *canaries) refreshPins(ctx context.Context, now time.Time) {
	if c.ollama == nil {
		return
	}
	c.mu.Lock()
	due := !now.Before(c.pinsNext)
	if due {
		c.pinsNext = now.Add(pinRetryEvery) // until this refresh succeeds
	}
	c.mu.Unlock()
	if !due {
		return
	}
	lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	digests, err := c.ollama.digests(lctx, c.p.cfg.ModelNames())
	if err != nil {
		if ctx.Err() == nil {
			c.log.Info("reference Ollama unreachable; canaries wait", "err", err)
		}
		return
	}
	for _, m := range c.p.cfg.ModelNames() {
		if _, ok := digests[m]; !ok {
			c.log.Warn("the reference Ollama lacks a priced model: no canary checks it", "model", m)
		}
	}
	c.mu.Lock()
	c.pinsNext = now.Add(pinRefreshEvery)
	c.mu.Unlock()
	if c.mergePins(digests) {
		c.log.Info("model digests pinned", "models", len(digests))
		c.p.repin()
	}
}

// pinnedLocked keeps of a registration's models those it may be routed:
// with canaries on, a model whose digest is pinned is served only by
// workers reporting that digest (an empty or other digest is another
// model, or one no canary could check). Called with p.mu held.
func (p *Proxy) pinnedLocked(w *workerConn, models []network.ModelInfo) []network.ModelInfo {
	c := p.canary
	if c == nil {
		return models
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.pins) == 0 {
		return models
	}
	out := make([]network.ModelInfo, 0, len(models))
	for _, m := range models {
		if pin, ok := c.pins[m.Name]; ok && normalizeDigest(m.Digest) != pin {
			w.log.Info("model digest differs from the pinned one: not routed", "model", truncateStr(m.Name, 64),
				"digest", truncateStr(m.Digest, 80), "pinned", pin)
			continue
		}
		out = append(out, m)
	}
	return out
}

// repin re-indexes every registered worker after a pin changed.
func (p *Proxy) repin() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, w := range p.workers {
		if w.registered {
			p.setRegLocked(w, w.reg)
		}
	}
	p.wakeQueuedLocked()
}
