package network

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/cocoon-desktop/cocoon-desktop/receipt"

	"github.com/coder/websocket"
)

const waitLong = 10 * time.Second // only reached when a test fails

// ---- an in-test proxy stub: real TLS on 127.0.0.1, real WebSocket, the codec ----

type frame struct {
	env     Envelope
	payload Validator
	raw     []byte
}

type stubConn struct {
	c        *websocket.Conn
	ctx      context.Context
	workerID string
	msgs     chan frame
	done     chan struct{}
	closeErr error
}

type stubProxy struct {
	key         ed25519.PrivateKey // signs the challenge
	claimKey    ed25519.PublicKey  // proxy_key in the challenge
	heartbeatMS int64
	// afterChallenge, when set, runs right after the challenge is sent (a
	// malicious proxy pushing a job before the worker accepted it).
	afterChallenge func(c *websocket.Conn)

	srv    *httptest.Server
	url    string
	ctx    context.Context
	hellos chan struct{}
	conns  chan *stubConn
}

func selfSignedCert(t *testing.T, key ed25519.PrivateKey) tls.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "cocoon-proxy"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// newStub starts a stub proxy whose identity (and TLS certificate) is key.
func newStub(t *testing.T, key ed25519.PrivateKey, opts ...func(*stubProxy)) *stubProxy {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &stubProxy{
		key: key, claimKey: key.Public().(ed25519.PublicKey), heartbeatMS: 60_000, ctx: ctx,
		hellos: make(chan struct{}, 100), conns: make(chan *stubConn, 10),
	}
	for _, o := range opts {
		o(s)
	}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.srv.TLS = &tls.Config{Certificates: []tls.Certificate{selfSignedCert(t, key)}}
	s.srv.StartTLS()
	s.url = "wss://" + strings.TrimPrefix(s.srv.URL, "https://") + "/v1/worker"
	t.Cleanup(func() { cancel(); s.srv.Close() })
	return s
}

func (s *stubProxy) serve(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	c.SetReadLimit(MaxMessageSize)
	binding, err := ChannelBinding(r.TLS)
	if err != nil {
		return
	}
	ctx := s.ctx
	_, b, err := c.Read(ctx)
	if err != nil {
		return
	}
	_, p, err := Decode(b)
	hello, ok := p.(*Hello)
	if err != nil || !ok {
		return
	}
	s.hellos <- struct{}{}
	nonce := make([]byte, 32)
	rand.Read(nonce)
	sig := ed25519.Sign(s.key, ProxyAuthBytes(hello.ClientNonce, nonce, hello.WorkerKey, binding))
	if err := stubWrite(ctx, c, TypeChallenge, &Challenge{ProxyKey: s.claimKey, Nonce: nonce, ProxySig: sig}); err != nil {
		return
	}
	if s.afterChallenge != nil {
		s.afterChallenge(c)
	}
	_, b, err = c.Read(ctx)
	if err != nil {
		return
	}
	_, p, err = Decode(b)
	auth, ok := p.(*Auth)
	if err != nil || !ok || !ed25519.Verify(hello.WorkerKey, WorkerAuthBytes(nonce, hello.ClientNonce, s.claimKey, binding), auth.WorkerSig) {
		stubWrite(ctx, c, TypeError, &ErrorMsg{Code: CodeAuthFailed, Message: "worker_sig does not verify"})
		return
	}
	id := WorkerID(hello.WorkerKey)
	if err := stubWrite(ctx, c, TypeWelcome, &Welcome{WorkerID: id, HeartbeatMS: s.heartbeatMS, ServerTime: time.Now().UnixMilli()}); err != nil {
		return
	}
	sc := &stubConn{c: c, ctx: ctx, workerID: id, msgs: make(chan frame, 1000), done: make(chan struct{})}
	s.conns <- sc
	defer close(sc.done)
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			sc.closeErr = err
			return
		}
		env, p, err := Decode(b)
		if err != nil {
			env.Type = "!invalid: " + err.Error()
		}
		sc.msgs <- frame{env: env, payload: p, raw: b}
	}
}

func stubWrite(ctx context.Context, c *websocket.Conn, typ string, p Validator) error {
	b, err := Encode(typ, "p", p)
	if err != nil {
		return err
	}
	return c.Write(ctx, websocket.MessageText, b)
}

func (s *stubProxy) accept(t *testing.T) *stubConn {
	t.Helper()
	select {
	case sc := <-s.conns:
		return sc
	case <-time.After(waitLong):
		t.Fatal("no worker completed the handshake")
		return nil
	}
}

func (sc *stubConn) send(t *testing.T, typ string, p Validator) {
	t.Helper()
	if err := stubWrite(sc.ctx, sc.c, typ, p); err != nil {
		t.Fatalf("stub send %s: %v", typ, err)
	}
}

