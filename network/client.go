package network

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"

	"github.com/cocoon-desktop/cocoon-desktop/receipt"
)

// ErrUnknownModel is what a JobHandler returns (wrapped) when it does not have
// the job's model; the proxy is told unknown_model instead of runtime_error.
var ErrUnknownModel = errors.New("network: unknown model")

// JobHandler runs jobs for the Client (the model runtime, behind the worker core).
type JobHandler interface {
	// RunJob runs one job, calling emit for each piece of text in order; it
	// returns usage and the finish reason. It must return soon after ctx ends.
	// emit returns an error when the text can no longer be delivered (the job
	// was cancelled or the connection broke); RunJob should stop then.
	RunJob(ctx context.Context, job Job, emit func(text string) error) (Usage, string, error)
}

// ClientConfig configures a Client.
type ClientConfig struct {
	URL       string            // wss://host:port/v1/worker (ws:// is allowed for loopback hosts only)
	ProxyKey  ed25519.PublicKey // pinned: the proxy must prove this key
	Key       ed25519.PrivateKey
	Handler   JobHandler
	OnReceipt func(receipt.Signed) error // called after Verify passes; an error is logged and the receipt is not acked
	OnEvent   func(ClientEvent)          // state changes for the UI; called synchronously, must not block
	// OnBalance receives the proxy's view of this worker's money (after
	// every register) for reconciliation; OnPayoutStatus every payout
	// state change. Both are called from the reader: they must not block.
	OnBalance      func(Balance)
	OnPayoutStatus func(PayoutStatus)
	// OnVoucher receives each voucher the proxy signs (shape-checked only:
	// its signature is over a TON cell the worker rebuilds). Called from the
	// reader: it must not block.
	OnVoucher func(Voucher)
	Logger    *slog.Logger

	MinBackoff, MaxBackoff time.Duration // reconnect with jitter, defaults 500ms..30s
	AppVersion             string
	// RootCAs verify a proxy certificate that is not the pinned key (a
	// proxy behind a certificate of a private CA); nil: the system roots.
	RootCAs *x509.CertPool
}

// EventKind names a ClientEvent.
type EventKind string

// Client event kinds.
const (
	EventConnected        EventKind = "connected"
	EventDisconnected     EventKind = "disconnected"
	EventAuthFailed       EventKind = "auth failed"
	EventJobStarted       EventKind = "job started"
	EventJobFinished      EventKind = "job finished"
	EventJobFailed        EventKind = "job failed"
	EventReceipt          EventKind = "receipt"
	EventReceiptRejected  EventKind = "receipt rejected"
	EventRTT              EventKind = "rtt"
	EventProxyError       EventKind = "proxy error"
	EventAvailabilitySent EventKind = "availability sent"
)

// ClientEvent is one state change, for the UI and the worker core. Only the
// fields that apply to Kind are set; none carries prompt or completion text.
type ClientEvent struct {
	Kind     EventKind
	Time     time.Time
	Reason   string          // disconnected, auth failed, job failed, receipt rejected, proxy error
	Err      error           // disconnected: the error behind Reason (for errors.Is), nil when none
	WorkerID string          // connected
	JobID    string          // job and receipt events
	Model    string          // job events
	Code     string          // job failed: the job_error code; proxy error: its code
	Usage    Usage           // job finished
	Duration time.Duration   // job finished/failed: run time; disconnected: how long the session lasted
	RTT      time.Duration   // rtt
	Receipt  *receipt.Signed // receipt (verified) and receipt rejected
}

// String renders the event for a log line or a status bar, e.g.
// "auth failed: proxy key mismatch".
func (e ClientEvent) String() string {
	s := string(e.Kind)
	switch e.Kind {
	case EventRTT:
		return s + ": " + e.RTT.String()
	case EventJobStarted, EventJobFinished:
		return s + ": " + e.JobID
	case EventJobFailed:
		return s + ": " + e.JobID + ": " + e.Code
	}
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	return s
}

// Client is the worker side of the protocol: one outbound connection to the
// proxy, kept up until Run's context ends.
type Client struct {
	cfg    ClientConfig
	id     string
	pub    ed25519.PublicKey
	log    *slog.Logger
	dialer *http.Client // nil until Run validated the config

	running atomic.Bool

	mu       sync.Mutex
	reg      *Register
	regVer   uint64
	avail    *Availability
	availVer uint64
	sess     *session
	jobs     map[string]*jobRun
	idle     chan struct{} // closed while no job runs
	update   chan struct{} // signals the session to send registration/availability
}

// NewClient makes a Client; Run starts it.
func NewClient(cfg ClientConfig) *Client {
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 500 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 30 * time.Second
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = cfg.MinBackoff
	}
	c := &Client{
		cfg:    cfg,
		log:    cfg.Logger,
		jobs:   make(map[string]*jobRun),
		idle:   make(chan struct{}),
		update: make(chan struct{}, 1),
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	close(c.idle)
	if len(cfg.Key) == ed25519.PrivateKeySize {
		c.pub = cfg.Key.Public().(ed25519.PublicKey)
		c.id = WorkerID(c.pub)
	}
	return c
}

// ID is the worker id (hex of the public key); empty when the key is invalid.
func (c *Client) ID() string { return c.id }

