// Package proxytest is a scripted Cocoon worker for tests and benchmarks of
// the proxy (package proxy) and of anything that sits in front of it.
//
// A Worker dials the proxy's worker URL over real TLS (pinning the proxy's
// ed25519 key), runs the real handshake with its own key, registers the
// given models and answers each job as its Script says: stream deltas then
// done with usage, fail before the first token, fail or disconnect after K
// deltas, or hang until cancelled. It records jobs, cancels, receipts and
// protocol errors the proxy sent.
package proxytest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/cocoon-desktop/cocoon-desktop/network"
	"github.com/cocoon-desktop/cocoon-desktop/network/proxy"
	"github.com/cocoon-desktop/cocoon-desktop/receipt"
)

// Failure modes of a Behavior.
type Failure int

const (
	Succeed    Failure = iota // stream Deltas, then done
	FailBefore                // job_error before any delta
	FailAfter                 // After deltas, then job_error
	Hang                      // After deltas, then nothing until cancelled or closed
	Disconnect                // After deltas, then drop the connection
)

// Behavior is how a Worker answers one job.
type Behavior struct {
	Deltas       []string      // text pieces; nil: "Hello", ", ", "world"
	Repeat       int           // send Deltas this many times over (0, 1: once): far more text than a test holds
	Usage        network.Usage // reported in done; zero: 10 prompt, len(Deltas) completion tokens
	FinishReason string        // "" → stop
	Failure      Failure
	After        int                // deltas sent before FailAfter / Hang / Disconnect
	Code         string             // job_error code; "" → runtime_error
	DeltaDelay   time.Duration      // pause between deltas
	Gate         <-chan struct{}    // when set, the job waits for it (or a cancel) before its first delta
	ReplayDone   bool               // send done twice (the proxy must credit it once)
	ToolCalls    []network.ToolCall // sent in done (a worker with the tools feature)
	// Logprobs[i] go with Deltas[i] (a worker with the logprobs feature).
	Logprobs [][]network.TokenLogprob
	// LateAfterCancel keeps streaming the deltas and the done after a cancel,
	// as a real worker does with the tokens already on the wire when the
	// cancel arrives; without it a cancel stops the job.
	LateAfterCancel bool
	// Endless repeats Deltas (Succeed only) until the job is cancelled or
	// the connection ends: a worker that streams without end.
	Endless bool
	// Embeddings answers an embedding job (Succeed only): vector i for
	// input i, in place of the deltas; nil: [1, 2, 3, 4] for each input.
	Embeddings [][]float32
}

// Script chooses the behaviour for each job; nil answers every job with
// the zero Behavior.
type Script func(job network.Job) Behavior

// Options configure a Worker.
type Options struct {
	Key              ed25519.PrivateKey // nil: a fresh key
	Models           []network.ModelInfo
	MaxConcurrent    int   // 0 → 4
	CoefficientMilli int64 // 0 → 1000
	GPU              network.GPUInfo
	PayoutAddress    string
	State            string // availability sent after register; "" → accepting
	Script           Script
	AppVersion       string
	// Version is the protocol version the worker speaks (0: the current
	// one); a version 2 worker can register no features.
	Version int
	// Features are announced in register.
	Features []string
}

// Models is a shorthand for ModelInfo values, loaded.
func Models(names ...string) []network.ModelInfo {
	out := make([]network.ModelInfo, len(names))
	for i, n := range names {
		out[i] = network.ModelInfo{Name: n, Size: 1 << 20, Loaded: true, FitsVRAM: true}
	}
	return out
}