func (sc *stubConn) sendRaw(t *testing.T, b string) {
	t.Helper()
	if err := sc.c.Write(sc.ctx, websocket.MessageText, []byte(b)); err != nil {
		t.Fatalf("stub send raw: %v", err)
	}
}

// next returns the next frame from the worker that is not a heartbeat or a
// state update (those are read with nextOf).
func (sc *stubConn) next(t *testing.T) frame {
	t.Helper()
	for {
		f := sc.recv(t)
		switch f.env.Type {
		case TypePing, TypePong, TypeRegister, TypeAvailability:
			continue
		}
		return f
	}
}

// nextOf returns the next frame of type typ, skipping others.
func (sc *stubConn) nextOf(t *testing.T, typ string) frame {
	t.Helper()
	for {
		if f := sc.recv(t); f.env.Type == typ {
			return f
		}
	}
}

func (sc *stubConn) recv(t *testing.T) frame {
	t.Helper()
	select {
	case f := <-sc.msgs:
		return f
	case <-sc.done:
		// Frames read before the close come first (select picks at random
		// when both are ready).
		select {
		case f := <-sc.msgs:
			return f
		default:
		}
		t.Fatalf("worker connection closed: %v", sc.closeErr)
	case <-time.After(waitLong):
		t.Fatal("timed out waiting for a message from the worker")
	}
	return frame{}
}

func expectType[T Validator](t *testing.T, f frame, typ string) T {
	t.Helper()
	if f.env.Type != typ {
		t.Fatalf("want %s from the worker, got %s: %s", typ, f.env.Type, f.raw)
	}
	return f.payload.(T)
}

// ---- the client under test ----

type handlerFunc func(ctx context.Context, job Job, emit func(string) error) (Usage, string, error)

func (f handlerFunc) RunJob(ctx context.Context, job Job, emit func(string) error) (Usage, string, error) {
	return f(ctx, job, emit)
}

type harness struct {
	c        *Client
	events   chan ClientEvent
	receipts chan receipt.Signed
	logs     *syncBuffer
	runErr   chan error
	cancel   context.CancelFunc
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var testRegistration = Register{
	GPU:              GPUInfo{Name: "NVIDIA GeForce RTX 4090", Count: 1},
	Models:           []ModelInfo{{Name: "tiny", Size: 800_000, Loaded: true, FitsVRAM: true}},
	CoefficientMilli: 1000, MaxConcurrent: 2,
}

func startClient(t *testing.T, stub *stubProxy, pinned ed25519.PublicKey, h JobHandler, mut ...func(*ClientConfig)) *harness {
	t.Helper()
	hs := &harness{
		events: make(chan ClientEvent, 1000), receipts: make(chan receipt.Signed, 100),
		logs: &syncBuffer{}, runErr: make(chan error, 1),
	}
	cfg := ClientConfig{
		URL: stub.url, ProxyKey: pinned, Key: testKey(2), Handler: h,
		OnReceipt: func(r receipt.Signed) error { hs.receipts <- r; return nil },
		OnEvent: func(e ClientEvent) {
			select {
			case hs.events <- e:
			default:
			}
		},
		Logger:     slog.New(slog.NewTextHandler(hs.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
		AppVersion: "test",
	}
	for _, m := range mut {
		m(&cfg)
	}
	hs.c = NewClient(cfg)
	hs.c.SetRegistration(testRegistration)
	hs.c.SetAvailability(Availability{State: Accepting})
	ctx, cancel := context.WithCancel(context.Background())
	hs.cancel = cancel
	go func() { hs.runErr <- hs.c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-hs.runErr:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(waitLong):
			t.Error("Run did not return after cancel")
		}
	})
	return hs
}

// waitEvent waits for an event of kind matching ok (nil: any of that kind).
func (hs *harness) waitEvent(t *testing.T, kind EventKind, ok func(ClientEvent) bool) ClientEvent {
	t.Helper()
	timeout := time.After(waitLong)
	for {
		select {
		case e := <-hs.events:
			if e.Kind == kind && (ok == nil || ok(e)) {
				return e
			}
		case <-timeout:
			t.Fatalf("no %q event", kind)
		}
	}
}

func job(id string, deadline time.Duration) *Job {
	return &Job{JobID: id, Model: "tiny", Messages: []ChatMessage{{Role: "user", Content: "hi"}},
		Deadline: time.Now().Add(deadline).UnixMilli()}
}

// blockingHandler signals each started job and blocks until its ctx ends.
type blockingHandler struct {
	started chan string
	ended   chan error // context.Cause at the end
}

func newBlocking() *blockingHandler {
	return &blockingHandler{started: make(chan string, 10), ended: make(chan error, 10)}
}

func (b *blockingHandler) RunJob(ctx context.Context, job Job, emit func(string) error) (Usage, string, error) {
	b.started <- job.JobID
	<-ctx.Done()
	b.ended <- context.Cause(ctx)
	return Usage{}, "", ctx.Err()
}

func recvT[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitLong):
		t.Fatalf("timed out waiting for %s", what)
		var zero T
		return zero
	}
}