// Timeouts of the connection.
const (
	handshakeTimeout = 15 * time.Second
	writeTimeout     = 10 * time.Second
	byeTimeout       = 2 * time.Second
	missedHeartbeats = 3
	minHeartbeat     = 50 * time.Millisecond
	maxHeartbeat     = 5 * time.Minute
	stableSession    = 10 * time.Second // a session this long resets the backoff
	// deltaInterval is the least time between two delta frames of a job.
	// A fast model (thousands of tokens/s) then sends a few tokens a frame
	// instead of one, which cuts the relay's per-frame work (encode, TLS,
	// WebSocket, the proxy's decode and SSE event, the app's parse) several
	// fold; a token waits at most this long, and one that follows a quiet
	// spell (the first, or any from a model slower than 1/deltaInterval
	// tokens/s) goes at once.
	deltaInterval = 10 * time.Millisecond
)

// Errors that classify a failed connection attempt.
var (
	errProxyKeyMismatch = errors.New("proxy key mismatch")
	// errChannelMismatch: the challenge names the pinned key but its
	// signature does not verify over this TLS connection: an impostor, or
	// something in between relaying the real proxy's handshake.
	errChannelMismatch = errors.New("proxy signature does not verify on this TLS connection")
	errProxyRejected   = errors.New("rejected by proxy")
	errHeartbeat       = errors.New("heartbeat timeout")
	errShutdown        = errors.New("worker shutting down")
	errProxyBye        = errors.New("proxy said bye")
	errJobTimeout      = errors.New("job deadline passed")
	errProxyCancel     = errors.New("cancelled by the proxy")
)

// certUntrustedError is a TLS certificate that is neither the pinned key nor
// valid under the system roots.
type certUntrustedError struct{ err error }

func (e *certUntrustedError) Error() string {
	return "proxy certificate is not the pinned key and not trusted by the system: " + e.err.Error()
}
func (e *certUntrustedError) Unwrap() error { return e.err }

// cancelAllError is the cause of a job cancelled by CancelAll.
type cancelAllError struct{ reason string }

func (e *cancelAllError) Error() string { return "cancelled by the worker: " + e.reason }

func (c *Client) validate() error {
	if len(c.cfg.Key) != ed25519.PrivateKeySize {
		return errors.New("network: client: worker key missing or not an ed25519 private key")
	}
	if len(c.cfg.ProxyKey) != ed25519.PublicKeySize {
		return errors.New("network: client: pinned proxy key missing or not an ed25519 public key")
	}
	if c.cfg.Handler == nil {
		return errors.New("network: client: no job handler")
	}
	u, err := url.Parse(c.cfg.URL)
	if err != nil {
		return fmt.Errorf("network: client: proxy URL: %w", err)
	}
	switch u.Scheme {
	case "wss":
	case "ws":
		host := u.Hostname()
		ip := net.ParseIP(host)
		if host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return fmt.Errorf("network: client: proxy URL %s is not TLS (use wss://; ws:// is for loopback only)", c.cfg.URL)
		}
	default:
		return fmt.Errorf("network: client: proxy URL %s must start with wss://", c.cfg.URL)
	}
	if u.Host == "" {
		return fmt.Errorf("network: client: proxy URL %s has no host", c.cfg.URL)
	}
	if c.cfg.AppVersion != "" {
		if err := checkText("app_version", c.cfg.AppVersion, 64); err != nil {
			return fmt.Errorf("network: client: %w", err)
		}
	}
	return nil
}

// tlsConfig pins the proxy key: a leaf certificate whose public key is the
// pinned ed25519 key is accepted (the reference proxy serves a self-signed
// certificate made from its identity key); any other certificate must verify
// against the system roots for the host name. Either way the handshake's
// proxy_sig must verify with the pinned key.
func (c *Client) tlsConfig() *tls.Config { return pinnedTLSConfig(c.cfg.ProxyKey, c.cfg.RootCAs) }

// pinnedTLSConfig is the client's TLS verification, shared with FetchNetworkInfo.
func pinnedTLSConfig(pinned ed25519.PublicKey, roots *x509.CertPool) *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, // verification is done by VerifyConnection below
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return &certUntrustedError{errors.New("no certificate")}
			}
			leaf := cs.PeerCertificates[0]
			if pk, ok := leaf.PublicKey.(ed25519.PublicKey); ok && pk.Equal(pinned) {
				return nil
			}
			opts := x509.VerifyOptions{DNSName: cs.ServerName, Intermediates: x509.NewCertPool(), Roots: roots}
			for _, ic := range cs.PeerCertificates[1:] {
				opts.Intermediates.AddCert(ic)
			}
			if _, err := leaf.Verify(opts); err != nil {
				return &certUntrustedError{err}
			}
			return nil
		},
	}
}