// Worker is a connected scripted worker.
type Worker struct {
	c       *websocket.Conn
	key     ed25519.PrivateKey
	pinned  ed25519.PublicKey
	id      string
	welcome network.Welcome
	script  Script

	writeMu sync.Mutex
	ctx     context.Context
	cancel  context.CancelFunc
	done    chan struct{}

	mu       sync.Mutex
	running  map[string]context.CancelFunc
	receipts []receipt.Signed
	rcptErrs []error
	errs     []network.ErrorMsg
	jobs     []network.Job
	cancels  []network.Cancel
	byes     []network.Bye
	readErr  error
	pongs    int
	finished int                    // jobs whose run ended (all their messages sent)
	balances []network.Balance      // balance messages and the balance in each payout_status
	payouts  []network.PayoutStatus // payout_status messages, in order
	vouchers []network.Voucher      // voucher messages, in order
	changed  chan struct{}          // closed and replaced on every recorded event
	version  int                    // the protocol version it speaks
	// otherVersion counts frames from the proxy in another envelope
	// version than the worker speaks (an old worker could read none).
	otherVersion int
}

// bindings remembers the TLS channel binding of each connection DialConn
// made, for Handshake (whose signature predates channel binding).
var bindings sync.Map // *websocket.Conn → []byte

// DialConn opens a TLS WebSocket to url, pinning the proxy key, without the
// protocol handshake (for tests that speak the protocol by hand).
func DialConn(ctx context.Context, url string, proxyKey ed25519.PublicKey) (*websocket.Conn, error) {
	c, binding, err := DialConnBinding(ctx, url, proxyKey)
	if err != nil {
		return nil, err
	}
	bindings.Store(c, binding)
	return c, nil
}

// DialConnBinding is DialConn that also returns the connection's TLS
// channel binding (network.ChannelBinding), which the handshake signs.
func DialConnBinding(ctx context.Context, url string, proxyKey ed25519.PublicKey) (*websocket.Conn, []byte, error) {
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: proxy.PinnedTLSConfig(proxyKey)}}
	c, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: hc})
	if err != nil {
		return nil, nil, err
	}
	binding, err := network.ChannelBinding(resp.TLS)
	if err != nil {
		c.CloseNow()
		return nil, nil, err
	}
	c.SetReadLimit(network.MaxMessageSize)
	return c, binding, nil
}

// Handshake runs hello → challenge → auth → welcome on c, a connection
// DialConn made (its channel binding is remembered; on any other
// connection use HandshakeBound).
func Handshake(ctx context.Context, c *websocket.Conn, key ed25519.PrivateKey, proxyKey ed25519.PublicKey, appVersion string) (network.Welcome, error) {
	b, ok := bindings.LoadAndDelete(c)
	if !ok {
		return network.Welcome{}, errors.New("proxytest: Handshake on a connection DialConn did not make; use HandshakeBound")
	}
	return HandshakeBound(ctx, c, key, proxyKey, appVersion, b.([]byte))
}

// HandshakeBound runs the handshake on c with the given channel binding:
// c's own for an honest worker, another connection's for a relay.
func HandshakeBound(ctx context.Context, c *websocket.Conn, key ed25519.PrivateKey, proxyKey ed25519.PublicKey, appVersion string, binding []byte) (network.Welcome, error) {
	return handshake(ctx, c, key, proxyKey, appVersion, binding, network.ProtocolVersion)
}

func handshake(ctx context.Context, c *websocket.Conn, key ed25519.PrivateKey, proxyKey ed25519.PublicKey, appVersion string, binding []byte, version int) (network.Welcome, error) {
	pub := key.Public().(ed25519.PublicKey)
	cn := make([]byte, 32)
	if _, err := rand.Read(cn); err != nil {
		return network.Welcome{}, err
	}
	if err := write(ctx, c, nil, version, network.TypeHello, &network.Hello{WorkerKey: pub, ClientNonce: cn, AppVersion: appVersion}); err != nil {
		return network.Welcome{}, err
	}
	env, payload, err := Read(ctx, c)
	if err != nil {
		return network.Welcome{}, err
	}
	ch, ok := payload.(*network.Challenge)
	if !ok {
		return network.Welcome{}, fmt.Errorf("proxytest: expected challenge, got %s %v", env.Type, payload)
	}
	if !ed25519.PublicKey(ch.ProxyKey).Equal(proxyKey) {
		return network.Welcome{}, errors.New("proxytest: challenge from another proxy key")
	}
	if !ed25519.Verify(proxyKey, network.ProxyAuthBytes(cn, ch.Nonce, pub, binding), ch.ProxySig) {
		return network.Welcome{}, errors.New("proxytest: bad proxy signature")
	}
	sig := ed25519.Sign(key, network.WorkerAuthBytes(ch.Nonce, cn, proxyKey, binding))
	if err := write(ctx, c, nil, version, network.TypeAuth, &network.Auth{WorkerSig: sig}); err != nil {
		return network.Welcome{}, err
	}
	env, payload, err = Read(ctx, c)
	if err != nil {
		return network.Welcome{}, err
	}
	wl, ok := payload.(*network.Welcome)
	if !ok {
		if em, isErr := payload.(*network.ErrorMsg); isErr {
			return network.Welcome{}, fmt.Errorf("proxytest: handshake refused: %s: %s", em.Code, em.Message)
		}
		return network.Welcome{}, fmt.Errorf("proxytest: expected welcome, got %s %v", env.Type, payload)
	}
	return *wl, nil
}

