package ollama

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/internal/modeldigest"
	"github.com/ollama/ollama/api"
)

// KeepLoaded is how long a loaded model stays in memory after its last use
// while the worker serves; Unload frees it at once.
const KeepLoaded = 30 * time.Minute

// fitOverhead approximates the VRAM a model needs beyond its file size
// (KV cache, compute buffers) as a fraction of the file size.
const fitOverhead = 0.20

// ListModels returns the local models, newest first, with VRAM fit and loaded state.
func (r *Runtime) ListModels(ctx context.Context) ([]Model, error) {
	c, err := r.Client()
	if err != nil {
		return nil, err
	}
	resp, err := c.List(ctx)
	if err != nil {
		return nil, r.wrap("list models", err)
	}
	loaded, err := r.Loaded(ctx)
	if err != nil {
		return nil, err
	}
	isLoaded := map[string]bool{}
	for _, l := range loaded {
		isLoaded[l.Name] = true
	}
	out := make([]Model, 0, len(resp.Models))
	for _, m := range resp.Models {
		mm := Model{
			Name: m.Name, Size: m.Size, Digest: m.Digest, ModifiedAt: m.ModifiedAt,
			Family: m.Details.Family, Parameters: m.Details.ParameterSize, Quant: m.Details.QuantizationLevel,
			Loaded: isLoaded[m.Name],
		}
		mm.FitsVRAM, mm.FitNote = r.fits(m.Size)
		mm.WeightsDigest = r.weightsDigest(ctx, c, m.Name, m.Digest)
		out = append(out, mm)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].ModifiedAt.After(out[j].ModifiedAt) })
	return out, nil
}

// weightsDigest is the digest of a model's weights blob from /api/show,
// remembered by manifest digest (a manifest never changes its weights), so
// the periodic model list costs one show per new model. A failed show
// leaves it empty and is tried again at the next list.
func (r *Runtime) weightsDigest(ctx context.Context, c *api.Client, name, manifest string) string {
	r.mu.Lock()
	d, ok := r.weights[manifest]
	r.mu.Unlock()
	if ok {
		return d
	}
	resp, err := c.Show(ctx, &api.ShowRequest{Model: name})
	if err != nil {
		r.log.Debug("show model for its weights digest", "model", name, "err", err)
		return ""
	}
	d, _ = modeldigest.FromModelfile(resp.Modelfile)
	r.mu.Lock()
	if r.weights == nil {
		r.weights = map[string]string{}
	}
	r.weights[manifest] = d
	r.mu.Unlock()
	return d
}

// fits judges whether a model of size bytes fits in free VRAM minus the reserve.
func (r *Runtime) fits(size int64) (bool, string) {
	if r.cfg.FreeVRAM == nil {
		return false, "no GPU: runs on the CPU"
	}
	free, ok := r.cfg.FreeVRAM()
	if !ok {
		return false, "no GPU: runs on the CPU"
	}
	return Fits(size, free, r.cfg.VRAMReserve)
}

// Fits reports whether a model file of size bytes fits in free VRAM after
// keeping reserve bytes for the owner, with a short note when it does not.
func Fits(size int64, free, reserve uint64) (bool, string) {
	need := uint64(float64(size) * (1 + fitOverhead))
	if free <= reserve {
		return false, fmt.Sprintf("no VRAM left above the %s reserve", HumanBytes(int64(reserve)))
	}
	avail := free - reserve
	if need > avail {
		return false, fmt.Sprintf("needs ~%s, %s free after reserve", HumanBytes(int64(need)), HumanBytes(int64(avail)))
	}
	return true, ""
}

// Loaded lists the models Ollama holds in memory now.
func (r *Runtime) Loaded(ctx context.Context) ([]Loaded, error) {
	c, err := r.Client()
	if err != nil {
		return nil, err
	}
	resp, err := c.ListRunning(ctx)
	if err != nil {
		return nil, r.wrap("list loaded models", err)
	}
	out := make([]Loaded, 0, len(resp.Models))
	for _, m := range resp.Models {
		out = append(out, Loaded{Name: m.Name, Size: m.Size, SizeVRAM: m.SizeVRAM, ExpiresAt: m.ExpiresAt})
	}
	return out, nil
}