// Run connects, authenticates and serves jobs, reconnecting with jittered
// backoff until ctx ends. It returns nil when ctx ends and an error only for
// a configuration that can never work (missing keys, handler or a bad URL).
func (c *Client) Run(ctx context.Context) error {
	if err := c.validate(); err != nil {
		return err
	}
	if !c.running.CompareAndSwap(false, true) {
		return errors.New("network: client: Run is already running")
	}
	defer c.running.Store(false)
	c.dialer = &http.Client{Transport: &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		TLSClientConfig:     c.tlsConfig(),
		TLSHandshakeTimeout: handshakeTimeout,
		ForceAttemptHTTP2:   false,
	}}
	backoff := c.cfg.MinBackoff
	for {
		if ctx.Err() != nil {
			return nil
		}
		lasted, err := c.runSession(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if lasted >= stableSession {
			backoff = c.cfg.MinBackoff
		}
		wait := backoff/2 + mrand.N(backoff/2+1)
		c.log.Info("network: reconnecting", "in", wait.Round(time.Millisecond), "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		backoff = min(backoff*2, c.cfg.MaxBackoff)
	}
}

func (c *Client) emit(ev ClientEvent) {
	ev.Time = time.Now()
	if c.cfg.OnEvent != nil {
		c.cfg.OnEvent(ev)
	}
}

// session is one authenticated connection.
type session struct {
	c         *Client
	conn      *websocket.Conn
	ctx       context.Context // ends when the connection is over
	cancel    context.CancelCauseFunc
	heartbeat time.Duration
	lastRecv  atomic.Int64 // unix nanos of the last frame received
	msgID     atomic.Uint64
	jobs      sync.WaitGroup
	sentReg   uint64
	sentAvail uint64
}

// runSession runs one connection from dial to close. It returns how long the
// session was up (0 if the handshake failed) and why it ended.
func (c *Client) runSession(ctx context.Context) (time.Duration, error) {
	conn, welcome, err := c.connect(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return 0, nil
		}
		switch {
		case errors.Is(err, errChannelMismatch):
			c.log.Error("network: the proxy's signature does not verify on this TLS connection: an impostor, a man in the middle, or a TLS-terminating proxy in between", "err", err)
			c.emit(ClientEvent{Kind: EventAuthFailed, Reason: errChannelMismatch.Error()})
		case errors.Is(err, errProxyKeyMismatch):
			c.log.Error("network: the proxy could not prove the pinned key; check the proxy key in the settings", "err", err)
			c.emit(ClientEvent{Kind: EventAuthFailed, Reason: "proxy key mismatch"})
		case errors.As(err, new(*certUntrustedError)):
			c.log.Error("network: proxy certificate not trusted", "err", err)
			c.emit(ClientEvent{Kind: EventAuthFailed, Reason: "proxy certificate not trusted"})
		case errors.Is(err, errProxyRejected):
			c.log.Error("network: proxy refused the handshake", "err", err)
			c.emit(ClientEvent{Kind: EventAuthFailed, Reason: err.Error()})
		default:
			c.log.Warn("network: connect failed", "err", err)
			c.emit(ClientEvent{Kind: EventDisconnected, Reason: err.Error(), Err: err})
		}
		return 0, err
	}
	start := time.Now()
	sctx, scancel := context.WithCancelCause(context.Background())
	s := &session{c: c, conn: conn, ctx: sctx, cancel: scancel, heartbeat: heartbeatInterval(welcome.HeartbeatMS)}
	s.lastRecv.Store(time.Now().UnixNano())

	c.mu.Lock()
	c.sess = s
	c.mu.Unlock()
	c.log.Info("network: connected", "worker_id", c.id, "heartbeat", s.heartbeat)
	c.emit(ClientEvent{Kind: EventConnected, WorkerID: welcome.WorkerID})

	s.sendState() // registration and availability, as set so far
	go s.readLoop()
	go s.controlLoop()

	var cause error
	select {
	case <-ctx.Done():
		cause = errShutdown
		s.shutdown()
	case <-sctx.Done():
		cause = context.Cause(sctx)
		conn.CloseNow()
	}
	c.mu.Lock()
	if c.sess == s {
		c.sess = nil
	}
	c.mu.Unlock()
	lasted := time.Since(start)
	c.log.Info("network: disconnected", "reason", cause, "after", lasted.Round(time.Millisecond))
	c.emit(ClientEvent{Kind: EventDisconnected, Reason: cause.Error(), Err: cause, Duration: lasted})
	return lasted, cause
}

func heartbeatInterval(ms int64) time.Duration {
	if ms <= 0 {
		return DefaultHeartbeat
	}
	if ms > int64(maxHeartbeat/time.Millisecond) {
		return maxHeartbeat
	}
	return max(time.Duration(ms)*time.Millisecond, minHeartbeat)
}

// shutdown ends the session cleanly: running jobs are cancelled and told to
// the proxy, then bye and a normal closure.
func (s *session) shutdown() {
	s.c.cancelJobs(s, errShutdown)
	done := make(chan struct{})
	go func() { s.jobs.Wait(); close(done) }()
	t := time.NewTimer(byeTimeout)
	select {
	case <-done:
	case <-t.C:
	}
	t.Stop()
	if err := s.send(TypeBye, &Bye{Reason: "worker shutting down"}); err != nil {
		s.c.log.Debug("network: bye not sent", "err", err)
	}
	s.conn.Close(websocket.StatusNormalClosure, "bye")
	s.cancel(errShutdown)
}

