package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Defaults of LimitsConfig.
const (
	DefaultReadHeaderTimeout   = 10 * time.Second
	DefaultReadTimeout         = 30 * time.Second
	DefaultIdleTimeout         = 2 * time.Minute
	DefaultStreamWriteTimeout  = 10 * time.Second
	DefaultMaxConnsPerIP       = 256
	DefaultMaxWorkerConnsPerIP = 64
	DefaultMaxQueued           = 256
	DefaultMaxConcurrentPerKey = 64
	DefaultPruneWorkersAfter   = 30 * 24 * time.Hour
)

// Upper bounds checked by validate: beyond them a value is surely a typo.
const (
	maxLimitTimeout  = time.Hour
	maxLimitCount    = 1_000_000
	minPruneInterval = time.Hour
	// pruneEvery is how often never-earning worker records are pruned
	// (and once when the proxy starts).
	pruneEvery = 24 * time.Hour
)

// LimitsConfig bounds what one connection, one address and one API key can
// take of the proxy, so that a slow, stalled or greedy peer cannot pin its
// handlers, connections or memory. Zero fields take the defaults.
type LimitsConfig struct {
	// ReadHeaderTimeout bounds, on both listeners, the TLS handshake and a
	// request's line and headers (slowloris).
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, body included, on both
	// listeners. It does not bound a streamed answer: net/http lifts the read
	// deadline once the body is read, and a hijacked (upgraded) worker
	// WebSocket has none.
	ReadTimeout time.Duration
	// IdleTimeout closes keep-alive connections idle this long.
	IdleTimeout time.Duration
	// StreamWriteTimeout bounds each write (and flush) of an answer to an
	// app developer: a client that stops reading is dropped after it, its
	// job cancelled on the worker. There is no timeout on a whole answer
	// (http.Server's WriteTimeout would cut long streams); the job timeout
	// bounds that.
	StreamWriteTimeout time.Duration
	// MaxConnsPerIP caps the open API connections from one remote IP
	// address; more are closed as soon as they are accepted.
	MaxConnsPerIP int
	// MaxWorkerConnsPerIP caps the open worker-listener connections from
	// one remote IP address (several workers behind one NAT share it).
	MaxWorkerConnsPerIP int
	// MaxQueued caps the requests waiting, proxy-wide, for a slot on a busy
	// model; beyond it a request is answered 503 with Retry-After.
	MaxQueued int
	// MaxConcurrentPerKey caps the requests one API key has in flight
	// (running or queued); APIKey.MaxConcurrent overrides it per key.
	// Beyond it a request is answered 429 with Retry-After.
	MaxConcurrentPerKey int
	// PruneWorkersAfter: a worker record that never earned anything (no
	// receipt, no payout) and was not seen for this long is deleted, when
	// the proxy starts and daily. (Fresh identities get no record until
	// their first credit; old records from before that rule are what this
	// clears.)
	PruneWorkersAfter time.Duration
}

// fileLimitsConfig is the JSON form of LimitsConfig ("limits" in the config
// file); durations are strings like "10s".
type fileLimitsConfig struct {
	ReadHeaderTimeout   *string `json:"read_header_timeout"`
	ReadTimeout         *string `json:"read_timeout"`
	IdleTimeout         *string `json:"idle_timeout"`
	StreamWriteTimeout  *string `json:"stream_write_timeout"`
	MaxConnsPerIP       *int    `json:"max_conns_per_ip"`
	MaxWorkerConnsPerIP *int    `json:"max_worker_conns_per_ip"`
	MaxQueued           *int    `json:"max_queued"`
	MaxConcurrentPerKey *int    `json:"max_concurrent_per_key"`
	PruneWorkersAfter   *string `json:"prune_workers_after"`
}

// DefaultLimits returns every limit at its default.
func DefaultLimits() LimitsConfig {
	return LimitsConfig{
		ReadHeaderTimeout:   DefaultReadHeaderTimeout,
		ReadTimeout:         DefaultReadTimeout,
		IdleTimeout:         DefaultIdleTimeout,
		StreamWriteTimeout:  DefaultStreamWriteTimeout,
		MaxConnsPerIP:       DefaultMaxConnsPerIP,
		MaxWorkerConnsPerIP: DefaultMaxWorkerConnsPerIP,
		MaxQueued:           DefaultMaxQueued,
		MaxConcurrentPerKey: DefaultMaxConcurrentPerKey,
		PruneWorkersAfter:   DefaultPruneWorkersAfter,
	}
}