// Delete removes a local model.
func (r *Runtime) Delete(ctx context.Context, name string) error {
	c, err := r.Client()
	if err != nil {
		return err
	}
	if err := c.Delete(ctx, &api.DeleteRequest{Model: name}); err != nil {
		return r.wrap("delete "+name, err)
	}
	r.changed()
	return nil
}

// Load loads a model into memory and keeps it for KeepLoaded.
func (r *Runtime) Load(ctx context.Context, name string) error {
	c, err := r.Client()
	if err != nil {
		return err
	}
	stream := false
	req := &api.GenerateRequest{Model: name, KeepAlive: &api.Duration{Duration: KeepLoaded}, Stream: &stream}
	if err := c.Generate(ctx, req, func(api.GenerateResponse) error { return nil }); err != nil {
		return r.wrap("load "+name, err)
	}
	r.changed()
	return nil
}

// Unload evicts a model from memory at once (keep_alive 0), waits until
// Ollama no longer lists it as loaded, and returns how long that took.
func (r *Runtime) Unload(ctx context.Context, name string) (time.Duration, error) {
	start := time.Now()
	c, err := r.Client()
	if err != nil {
		return 0, err
	}
	stream := false
	req := &api.GenerateRequest{Model: name, KeepAlive: &api.Duration{Duration: 0}, Stream: &stream}
	if err := c.Generate(ctx, req, func(api.GenerateResponse) error { return nil }); err != nil {
		return time.Since(start), r.wrap("unload "+name, err)
	}
	for delay := 5 * time.Millisecond; ; delay = min(delay*2, 100*time.Millisecond) {
		loaded, err := r.Loaded(ctx)
		if err != nil {
			return time.Since(start), err
		}
		if !containsModel(loaded, name) {
			r.changed()
			return time.Since(start), nil
		}
		select {
		case <-ctx.Done():
			return time.Since(start), fmt.Errorf("runtime: unload %s: %w", name, ctx.Err())
		case <-time.After(delay):
		}
	}
}

func containsModel(ls []Loaded, name string) bool {
	for _, l := range ls {
		if l.Name == name || l.Name == name+":latest" || strings.TrimSuffix(l.Name, ":latest") == name {
			return true
		}
	}
	return false
}

// PullOptions tune a download.
type PullOptions struct {
	// Insecure allows plain-HTTP registries (local test registries).
	Insecure bool
	// Progress receives updates; called from the pulling goroutine.
	Progress func(PullProgress)
}