// connect dials and runs the handshake of the package doc.
func (c *Client) connect(ctx context.Context) (*websocket.Conn, *Welcome, error) {
	hctx, cancel := context.WithTimeout(ctx, handshakeTimeout)
	defer cancel()
	hdr := http.Header{}
	ua := "cocoon-desktop"
	if c.cfg.AppVersion != "" {
		ua += "/" + c.cfg.AppVersion
	}
	hdr.Set("User-Agent", ua)
	conn, resp, err := websocket.Dial(hctx, c.cfg.URL, &websocket.DialOptions{HTTPClient: c.dialer, HTTPHeader: hdr})
	if err != nil {
		return nil, nil, fmt.Errorf("dial %s: %w", c.cfg.URL, err)
	}
	conn.SetReadLimit(MaxMessageSize)
	binding, err := ChannelBinding(resp.TLS)
	if err != nil {
		conn.Close(websocket.StatusPolicyViolation, "no channel binding")
		return nil, nil, fmt.Errorf("%w: %w", errProxyRejected, err)
	}
	welcome, err := c.handshake(hctx, conn, binding)
	if err != nil {
		code := websocket.StatusProtocolError
		if errors.Is(err, errProxyKeyMismatch) || errors.Is(err, errChannelMismatch) {
			code = websocket.StatusPolicyViolation
		}
		conn.Close(code, truncate(err.Error(), 100))
		return nil, nil, err
	}
	return conn, welcome, nil
}

// handshake runs the handshake of the package doc on conn, whose TLS
// channel binding is binding.
func (c *Client) handshake(ctx context.Context, conn *websocket.Conn, binding []byte) (*Welcome, error) {
	clientNonce := make([]byte, 32)
	if _, err := rand.Read(clientNonce); err != nil {
		return nil, err
	}
	if err := writeMsg(ctx, conn, TypeHello, "h1", &Hello{WorkerKey: c.pub, ClientNonce: clientNonce, AppVersion: c.cfg.AppVersion}); err != nil {
		return nil, fmt.Errorf("send hello: %w", err)
	}
	ch, err := readHandshake[*Challenge](ctx, conn, TypeChallenge)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(ch.ProxyKey, c.cfg.ProxyKey) {
		return nil, fmt.Errorf("%w: the proxy has key %x, the pinned key is %x", errProxyKeyMismatch, ch.ProxyKey, []byte(c.cfg.ProxyKey))
	}
	if !ed25519.Verify(c.cfg.ProxyKey, ProxyAuthBytes(clientNonce, ch.Nonce, c.pub, binding), ch.ProxySig) {
		// The key field is the pinned one, so the proxy (or a relay of it)
		// signed for another TLS connection than this one.
		return nil, fmt.Errorf("%w: proxy_sig does not verify with the pinned key over this TLS connection", errChannelMismatch)
	}
	sig := ed25519.Sign(c.cfg.Key, WorkerAuthBytes(ch.Nonce, clientNonce, c.cfg.ProxyKey, binding))
	if err := writeMsg(ctx, conn, TypeAuth, "h2", &Auth{WorkerSig: sig}); err != nil {
		return nil, fmt.Errorf("send auth: %w", err)
	}
	w, err := readHandshake[*Welcome](ctx, conn, TypeWelcome)
	if err != nil {
		return nil, err
	}
	if w.WorkerID != c.id {
		return nil, fmt.Errorf("%w: welcome names worker %q, this worker is %s", errProxyRejected, truncate(w.WorkerID, 80), c.id)
	}
	return w, nil
}

// readHandshake reads the next frame and expects typ; a proxy error message
// is returned as errProxyRejected.
func readHandshake[T Validator](ctx context.Context, conn *websocket.Conn, typ string) (T, error) {
	var zero T
	_, b, err := conn.Read(ctx)
	if err != nil {
		return zero, fmt.Errorf("waiting for %s: %w", typ, err)
	}
	env, payload, err := Decode(b)
	if err != nil {
		var pe *ProtocolError
		if errors.As(err, &pe) && pe.Code == CodeUnsupportedVersion {
			return zero, fmt.Errorf("%w: the proxy speaks another protocol version (%s): update the app or ask the proxy's operator", errProxyRejected, truncate(pe.Message, 200))
		}
		return zero, fmt.Errorf("waiting for %s: %w", typ, err)
	}
	if em, ok := payload.(*ErrorMsg); ok {
		return zero, fmt.Errorf("%w: %s: %s", errProxyRejected, em.Code, truncate(em.Message, 200))
	}
	if env.Type != typ {
		return zero, fmt.Errorf("waiting for %s: got %s", typ, env.Type)
	}
	return payload.(T), nil
}

func writeMsg(ctx context.Context, conn *websocket.Conn, typ, id string, payload Validator) error {
	b, err := Encode(typ, id, payload)
	if err != nil {
		return err
	}
	return conn.Write(ctx, websocket.MessageText, b)
}

// send writes one message on the session; safe for concurrent use.
func (s *session) send(typ string, payload Validator) error {
	if err := s.ctx.Err(); err != nil {
		return context.Cause(s.ctx)
	}
	ctx, cancel := context.WithTimeout(s.ctx, writeTimeout)
	defer cancel()
	id := "w" + strconv.FormatUint(s.msgID.Add(1), 10)
	err := writeMsg(ctx, s.conn, typ, id, payload)
	if err != nil && !errors.Is(err, ErrProtocol) {
		s.cancel(fmt.Errorf("write %s: %w", typ, err))
	}
	return err
}

