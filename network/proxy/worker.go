package proxy

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/xssnick/tonutils-go/address"

	"github.com/cocoon-desktop/cocoon-desktop/network"
)

const (
	handshakeTimeout = 10 * time.Second
	writeTimeout     = 10 * time.Second
	// maxStrikes is how many protocol errors in a row a worker may send
	// before the proxy closes its connection.
	maxStrikes = 32
	// defaultAvgMS is the average job time assumed before a worker has
	// finished a job, so a fresh worker does not look infinitely fast.
	defaultAvgMS = 1000.0
)

// workerConn is one authenticated worker's connection. The routing state
// (registered ... routes) is guarded by Proxy.mu; changes to it go through
// the routing index's setters (routeindex.go).
type workerConn struct {
	p        *Proxy
	c        *websocket.Conn
	id       string
	log      *slog.Logger
	writeMu  sync.Mutex
	lastSeen atomic.Int64 // unix ns of the last frame received
	since    time.Time
	gone     chan struct{} // closed when the reader has exited

	// version is the protocol version the worker spoke in its hello: the
	// proxy answers in it (an older worker cannot read a newer envelope).
	version int

	registered bool
	reg        network.Register
	state      string
	running    int
	avgMS      float64
	jobsDone   int64
	jobs       map[string]*attempt
	// ended remembers the last jobs that ended here (done, failed or
	// cancelled), so that the tokens a worker streamed before it heard of a
	// cancel are dropped quietly instead of counting as protocol errors.
	ended endedJobs
	// routes are w's places in the routing index, one per model it offers.
	routes []routeEntry
	trust  connTrust // trust.go
}

// maxEndedJobs bounds endedJobs: far more than the jobs a worker can have
// in flight between a cancel and its last late message.
const maxEndedJobs = 256

// endedJobs is a bounded set of job ids, oldest forgotten first.
type endedJobs struct {
	set   map[string]struct{}
	order []string
}

func (e *endedJobs) add(id string) {
	if e.set == nil {
		e.set = make(map[string]struct{}, maxEndedJobs)
	}
	if _, ok := e.set[id]; ok {
		return
	}
	if len(e.order) == maxEndedJobs {
		delete(e.set, e.order[0])
		e.order = e.order[1:]
	}
	e.set[id] = struct{}{}
	e.order = append(e.order, id)
}

func (e *endedJobs) has(id string) bool {
	_, ok := e.set[id]
	return ok
}

// serveWorker upgrades GET /v1/worker and runs one worker connection.
func (p *Proxy) serveWorker(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	if p.closing {
		p.mu.Unlock()
		http.Error(w, "proxy shutting down", http.StatusServiceUnavailable)
		return
	}
	p.connWG.Add(1)
	p.mu.Unlock()
	defer p.connWG.Done()

	// Workers are not browsers: there is no Origin to check.
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		p.log.Debug("worker upgrade failed", "remote", r.RemoteAddr, "err", err)
		return
	}
	c.SetReadLimit(network.MaxMessageSize)
	log := p.log.With("remote", r.RemoteAddr)
	binding, err := network.ChannelBinding(r.TLS)
	if err != nil {
		log.Info("worker refused: no TLS channel binding", "err", err)
		_ = c.Close(websocket.StatusPolicyViolation, "no TLS channel binding")
		return
	}
	wc, err := p.handshake(c, log, binding)
	if err != nil {
		log.Info("worker handshake failed", "err", err)
		return
	}
	wc.run()
}

// readFrame reads and decodes one frame.
func readFrame(ctx context.Context, c *websocket.Conn) (network.Envelope, network.Validator, error) {
	typ, data, err := c.Read(ctx)
	if err != nil {
		return network.Envelope{}, nil, err
	}
	if typ != websocket.MessageText {
		return network.Envelope{}, nil, &network.ProtocolError{Code: network.CodeBadMessage, Message: "binary frames are not part of the protocol"}
	}
	return network.Decode(data)
}