// Pull downloads a model with progress, honouring ctx cancellation. It checks
// the disk before the download fills it: when the layers announced by the
// registry need more space than is free, it stops with ErrDiskFull.
func (r *Runtime) Pull(ctx context.Context, name string, opts PullOptions) error {
	c, err := r.Client()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	report := func(p PullProgress) {
		if opts.Progress != nil {
			opts.Progress(p)
		}
	}
	layers := map[string]api.ProgressResponse{}
	rate := newRateMeter(3 * time.Second)
	var lastTotal, lastDone int64
	succeeded := false // Ollama's client returns nil when the stream just stops; only "success" means done
	checkedDisk := map[string]bool{}
	modelsDir := r.ModelsDir()
	fn := func(p api.ProgressResponse) error {
		if p.Status == "success" {
			succeeded = true
		}
		if p.Digest != "" {
			layers[p.Digest] = p
			if !checkedDisk[p.Digest] && p.Total > 0 && modelsDir != "" {
				checkedDisk[p.Digest] = true
				var need int64
				for _, l := range layers {
					need += l.Total - l.Completed
				}
				if free, err := r.cfg.DiskFree(modelsDir); err == nil && uint64(need) > free {
					derr := fmt.Errorf("runtime: pull %s: %w: needs %s, %s free in %s",
						name, ErrDiskFull, HumanBytes(need), HumanBytes(int64(free)), modelsDir)
					cancel(derr)
					return derr
				}
			}
		}
		var total, done int64
		for _, l := range layers {
			total += l.Total
			done += l.Completed
		}
		lastTotal, lastDone = total, done
		pp := PullProgress{Model: name, Status: p.Status, Completed: done, Total: total, Rate: rate.add(done)}
		if total > 0 {
			pp.Percent = 100 * float64(done) / float64(total)
		}
		report(pp)
		return nil
	}
	err = c.Pull(ctx, &api.PullRequest{Model: name, Insecure: opts.Insecure}, fn)
	if err == nil && !succeeded {
		if ctx.Err() != nil {
			err = ctx.Err()
		} else {
			err = errors.New("the download stopped before Ollama reported success")
		}
	}
	if cause := context.Cause(ctx); err != nil && cause != nil && !errors.Is(cause, context.Canceled) {
		err = cause
	}
	if err != nil {
		var werr error
		switch {
		case errors.Is(err, ErrDiskFull):
			werr = err
		case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
			werr = fmt.Errorf("runtime: pull %s: %w", name, cancelCause(ctx, err))
		default:
			werr = r.wrap("pull "+name, err)
			if !errors.Is(werr, ErrModelNotFound) && !errors.Is(werr, ErrDiskFull) && !errors.Is(werr, ErrOllamaUnreachable) &&
				!errors.Is(werr, ErrRegistryUnreachable) {
				werr = fmt.Errorf("runtime: pull %s: %w after %s of %s: %v", name, ErrPullFailed, HumanBytes(lastDone), HumanBytes(lastTotal), err)
			}
		}
		report(PullProgress{Model: name, Completed: lastDone, Total: lastTotal, Done: true, Err: werr.Error()})
		return werr
	}
	report(PullProgress{Model: name, Status: "success", Completed: lastTotal, Total: lastTotal, Percent: 100, Done: true})
	r.changed()
	return nil
}

// Chat runs one chat job, calling onDelta with each piece of generated text,
// and returns the usage from Ollama's final message. Cancel ctx to stop it.
// Prompts and outputs are never logged.
func (r *Runtime) Chat(ctx context.Context, job Job, onDelta func(string) error) (Usage, error) {
	c, err := r.Client()
	if err != nil {
		return Usage{}, err
	}
	msgs := make([]api.Message, len(job.Messages))
	for i, m := range job.Messages {
		msgs[i] = api.Message{Role: m.Role, Content: m.Content, ToolCalls: m.ToolCalls, ToolName: m.ToolName, ToolCallID: m.ToolCallID}
	}
	opts := map[string]any{}
	if job.MaxTokens > 0 {
		opts["num_predict"] = job.MaxTokens
	}
	if job.Temperature != nil {
		opts["temperature"] = *job.Temperature
	}
	if job.TopP != nil {
		opts["top_p"] = *job.TopP
	}
	if job.Seed != nil {
		opts["seed"] = *job.Seed
	}
	if len(job.Stop) > 0 {
		opts["stop"] = job.Stop
	}
	if job.PresencePenalty != nil {
		opts["presence_penalty"] = *job.PresencePenalty
	}
	if job.FrequencyPenalty != nil {
		opts["frequency_penalty"] = *job.FrequencyPenalty
	}
	stream := true
	req := &api.ChatRequest{Model: job.Model, Messages: msgs, Stream: &stream, Options: opts,
		KeepAlive: &api.Duration{Duration: KeepLoaded}, Format: job.Format, Tools: job.Tools,
		Logprobs: job.Logprobs, TopLogprobs: job.TopLogprobs}
	var usage Usage
	var final bool
	err = c.Chat(ctx, req, func(resp api.ChatResponse) error {
		if len(resp.Logprobs) > 0 && job.OnLogprobs != nil {
			if err := job.OnLogprobs(resp.Logprobs); err != nil {
				return err
			}
		}
		if resp.Message.Content != "" && onDelta != nil {
			if err := onDelta(resp.Message.Content); err != nil {
				return err
			}
		}
		for _, tc := range resp.Message.ToolCalls {
			if job.OnToolCall == nil {
				return fmt.Errorf("the model called tool %q in a job that offered none", tc.Function.Name)
			}
			if err := job.OnToolCall(tc); err != nil {
				return err
			}
		}
		if resp.Done {
			final = true
			usage = doneUsage(resp.Metrics, resp.DoneReason)
		}
		return nil
	})
	return usage, r.streamEnd(ctx, "chat "+job.Model, err, final)
}