// parseLimits applies the file's "limits" object (nil: none) to the defaults.
func parseLimits(f *fileLimitsConfig) (LimitsConfig, error) {
	l := DefaultLimits()
	if f == nil {
		return l, nil
	}
	for _, d := range []struct {
		name string
		src  *string
		dst  *time.Duration
	}{
		{"read_header_timeout", f.ReadHeaderTimeout, &l.ReadHeaderTimeout},
		{"read_timeout", f.ReadTimeout, &l.ReadTimeout},
		{"idle_timeout", f.IdleTimeout, &l.IdleTimeout},
		{"stream_write_timeout", f.StreamWriteTimeout, &l.StreamWriteTimeout},
		{"prune_workers_after", f.PruneWorkersAfter, &l.PruneWorkersAfter},
	} {
		if d.src == nil {
			continue
		}
		v, err := time.ParseDuration(*d.src)
		if err != nil {
			return l, fmt.Errorf("proxy config: limits: %s: %q is not a duration like \"10s\"", d.name, truncateStr(*d.src, 32))
		}
		*d.dst = v
	}
	for _, n := range []struct {
		src *int
		dst *int
	}{
		{f.MaxConnsPerIP, &l.MaxConnsPerIP},
		{f.MaxWorkerConnsPerIP, &l.MaxWorkerConnsPerIP},
		{f.MaxQueued, &l.MaxQueued},
		{f.MaxConcurrentPerKey, &l.MaxConcurrentPerKey},
	} {
		if n.src != nil {
			*n.dst = *n.src
		}
	}
	return l, nil
}

// withDefaults fills zero fields.
func (l LimitsConfig) withDefaults() LimitsConfig {
	d := DefaultLimits()
	fill := func(v *time.Duration, def time.Duration) {
		if *v == 0 {
			*v = def
		}
	}
	fill(&l.ReadHeaderTimeout, d.ReadHeaderTimeout)
	fill(&l.ReadTimeout, d.ReadTimeout)
	fill(&l.IdleTimeout, d.IdleTimeout)
	fill(&l.StreamWriteTimeout, d.StreamWriteTimeout)
	fill(&l.PruneWorkersAfter, d.PruneWorkersAfter)
	for _, n := range []struct{ v, def *int }{
		{&l.MaxConnsPerIP, &d.MaxConnsPerIP}, {&l.MaxWorkerConnsPerIP, &d.MaxWorkerConnsPerIP},
		{&l.MaxQueued, &d.MaxQueued}, {&l.MaxConcurrentPerKey, &d.MaxConcurrentPerKey},
	} {
		if *n.v == 0 {
			*n.v = *n.def
		}
	}
	return l
}

// validateLimits checks the limits and the API keys' own concurrency caps.
func validateLimits(l LimitsConfig, keys []APIKey) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("proxy config: limits: "+format, args...)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"read_header_timeout", l.ReadHeaderTimeout}, {"read_timeout", l.ReadTimeout},
		{"idle_timeout", l.IdleTimeout}, {"stream_write_timeout", l.StreamWriteTimeout},
	} {
		if d.v < time.Millisecond || d.v > maxLimitTimeout {
			return bad("%s: %v out of range 1ms..%v", d.name, d.v, maxLimitTimeout)
		}
	}
	if l.ReadHeaderTimeout > l.ReadTimeout {
		return bad("read_header_timeout %v is longer than read_timeout %v", l.ReadHeaderTimeout, l.ReadTimeout)
	}
	if l.PruneWorkersAfter < minPruneInterval {
		return bad("prune_workers_after: %v is under %v", l.PruneWorkersAfter, minPruneInterval)
	}
	for _, n := range []struct {
		name string
		v    int
	}{
		{"max_conns_per_ip", l.MaxConnsPerIP}, {"max_worker_conns_per_ip", l.MaxWorkerConnsPerIP},
		{"max_queued", l.MaxQueued}, {"max_concurrent_per_key", l.MaxConcurrentPerKey},
	} {
		if n.v < 1 || n.v > maxLimitCount {
			return bad("%s: %d out of range 1..%d", n.name, n.v, maxLimitCount)
		}
	}
	for i, k := range keys {
		if k.MaxConcurrent < 0 || k.MaxConcurrent > maxLimitCount {
			return fmt.Errorf("proxy config: api_keys[%d]: max_concurrent %d out of range 0..%d (0: limits.max_concurrent_per_key)", i, k.MaxConcurrent, maxLimitCount)
		}
	}
	return nil
}

// maxInflight is the concurrency cap of an API key.
func (l LimitsConfig) maxInflight(k APIKey) int {
	if k.MaxConcurrent > 0 {
		return k.MaxConcurrent
	}
	return l.MaxConcurrentPerKey
}

// ---- per-IP connection cap ----

// ipLimitListener closes, as soon as they are accepted, connections from a
// remote IP address that already has max open ones. It sits under TLS, so a
// refused connection costs no handshake.
type ipLimitListener struct {
	net.Listener
	max  int
	name string // "api" or "worker", for the log
	log  *slog.Logger

	mu      sync.Mutex
	open    map[string]int
	refused int64
}

func newIPLimitListener(l net.Listener, max int, name string, log *slog.Logger) *ipLimitListener {
	return &ipLimitListener{Listener: l, max: max, name: name, log: log, open: map[string]int{}}
}