// sendRaw encodes and writes one frame on a connection with no workerConn yet.
func sendRaw(ctx context.Context, c *websocket.Conn, version int, typ string, payload network.Validator) error {
	b, err := network.EncodeVersion(version, typ, "", payload)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	return c.Write(wctx, websocket.MessageText, b)
}

// errorMsg builds a valid ErrorMsg (fields truncated to the codec's limits).
func errorMsg(code, msg, ref string) *network.ErrorMsg {
	if len(ref) > network.MaxJobIDLength {
		ref = ""
	}
	return &network.ErrorMsg{Code: code, Message: truncateStr(msg, network.MaxReasonLength-4), Ref: strings.ToValidUTF8(ref, "")}
}

func protoErrMsg(err error) *network.ErrorMsg {
	var pe *network.ProtocolError
	if errors.As(err, &pe) {
		return errorMsg(pe.Code, pe.Message, pe.Ref)
	}
	return errorMsg(network.CodeBadMessage, err.Error(), "")
}

// closeReason fits a close reason in a control frame (123 bytes).
func closeReason(s string) string { return truncateStr(s, 110) }

// handshake runs hello → challenge → auth → welcome and registers the
// worker; binding is the connection's TLS channel binding, which both
// signatures cover. On failure it tells the worker why and closes the
// connection.
func (p *Proxy) handshake(c *websocket.Conn, log *slog.Logger, binding []byte) (*workerConn, error) {
	ctx, cancel := context.WithTimeout(p.baseCtx, handshakeTimeout)
	defer cancel()
	version := network.ProtocolVersion // until the hello says which the worker speaks
	refuse := func(code websocket.StatusCode, em *network.ErrorMsg) error {
		_ = sendRaw(ctx, c, version, network.TypeError, em)
		reason := em.Code + ": " + em.Message
		_ = c.Close(code, closeReason(reason))
		return errors.New(reason)
	}
	env, payload, err := readFrame(ctx, c)
	if err != nil {
		var pe *network.ProtocolError
		if errors.As(err, &pe) && pe.Code == network.CodeUnsupportedVersion {
			// Answered in the worker's own version, so an old app can show why.
			if b, eerr := network.EncodeVersionError(env.V, "", protoErrMsg(err)); eerr == nil {
				wctx, wcancel := context.WithTimeout(ctx, writeTimeout)
				_ = c.Write(wctx, websocket.MessageText, b)
				wcancel()
			}
			_ = c.Close(websocket.StatusPolicyViolation, closeReason(pe.Message))
			return nil, errors.New(pe.Code + ": " + pe.Message)
		}
		if errors.As(err, &pe) {
			return nil, refuse(websocket.StatusPolicyViolation, protoErrMsg(err))
		}
		c.CloseNow()
		return nil, err
	}
	version = env.V
	hello, ok := payload.(*network.Hello)
	if !ok {
		return nil, refuse(websocket.StatusPolicyViolation, errorMsg(network.CodeBadMessage, "expected hello, got "+env.Type, env.ID))
	}
	nonce := make([]byte, 32)
	if _, err := rand.Read(nonce); err != nil {
		return nil, refuse(websocket.StatusInternalError, errorMsg(network.CodeInternal, "no randomness", ""))
	}
	workerKey := ed25519.PublicKey(bytes.Clone(hello.WorkerKey))
	ch := &network.Challenge{
		ProxyKey: p.PublicKey(),
		Nonce:    nonce,
		ProxySig: ed25519.Sign(p.key, network.ProxyAuthBytes(hello.ClientNonce, nonce, workerKey, binding)),
	}
	if err := sendRaw(ctx, c, version, network.TypeChallenge, ch); err != nil {
		c.CloseNow()
		return nil, err
	}
	env, payload, err = readFrame(ctx, c)
	if err != nil {
		var pe *network.ProtocolError
		if errors.As(err, &pe) {
			return nil, refuse(websocket.StatusPolicyViolation, protoErrMsg(err))
		}
		c.CloseNow()
		return nil, err
	}
	auth, ok := payload.(*network.Auth)
	if !ok {
		return nil, refuse(websocket.StatusPolicyViolation, errorMsg(network.CodeBadMessage, "expected auth, got "+env.Type, env.ID))
	}
	if !ed25519.Verify(workerKey, network.WorkerAuthBytes(nonce, hello.ClientNonce, p.pub, binding), auth.WorkerSig) {
		return nil, refuse(websocket.StatusPolicyViolation, errorMsg(network.CodeAuthFailed,
			"auth failed: worker signature does not verify over this TLS connection (wrong key, or a man in the middle)", env.ID))
	}
	id := hex.EncodeToString(workerKey)
	now := time.Now()
	wc := &workerConn{
		p:       p,
		c:       c,
		id:      id,
		version: version,
		log:     log.With("worker", id[:16]),
		since:   now,
		gone:    make(chan struct{}),
		state:   network.Paused,
		avgMS:   defaultAvgMS,
		jobs:    map[string]*attempt{},
	}
	wc.lastSeen.Store(now.UnixNano())
	if err := p.store.TouchWorker(ctx, id, "", now); err != nil {
		return nil, refuse(websocket.StatusInternalError, errorMsg(network.CodeInternal, "proxy store unavailable", ""))
	}
	p.mu.Lock()
	if p.closing {
		p.mu.Unlock()
		_ = c.Close(websocket.StatusGoingAway, "proxy shutting down")
		return nil, errors.New("proxy shutting down")
	}
	old := p.addWorkerLocked(wc)
	p.mu.Unlock()
	p.loadTrust(wc)
	if old != nil {
		go old.close(websocket.StatusPolicyViolation, "replaced by a newer connection with the same worker key")
	}
	if err := wc.send(network.TypeWelcome, &network.Welcome{
		WorkerID:    id,
		HeartbeatMS: p.cfg.Heartbeat.Milliseconds(),
		ServerTime:  now.UnixMilli(),
	}); err != nil {
		wc.cleanup(err)
		return nil, err
	}
	wc.log.Info("worker connected", "app_version", truncateStr(hello.AppVersion, 64), "protocol", version)
	return wc, nil
}