// Read reads and decodes one frame.
func Read(ctx context.Context, c *websocket.Conn) (network.Envelope, network.Validator, error) {
	_, b, err := c.Read(ctx)
	if err != nil {
		return network.Envelope{}, nil, err
	}
	return network.Decode(b)
}

func write(ctx context.Context, c *websocket.Conn, mu *sync.Mutex, version int, typ string, payload network.Validator) error {
	b, err := network.EncodeVersion(version, typ, "", payload)
	if err != nil {
		return err
	}
	if mu != nil {
		mu.Lock()
		defer mu.Unlock()
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return c.Write(wctx, websocket.MessageText, b)
}

// Dial connects, authenticates, registers and announces availability, then
// answers jobs in the background until Close or ctx ends.
func Dial(ctx context.Context, url string, proxyKey ed25519.PublicKey, opts Options) (*Worker, error) {
	if opts.Key == nil {
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		opts.Key = k
	}
	if opts.MaxConcurrent == 0 {
		opts.MaxConcurrent = 4
	}
	if opts.CoefficientMilli == 0 {
		opts.CoefficientMilli = 1000
	}
	if opts.State == "" {
		opts.State = network.Accepting
	}
	c, err := DialConn(ctx, url, proxyKey)
	if err != nil {
		return nil, err
	}
	if opts.Version == 0 {
		opts.Version = network.ProtocolVersion
	}
	b, _ := bindings.LoadAndDelete(c)
	wl, err := handshake(ctx, c, opts.Key, proxyKey, opts.AppVersion, b.([]byte), opts.Version)
	if err != nil {
		c.CloseNow()
		return nil, err
	}
	wctx, cancel := context.WithCancel(context.Background())
	w := &Worker{
		c: c, key: opts.Key, pinned: proxyKey, welcome: wl, id: wl.WorkerID, script: opts.Script,
		ctx: wctx, cancel: cancel, done: make(chan struct{}),
		running: map[string]context.CancelFunc{}, changed: make(chan struct{}), version: opts.Version,
	}
	reg := &network.Register{GPU: opts.GPU, Models: opts.Models, CoefficientMilli: opts.CoefficientMilli,
		MaxConcurrent: opts.MaxConcurrent, PayoutAddress: opts.PayoutAddress, Features: opts.Features}
	if err := w.Send(network.TypeRegister, reg); err != nil {
		c.CloseNow()
		return nil, err
	}
	if err := w.Send(network.TypeAvailability, &network.Availability{State: opts.State}); err != nil {
		c.CloseNow()
		return nil, err
	}
	go w.readLoop()
	// A ping round trip makes sure the proxy processed register and
	// availability before Dial returns (the proxy handles frames in order).
	if err := w.Send(network.TypePing, &network.Ping{T: 1}); err != nil {
		w.Close()
		return nil, err
	}
	if err := w.waitFor(ctx, func() bool { return w.pongs > 0 }); err != nil {
		w.Close()
		return nil, fmt.Errorf("proxytest: no pong after register: %w", err)
	}
	return w, nil
}

// ID is the worker id the proxy assigned (hex of the public key).
func (w *Worker) ID() string { return w.id }

// Welcome is the proxy's welcome message.
func (w *Worker) Welcome() network.Welcome { return w.welcome }

// PublicKey is the worker's key.
func (w *Worker) PublicKey() ed25519.PublicKey { return w.key.Public().(ed25519.PublicKey) }

// Send writes one message.
func (w *Worker) Send(typ string, payload network.Validator) error {
	return write(w.ctx, w.c, &w.writeMu, w.version, typ, payload)
}

// OtherVersionFrames counts the frames the proxy sent in another envelope
// version than the worker speaks.
func (w *Worker) OtherVersionFrames() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.otherVersion
}