// wrap turns an Ollama client error into one carrying this package's sentinels.
func (r *Runtime) wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	var se api.StatusError
	msg := err.Error()
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("runtime: %s: %w", what, err)
	case errors.As(err, &se) && se.StatusCode == 404,
		strings.Contains(msg, "not found"), strings.Contains(msg, "file does not exist"):
		return fmt.Errorf("runtime: %s: %w: %s", what, ErrModelNotFound, msg)
	case errors.Is(err, syscall.ENOSPC), strings.Contains(msg, "no space left on device"):
		return fmt.Errorf("runtime: %s: %w: %s", what, ErrDiskFull, msg)
	case isConnErr(err):
		return fmt.Errorf("runtime: %s: %w: %s", what, ErrOllamaUnreachable, msg)
	case isRegistryNetErr(msg):
		return fmt.Errorf("runtime: %s: %w: %s", what, ErrRegistryUnreachable, msg)
	}
	return fmt.Errorf("runtime: %s: %w", what, err)
}

func isConnErr(err error) bool {
	var ne net.Error
	var oe *net.OpError
	return errors.As(err, &oe) || errors.As(err, &ne) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) || strings.Contains(err.Error(), "EOF")
}

// registryNetErrs are the words of Go's network errors as Ollama relays
// them from its own request to the registry: only a message reaches us
// (our connection to Ollama worked), so the words are all there is.
var registryNetErrs = []string{"no such host", "dial tcp", "i/o timeout", "network is unreachable",
	"connection refused", "TLS handshake timeout", "server misbehaving", "temporary failure in name resolution"}

// isRegistryNetErr reports whether Ollama's error message says it could not
// reach the registry.
func isRegistryNetErr(msg string) bool {
	m := strings.ToLower(msg)
	for _, w := range registryNetErrs {
		if strings.Contains(m, strings.ToLower(w)) {
			return true
		}
	}
	return false
}

// rateMeter estimates bytes/s over a sliding window.
type rateMeter struct {
	window  time.Duration
	samples []rateSample
}

type rateSample struct {
	t time.Time
	n int64
}

func newRateMeter(window time.Duration) *rateMeter { return &rateMeter{window: window} }

func (m *rateMeter) add(n int64) float64 {
	now := time.Now()
	m.samples = append(m.samples, rateSample{now, n})
	for len(m.samples) > 2 && now.Sub(m.samples[0].t) > m.window {
		m.samples = m.samples[1:]
	}
	first := m.samples[0]
	dt := now.Sub(first.t).Seconds()
	if dt <= 0 {
		return 0
	}
	return float64(n-first.n) / dt
}

// HumanBytes formats a byte count for people: "812 KB", "4.7 GB".
func HumanBytes(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	v := float64(n) / float64(div)
	if v >= 100 {
		return fmt.Sprintf("%.0f %cB", v, "KMGTPE"[exp])
	}
	return fmt.Sprintf("%.1f %cB", v, "KMGTPE"[exp])
}

// cancelCause is the context's own error when it ended (so callers can test
// errors.Is(err, context.Canceled)), else err itself.
func cancelCause(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}