// sendState sends the registration and availability when they changed since
// this session last sent them.
func (s *session) sendState() {
	c := s.c
	c.mu.Lock()
	var reg *Register
	var avail *Availability
	if c.reg != nil && c.regVer != s.sentReg {
		r := *c.reg
		reg, s.sentReg = &r, c.regVer
	}
	if c.avail != nil && c.availVer != s.sentAvail {
		a := *c.avail
		avail, s.sentAvail = &a, c.availVer
	}
	c.mu.Unlock()
	if reg != nil {
		if err := s.send(TypeRegister, reg); err != nil {
			c.log.Error("network: register not sent", "err", err, "models", len(reg.Models))
		}
	}
	if avail != nil {
		if err := s.send(TypeAvailability, avail); err != nil {
			c.log.Error("network: availability not sent", "err", err)
		} else {
			c.emit(ClientEvent{Kind: EventAvailabilitySent, Reason: avail.State})
		}
	}
}

// controlLoop sends heartbeats, watches for missed ones, and sends state updates.
func (s *session) controlLoop() {
	t := time.NewTicker(s.heartbeat)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.c.update:
			s.sendState()
		case now := <-t.C:
			if now.Sub(time.Unix(0, s.lastRecv.Load())) > missedHeartbeats*s.heartbeat {
				s.c.log.Warn("network: no message from the proxy for 3 heartbeats; reconnecting", "heartbeat", s.heartbeat)
				s.cancel(errHeartbeat)
				return
			}
			s.send(TypePing, &Ping{T: now.UnixMilli()})
		}
	}
}

// readLoop reads and dispatches frames until the connection ends.
func (s *session) readLoop() {
	c := s.c
	for {
		_, b, err := s.conn.Read(s.ctx)
		if err != nil {
			if st := websocket.CloseStatus(err); st != -1 {
				s.cancel(fmt.Errorf("connection closed by the proxy (%d)", st))
			} else {
				s.cancel(fmt.Errorf("read: %w", err))
			}
			return
		}
		s.lastRecv.Store(time.Now().UnixNano())
		env, payload, err := Decode(b)
		if err != nil {
			var pe *ProtocolError
			if !errors.As(err, &pe) {
				pe = &ProtocolError{Code: CodeBadMessage, Message: err.Error()}
			}
			pe.Message = truncate(strings.ToValidUTF8(pe.Message, "?"), MaxReasonLength-8)
			if len(pe.Ref) > MaxJobIDLength {
				pe.Ref = ""
			}
			c.log.Warn("network: malformed message from the proxy", "code", pe.Code, "ref", pe.Ref, "bytes", len(b))
			em := pe.AsErrorMsg()
			s.send(TypeError, &em)
			continue
		}
		s.dispatch(env, payload)
	}
}

func (s *session) reject(env Envelope, code, format string, args ...any) {
	msg := truncate(fmt.Sprintf(format, args...), MaxReasonLength-8)
	s.c.log.Warn("network: refused a message from the proxy", "type", env.Type, "code", code, "ref", env.ID)
	s.send(TypeError, &ErrorMsg{Code: code, Message: msg, Ref: env.ID})
}

func (s *session) dispatch(env Envelope, payload Validator) {
	c := s.c
	switch m := payload.(type) {
	case *Ping:
		if env.Type == TypePing {
			s.send(TypePong, &Ping{T: m.T}) // echo the sender's clock
			return
		}
		rtt := time.Since(time.UnixMilli(m.T))
		if rtt < 0 || rtt > time.Hour {
			return // not one of ours
		}
		c.log.Debug("network: rtt", "rtt", rtt)
		c.emit(ClientEvent{Kind: EventRTT, RTT: rtt})
	case *Job:
		c.startJob(s, env, m)
	case *Cancel:
		c.mu.Lock()
		j := c.jobs[m.JobID]
		c.mu.Unlock()
		if j == nil || j.sess != s {
			c.log.Debug("network: cancel for a job not running", "job_id", m.JobID)
			return
		}
		c.log.Info("network: job cancelled by the proxy", "job_id", m.JobID)
		j.cancel(errProxyCancel)
	case *SignedReceipt:
		c.handleReceipt(s, env, m)
	case *Balance:
		if env.Type != TypeBalance {
			s.reject(env, CodeBadMessage, "unexpected message type %s from the proxy", env.Type)
			return
		}
		c.log.Info("network: proxy balance", "cumulative", m.Cumulative, "last_seq", m.LastSeq, "paid", m.Paid, "pending", m.Pending)
		if c.cfg.OnBalance != nil {
			c.cfg.OnBalance(*m)
		}
	case *PayoutStatus:
		c.log.Info("network: payout status", "payout_id", m.PayoutID, "state", m.State, "amount", m.Amount)
		if c.cfg.OnPayoutStatus != nil {
			c.cfg.OnPayoutStatus(*m)
		}
	case *Voucher:
		c.log.Info("network: voucher", "cumulative", m.Cumulative, "held", m.Held, "escrow", m.Escrow)
		if c.cfg.OnVoucher != nil {
			c.cfg.OnVoucher(*m)
		}
	case *ErrorMsg:
		c.log.Warn("network: proxy reported an error", "code", m.Code, "ref", m.Ref, "message", truncate(m.Message, 200))
		c.emit(ClientEvent{Kind: EventProxyError, Code: m.Code, Reason: m.Message})
	case *Bye:
		c.log.Info("network: proxy said bye", "reason", truncate(m.Reason, 200))
		s.cancel(fmt.Errorf("%w: %s", errProxyBye, truncate(m.Reason, 200)))
		s.conn.Close(websocket.StatusNormalClosure, "bye")
	default:
		s.reject(env, CodeBadMessage, "unexpected message type %s from the proxy", env.Type)
	}
}