// SendRaw writes one frame as is (text message).
func (w *Worker) SendRaw(frame []byte) error {
	w.writeMu.Lock()
	defer w.writeMu.Unlock()
	ctx, cancel := context.WithTimeout(w.ctx, 5*time.Second)
	defer cancel()
	return w.c.Write(ctx, websocket.MessageText, frame)
}

// SetAvailability sends an availability message and waits until the proxy
// has processed it.
func (w *Worker) SetAvailability(ctx context.Context, state string) error {
	if err := w.Send(network.TypeAvailability, &network.Availability{State: state}); err != nil {
		return err
	}
	return w.Sync(ctx)
}

// Sync waits for a ping round trip, so every frame sent before it has been
// processed by the proxy.
func (w *Worker) Sync(ctx context.Context) error {
	w.mu.Lock()
	n := w.pongs
	w.mu.Unlock()
	if err := w.Send(network.TypePing, &network.Ping{T: time.Now().UnixMilli()}); err != nil {
		return err
	}
	return w.waitFor(ctx, func() bool { return w.pongs > n })
}

// Close says bye and closes the connection; running jobs stop.
func (w *Worker) Close() error {
	_ = w.Send(network.TypeBye, &network.Bye{Reason: "test worker closing"})
	err := w.c.Close(websocket.StatusNormalClosure, "bye")
	w.cancel()
	<-w.done
	return err
}

// Drop closes the TCP connection without a close handshake.
func (w *Worker) Drop() {
	w.c.CloseNow()
	w.cancel()
	<-w.done
}

// Done is closed when the connection has ended.
func (w *Worker) Done() <-chan struct{} { return w.done }

// Err is why the connection ended (after Done).
func (w *Worker) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.readErr
}

// Receipts returns the receipts received so far (each verified against the
// pinned proxy key; see ReceiptErrors).
func (w *Worker) Receipts() []receipt.Signed {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]receipt.Signed(nil), w.receipts...)
}

// ReceiptErrors are verification failures of received receipts.
func (w *Worker) ReceiptErrors() []error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]error(nil), w.rcptErrs...)
}

// Jobs returns the jobs received so far.
func (w *Worker) Jobs() []network.Job {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]network.Job(nil), w.jobs...)
}

// Cancels returns the cancels received so far.
func (w *Worker) Cancels() []network.Cancel {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]network.Cancel(nil), w.cancels...)
}

// WaitFinished waits until n jobs have ended here (every message of theirs sent).
func (w *Worker) WaitFinished(ctx context.Context, n int) error {
	return w.waitFor(ctx, func() bool { return w.finished >= n })
}

// Errors returns the error messages the proxy sent.
func (w *Worker) Errors() []network.ErrorMsg {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]network.ErrorMsg(nil), w.errs...)
}

// Byes returns the bye messages the proxy sent.
func (w *Worker) Byes() []network.Bye {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]network.Bye(nil), w.byes...)
}

// Running is the number of jobs being answered now.
func (w *Worker) Running() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.running)
}

// WaitReceipts waits until at least n receipts arrived.
func (w *Worker) WaitReceipts(ctx context.Context, n int) ([]receipt.Signed, error) {
	err := w.waitFor(ctx, func() bool { return len(w.receipts) >= n })
	return w.Receipts(), err
}