// ---- tests ----

func TestClientHandshakeRegisterAndBye(t *testing.T) {
	proxy := testKey(1)
	stub := newStub(t, proxy)
	hs := startClient(t, stub, proxy.Public().(ed25519.PublicKey), newBlocking())
	sc := stub.accept(t)
	if sc.workerID != WorkerID(testKey(2).Public().(ed25519.PublicKey)) {
		t.Fatalf("worker id %s", sc.workerID)
	}
	reg := expectType[*Register](t, sc.recv(t), TypeRegister)
	if reg.MaxConcurrent != 2 || len(reg.Models) != 1 {
		t.Fatalf("register %+v", reg)
	}
	if a := expectType[*Availability](t, sc.recv(t), TypeAvailability); a.State != Accepting {
		t.Fatalf("availability %+v", a)
	}
	hs.waitEvent(t, EventConnected, nil)
	if !hs.c.Connected() {
		t.Fatal("Connected() is false after the handshake")
	}
	// A change while connected is sent at once.
	hs.c.SetAvailability(Availability{State: Paused, Reason: "owner is back"})
	if a := expectType[*Availability](t, sc.nextOf(t, TypeAvailability), TypeAvailability); a.State != Paused {
		t.Fatalf("availability %+v", a)
	}
	// Clean goodbye on cancel: bye, then a normal closure.
	hs.cancel()
	expectType[*Bye](t, sc.next(t), TypeBye)
	<-sc.done
	if st := websocket.CloseStatus(sc.closeErr); st != websocket.StatusNormalClosure {
		t.Fatalf("close status %v (%v)", st, sc.closeErr)
	}
	if err := recvT(t, hs.runErr, "Run to return"); err != nil {
		t.Fatalf("Run returned %v on cancel", err)
	}
	hs.runErr <- nil // for the cleanup
	if hs.c.Connected() {
		t.Fatal("Connected() after Run returned")
	}
}

func TestClientRefusesWrongProxyKey(t *testing.T) {
	pinned, impostor := testKey(1), testKey(5)
	var ran atomic.Int32
	h := handlerFunc(func(ctx context.Context, job Job, emit func(string) error) (Usage, string, error) {
		ran.Add(1)
		return Usage{}, "stop", nil
	})
	cases := map[string]struct {
		opt       func(*stubProxy)
		wantEvent string
	}{
		// Presents the pinned key (and a TLS certificate of it) but cannot sign with it.
		"forged signature": {func(s *stubProxy) { s.key = impostor }, "auth failed: " + errChannelMismatch.Error()},
		// Presents its own key.
		"other key": {func(s *stubProxy) { s.key = impostor; s.claimKey = impostor.Public().(ed25519.PublicKey) }, "auth failed: proxy key mismatch"},
	}
	for name, tc := range cases {
		opt := tc.opt
		t.Run(name, func(t *testing.T) {
			stub := newStub(t, pinned, opt, func(s *stubProxy) {
				s.afterChallenge = func(c *websocket.Conn) {
					stubWrite(context.Background(), c, TypeJob, job("evil", time.Minute))
				}
			})
			hs := startClient(t, stub, pinned.Public().(ed25519.PublicKey), h)
			for i := 0; i < 2; i++ { // refused, then retried with backoff
				e := hs.waitEvent(t, EventAuthFailed, nil)
				if e.String() != tc.wantEvent {
					t.Fatalf("event %q, want %q", e.String(), tc.wantEvent)
				}
				recvT(t, stub.hellos, "a hello")
			}
			select {
			case <-stub.conns:
				t.Fatal("the handshake completed with an impostor")
			default:
			}
			if hs.c.Connected() || ran.Load() != 0 {
				t.Fatalf("connected=%v, jobs run=%d", hs.c.Connected(), ran.Load())
			}
		})
	}
	t.Run("untrusted certificate", func(t *testing.T) {
		stub := newStub(t, impostor) // TLS certificate and key of another proxy
		hs := startClient(t, stub, pinned.Public().(ed25519.PublicKey), h)
		e := hs.waitEvent(t, EventAuthFailed, nil)
		if e.Reason != "proxy certificate not trusted" {
			t.Fatalf("event %q", e.String())
		}
		select {
		case <-stub.hellos:
			t.Fatal("a hello was sent over an untrusted TLS connection")
		default:
		}
	})
}