// send encodes and writes one frame; writes are serialised.
func (w *workerConn) send(typ string, payload network.Validator) error {
	b, err := network.EncodeVersion(w.version, typ, "", payload)
	if err != nil {
		return err
	}
	w.writeMu.Lock()
	defer w.writeMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	return w.c.Write(ctx, websocket.MessageText, b)
}

func (w *workerConn) sendError(em *network.ErrorMsg) {
	if err := w.send(network.TypeError, em); err != nil {
		w.log.Debug("send error message failed", "err", err)
	}
}

func (w *workerConn) sendBye(reason string) {
	_ = w.send(network.TypeBye, &network.Bye{Reason: reason})
}

// close starts the closing handshake; the reader then exits and cleans up.
func (w *workerConn) close(code websocket.StatusCode, reason string) {
	if err := w.c.Close(code, closeReason(reason)); err != nil {
		w.c.CloseNow()
	}
}

// run is the connection's single reader loop, plus its heartbeat goroutine.
func (w *workerConn) run() {
	hbDone := make(chan struct{})
	go func() {
		defer close(hbDone)
		w.heartbeat()
	}()
	err := w.readLoop()
	w.cleanup(err)
	<-hbDone
}

func (w *workerConn) heartbeat() {
	hb := w.p.cfg.Heartbeat
	t := time.NewTicker(hb)
	defer t.Stop()
	for {
		select {
		case <-w.gone:
			return
		case now := <-t.C:
			if silent := now.Sub(time.Unix(0, w.lastSeen.Load())); silent > 3*hb {
				w.log.Info("worker silent for 3 heartbeats, dropping", "silent_ms", silent.Milliseconds())
				w.sendBye("heartbeat timeout")
				w.close(websocket.StatusPolicyViolation, "heartbeat timeout: silent for 3 heartbeats")
				return
			}
			if err := w.send(network.TypePing, &network.Ping{T: now.UnixMilli()}); err != nil {
				w.c.CloseNow()
				return
			}
		}
	}
}