// WaitJobs waits until at least n jobs arrived.
func (w *Worker) WaitJobs(ctx context.Context, n int) ([]network.Job, error) {
	err := w.waitFor(ctx, func() bool { return len(w.jobs) >= n })
	return w.Jobs(), err
}

// WaitCancels waits until at least n cancels arrived.
func (w *Worker) WaitCancels(ctx context.Context, n int) ([]network.Cancel, error) {
	err := w.waitFor(ctx, func() bool { return len(w.cancels) >= n })
	return w.Cancels(), err
}

// WaitErrors waits until at least n error messages arrived.
func (w *Worker) WaitErrors(ctx context.Context, n int) ([]network.ErrorMsg, error) {
	err := w.waitFor(ctx, func() bool { return len(w.errs) >= n })
	return w.Errors(), err
}

// waitFor waits until cond (called with w.mu held) holds, the connection
// ends, or ctx ends.
func (w *Worker) waitFor(ctx context.Context, cond func() bool) error {
	for {
		w.mu.Lock()
		ok := cond()
		ch := w.changed
		w.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-w.done:
			w.mu.Lock()
			ok := cond()
			w.mu.Unlock()
			if ok {
				return nil
			}
			return fmt.Errorf("proxytest: connection ended: %v", w.Err())
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// record runs f with w.mu held and wakes waiters.
func (w *Worker) record(f func()) {
	w.mu.Lock()
	f()
	close(w.changed)
	w.changed = make(chan struct{})
	w.mu.Unlock()
}

func (w *Worker) readLoop() {
	defer close(w.done)
	defer w.cancel()
	for {
		env, payload, err := Read(w.ctx, w.c)
		if err != nil {
			var pe *network.ProtocolError
			if errors.As(err, &pe) {
				continue // the proxy sent something we do not understand: ignore
			}
			w.record(func() { w.readErr = err })
			return
		}
		if env.V != w.version {
			w.record(func() { w.otherVersion++ })
		}
		switch m := payload.(type) {
		case *network.Job:
			job := *m
			jctx, cancel := context.WithCancel(w.ctx)
			w.record(func() {
				w.jobs = append(w.jobs, job)
				w.running[job.JobID] = cancel
			})
			go w.runJob(jctx, job)
		case *network.Cancel:
			c := *m
			w.record(func() {
				w.cancels = append(w.cancels, c)
				if cancel := w.running[c.JobID]; cancel != nil {
					cancel()
				}
			})
		case *network.SignedReceipt:
			r := receipt.Signed(*m)
			verr := r.Verify(w.pinned)
			if verr == nil && r.Receipt.WorkerID != w.id {
				verr = fmt.Errorf("receipt for worker %s", r.Receipt.WorkerID)
			}
			w.record(func() {
				w.receipts = append(w.receipts, r)
				if verr != nil {
					w.rcptErrs = append(w.rcptErrs, verr)
				}
			})
		case *network.Ping:
			if env.Type == network.TypePing {
				_ = w.Send(network.TypePong, &network.Ping{T: m.T})
			} else {
				w.record(func() { w.pongs++ })
			}
		case *network.Balance:
			b := *m
			w.record(func() { w.balances = append(w.balances, b) })
		case *network.PayoutStatus:
			st := *m
			w.record(func() {
				w.payouts = append(w.payouts, st)
				w.balances = append(w.balances, st.Balance)
			})
		case *network.Voucher:
			v := *m
			w.record(func() { w.vouchers = append(w.vouchers, v) })
		case *network.ErrorMsg:
			e := *m
			w.record(func() { w.errs = append(w.errs, e) })
		case *network.Bye:
			b := *m
			w.record(func() { w.byes = append(w.byes, b) })
		}
	}
}

func (w *Worker) runJob(ctx context.Context, job network.Job) {
	defer w.record(func() { delete(w.running, job.JobID); w.finished++ })
	var b Behavior
	if w.script != nil {
		b = w.script(job)
	}
	if b.LateAfterCancel {
		ctx = context.WithoutCancel(ctx)
	}
	deltas := b.Deltas
	if deltas == nil {
		deltas = []string{"Hello", ", ", "world"}
	}
	usage := b.Usage
	if usage == (network.Usage{}) {
		usage = network.Usage{PromptTokens: 10, CompletionTokens: len(deltas)}
	}
	if b.Gate != nil {
		select {
		case <-b.Gate:
		case <-ctx.Done():
			return
		}
	}
	code := b.Code
	if code == "" {
		code = network.CodeRuntime
	}
	jobErr := func() {
		_ = w.Send(network.TypeJobError, &network.JobError{JobID: job.JobID, Code: code, Message: "scripted failure"})
	}
	if b.Failure == FailBefore {
		jobErr()
		return
	}
	if job.Kind == network.JobEmbedding && b.Failure == Succeed {
		w.embed(job, b, usage)
		return
	}
	n := len(deltas) * max(1, b.Repeat)
	if b.Failure != Succeed && b.After < n {
		n = b.After
	}
	if b.Endless && b.Failure == Succeed && n > 0 {
		n = -1 // no end: the loop below stops at the cancel
	}
	for i := 0; n < 0 || i < n; i++ {
		if i > 0 && b.DeltaDelay > 0 {
			select {
			case <-time.After(b.DeltaDelay):
			case <-ctx.Done():
				return
			}
		}
		if ctx.Err() != nil {
			return
		}
		d := &network.Delta{JobID: job.JobID, Seq: i, Text: deltas[i%len(deltas)]}
		if k := i % len(deltas); k < len(b.Logprobs) {
			d.Logprobs = b.Logprobs[k]
		}
		if err := w.Send(network.TypeDelta, d); err != nil {
			return
		}
	}
	switch b.Failure {
	case FailAfter:
		jobErr()
		return
	case Hang:
		<-ctx.Done()
		return
	case Disconnect:
		w.c.CloseNow()
		return
	}
	done := &network.Done{JobID: job.JobID, Usage: usage, FinishReason: b.FinishReason, ToolCalls: b.ToolCalls}
	if done.FinishReason == "" {
		done.FinishReason = "stop"
	}
	_ = w.Send(network.TypeDone, done)
	if b.ReplayDone {
		_ = w.Send(network.TypeDone, done)
	}
}

// NewKey returns a fresh worker key and its id (hex of the public key).
func NewKey() (ed25519.PrivateKey, string) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	return priv, hex.EncodeToString(pub)
}

// Balance is the newest balance the proxy sent (in a balance message or a
// payout_status); ok is false before any.
func (w *Worker) Balance() (b network.Balance, ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.balances) == 0 {
		return network.Balance{}, false
	}
	return w.balances[len(w.balances)-1], true
}

