package proxy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"

	"github.com/cocoon-desktop/cocoon-desktop/network"
	"github.com/cocoon-desktop/cocoon-desktop/network/proxy/metering"
)

// Metering defaults (MeteringConfig).
const (
	// DefaultMaxTokens is the max_tokens of a request that sets none; the
	// worker gets it too, so no job runs unbounded.
	DefaultMaxTokens = 4096
	// DefaultMaxBytesPerToken bounds the completion bytes per max_tokens
	// token of a model without a counter (a counted model uses the larger
	// of this and its vocabulary's longest token). Real text averages about
	// 4 bytes a token; 64 leaves room for long whitespace and code tokens.
	DefaultMaxBytesPerToken = 64
	// DefaultMaxJobBytes caps the completion bytes relayed for one job
	// whatever max_tokens says (a million tokens of text are about 4 MiB).
	DefaultMaxJobBytes = 16 << 20
	// DefaultToleranceTokens and DefaultTolerancePercent: a worker's count
	// is billed up to the proxy's own count + 16 tokens + 2 %. Measured with
	// the tiny model on the real Ollama (TestHonestDisagreement, 1000 jobs,
	// max_tokens 1..500): the prompt count agreed on every job; the
	// completion count was below the worker's by at most 13 tokens (the
	// random model emits byte tokens of broken UTF-8 that Ollama never
	// sends as text), and only in short answers (from 64 tokens on the
	// re-tokenized text is longer). 16 tokens cover every job measured; the
	// 2 % leaves room for llama.cpp's and Ollama's Go tokenizers to split
	// long texts differently on real byte-pair models.
	DefaultToleranceTokens  = 16
	DefaultTolerancePercent = 2
)

// Limits of MeteringConfig.
const (
	maxMeteringDirs     = 16
	maxBytesPerTokenCap = 1 << 16
	maxJobBytesCap      = 1 << 30
	maxToleranceTokens  = 1 << 20
	maxTolerancePercent = 1000
)

// Bounds for a model with no counter: every token of text is at least one
// byte, and a chat template adds a few tokens per message and around the
// conversation; the tolerance covers tokens that left no text (the broken
// UTF-8 Ollama drops). A model whose Ollama system prompt is long is not
// covered: give it a counter.
const (
	uncountedMessageTokens = 16 // template tokens per message
	uncountedPromptTokens  = 32 // template tokens around the conversation, BOS
)

// MeteringConfig is how the proxy counts tokens itself instead of trusting
// the worker's usage figures (docs/trust.md). JSON: the "metering" object.
type MeteringConfig struct {
	// OllamaModels are Ollama models directories (the OLLAMA_MODELS
	// layout), searched in order for each priced model's manifest (a model
	// name without a tag is ":latest"). A model found there is counted with
	// its own tokenizer and chat template; one not found at start is looked
	// for again at each of its jobs (e.g. the local network's model, which
	// the worker creates after the proxy starts) and bounded by bytes
	// meanwhile. Empty: no model is counted, every one is bounded by bytes.
	OllamaModels []string
	// DefaultMaxTokens is the max_tokens of a request that sets none.
	DefaultMaxTokens int
	// MaxBytesPerToken × max_tokens bounds the completion bytes of a job.
	MaxBytesPerToken int
	// MaxJobBytes caps the completion bytes of any job.
	MaxJobBytes int64
	// ToleranceTokens + ToleranceTokens × TolerancePercent / 100 above its
	// own count is the most the proxy bills of a worker's count. Zero
	// values are kept (zero tolerance); DefaultConfig sets the defaults.
	ToleranceTokens  int64
	TolerancePercent int64
}

// DefaultMeteringConfig has every default and no models directory.
func DefaultMeteringConfig() MeteringConfig {
	return MeteringConfig{
		DefaultMaxTokens: DefaultMaxTokens,
		MaxBytesPerToken: DefaultMaxBytesPerToken,
		MaxJobBytes:      DefaultMaxJobBytes,
		ToleranceTokens:  DefaultToleranceTokens,
		TolerancePercent: DefaultTolerancePercent,
	}
}

// fileMeteringConfig is the JSON form of MeteringConfig.
type fileMeteringConfig struct {
	OllamaModels     stringOrList `json:"ollama_models"`
	DefaultMaxTokens *int         `json:"default_max_tokens"`
	MaxBytesPerToken *int         `json:"max_bytes_per_token"`
	MaxJobBytes      *int64       `json:"max_job_bytes"`
	ToleranceTokens  *int64       `json:"tolerance_tokens"`
	TolerancePercent *int64       `json:"tolerance_percent"`
}

// stringOrList is a JSON string or array of strings.
type stringOrList []string