func (w *workerConn) readLoop() error {
	strikes := 0
	for {
		env, payload, err := readFrame(context.Background(), w.c)
		if err == nil {
			w.lastSeen.Store(time.Now().UnixNano())
			if err = w.handle(env, payload); err == nil {
				strikes = 0
				continue
			}
		}
		var pe *network.ProtocolError
		if !errors.As(err, &pe) {
			return err // the connection is gone
		}
		w.lastSeen.Store(time.Now().UnixNano())
		w.sendError(protoErrMsg(pe))
		if strikes++; strikes >= maxStrikes {
			w.close(websocket.StatusPolicyViolation, "too many protocol errors")
			return errors.New("too many protocol errors")
		}
	}
}

// cleanup forgets the worker and fails its running jobs.
func (w *workerConn) cleanup(cause error) {
	p := w.p
	p.mu.Lock()
	p.removeWorkerLocked(w)
	payoutAddress := w.reg.PayoutAddress
	jobs := make([]*attempt, 0, len(w.jobs))
	for _, a := range w.jobs {
		jobs = append(jobs, a)
	}
	p.mu.Unlock()
	select {
	case <-w.gone:
	default:
		close(w.gone)
	}
	for _, a := range jobs {
		a.push(event{kind: evGone, reason: "worker disconnected"})
	}
	w.c.CloseNow()
	p.trustDisconnected(w)
	// Also stores the payout address of a worker that earned its first
	// credit on this connection (its record did not exist at register).
	_ = p.store.TouchWorker(context.Background(), w.id, payoutAddress, time.Now())
	w.log.Info("worker disconnected", "reason", closeCause(cause), "failed_jobs", len(jobs))
}

func closeCause(err error) string {
	if err == nil {
		return ""
	}
	if s := websocket.CloseStatus(err); s != -1 {
		return "closed " + s.String()
	}
	return truncateStr(err.Error(), 200)
}

// handle processes one decoded message. A returned *network.ProtocolError
// is answered with an error message; the connection stays open.
func (w *workerConn) handle(env network.Envelope, payload network.Validator) error {
	p := w.p
	switch m := payload.(type) {
	case *network.Register:
		if m.PayoutAddress != "" {
			if err := CheckTONAddress(m.PayoutAddress); err != nil {
				return &network.ProtocolError{Code: network.CodeBadMessage, Ref: env.ID, Message: "payout_address: " + err.Error()}
			}
		}
		reg := *m
		reg.Models = append([]network.ModelInfo(nil), m.Models...)
		reg.CoefficientMilli = p.capCoefficient(w, env.ID, reg.CoefficientMilli)
		reg.Features = registeredFeatures(w.version, m.Features) // features.go
		p.mu.Lock()
		p.setRegLocked(w, reg)
		p.mu.Unlock()
		if err := p.store.TouchWorker(context.Background(), w.id, m.PayoutAddress, time.Now()); err != nil {
			w.log.Error("store worker", "err", err)
		}
		w.log.Info("worker registered", "gpu", truncateStr(m.GPU.Name, 64), "models", len(m.Models),
			"max_concurrent", m.MaxConcurrent, "coefficient_milli", m.CoefficientMilli, "features", strings.Join(reg.Features, ","))
		return p.sendRegisterBalance(w) // with the worker's standing (trust.go)
	case *network.Ping:
		if env.Type == network.TypePing {
			return w.send(network.TypePong, &network.Ping{T: m.T})
		}
		return nil // pong: lastSeen is already updated
	case *network.Bye:
		w.log.Info("worker said bye", "reason", truncateStr(m.Reason, 128))
		w.close(websocket.StatusNormalClosure, "bye")
		return nil
	case *network.ErrorMsg:
		w.log.Info("worker reported a protocol error", "code", m.Code, "ref", m.Ref, "message", truncateStr(m.Message, 200))
		return nil
	}
	// Everything below needs register first.
	p.mu.Lock()
	registered := w.registered
	p.mu.Unlock()
	notReg := func() error {
		return &network.ProtocolError{Code: network.CodeNotRegistered, Ref: env.ID, Message: env.Type + " before register"}
	}
	switch m := payload.(type) {
	case *network.Availability:
		if !registered {
			return notReg()
		}
		p.mu.Lock()
		p.setStateLocked(w, m.State)
		p.mu.Unlock()
		w.log.Debug("worker availability", "state", m.State)
		return nil
	case *network.Delta:
		if !registered {
			return notReg()
		}
		return w.deliver(env, m.JobID, event{kind: evDelta, delta: *m}, false)
	case *network.Done:
		if !registered {
			return notReg()
		}
		return w.deliver(env, m.JobID, event{kind: evDone, done: *m}, true)
	case *network.Embedding:
		if !registered {
			return notReg()
		}
		return w.deliver(env, m.JobID, event{kind: evEmbedding, emb: *m}, false)
	case *network.JobError:
		if !registered {
			return notReg()
		}
		return w.deliver(env, m.JobID, event{kind: evJobError, jobErr: *m}, true)
	case *network.PayoutRequest:
		if !registered {
			return notReg()
		}
		w.refusePayoutRequest(*m) // payout_retired.go
		return nil
	case *network.ReceiptsRequest:
		if !registered {
			return notReg()
		}
		return w.resendReceipts(env, m.Ranges)
	case *network.VoucherRequest:
		if !registered {
			return notReg()
		}
		return w.handleVoucherRequest(env, *m) // escrow.go
	case *network.Cancel:
		if !registered {
			return notReg()
		}
		return w.deliver(env, m.JobID, event{kind: evJobError, jobErr: network.JobError{JobID: m.JobID, Code: network.CodeCancelled, Message: m.Reason}}, true)
	}
	return &network.ProtocolError{Code: network.CodeBadMessage, Ref: env.ID, Message: "unexpected " + env.Type + " from a worker"}
}