// PayoutStatuses returns the payout_status messages received for id ("" for all).
func (w *Worker) PayoutStatuses(id string) []network.PayoutStatus {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.payoutStatusesLocked(id)
}

func (w *Worker) payoutStatusesLocked(id string) []network.PayoutStatus {
	var out []network.PayoutStatus
	for _, s := range w.payouts {
		if id == "" || s.PayoutID == id {
			out = append(out, s)
		}
	}
	return out
}

// NewPayoutRequest is a payout request to the pinned proxy, expiring
// network.PayoutRequestTTL from now, signed with the worker's key.
func (w *Worker) NewPayoutRequest(id string, amount int64, destination string) network.PayoutRequest {
	now := time.Now()
	return w.SignPayout(network.PayoutRequest{PayoutID: id, Amount: amount, Destination: destination, Created: now.UnixMilli(),
		ProxyKey: w.pinned, Expires: now.Add(network.PayoutRequestTTL).UnixMilli()})
}

// SignPayout signs req, as it is, with the worker's key (for requests made
// to be refused: another proxy's key, a past expiry).
func (w *Worker) SignPayout(req network.PayoutRequest) network.PayoutRequest {
	return network.SignPayout(w.key, req)
}

// RequestPayout sends a payout_request and returns the next payout_status
// the proxy sends for its id.
func (w *Worker) RequestPayout(ctx context.Context, req network.PayoutRequest) (network.PayoutStatus, error) {
	w.mu.Lock()
	n := len(w.payoutStatusesLocked(req.PayoutID))
	w.mu.Unlock()
	if err := w.Send(network.TypePayoutRequest, &req); err != nil {
		return network.PayoutStatus{}, err
	}
	var st network.PayoutStatus
	err := w.waitFor(ctx, func() bool {
		all := w.payoutStatusesLocked(req.PayoutID)
		if len(all) > n {
			st = all[n]
			return true
		}
		return false
	})
	return st, err
}