func TestClientJobStreamsDeltasThenDone(t *testing.T) {
	proxy := testKey(1)
	stub := newStub(t, proxy)
	long := strings.Repeat("é☃", MaxDeltaText/4) // multi-byte, longer than one delta
	pieces := []string{"Hel", "lo", "", " wörld", long, "!"}
	h := handlerFunc(func(ctx context.Context, job Job, emit func(string) error) (Usage, string, error) {
		for _, p := range pieces {
			if err := emit(p); err != nil {
				return Usage{}, "", err
			}
		}
		return Usage{PromptTokens: 3, CompletionTokens: 7, EvalMS: 12, TotalMS: 15}, "length", nil
	})
	hs := startClient(t, stub, proxy.Public().(ed25519.PublicKey), h)
	sc := stub.accept(t)
	sc.send(t, TypeJob, job("j1", time.Minute))
	var text strings.Builder
	seq := 0
	for {
		f := sc.next(t)
		if f.env.Type == TypeDone {
			d := f.payload.(*Done)
			if d.JobID != "j1" || d.FinishReason != "length" || d.Usage != (Usage{3, 7, 12, 15}) {
				t.Fatalf("done %+v", d)
			}
			break
		}
		d := expectType[*Delta](t, f, TypeDelta)
		if d.JobID != "j1" || d.Seq != seq || d.Text == "" || len(d.Text) > MaxDeltaText || !utf8.ValidString(d.Text) {
			t.Fatalf("delta %d: job %s seq %d len %d", seq, d.JobID, d.Seq, len(d.Text))
		}
		seq++
		text.WriteString(d.Text)
	}
	if text.String() != strings.Join(pieces, "") {
		t.Fatal("streamed text differs from the emitted text")
	}
	// Pieces may be coalesced into fewer frames, but none exceeds the limit.
	if total := len(strings.Join(pieces, "")); total <= MaxDeltaText || seq < (total+MaxDeltaText-1)/MaxDeltaText {
		t.Fatalf("%d deltas for %d bytes; the long piece should have been split", seq, total)
	}
	hs.waitEvent(t, EventJobStarted, nil)
	e := hs.waitEvent(t, EventJobFinished, nil)
	if e.JobID != "j1" || e.Usage.CompletionTokens != 7 {
		t.Fatalf("finished event %+v", e)
	}
	if err := hs.c.WaitIdle(context.Background()); err != nil || hs.c.RunningJobs() != 0 {
		t.Fatalf("WaitIdle %v, running %d", err, hs.c.RunningJobs())
	}
}

// TestClientDeltaPacingHoldsNothing: deltas are paced (at most one frame
// per deltaInterval), but a piece is never held for a later emit or for the
// job's end. The handler emits each piece only after the proxy has the one
// before it, so a piece kept waiting for company would stall the test.
func TestClientDeltaPacingHoldsNothing(t *testing.T) {
	proxy := testKey(1)
	stub := newStub(t, proxy)
	pieces := []string{"one", " two", " three", " four"}
	seen := make(chan struct{})
	h := handlerFunc(func(ctx context.Context, job Job, emit func(string) error) (Usage, string, error) {
		for _, p := range pieces {
			if err := emit(p); err != nil {
				return Usage{}, "", err
			}
			select {
			case <-seen:
			case <-ctx.Done():
				return Usage{}, "", ctx.Err()
			}
		}
		return Usage{PromptTokens: 1, CompletionTokens: 4}, "stop", nil
	})
	startClient(t, stub, proxy.Public().(ed25519.PublicKey), h)
	sc := stub.accept(t)
	sc.send(t, TypeJob, job("j1", time.Minute))
	var text string
	for i, p := range pieces {
		for !strings.HasSuffix(text, p) {
			d := expectType[*Delta](t, sc.next(t), TypeDelta)
			text += d.Text
		}
		if text != strings.Join(pieces[:i+1], "") {
			t.Fatalf("after piece %d the proxy has %q", i, text)
		}
		seen <- struct{}{}
	}
	if f := sc.next(t); f.env.Type != TypeDone {
		t.Fatalf("got %s after the last piece, want done", f.env.Type)
	}
}

func TestClientJobErrors(t *testing.T) {
	proxy := testKey(1)
	stub := newStub(t, proxy)
	h := handlerFunc(func(ctx context.Context, job Job, emit func(string) error) (Usage, string, error) {
		switch job.JobID {
		case "unknown":
			return Usage{}, "", fmt.Errorf("runtime: %w: %s", ErrUnknownModel, job.Model)
		default:
			return Usage{}, "", errors.New("ollama exited")
		}
	})
	startClient(t, stub, proxy.Public().(ed25519.PublicKey), h)
	sc := stub.accept(t)
	sc.send(t, TypeJob, job("unknown", time.Minute))
	if je := expectType[*JobError](t, sc.next(t), TypeJobError); je.JobID != "unknown" || je.Code != CodeUnknownModel {
		t.Fatalf("%+v", je)
	}
	sc.send(t, TypeJob, job("crash", time.Minute))
	if je := expectType[*JobError](t, sc.next(t), TypeJobError); je.JobID != "crash" || je.Code != CodeRuntime {
		t.Fatalf("%+v", je)
	}
	sc.send(t, TypeJob, job("late", -time.Second))
	if je := expectType[*JobError](t, sc.next(t), TypeJobError); je.JobID != "late" || je.Code != CodeTimeout {
		t.Fatalf("%+v", je)
	}
}