// resendReceipts sends the worker its stored receipts of ranges again (the
// codec bounds them to MaxReceiptsResent). Seqs the proxy never signed are
// simply absent: the worker sees what exists.
func (w *workerConn) resendReceipts(env network.Envelope, ranges []network.SeqRange) error {
	sent := 0
	for _, r := range ranges {
		rs, err := w.p.store.Receipts(context.Background(), w.id, r.First-1, int(r.Last-r.First+1))
		if err != nil {
			w.log.Error("store receipts", "err", err)
			return w.send(network.TypeError, &network.ErrorMsg{Code: network.CodeInternal, Ref: env.ID, Message: "receipts not readable now"})
		}
		for _, rc := range rs {
			if rc.Receipt.Seq > r.Last {
				break
			}
			msg := network.SignedReceipt(rc)
			if err := w.send(network.TypeReceipt, &msg); err != nil {
				return err
			}
			sent++
		}
	}
	w.log.Info("receipts sent again", "ranges", len(ranges), "receipts", sent)
	return nil
}

// deliver hands a job message to the request waiting for it. A final
// message (done, job_error) detaches the job from the worker at once, so a
// replayed final message finds no job.
func (w *workerConn) deliver(env network.Envelope, jobID string, e event, final bool) error {
	p := w.p
	p.mu.Lock()
	a := w.jobs[jobID]
	if a != nil && final {
		p.releaseLocked(a, e.kind == evDone)
	}
	late := a == nil && w.ended.has(jobID)
	p.mu.Unlock()
	if late {
		// A message of a job that ended here (e.g. cancelled when its client
		// left) that the worker sent before it heard: not an error.
		w.log.Debug("late message for an ended job dropped", "job", truncateStr(jobID, 64), "type", env.Type)
		return nil
	}
	if a == nil {
		return &network.ProtocolError{Code: network.CodeBadMessage, Ref: env.ID, Message: "no running job " + truncateStr(jobID, 64)}
	}
	a.push(e)
	return nil
}

// CheckTONAddress accepts a user-friendly (EQ/UQ/kQ/0Q…) or raw (0:hex) TON address.
func CheckTONAddress(s string) error {
	if strings.Contains(s, ":") {
		_, err := address.ParseRawAddr(s)
		return err
	}
	_, err := address.ParseAddr(s)
	return err
}