// WaitPayoutStatus waits for a payout_status of id in the given state.
func (w *Worker) WaitPayoutStatus(ctx context.Context, id, state string) (network.PayoutStatus, error) {
	var st network.PayoutStatus
	err := w.waitFor(ctx, func() bool {
		for _, s := range w.payoutStatusesLocked(id) {
			if s.State == state {
				st = s
				return true
			}
		}
		return false
	})
	return st, err
}

// WaitBalance waits until the newest balance the proxy sent (in a balance
// message or a payout_status) satisfies ok, and returns it.
func (w *Worker) WaitBalance(ctx context.Context, ok func(network.Balance) bool) (network.Balance, error) {
	var b network.Balance
	err := w.waitFor(ctx, func() bool {
		if n := len(w.balances); n > 0 && ok(w.balances[n-1]) {
			b = w.balances[n-1]
			return true
		}
		return false
	})
	return b, err
}

// Balances returns every balance received so far, oldest first.
func (w *Worker) Balances() []network.Balance {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]network.Balance(nil), w.balances...)
}

// embed answers an embedding job: one embedding message per input, then done.
func (w *Worker) embed(job network.Job, b Behavior, usage network.Usage) {
	if b.Usage == (network.Usage{}) {
		usage = network.Usage{PromptTokens: 10 * len(job.Input)}
	}
	for i := range job.Input {
		v := []float32{1, 2, 3, 4}
		if b.Embeddings != nil {
			v = b.Embeddings[i%len(b.Embeddings)]
		}
		if err := w.Send(network.TypeEmbedding, &network.Embedding{JobID: job.JobID, Index: i, Embedding: v}); err != nil {
			return
		}
	}
	_ = w.Send(network.TypeDone, &network.Done{JobID: job.JobID, Usage: usage, FinishReason: "stop"})
}

// Vouchers returns the voucher messages received so far, in order.
func (w *Worker) Vouchers() []network.Voucher {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.vouchers)
}

// WaitVoucher waits for a voucher that ok accepts and returns it.
func (w *Worker) WaitVoucher(ctx context.Context, ok func(network.Voucher) bool) (network.Voucher, error) {
	var found network.Voucher
	err := w.waitFor(ctx, func() bool {
		for i := len(w.vouchers) - 1; i >= 0; i-- {
			if ok(w.vouchers[i]) {
				found = w.vouchers[i]
				return true
			}
		}
		return false
	})
	return found, err
}

// WaitVouchers waits until n vouchers have arrived and returns them all.
func (w *Worker) WaitVouchers(ctx context.Context, n int) ([]network.Voucher, error) {
	err := w.waitFor(ctx, func() bool { return len(w.vouchers) >= n })
	return w.Vouchers(), err
}

// WaitVoucherAfter waits for a voucher after the first n that ok accepts.
func (w *Worker) WaitVoucherAfter(ctx context.Context, n int, ok func(network.Voucher) bool) (network.Voucher, error) {
	var found network.Voucher
	err := w.waitFor(ctx, func() bool {
		for i := n; i < len(w.vouchers); i++ {
			if ok(w.vouchers[i]) {
				found = w.vouchers[i]
				return true
			}
		}
		return false
	})
	return found, err
}

// RequestVoucher sends a voucher_request for payoutAddress.
func (w *Worker) RequestVoucher(payoutAddress string) error {
	return w.Send(network.TypeVoucherRequest, &network.VoucherRequest{PayoutAddress: payoutAddress})
}