func TestClientCancelFromProxy(t *testing.T) {
	proxy := testKey(1)
	stub := newStub(t, proxy)
	h := newBlocking()
	startClient(t, stub, proxy.Public().(ed25519.PublicKey), h)
	sc := stub.accept(t)
	sc.send(t, TypeJob, job("j1", time.Minute))
	recvT(t, h.started, "the job to start")
	sc.send(t, TypeCancel, &Cancel{JobID: "j1", Reason: "client went away"})
	if cause := recvT(t, h.ended, "the handler's ctx to end"); !errors.Is(cause, errProxyCancel) {
		t.Fatalf("cause %v", cause)
	}
	if je := expectType[*JobError](t, sc.next(t), TypeJobError); je.JobID != "j1" || je.Code != CodeCancelled {
		t.Fatalf("%+v", je)
	}
}

func TestClientJobDeadline(t *testing.T) {
	proxy := testKey(1)
	stub := newStub(t, proxy)
	h := newBlocking()
	startClient(t, stub, proxy.Public().(ed25519.PublicKey), h)
	sc := stub.accept(t)
	sc.send(t, TypeJob, job("j1", 300*time.Millisecond))
	recvT(t, h.started, "the job to start")
	if cause := recvT(t, h.ended, "the deadline"); !errors.Is(cause, errJobTimeout) {
		t.Fatalf("cause %v", cause)
	}
	if je := expectType[*JobError](t, sc.next(t), TypeJobError); je.JobID != "j1" || je.Code != CodeTimeout {
		t.Fatalf("%+v", je)
	}
}