func (c *Client) handleReceipt(s *session, env Envelope, sr *SignedReceipt) {
	rs := receipt.Signed(*sr)
	r := rs.Receipt
	err := rs.Verify(c.cfg.ProxyKey)
	if err == nil && r.WorkerID != c.id {
		err = fmt.Errorf("receipt %s is for worker %s, not this worker", r.JobID, truncate(r.WorkerID, 80))
	}
	if err != nil {
		c.log.Error("network: invalid receipt refused", "job_id", r.JobID, "seq", r.Seq, "err", err)
		c.emit(ClientEvent{Kind: EventReceiptRejected, JobID: r.JobID, Reason: err.Error(), Receipt: &rs})
		s.send(TypeError, &ErrorMsg{Code: CodeAuthFailed, Message: truncate(err.Error(), 200), Ref: env.ID})
		return
	}
	if c.cfg.OnReceipt != nil {
		if err := c.cfg.OnReceipt(rs); err != nil {
			// Not acknowledged: the proxy is told, and the next receipt's
			// cumulative total still covers this job.
			c.log.Error("network: receipt not stored", "job_id", r.JobID, "seq", r.Seq, "err", err)
			s.send(TypeError, &ErrorMsg{Code: CodeInternal, Message: "receipt not stored", Ref: env.ID})
			return
		}
	}
	c.log.Info("network: receipt", "job_id", r.JobID, "seq", r.Seq, "amount_nano", r.Amount, "cumulative_nano", r.Cumulative)
	c.emit(ClientEvent{Kind: EventReceipt, JobID: r.JobID, Model: r.Model, Receipt: &rs})
}

// jobRun is one running job.
type jobRun struct {
	id     string
	sess   *session
	cancel context.CancelCauseFunc
}

func (c *Client) startJob(s *session, env Envelope, job *Job) {
	refuse := func(code, msg string) {
		c.log.Info("network: job refused", "job_id", job.JobID, "model", job.Model, "code", code)
		s.send(TypeJobError, &JobError{JobID: job.JobID, Code: code, Message: msg})
		c.emit(ClientEvent{Kind: EventJobFailed, JobID: job.JobID, Model: job.Model, Code: code, Reason: msg})
	}
	deadline := time.UnixMilli(job.Deadline)
	if !time.Now().Before(deadline) {
		refuse(CodeTimeout, "deadline already passed")
		return
	}
	c.mu.Lock()
	if _, dup := c.jobs[job.JobID]; dup {
		c.mu.Unlock()
		refuse(CodeBusy, "a job with this id is already running")
		return
	}
	if c.avail != nil && c.avail.State != Accepting {
		state := c.avail.State
		c.mu.Unlock()
		refuse(CodeBusy, "worker is "+state)
		return
	}
	if c.reg == nil {
		c.mu.Unlock()
		refuse(CodeBusy, "worker has not registered")
		return
	}
	if !Supports(c.reg.Features, job.Features()) {
		c.mu.Unlock()
		refuse(CodeBadMessage, "the job needs features this worker did not register: "+strings.Join(job.Features(), ","))
		return
	}
	if len(c.jobs) >= c.reg.MaxConcurrent {
		n := c.reg.MaxConcurrent
		c.mu.Unlock()
		refuse(CodeBusy, fmt.Sprintf("at max concurrency (%d)", n))
		return
	}
	jctx, jcancel := context.WithCancelCause(s.ctx)
	j := &jobRun{id: job.JobID, sess: s, cancel: jcancel}
	if len(c.jobs) == 0 {
		c.idle = make(chan struct{})
	}
	c.jobs[job.JobID] = j
	s.jobs.Add(1)
	c.mu.Unlock()

	go func() {
		defer s.jobs.Done()
		defer c.finishJob(j)
		defer jcancel(nil)
		dctx, dcancel := context.WithDeadlineCause(jctx, deadline, errJobTimeout)
		defer dcancel()
		c.runJob(dctx, s, job, func() { c.finishJob(j) })
	}()
}

// finishJob frees j's slot (idempotent).
func (c *Client) finishJob(j *jobRun) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.jobs[j.id] == j {
		delete(c.jobs, j.id)
	}
	if len(c.jobs) == 0 {
		select {
		case <-c.idle:
		default:
			close(c.idle)
		}
	}
}