func (s *stringOrList) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var one string
		if err := json.Unmarshal(b, &one); err != nil {
			return err
		}
		*s = []string{one}
		return nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return errors.New("want a directory or a list of directories")
	}
	*s = list
	return nil
}

// apply sets the fields the file gives over base.
func (f *fileMeteringConfig) apply(base MeteringConfig) MeteringConfig {
	if f == nil {
		return base
	}
	if f.OllamaModels != nil {
		base.OllamaModels = []string(f.OllamaModels)
	}
	if f.DefaultMaxTokens != nil {
		base.DefaultMaxTokens = *f.DefaultMaxTokens
	}
	if f.MaxBytesPerToken != nil {
		base.MaxBytesPerToken = *f.MaxBytesPerToken
	}
	if f.MaxJobBytes != nil {
		base.MaxJobBytes = *f.MaxJobBytes
	}
	if f.ToleranceTokens != nil {
		base.ToleranceTokens = *f.ToleranceTokens
	}
	if f.TolerancePercent != nil {
		base.TolerancePercent = *f.TolerancePercent
	}
	return base
}

// resolveDirs makes relative models directories relative to the config file.
func (c MeteringConfig) resolveDirs(configPath string) MeteringConfig {
	dirs := make([]string, len(c.OllamaModels))
	for i, d := range c.OllamaModels {
		if d != "" && !isAbs(d) {
			d = joinDir(configPath, d)
		}
		dirs[i] = d
	}
	c.OllamaModels = dirs
	return c
}

// withDefaults fills zero limits (not the tolerances: zero is a choice).
func (c MeteringConfig) withDefaults() MeteringConfig {
	d := DefaultMeteringConfig()
	if c.DefaultMaxTokens == 0 {
		c.DefaultMaxTokens = d.DefaultMaxTokens
	}
	if c.MaxBytesPerToken == 0 {
		c.MaxBytesPerToken = d.MaxBytesPerToken
	}
	if c.MaxJobBytes == 0 {
		c.MaxJobBytes = d.MaxJobBytes
	}
	return c
}

func (c MeteringConfig) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("proxy config: metering: "+format, args...)
	}
	if len(c.OllamaModels) > maxMeteringDirs {
		return bad("ollama_models: %d directories, limit %d", len(c.OllamaModels), maxMeteringDirs)
	}
	for i, d := range c.OllamaModels {
		if strings.TrimSpace(d) == "" {
			return bad("ollama_models[%d] is empty", i)
		}
	}
	if c.DefaultMaxTokens < 1 || c.DefaultMaxTokens > network.MaxMaxTokens {
		return bad("default_max_tokens: %d out of range 1..%d", c.DefaultMaxTokens, network.MaxMaxTokens)
	}
	if c.MaxBytesPerToken < 1 || c.MaxBytesPerToken > maxBytesPerTokenCap {
		return bad("max_bytes_per_token: %d out of range 1..%d", c.MaxBytesPerToken, maxBytesPerTokenCap)
	}
	if c.MaxJobBytes < 1 || c.MaxJobBytes > maxJobBytesCap {
		return bad("max_job_bytes: %d out of range 1..%d", c.MaxJobBytes, maxJobBytesCap)
	}
	if c.ToleranceTokens < 0 || c.ToleranceTokens > maxToleranceTokens {
		return bad("tolerance_tokens: %d out of range 0..%d", c.ToleranceTokens, maxToleranceTokens)
	}
	if c.TolerancePercent < 0 || c.TolerancePercent > maxTolerancePercent {
		return bad("tolerance_percent: %d out of range 0..%d", c.TolerancePercent, maxTolerancePercent)
	}
	return nil
}

// meter holds the token counters of the served models.
type meter struct {
	cfg MeteringConfig
	log *slog.Logger

	mu       sync.Mutex
	counters map[string]*metering.Counter // by model name; nil entry: not found yet
}

// newMeter loads the counter of every priced model found in the models
// directories. A model that is there but cannot be counted (an unsupported
// tokenizer, a broken file or template) is an error naming it; one that is
// not there yet is looked for again at its jobs.
func newMeter(cfg MeteringConfig, models []string, log *slog.Logger) (*meter, error) {
	m := &meter{cfg: cfg, log: log, counters: map[string]*metering.Counter{}}
	if len(cfg.OllamaModels) == 0 {
		if len(models) > 0 {
			log.Warn("no metering.ollama_models: token counts are bounded by bytes only; give the proxy the models' files to count them")
		}
		return m, nil
	}
	for _, name := range models {
		c, err := m.load(name)
		switch {
		case errors.Is(err, metering.ErrModelNotFound):
			log.Warn("model not in the metering directories yet: its jobs are bounded by bytes until it appears",
				"model", name, "dirs", strings.Join(cfg.OllamaModels, ","))
			m.counters[name] = nil
		case err != nil:
			return nil, fmt.Errorf("proxy: metering: %w", err)
		default:
			m.counters[name] = c
		}
	}
	return m, nil
}