func (l *ipLimitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := remoteIP(c.RemoteAddr())
		l.mu.Lock()
		if l.open[ip] >= l.max {
			l.refused++
			n := l.refused
			l.mu.Unlock()
			c.Close()
			// Debug only: a flood must not flood the log too.
			l.log.Debug("connection refused: per-IP cap", "listener", l.name, "ip", ip, "cap", l.max, "refused_total", n)
			continue
		}
		l.open[ip]++
		l.mu.Unlock()
		return &ipLimitConn{Conn: c, l: l, ip: ip}, nil
	}
}

func (l *ipLimitListener) release(ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[ip]--; l.open[ip] <= 0 {
		delete(l.open, ip)
	}
}

// Refused is how many connections the cap has closed so far.
func (l *ipLimitListener) Refused() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.refused
}

func remoteIP(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}

// ipLimitConn gives its slot back on the first Close.
type ipLimitConn struct {
	net.Conn
	l    *ipLimitListener
	ip   string
	once sync.Once
}

func (c *ipLimitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.ip) })
	return err
}

// ---- per-key concurrency and the wait queue ----

// ErrQueueFull is why a request is refused when MaxQueued requests already
// wait for a busy model.
var ErrQueueFull = errors.New("proxy: the wait queue for busy models is full")

// admitChat takes one of the key's concurrent slots for a chat request. It
// answers 429 (and returns false) when the key is at its cap; else done
// must be called when the request ends, to give the slot back.
func (p *Proxy) admitChat(w http.ResponseWriter, k *apiKeyState) (done func(), ok bool) {
	if n := k.inflight.Add(1); n > int64(k.maxInflight) {
		k.inflight.Add(-1)
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusTooManyRequests, "concurrency_limit_exceeded", "",
			fmt.Sprintf("this API key already has %d requests in flight, its limit; retry when one ends", k.maxInflight))
		return nil, false
	}
	return func() { k.inflight.Add(-1) }, true
}

// clearWriteDeadlineWhenIdle is the API server's ConnState hook. A chat
// answer leaves its last write deadline on the connection (it also bounds
// net/http's final flush after the handler returned: lifting it sooner
// would let a client that stopped reading pin that flush). Without a
// WriteTimeout, http.Server never resets it, so it is lifted here once the
// request is over and the connection waits for the next one.
func clearWriteDeadlineWhenIdle(c net.Conn, s http.ConnState) {
	if s == http.StateIdle {
		_ = c.SetWriteDeadline(time.Time{})
	}
}

// joinQueue counts a request as waiting for a busy model; false when
// MaxQueued already wait (then it is not counted).
func (p *Proxy) joinQueue() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.queued >= p.cfg.Limits.MaxQueued {
		return false
	}
	p.queued++
	return true
}

func (p *Proxy) leaveQueue() {
	p.mu.Lock()
	p.queued--
	p.mu.Unlock()
}

// failQueueFull answers a request that found the wait queue full.
func (c *completion) failQueueFull() {
	c.fail(http.StatusServiceUnavailable, "queue_full",
		"every worker for this model is busy and "+strconv.Itoa(c.p.cfg.Limits.MaxQueued)+" requests already wait; retry later")
}

// ---- stream write deadlines ----

// armWrite gives the next write (and flush) to the app developer
// StreamWriteTimeout to complete: a client that stops reading fills the
// socket buffers, the write then fails, and the handler cancels the job
// instead of blocking for good.
func (c *completion) armWrite() {
	if c.rc == nil {
		c.rc = http.NewResponseController(c.w)
	}
	_ = c.rc.SetWriteDeadline(time.Now().Add(c.p.cfg.Limits.StreamWriteTimeout))
}

// writeFlush writes b to the stream and flushes it, within the write deadline.
func (c *completion) writeFlush(b []byte) error {
	c.armWrite()
	if _, err := c.w.Write(b); err != nil {
		return fmt.Errorf("proxy: stream write: %w", err)
	}
	if err := c.rc.Flush(); err != nil {
		return fmt.Errorf("proxy: stream flush: %w", err)
	}
	return nil
}

// ---- pruning never-earning worker records ----

// pruneWorkers deletes the records of workers that never earned and were
// not seen for PruneWorkersAfter.
func (p *Proxy) pruneWorkers(ctx context.Context) {
	cutoff := time.Now().Add(-p.cfg.Limits.PruneWorkersAfter)
	n, err := p.store.PruneWorkers(ctx, cutoff)
	if err != nil {
		p.log.Error("pruning never-earning worker records", "err", err)
		return
	}
	if n > 0 {
		p.log.Info("pruned never-earning worker records", "records", n, "unseen_since", cutoff.UTC().Format(time.RFC3339))
	}
}

// pruneLoop prunes daily until ctx ends (New pruned once already).
func (p *Proxy) pruneLoop(ctx context.Context) {
	t := time.NewTicker(pruneEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			p.pruneWorkers(ctx)
		}
	}
}