// runJob runs one job and ends it with done or job_error. release frees the
// job's slot; it is called before that final message goes out, because the
// proxy frees its own count of the slot when the message arrives and may
// send the next job at once: were the slot still taken here, that job
// would be refused busy (with one worker: a 502 to the app developer).
func (c *Client) runJob(ctx context.Context, s *session, job *Job, release func()) {
	if job.Kind == JobEmbedding {
		c.runEmbedJob(ctx, s, job, release) // client_embed.go
		return
	}
	start := time.Now()
	c.log.Info("network: job started", "job_id", job.JobID, "model", job.Model, "messages", len(job.Messages))
	c.emit(ClientEvent{Kind: EventJobStarted, JobID: job.JobID, Model: job.Model})

	// Deltas are coalesced: emit only appends to a buffer, and one sender
	// goroutine writes whatever has accumulated, at most one frame per
	// deltaInterval. A piece after a quiet spell goes at once; a fast model
	// or a busy link gets fewer, larger frames instead of one per token.
	var (
		mu        sync.Mutex
		pending   strings.Builder
		pendingLP []TokenLogprob // log probabilities not sent yet (FeatureLogprobs)
		sendErr   error
		closed    bool
		wake      = make(chan struct{}, 1)
		ending    = make(chan struct{}) // closed when the handler returned: flush now
		flushed   = make(chan struct{})
	)
	seq, chars := 0, 0
	sendPart := func(text string, lps []TokenLogprob) error {
		for len(text) > 0 || len(lps) > 0 {
			part := text
			if len(part) > MaxDeltaText {
				cut := MaxDeltaText
				for cut > 0 && !utf8.RuneStart(text[cut]) {
					cut--
				}
				if cut == 0 {
					cut = MaxDeltaText
				}
				part = text[:cut]
			}
			text = text[len(part):]
			n := min(len(lps), MaxDeltaLogprobs) // the rest rides on the next deltas
			d := &Delta{JobID: job.JobID, Seq: seq, Text: part, Logprobs: lps[:n:n]}
			lps = lps[n:]
			if len(d.Logprobs) == 0 {
				d.Logprobs = nil
			}
			if err := s.send(TypeDelta, d); err != nil {
				return err
			}
			seq++
			chars += len(part)
		}
		return nil
	}
	go func() {
		defer close(flushed)
		pace := time.NewTimer(time.Hour)
		defer pace.Stop()
		var last time.Time // when the last frame went
		for range wake {
			if wait := deltaInterval - time.Since(last); wait > 0 && !last.IsZero() {
				pace.Reset(wait)
				select {
				case <-pace.C:
				case <-ending:
				case <-ctx.Done():
				}
			}
			mu.Lock()
			text, lps := pending.String(), pendingLP
			pending.Reset()
			pendingLP = nil
			done := closed
			mu.Unlock()
			if text != "" || len(lps) > 0 {
				if err := sendPart(text, lps); err != nil {
					mu.Lock()
					sendErr = err
					mu.Unlock()
				}
				last = time.Now()
			}
			if done {
				return
			}
		}
	}()
	emit := func(out JobOutput) error {
		mu.Lock()
		defer mu.Unlock()
		if closed {
			return errors.New("network: emit after the job ended")
		}
		if sendErr != nil {
			return sendErr
		}
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		pending.WriteString(strings.ToValidUTF8(out.Text, "\uFFFD"))
		pendingLP = append(pendingLP, out.Logprobs...)
		select {
		case wake <- struct{}{}:
		default: // the sender will pick this up with what it is already due to send
		}
		return nil
	}
	var (
		usage     Usage
		finish    string
		toolCalls []ToolCall
		err       error
	)
	if rh, ok := c.cfg.Handler.(ResultJobHandler); ok {
		var res JobResult
		res, err = rh.RunJobResult(ctx, *job, emit)
		usage, finish, toolCalls = res.Usage, res.FinishReason, res.ToolCalls
	} else {
		usage, finish, err = c.cfg.Handler.RunJob(ctx, *job, func(text string) error { return emit(JobOutput{Text: text}) })
	}
	mu.Lock()
	closed = true
	mu.Unlock()
	close(ending)
	select { // the sender flushes the rest, then ends (a full buffer already wakes it)
	case wake <- struct{}{}:
	default:
	}
	<-flushed
	mu.Lock()
	nDeltas, nBytes, flushErr := seq, chars, sendErr
	mu.Unlock()
	if err == nil && flushErr != nil && ctx.Err() == nil {
		err = fmt.Errorf("network: send deltas: %w", flushErr)
	}
	took := time.Since(start)

	fail := func(code, msg string) {
		release()
		c.log.Info("network: job failed", "job_id", job.JobID, "model", job.Model, "code", code,
			"deltas", nDeltas, "bytes", nBytes, "took", took.Round(time.Millisecond))
		if s.ctx.Err() == nil {
			s.send(TypeJobError, &JobError{JobID: job.JobID, Code: code, Message: truncate(strings.ToValidUTF8(msg, "?"), MaxReasonLength-8)})
		}
		c.emit(ClientEvent{Kind: EventJobFailed, JobID: job.JobID, Model: job.Model, Code: code, Reason: msg, Duration: took})
	}
	if ctx.Err() != nil {
		cause := context.Cause(ctx)
		var ca *cancelAllError
		switch {
		case errors.Is(cause, errJobTimeout):
			fail(CodeTimeout, "job deadline passed")
		case errors.Is(cause, errProxyCancel):
			fail(CodeCancelled, "cancelled by the proxy")
		case errors.As(cause, &ca):
			fail(CodeCancelled, ca.reason)
		case errors.Is(cause, errShutdown):
			fail(CodeCancelled, "worker shutting down")
		default: // the connection broke: the proxy fails the job on its side
			fail(CodeCancelled, "connection lost: "+cause.Error())
		}
		return
	}
	if err != nil {
		c.log.Warn("network: job handler failed", "job_id", job.JobID, "err", err)
		if errors.Is(err, ErrUnknownModel) {
			fail(CodeUnknownModel, "model "+job.Model+" is not available on this worker")
		} else {
			fail(CodeRuntime, "model runtime failed: "+err.Error())
		}
		return
	}
	if finish == "" {
		finish = "stop"
	}
	done := &Done{JobID: job.JobID, Usage: usage, FinishReason: truncate(finish, 32), ToolCalls: toolCalls}
	if err := done.Validate(); err != nil {
		fail(CodeRuntime, "invalid usage or tool calls from the model runtime")
		return
	}
	release()
	if err := s.send(TypeDone, done); err != nil {
		c.emit(ClientEvent{Kind: EventJobFailed, JobID: job.JobID, Model: job.Model, Code: CodeCancelled, Reason: "done not sent: " + err.Error(), Duration: took})
		return
	}
	c.log.Info("network: job done", "job_id", job.JobID, "model", job.Model, "prompt_tokens", usage.PromptTokens,
		"completion_tokens", usage.CompletionTokens, "deltas", nDeltas, "tool_calls", len(toolCalls), "took", took.Round(time.Millisecond))
	c.emit(ClientEvent{Kind: EventJobFinished, JobID: job.JobID, Model: job.Model, Usage: usage, Duration: took})
}