// load builds the counter of model from the first directory holding it.
func (m *meter) load(model string) (*metering.Counter, error) {
	var lastErr error
	for _, dir := range m.cfg.OllamaModels {
		c, err := metering.Load(dir, model)
		if err == nil {
			m.log.Info("metering model", "model", model, "digest", c.Digest(), "tokenizer", c.Tokenizer(), "dir", dir)
			return c, nil
		}
		if !errors.Is(err, metering.ErrModelNotFound) {
			return nil, err
		}
		lastErr = err
	}
	return nil, lastErr
}

// counter returns model's counter, trying once more to load it when it was
// not found before; nil when the model has none.
func (m *meter) counter(model string) *metering.Counter {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, known := m.counters[model]
	if c != nil || !known {
		return c
	}
	c, err := m.load(model)
	if err != nil {
		if !errors.Is(err, metering.ErrModelNotFound) {
			m.log.Error("metering model failed; its jobs stay bounded by bytes", "model", model, "err", err)
			delete(m.counters, model) // do not retry a broken model on every job
		}
		return nil
	}
	m.counters[model] = c
	return c
}

// jobMeter is one request's metering: the counter, the proxy's own count
// of the prompt (worked out while the job runs) and the byte bound.
type jobMeter struct {
	counter   *metering.Counter
	maxTokens int
	maxBytes  int64

	promptDone  chan struct{} // closed when promptCount is set
	promptCount int64
	promptErr   error
	promptBound int64 // the prompt's byte bound, when there is no count
	// deltas counts the worker's non-empty deltas relayed: with no
	// counter, each is at least one token the client got.
	deltas int64
}

// startMetering sets the job's max_tokens (the default when the client set
// none), its byte bound, and starts counting the prompt. The caller must
// call wait before the request ends.
func (p *Proxy) startMetering(job *network.Job) *jobMeter {
	cfg := p.cfg.Metering
	if job.MaxTokens == 0 {
		job.MaxTokens = cfg.DefaultMaxTokens
	}
	jm := &jobMeter{counter: p.meter.counter(job.Model), maxTokens: job.MaxTokens}
	perToken := int64(cfg.MaxBytesPerToken)
	if jm.counter != nil {
		perToken = max(perToken, int64(jm.counter.MaxTokenBytes()))
	}
	jm.maxBytes = min(int64(job.MaxTokens)*perToken, cfg.MaxJobBytes) // ≤ 2^20 × 2^16: no overflow
	msgs, tools := meteringChat(job)                                  // chatmeter.go: tools and tool calls count too
	jm.promptBound = uncountedPromptTokens + chatSurfaceBytes(job)
	for _, m := range msgs {
		jm.promptBound += int64(len(m.Role)+len(m.Content)) + uncountedMessageTokens
	}
	if jm.counter == nil {
		return jm
	}
	// A long prompt takes a while to tokenize: count it while the worker
	// works, not before the job is sent.
	jm.promptDone = make(chan struct{})
	c := jm.counter
	go func() {
		defer close(jm.promptDone)
		n, err := c.PromptTools(msgs, tools)
		jm.promptCount, jm.promptErr = int64(n), err
	}()
	return jm
}

// wait waits for the prompt count (a no-op without a counter).
func (jm *jobMeter) wait() {
	if jm.promptDone != nil {
		<-jm.promptDone
	}
}

// tolerated is the most the proxy bills of a count it made itself.
func (p *Proxy) tolerated(counted int64) int64 {
	cfg := p.cfg.Metering
	return satSum(satSum(counted, cfg.ToleranceTokens), satProduct(counted, cfg.TolerancePercent)/100)
}

// counts are the proxy's own counts of a job's prompt and of the text it
// relayed; ok is false when it has none (no counter for the model, or
// counting failed, which is logged and must not fail the request).
func (jm *jobMeter) counts(text string, log *slog.Logger) (prompt, compl int64, ok bool) {
	jm.wait()
	if jm.counter == nil {
		return 0, 0, false
	}
	if jm.promptErr != nil {
		log.Error("counting the prompt failed; bounding by bytes", "err", jm.promptErr)
		return 0, 0, false
	}
	n, err := jm.counter.Text(text)
	if err != nil {
		log.Error("counting the completion failed; bounding by bytes", "err", err)
		return 0, 0, false
	}
	return jm.promptCount, int64(n), true
}