func TestClientBusyDuplicateAndCancelAll(t *testing.T) {
	proxy := testKey(1)
	stub := newStub(t, proxy)
	h := newBlocking()
	hs := startClient(t, stub, proxy.Public().(ed25519.PublicKey), h)
	sc := stub.accept(t)
	sc.send(t, TypeJob, job("a", time.Minute))
	sc.send(t, TypeJob, job("b", time.Minute))
	recvT(t, h.started, "job a")
	recvT(t, h.started, "job b")
	sc.send(t, TypeJob, job("a", time.Minute)) // the same id again
	if je := expectType[*JobError](t, sc.next(t), TypeJobError); je.JobID != "a" || je.Code != CodeBusy {
		t.Fatalf("%+v", je)
	}
	sc.send(t, TypeJob, job("c", time.Minute)) // over max_concurrent 2
	if je := expectType[*JobError](t, sc.next(t), TypeJobError); je.JobID != "c" || je.Code != CodeBusy {
		t.Fatalf("%+v", je)
	}
	if n := hs.c.RunningJobs(); n != 2 {
		t.Fatalf("running %d", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := hs.c.WaitIdle(ctx); err == nil {
		t.Fatal("WaitIdle returned while jobs run")
	}
	hs.c.CancelAll("owner is back")
	got := map[string]bool{}
	for i := 0; i < 2; i++ {
		je := expectType[*JobError](t, sc.next(t), TypeJobError)
		if je.Code != CodeCancelled || je.Message != "owner is back" {
			t.Fatalf("%+v", je)
		}
		got[je.JobID] = true
	}
	if !got["a"] || !got["b"] {
		t.Fatalf("cancelled %v", got)
	}
	if err := hs.c.WaitIdle(context.Background()); err != nil || hs.c.RunningJobs() != 0 {
		t.Fatalf("WaitIdle %v, running %d", err, hs.c.RunningJobs())
	}
	// Paused: new jobs are refused busy.
	hs.c.SetAvailability(Availability{State: Paused})
	sc.nextOf(t, TypeAvailability)
	sc.send(t, TypeJob, job("d", time.Minute))
	if je := expectType[*JobError](t, sc.next(t), TypeJobError); je.JobID != "d" || je.Code != CodeBusy {
		t.Fatalf("%+v", je)
	}
}

func TestClientDisconnectMidJobReconnects(t *testing.T) {
	proxy := testKey(1)
	stub := newStub(t, proxy)
	h := newBlocking()
	hs := startClient(t, stub, proxy.Public().(ed25519.PublicKey), h)
	sc := stub.accept(t)
	sc.send(t, TypeJob, job("j1", time.Minute))
	recvT(t, h.started, "the job to start")
	sc.c.CloseNow() // the proxy vanishes
	cause := recvT(t, h.ended, "the handler's ctx to end")
	if cause == nil || errors.Is(cause, errJobTimeout) || errors.Is(cause, errProxyCancel) {
		t.Fatalf("cause %v", cause)
	}
	hs.waitEvent(t, EventDisconnected, nil)
	sc2 := stub.accept(t) // a second handshake, by itself
	expectType[*Register](t, sc2.recv(t), TypeRegister)
	hs.waitEvent(t, EventConnected, nil)
	if err := hs.c.WaitIdle(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The new session works.
	sc2.send(t, TypeJob, job("j2", time.Minute))
	if id := recvT(t, h.started, "job j2"); id != "j2" {
		t.Fatalf("started %s", id)
	}
}

func TestClientReceipts(t *testing.T) {
	proxy, other := testKey(1), testKey(3)
	stub := newStub(t, proxy)
	hs := startClient(t, stub, proxy.Public().(ed25519.PublicKey), newBlocking())
	sc := stub.accept(t)
	me := sc.workerID

	good := testReceipt(me)
	badSig := signReceipt(proxy, good)
	badSig.Receipt.Cumulative += 1000 // changed after signing
	otherKey := signReceipt(other, good)
	otherKey.ProxyKey = proxy.Public().(ed25519.PublicKey)
	otherWorker := good
	otherWorker.WorkerID = WorkerID(other.Public().(ed25519.PublicKey))
	wrongAmount := good
	wrongAmount.Amount += 5
	invalid := map[string]SignedReceipt{
		"bad signature": badSig,
		"other key":     otherKey,
		"other worker":  signReceipt(proxy, otherWorker),
		"wrong amount":  signReceipt(proxy, wrongAmount),
	}
	for name, r := range invalid {
		sc.send(t, TypeReceipt, &r)
		em := expectType[*ErrorMsg](t, sc.next(t), TypeError)
		if em.Code != CodeAuthFailed {
			t.Fatalf("%s: %+v", name, em)
		}
		hs.waitEvent(t, EventReceiptRejected, nil)
	}
	valid := signReceipt(proxy, good)
	sc.send(t, TypeReceipt, &valid)
	got := recvT(t, hs.receipts, "the valid receipt")
	if !bytes.Equal(got.Signature, valid.Signature) || got.Receipt != good {
		t.Fatalf("OnReceipt got %+v", got)
	}
	hs.waitEvent(t, EventReceipt, nil)
	select {
	case r := <-hs.receipts:
		t.Fatalf("an invalid receipt reached OnReceipt: %+v", r)
	default:
	}
}

func TestClientReceiptNotStored(t *testing.T) {
	proxy := testKey(1)
	stub := newStub(t, proxy)
	startClient(t, stub, proxy.Public().(ed25519.PublicKey), newBlocking(), func(c *ClientConfig) {
		c.OnReceipt = func(receipt.Signed) error { return errors.New("disk full") }
	})
	sc := stub.accept(t)
	r := signReceipt(proxy, testReceipt(sc.workerID))
	sc.send(t, TypeReceipt, &r)
	if em := expectType[*ErrorMsg](t, sc.next(t), TypeError); em.Code != CodeInternal || em.Ref != "p" {
		t.Fatalf("%+v", em)
	}
}

func TestClientMalformedFramesGetErrorReplies(t *testing.T) {
	proxy := testKey(1)
	stub := newStub(t, proxy)
	h := handlerFunc(func(ctx context.Context, job Job, emit func(string) error) (Usage, string, error) {
		return Usage{PromptTokens: 1, CompletionTokens: 1}, "stop", emit("ok")
	})
	startClient(t, stub, proxy.Public().(ed25519.PublicKey), h)
	sc := stub.accept(t)
	cases := []struct{ frame, code, ref string }{
		{`not json`, CodeBadMessage, ""},
		{`{"v":2,"type":"teleport","id":"x1"}`, CodeBadMessage, "x1"},
		{`{"v":4,"type":"ping","id":"x2","data":{"t":1}}`, CodeUnsupportedVersion, "x2"},
		{`{"v":2,"type":"job","id":"x3","data":{"job_id":"j","model":"m"}}`, CodeBadMessage, "x3"},
		{`{"v":2,"type":"delta","id":"x4","data":{"job_id":"j","seq":0,"text":"` + strings.Repeat("a", MaxDeltaText+1) + `"}}`, CodeTooLarge, "x4"},
		{`{"v":2,"type":"hello","id":"x5","data":{"worker_key":"` + strings.Repeat("A", 43) + `=","client_nonce":"` + strings.Repeat("A", 43) + `="}}`, CodeBadMessage, "x5"}, // valid, but not for a worker
		{`{"v":2,"type":"delta","id":"x6","data":{"job_id":"j","seq":0,"text":"hi"}}`, CodeBadMessage, "x6"},
	}
	for _, tc := range cases {
		sc.sendRaw(t, tc.frame)
		em := expectType[*ErrorMsg](t, sc.next(t), TypeError)
		if em.Code != tc.code || em.Ref != tc.ref {
			t.Fatalf("%.60s: got %+v, want %s ref %q", tc.frame, em, tc.code, tc.ref)
		}
	}
	// A proxy error message is only logged.
	sc.send(t, TypeError, &ErrorMsg{Code: CodeNotRegistered, Message: "register first"})
	// Still working.
	sc.send(t, TypeJob, job("j1", time.Minute))
	expectType[*Delta](t, sc.next(t), TypeDelta)
	expectType[*Done](t, sc.next(t), TypeDone)
}

func TestClientHeartbeat(t *testing.T) {
	proxy := testKey(1)
	stub := newStub(t, proxy, func(s *stubProxy) { s.heartbeatMS = 100 })
	hs := startClient(t, stub, proxy.Public().(ed25519.PublicKey), newBlocking())
	sc := stub.accept(t)
	// The worker pings; the stub answers with the same clock; the worker measures RTT.
	ping := expectType[*Ping](t, sc.nextOf(t, TypePing), TypePing)
	sc.send(t, TypePong, &Ping{T: ping.T})
	if e := hs.waitEvent(t, EventRTT, nil); e.RTT < 0 || e.RTT > waitLong {
		t.Fatalf("rtt %v", e.RTT)
	}
	// The proxy pings; the worker echoes the clock.
	sc.send(t, TypePing, &Ping{T: 12345})
	if pong := expectType[*Ping](t, sc.nextOf(t, TypePong), TypePong); pong.T != 12345 {
		t.Fatalf("pong %+v", pong)
	}
	// The stub goes silent: after 3 missed heartbeats the worker reconnects.
	start := time.Now()
	e := hs.waitEvent(t, EventDisconnected, nil)
	if !strings.Contains(e.Reason, "heartbeat") {
		t.Fatalf("disconnected: %q", e.Reason)
	}
	// A lower bound only (a slow machine makes it longer, never shorter):
	// the worker must not give up before about 3 heartbeats of silence.
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Fatalf("declared dead after %v", d)
	}
	stub.accept(t)
}

func TestClientNeverLogsText(t *testing.T) {
	proxy := testKey(1)
	stub := newStub(t, proxy)
	const secretIn, secretOut = "PROMPT-SECRET-1234", "COMPLETION-SECRET-5678"
	h := handlerFunc(func(ctx context.Context, job Job, emit func(string) error) (Usage, string, error) {
		if job.Messages[0].Content != secretIn {
			return Usage{}, "", errors.New("wrong prompt")
		}
		return Usage{PromptTokens: 1, CompletionTokens: 1}, "stop", emit(secretOut)
	})
	hs := startClient(t, stub, proxy.Public().(ed25519.PublicKey), h)
	sc := stub.accept(t)
	j := job("j1", time.Minute)
	j.Messages[0].Content = secretIn
	sc.send(t, TypeJob, j)
	expectType[*Delta](t, sc.next(t), TypeDelta)
	expectType[*Done](t, sc.next(t), TypeDone)
	hs.waitEvent(t, EventJobFinished, nil)
	logs := hs.logs.String()
	if !strings.Contains(logs, "j1") {
		t.Fatalf("the job was not logged at all:\n%s", logs)
	}
	if strings.Contains(logs, secretIn) || strings.Contains(logs, secretOut) {
		t.Fatalf("prompt or completion text in the log:\n%s", logs)
	}
}

func TestClientRunRefusesMisconfiguration(t *testing.T) {
	good := ClientConfig{URL: "wss://proxy.example:8443/v1/worker", ProxyKey: testKey(1).Public().(ed25519.PublicKey), Key: testKey(2), Handler: newBlocking()}
	cases := map[string]func(*ClientConfig){
		"no key":       func(c *ClientConfig) { c.Key = nil },
		"no proxy key": func(c *ClientConfig) { c.ProxyKey = nil },
		"no handler":   func(c *ClientConfig) { c.Handler = nil },
		"http url":     func(c *ClientConfig) { c.URL = "https://proxy.example/v1/worker" },
		"ws non-local": func(c *ClientConfig) { c.URL = "ws://proxy.example/v1/worker" },
		"no host":      func(c *ClientConfig) { c.URL = "wss:///v1/worker" },
	}
	for name, f := range cases {
		cfg := good
		f(&cfg)
		ctx, cancel := context.WithTimeout(context.Background(), waitLong)
		if err := NewClient(cfg).Run(ctx); err == nil {
			t.Errorf("%s: Run returned nil", name)
		}
		cancel()
	}
}

func TestLoadOrCreateKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cocoon", "keys")
	path := filepath.Join(dir, "worker.key")
	k1, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, %v", fi.Mode().Perm(), err)
	}
	if di, err := os.Stat(dir); err != nil || di.Mode().Perm() != 0o700 {
		t.Fatalf("key dir mode %v, %v", di.Mode().Perm(), err)
	}
	k2, err := LoadOrCreateKey(path)
	if err != nil || !k1.Equal(k2) {
		t.Fatalf("second load: %v (same key: %v)", err, k1.Equal(k2))
	}
	id := WorkerID(k1.Public().(ed25519.PublicKey))
	if len(id) != 64 || strings.ToLower(id) != id {
		t.Fatalf("worker id %q", id)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("left temporary files: %v", entries)
	}

	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateKey(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("0644 key file: %v", err)
	}
	os.Chmod(path, 0o600)

	bad := filepath.Join(dir, "corrupt.key")
	for _, content := range []string{"", "hello", "-----BEGIN COCOON ED25519 SEED-----\nAAAA\n-----END COCOON ED25519 SEED-----\n"} {
		if err := os.WriteFile(bad, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadOrCreateKey(bad); err == nil || !strings.Contains(err.Error(), "corrupt") {
			t.Fatalf("corrupt key %q: %v", content, err)
		}
	}
}

func TestClientPayoutMessages(t *testing.T) {
	proxy := testKey(1)
	stub := newStub(t, proxy)
	balances := make(chan Balance, 4)
	statuses := make(chan PayoutStatus, 4)
	idle := handlerFunc(func(context.Context, Job, func(string) error) (Usage, string, error) { return Usage{}, "stop", nil })
	hs := startClient(t, stub, proxy.Public().(ed25519.PublicKey), idle, func(c *ClientConfig) {
		c.OnBalance = func(b Balance) { balances <- b }
		c.OnPayoutStatus = func(p PayoutStatus) { statuses <- p }
	})
	if err := NewClient(ClientConfig{Key: testKey(2)}).RequestPayout(PayoutRequest{PayoutID: "p1"}); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("RequestPayout without a session = %v, want ErrNotConnected", err)
	}
	sc := stub.accept(t)
	bal := Balance{Cumulative: 900, LastSeq: 3, Paid: 100, MinPayout: 10, PayoutFee: 1, Network: "testnet"}
	sc.send(t, TypeBalance, &bal)
	select {
	case got := <-balances:
		if !reflect.DeepEqual(got, bal) {
			t.Fatalf("balance %+v, want %+v", got, bal)
		}
	case <-time.After(waitLong):
		t.Fatal("no balance callback")
	}
	for deadline := time.Now().Add(waitLong); !hs.c.Connected(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("never connected")
		}
	}
	req := PayoutRequest{PayoutID: "po-1", Amount: 500, Destination: "UQ-somewhere", Created: 1}
	if err := hs.c.RequestPayout(req); err != nil {
		t.Fatal(err)
	}
	got := expectType[*PayoutRequest](t, sc.nextOf(t, TypePayoutRequest), TypePayoutRequest)
	if got.PayoutID != "po-1" || got.Amount != 500 || got.VerifyPayout(testKey(2).Public().(ed25519.PublicKey)) != nil {
		t.Fatalf("payout request %+v does not verify with the worker key", got)
	}
	if got.VerifyPayout(proxy.Public().(ed25519.PublicKey)) == nil {
		t.Fatal("a payout request verified with another key")
	}
	// It is addressed to the pinned proxy and expires PayoutRequestTTL from now.
	if err := got.CheckFor(proxy.Public().(ed25519.PublicKey), time.Now()); err != nil {
		t.Fatalf("payout request not valid for the pinned proxy: %v", err)
	}
	if err := got.CheckFor(testKey(3).Public().(ed25519.PublicKey), time.Now()); !errors.Is(err, ErrPayoutOtherProxy) {
		t.Fatalf("payout request for another proxy: %v, want ErrPayoutOtherProxy", err)
	}
	if err := got.CheckFor(proxy.Public().(ed25519.PublicKey), time.Now().Add(PayoutRequestTTL)); !errors.Is(err, ErrPayoutExpired) {
		t.Fatalf("payout request after its TTL: %v, want ErrPayoutExpired", err)
	}
	st := PayoutStatus{PayoutID: "po-1", State: PayoutSent, Amount: 500, Fee: 1, MsgHash: "ab", Balance: Balance{Cumulative: 900, Paid: 100, Pending: 500, Network: "testnet"}}
	sc.send(t, TypePayoutStatus, &st)
	select {
	case p := <-statuses:
		if p.PayoutID != "po-1" || p.State != PayoutSent || p.Balance.Pending != 500 {
			t.Fatalf("status %+v", p)
		}
	case <-time.After(waitLong):
		t.Fatal("no payout status callback")
	}
}