// cancelJobs cancels the jobs of session s (all sessions if s is nil).
func (c *Client) cancelJobs(s *session, cause error) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, j := range c.jobs {
		if s == nil || j.sess == s {
			j.cancel(cause)
			n++
		}
	}
	return n
}

// SetRegistration sets what the worker offers; it is sent on every
// (re)connect and at once when connected.
func (c *Client) SetRegistration(r Register) {
	r.Models = append([]ModelInfo(nil), r.Models...)
	c.mu.Lock()
	c.reg = &r
	c.regVer++
	c.mu.Unlock()
	c.poke()
}

// SetAvailability sets whether the worker takes jobs; it is sent on every
// (re)connect and at once when connected.
func (c *Client) SetAvailability(a Availability) {
	c.mu.Lock()
	c.avail = &a
	c.availVer++
	c.mu.Unlock()
	c.poke()
}

func (c *Client) poke() {
	select {
	case c.update <- struct{}{}:
	default:
	}
}

// ErrNotConnected means the client has no session with the proxy right now.
var ErrNotConnected = errors.New("network: not connected to the proxy")

// RequestPayout addresses req to the pinned proxy, makes it expire
// PayoutRequestTTL from now, signs it with the worker key and sends it.
// Payouts are idempotent by PayoutID, so sending the same request again
// (after a reconnect or a crash) is safe: it is signed afresh, and the proxy
// answers with its status.
func (c *Client) RequestPayout(req PayoutRequest) error {
	req.ProxyKey = append([]byte(nil), c.cfg.ProxyKey...)
	req.Expires = time.Now().Add(PayoutRequestTTL).UnixMilli()
	signed := SignPayout(c.cfg.Key, req)
	c.mu.Lock()
	s := c.sess
	c.mu.Unlock()
	if s == nil {
		return ErrNotConnected
	}
	if err := s.send(TypePayoutRequest, &signed); err != nil {
		return fmt.Errorf("network: send payout request: %w", err)
	}
	return nil
}

// RequestReceipts asks the proxy to send the receipts of ranges again (it
// answers with receipt messages, which reach OnReceipt like any other).
func (c *Client) RequestReceipts(ranges []SeqRange) error {
	req := ReceiptsRequest{Ranges: ranges}
	if err := req.Validate(); err != nil {
		return fmt.Errorf("network: receipts request: %w", err)
	}
	c.mu.Lock()
	s := c.sess
	c.mu.Unlock()
	if s == nil {
		return ErrNotConnected
	}
	if err := s.send(TypeReceiptsRequest, &req); err != nil {
		return fmt.Errorf("network: send receipts request: %w", err)
	}
	return nil
}

// RequestVoucher asks the proxy for the latest voucher made out to
// payoutAddress (it answers with a voucher message, which reaches OnVoucher,
// or an error no_escrow).
func (c *Client) RequestVoucher(payoutAddress string) error {
	req := VoucherRequest{PayoutAddress: payoutAddress}
	if err := req.Validate(); err != nil {
		return fmt.Errorf("network: voucher request: %w", err)
	}
	c.mu.Lock()
	s := c.sess
	c.mu.Unlock()
	if s == nil {
		return ErrNotConnected
	}
	if err := s.send(TypeVoucherRequest, &req); err != nil {
		return fmt.Errorf("network: send voucher request: %w", err)
	}
	return nil
}

// Connected reports whether an authenticated session is up.
func (c *Client) Connected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sess != nil && c.sess.ctx.Err() == nil
}

// RunningJobs is the number of jobs running now.
func (c *Client) RunningJobs() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.jobs)
}

// CancelAll cancels every running job (e.g. the owner came back past the
// grace period); each is reported to the proxy as job_error "cancelled".
func (c *Client) CancelAll(reason string) {
	if reason == "" {
		reason = "cancelled by the worker"
	}
	if n := c.cancelJobs(nil, &cancelAllError{reason: reason}); n > 0 {
		c.log.Info("network: cancelled running jobs", "jobs", n)
	}
}

// WaitIdle blocks until no job runs, or ctx ends.
func (c *Client) WaitIdle(ctx context.Context) error {
	for {
		c.mu.Lock()
		n, ch := len(c.jobs), c.idle
		c.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