// billedTokens is what the proxy bills of a finished job whose worker
// claimed usage: min(claimed, own count + tolerance) on each side, and
// never more completion tokens than max_tokens. Without its own counts
// (no counter for the model) it uses bounds instead: the prompt's bytes
// plus template allowances, the completion's bytes (a token is at least a
// byte), with the same tolerance. Every difference between a claim and the
// proxy's count (with bounds: every claim over one) is recorded in the
// worker's trust record.
func (p *Proxy) billedTokens(c *completion, a *attempt, claimed network.Usage, log *slog.Logger) (prompt, compl int64) {
	jm := c.meter
	claimPrompt, claimCompl := int64(claimed.PromptTokens), int64(claimed.CompletionTokens)
	answer := c.completionText() // chatmeter.go: the text and the tool calls
	countPrompt, countCompl, counted := jm.counts(answer, log)
	if !counted {
		countPrompt, countCompl = jm.promptBound, int64(len(answer))
	}
	prompt = min(claimPrompt, p.tolerated(countPrompt))
	compl = min(claimCompl, p.tolerated(countCompl), int64(jm.maxTokens))
	for _, s := range []struct {
		kind                     string
		claimed, counted, billed int64
	}{{"prompt", claimPrompt, countPrompt, prompt}, {"completion", claimCompl, countCompl, compl}} {
		// A bound is no count: only a claim over it is a disagreement.
		if s.claimed != s.counted && (counted || s.claimed > s.counted) {
			p.noteMetering(a.w, a.jobID, s.kind, s.claimed, s.counted, s.billed)
			if s.claimed > s.billed {
				log.Info("worker claimed more tokens than the proxy bills", "kind", s.kind, "claimed", s.claimed, "counted", s.counted, "billed", s.billed, "counter", counted)
			}
		}
	}
	return prompt, compl
}

// relayedTokens is what the proxy bills of a job it ended before the
// worker's done (the client left, or the stream passed its byte bound): its
// own count of the prompt and of the completion text relayed. Without its
// own counts it bills a lower bound: one token per worker delta relayed and
// no prompt tokens.
func (p *Proxy) relayedTokens(c *completion, log *slog.Logger) (prompt, compl int64) {
	jm := c.meter
	prompt, compl, counted := jm.counts(c.text.String(), log)
	if !counted {
		prompt, compl = 0, jm.deltas
	}
	return prompt, min(compl, int64(jm.maxTokens))
}

// satSum adds non-negative a and b, stopping at math.MaxInt64.
func satSum(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// satProduct multiplies non-negative a and b, stopping at math.MaxInt64.
func satProduct(a, b int64) int64 {
	if a != 0 && b > math.MaxInt64/a {
		return math.MaxInt64
	}
	return a * b
}

// textPieces is how many non-empty worker deltas a delta event carries.
func (e event) textPieces() int {
	if e.pieces > 0 {
		return e.pieces
	}
	if e.delta.Text != "" {
		return 1
	}
	return 0
}

// setMaxBytes sets the attempt's byte bound (before its job is sent).
func (a *attempt) setMaxBytes(n int64) {
	a.mu.Lock()
	a.maxBytes = n
	a.mu.Unlock()
}

// boundLocked applies the byte bound to an event about to be queued (a.mu
// held): a delta that takes the job's text past maxBytes is dropped and,
// the first time, an evOversize event takes its place; later deltas are
// dropped, so a worker streaming without end cannot grow the queue.
func (a *attempt) boundLocked(e event) (event, bool) {
	if e.kind != evDelta || a.maxBytes <= 0 {
		return e, true
	}
	if a.oversize {
		return e, false
	}
	if over := a.boundLogprobsLocked(e); over != "" { // chatmeter.go
		a.oversize = true
		return event{kind: evOversize, reason: over}, true
	}
	a.received += int64(len(e.delta.Text)) // ≤ 64 KiB a delta: no overflow before the bound
	if a.received > a.maxBytes {
		a.oversize = true
		return event{kind: evOversize, reason: fmt.Sprintf("more than %d bytes of text", a.maxBytes)}, true
	}
	return e, true
}

// settleRelayed credits the worker, and charges the API key, for what was
// relayed of a job the proxy ended before the worker's done: the client
// left mid-stream (answer false: nobody to tell), or the worker streamed
// past the byte bound (answer true: the client gets the answer so far with
// finish_reason "length" and the usage billed).
func (p *Proxy) settleRelayed(c *completion, a *attempt, log *slog.Logger, answer bool) {
	prompt, compl := p.relayedTokens(c, log)
	if compl == 0 && !answer {
		return // the client got no text: it owes nothing
	}
	u, ok := p.credit(c, a, prompt, compl, log)
	if ok && answer {
		c.finish("length", u)
	}
}
