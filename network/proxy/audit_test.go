package proxy_test

// The audit's tests (issue 11, item 4): slow and stalled clients, listener
// limits, the worker's slot race, /v1/status access, the TLS channel
// binding of the handshake, replays, fresh identities and the queues.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/cocoon-desktop/cocoon-desktop/network"
	"github.com/cocoon-desktop/cocoon-desktop/network/proxy"
	"github.com/cocoon-desktop/cocoon-desktop/network/proxy/proxytest"
)

// rawRequest writes a raw HTTP/1.1 request on a fresh TCP connection.
func rawRequest(t *testing.T, addr, method, path, auth, body string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	req := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: proxy\r\n", method, path)
	if auth != "" {
		req += "Authorization: Bearer " + auth + "\r\n"
	}
	if body != "" {
		req += fmt.Sprintf("Content-Type: application/json\r\nContent-Length: %d\r\n", len(body))
	}
	if _, err := io.WriteString(c, req+"\r\n"+body); err != nil {
		t.Fatal(err)
	}
	return c
}

// waitClosed drains c until the peer closes it; it fails if that takes
// longer than bound (a read deadline, not a sleep).
func waitClosed(t *testing.T, c net.Conn, bound time.Duration) {
	t.Helper()
	if err := c.SetReadDeadline(time.Now().Add(bound)); err != nil {
		t.Fatal(err)
	}
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the proxy kept the connection open for %v", bound)
	}
}

const streamBody = `{"model":"` + model + `","stream":true,"messages":[{"role":"user","content":"hi"}]}`

// TestStalledClientIsDropped: an app developer that sends a streaming
// request and never reads cannot pin its handler (nor the worker's slot)
// until the job timeout: once the socket buffers are full, a write waits at
// most stream_write_timeout, then the job is cancelled on the worker and
// the connection closed.
func TestStalledClientIsDropped(t *testing.T) {
	tp := startProxy(t, "", func(c *proxy.Config) {
		c.JobTimeout = 5 * time.Minute // far past the bounds below: not what ends it
		c.Limits.StreamWriteTimeout = 300 * time.Millisecond
		// The job's byte bound (metering) must not end the stream before
		// the socket buffers fill: allow a GiB.
		c.Metering.DefaultMaxTokens = network.MaxMaxTokens
		c.Metering.MaxBytesPerToken = 1 << 10
		c.Metering.MaxJobBytes = 1 << 30
	})
	chunk := strings.Repeat("x", 16<<10)
	var jobs atomic.Int32
	w := tp.worker(t, proxytest.Options{MaxConcurrent: 1, Script: func(network.Job) proxytest.Behavior {
		if jobs.Add(1) == 1 { // the first job streams without end
			return proxytest.Behavior{Deltas: []string{chunk}, Endless: true, DeltaDelay: time.Millisecond}
		}
		return proxytest.Behavior{}
	}})
	// (Its socket buffers are left as they are: shrinking one on a live
	// connection stalls TCP itself, which would test the kernel instead.)
	c := rawRequest(t, tp.APIAddr(), http.MethodPost, "/v1/chat/completions", testKey, streamBody)
	// The client never reads. The worker must be told to stop…
	if _, err := w.WaitCancels(waitCtx(t, 30*time.Second), 1); err != nil {
		t.Fatalf("the stalled client's job was never cancelled: %v", err)
	}
	// …its slot is free (max_concurrent 1: a next request is served)…
	if _, err := tp.client().Chat.Completions.New(testCtx(t), chatParams()); err != nil {
		t.Fatalf("the worker's slot was not freed: %v", err)
	}
	// …and the handler is over: the proxy closes the connection.
	waitClosed(t, c, 10*time.Second)
	if st, err := tp.Status(context.Background()); err != nil || st.JobsRunning != 0 {
		t.Errorf("jobs running %d (%v)", st.JobsRunning, err)
	}
}

// TestListenerLimits: both listeners cut slow requests and cap the
// connections of one IP address, and neither timeout cuts a long stream.
func TestListenerLimits(t *testing.T) {
	t.Run("api connections per IP", func(t *testing.T) {
		tp := startProxy(t, "", func(c *proxy.Config) { c.Limits.MaxConnsPerIP = 2 })
		held := []net.Conn{}
		for i := 0; i < 2; i++ {
			c, err := net.Dial("tcp", tp.APIAddr())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			held = append(held, c)
		}
		over, err := net.Dial("tcp", tp.APIAddr())
		if err != nil {
			t.Fatal(err)
		}
		defer over.Close()
		waitClosed(t, over, 5*time.Second) // closed at once, unserved
		if api, _ := proxy.RefusedConns(tp.Proxy); api != 1 {
			t.Errorf("refused %d API connections, want 1", api)
		}
		// The held ones are served.
		if _, err := io.WriteString(held[0], "GET /healthz HTTP/1.1\r\nHost: proxy\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(held[0]), nil)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("a connection under the cap: %v %v", resp, err)
		}
		resp.Body.Close()
		// One closes: a new one gets its place once the proxy saw it go.
		held[0].Close()
		ctx := waitCtx(t, 10*time.Second)
		for {
			c := rawRequest(t, tp.APIAddr(), http.MethodGet, "/healthz", "", "")
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err == nil && resp.StatusCode == http.StatusOK {
				resp.Body.Close()
				break
			}
			if ctx.Err() != nil {
				t.Fatal("no connection was accepted again after one closed")
			}
		}
	})
	t.Run("worker connections per IP", func(t *testing.T) {
		tp := startProxy(t, "", func(c *proxy.Config) { c.Limits.MaxWorkerConnsPerIP = 1 })
		w := tp.worker(t, proxytest.Options{})
		if c, err := proxytest.DialConn(testCtx(t), tp.WorkerURL(), tp.PublicKey()); err == nil {
			c.CloseNow()
			t.Fatal("a second worker connection from the same IP was accepted")
		}
		if _, worker := proxy.RefusedConns(tp.Proxy); worker != 1 {
			t.Errorf("refused %d worker connections, want 1", worker)
		}
		w.Close()
		ctx := waitCtx(t, 10*time.Second)
		for {
			w2, err := proxytest.Dial(ctx, tp.WorkerURL(), tp.PublicKey(), proxytest.Options{Models: proxytest.Models(model)})
			if err == nil {
				w2.Close()
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("no worker connection was accepted again after one closed: %v", err)
			}
		}
	})
	t.Run("slow headers are cut on both listeners", func(t *testing.T) {
		tp := startProxy(t, "", func(c *proxy.Config) {
			c.Limits.ReadHeaderTimeout = 200 * time.Millisecond
			c.Limits.ReadTimeout = 400 * time.Millisecond
		})
		c, err := net.Dial("tcp", tp.APIAddr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: pro"); err != nil { // and no more
			t.Fatal(err)
		}
		waitClosed(t, c, 5*time.Second)
		host := strings.TrimPrefix(strings.TrimSuffix(tp.WorkerURL(), "/v1/worker"), "wss://")
		wc, err := net.Dial("tcp", host) // TCP only: the TLS handshake never starts
		if err != nil {
			t.Fatal(err)
		}
		defer wc.Close()
		waitClosed(t, wc, 5*time.Second)
	})
	t.Run("slow body is cut", func(t *testing.T) {
		tp := startProxy(t, "", func(c *proxy.Config) {
			c.Limits.ReadHeaderTimeout = 200 * time.Millisecond
			c.Limits.ReadTimeout = 400 * time.Millisecond
		})
		tp.worker(t, proxytest.Options{})
		c, err := net.Dial("tcp", tp.APIAddr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := fmt.Fprintf(c, "POST /v1/chat/completions HTTP/1.1\r\nHost: proxy\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n\r\n%s",
			testKey, len(streamBody), streamBody[:10]); err != nil { // the rest never comes
			t.Fatal(err)
		}
		if err := c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatal("a request whose body never ends pinned its handler")
		}
		if err == nil && resp.StatusCode != http.StatusBadRequest {
			t.Errorf("status %d, want 400 (or a closed connection)", resp.StatusCode)
		}
	})
	t.Run("a stream outlives read_timeout on both listeners", func(t *testing.T) {
		tp := startProxy(t, "", func(c *proxy.Config) {
			c.Limits.ReadHeaderTimeout = 100 * time.Millisecond
			c.Limits.ReadTimeout = 200 * time.Millisecond
		})
		deltas := make([]string, 12)
		for i := range deltas {
			deltas[i] = fmt.Sprint(i, " ")
		}
		// 12 deltas 100 ms apart: the answer takes 1.1 s, over 5 read timeouts.
		tp.worker(t, proxytest.Options{Script: func(network.Job) proxytest.Behavior {
			return proxytest.Behavior{Deltas: deltas, DeltaDelay: 100 * time.Millisecond}
		}})
		stream := tp.client().Chat.Completions.NewStreaming(testCtx(t), chatParams())
		var text strings.Builder
		for stream.Next() {
			for _, ch := range stream.Current().Choices {
				text.WriteString(ch.Delta.Content)
			}
		}
		if err := stream.Err(); err != nil {
			t.Fatalf("stream cut: %v (after %q)", err, text.String())
		}
		if want := strings.Join(deltas, ""); text.String() != want {
			t.Errorf("streamed %q, want %q", text.String(), want)
		}
	})
}

// slotRaceHandler answers every job with "ok"; the first job waits for
// gate (so a second request queues behind it).
type slotRaceHandler struct {
	started chan string
	gate    chan struct{}
	first   sync.Once
}

func (h *slotRaceHandler) RunJob(ctx context.Context, job network.Job, emit func(string) error) (network.Usage, string, error) {
	isFirst := false
	h.first.Do(func() { isFirst = true })
	if isFirst {
		h.started <- job.JobID
		select {
		case <-h.gate:
		case <-ctx.Done():
			return network.Usage{}, "", ctx.Err()
		}
	}
	if err := emit("ok"); err != nil {
		return network.Usage{}, "", err
	}
	return network.Usage{PromptTokens: 3, CompletionTokens: 1}, "stop", nil
}

// startRealWorker runs the real worker side of the protocol (network.Client)
// against tp until the test ends and waits until the proxy routes to it.
func startRealWorker(t *testing.T, tp *testProxy, h network.JobHandler, maxConcurrent int, onEvent func(network.ClientEvent)) *network.Client {
	t.Helper()
	key, _ := proxytest.NewKey()
	c := network.NewClient(network.ClientConfig{URL: tp.WorkerURL(), ProxyKey: tp.PublicKey(), Key: key, Handler: h, OnEvent: onEvent})
	c.SetRegistration(network.Register{Models: proxytest.Models(model), CoefficientMilli: 1000, MaxConcurrent: maxConcurrent})
	c.SetAvailability(network.Availability{State: network.Accepting})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("client Run: %v", err)
		}
	})
	waitStatus(t, tp, "the worker accepting", func(st proxy.Status) bool {
		return len(st.Workers) == 1 && st.Workers[0].State == network.Accepting && st.Workers[0].Registered
	})
	return c
}

// waitStatus polls the proxy's status until cond holds, within a bound.
func waitStatus(t *testing.T, tp *testProxy, what string, cond func(proxy.Status) bool) {
	t.Helper()
	ctx := waitCtx(t, 10*time.Second)
	for {
		st, err := tp.Status(ctx)
		if err == nil && cond(st) {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("never %s (last status %+v, %v)", what, st, err)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// TestWorkerFreesSlotBeforeDone: the race. The proxy frees its count of a
// worker's slot when the done arrives and sends a queued job at once; the
// worker used to free its own slot only after sending done, so that job
// could arrive while the slot was still taken, be refused "busy", and, with
// no other worker, fail the app developer's request with 502. Here the
// worker (the real network.Client, max_concurrent 1) holds the window open
// after its done until the next job arrives: the job must start, not be
// refused.
func TestWorkerFreesSlotBeforeDone(t *testing.T) {
	tp := startProxy(t, "", nil)
	h := &slotRaceHandler{started: make(chan string, 1), gate: make(chan struct{})}
	var (
		mu        sync.Mutex
		firstJob  string
		firstDone bool
		nextJob   = make(chan network.ClientEvent, 8)
	)
	onEvent := func(e network.ClientEvent) {
		mu.Lock()
		first, wait := firstJob, false
		if e.Kind == network.EventJobFinished && e.JobID == first && !firstDone {
			firstDone, wait = true, true
		}
		mu.Unlock()
		switch {
		case wait:
			// Right after the first done went out: hold here until the
			// proxy's next job reached the worker (started or refused).
			select {
			case ev := <-nextJob:
				nextJob <- ev
			case <-time.After(10 * time.Second):
			}
		case (e.Kind == network.EventJobStarted || e.Kind == network.EventJobFailed) && first != "" && e.JobID != first:
			nextJob <- e
		}
	}
	startRealWorker(t, tp, h, 1, onEvent)
	errs := make(chan error, 2)
	request := func() {
		_, err := tp.client().Chat.Completions.New(testCtx(t), chatParams())
		errs <- err
	}
	go request()
	id := recv(t, h.started, "the first job")
	mu.Lock()
	firstJob = id
	mu.Unlock()
	go request()
	waitStatus(t, tp, "the second request queued", func(st proxy.Status) bool { return st.Queued == 1 })
	close(h.gate)
	for i := 0; i < 2; i++ {
		if err := recv(t, errs, "a response"); err != nil {
			t.Errorf("request failed: %v", err)
		}
	}
	ev := recv(t, nextJob, "the second job at the worker")
	if ev.Kind != network.EventJobStarted {
		t.Errorf("the job sent right after the done was %s (%s): the worker still held the slot", ev.Kind, ev.Code)
	}
}

func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(30 * time.Second):
		t.Fatalf("no %s", what)
		var zero T
		return zero
	}
}

// TestManyStreamsOneWorker: 150 concurrent streams against one real worker
// (network.Client) at max_concurrent N: every one is served, none is 502.
// (Before the worker freed its slot ahead of done, max_concurrent 1 lost
// 1 to 17 of the 150 streams to 502 in 4 runs of 5.)
func TestManyStreamsOneWorker(t *testing.T) {
	const streams = 150
	for _, maxConcurrent := range []int{1, 4} {
		t.Run(fmt.Sprintf("max_concurrent %d", maxConcurrent), func(t *testing.T) {
			tp := startProxy(t, "", func(c *proxy.Config) {
				c.JobTimeout = 2 * time.Minute
				c.Limits.MaxConcurrentPerKey = streams
			})
			h := network.JobHandler(handlerFunc(func(ctx context.Context, job network.Job, emit func(string) error) (network.Usage, string, error) {
				for _, s := range []string{"a", "b", "c"} {
					if err := emit(s); err != nil {
						return network.Usage{}, "", err
					}
				}
				return network.Usage{PromptTokens: 3, CompletionTokens: 3}, "stop", nil
			}))
			startRealWorker(t, tp, h, maxConcurrent, nil)
			var wg sync.WaitGroup
			errs := make(chan error, streams)
			ctx := waitCtx(t, 2*time.Minute)
			for i := 0; i < streams; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					stream := tp.client().Chat.Completions.NewStreaming(ctx, chatParams())
					var text strings.Builder
					for stream.Next() {
						for _, ch := range stream.Current().Choices {
							text.WriteString(ch.Delta.Content)
						}
					}
					if err := stream.Err(); err != nil {
						errs <- err
					} else if text.String() != "abc" {
						errs <- fmt.Errorf("streamed %q", text.String())
					}
				}()
			}
			wg.Wait()
			close(errs)
			n := 0
			for err := range errs {
				if n++; n <= 3 {
					t.Errorf("stream failed: %v", err)
				}
			}
			if n > 0 {
				t.Errorf("%d of %d streams failed", n, streams)
			}
		})
	}
}

type handlerFunc func(context.Context, network.Job, func(string) error) (network.Usage, string, error)

func (f handlerFunc) RunJob(ctx context.Context, j network.Job, emit func(string) error) (network.Usage, string, error) {
	return f(ctx, j, emit)
}

// TestStatusNeedsAdminKey: /v1/status always needs the admin key, from
// loopback too (these requests all come from 127.0.0.1), and is off when
// no admin key is configured.
func TestStatusNeedsAdminKey(t *testing.T) {
	withAdmin := startProxy(t, "", func(c *proxy.Config) { c.AdminKey = testAdminKey })
	without := startProxy(t, "", nil)
	tests := []struct {
		name     string
		tp       *testProxy
		token    string
		wantCode int
	}{
		{"no token, from loopback", withAdmin, "", http.StatusUnauthorized},
		{"an API key is not the admin key", withAdmin, testKey, http.StatusUnauthorized},
		{"wrong token", withAdmin, "admin-test-0123456789abcdeX", http.StatusUnauthorized},
		{"the admin key", withAdmin, testAdminKey, http.StatusOK},
		{"no admin key configured, no token", without, "", http.StatusForbidden},
		{"no admin key configured, a token", without, testAdminKey, http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(testCtx(t), http.MethodGet, tt.tp.url("/v1/status"), nil)
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.wantCode {
				t.Fatalf("HTTP %d %s, want %d", resp.StatusCode, b, tt.wantCode)
			}
			if tt.wantCode == http.StatusOK {
				var st proxy.Status
				if err := json.Unmarshal(b, &st); err != nil || st.PublicKey == "" {
					t.Errorf("status %s: %v", b, err)
				}
			} else if strings.Contains(string(b), "worker_url") {
				t.Errorf("a refused request got the status: %s", b)
			}
		})
	}
}

// TestOldProtocolVersionRefusedClearly: a version 1 worker is told, in a
// version 1 envelope it can decode, that the proxy speaks version 2.
func TestOldProtocolVersionRefusedClearly(t *testing.T) {
	tp := startProxy(t, "", nil)
	c := rawConn(t, tp)
	hello, _ := json.Marshal(map[string]any{"v": 1, "type": "hello", "id": "h1", "data": map[string]any{
		"worker_key": make([]byte, 32), "client_nonce": make([]byte, 32)}})
	if err := c.Write(testCtx(t), websocket.MessageText, hello); err != nil {
		t.Fatal(err)
	}
	_, b, err := c.Read(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	var env network.Envelope
	var em network.ErrorMsg
	if err := json.Unmarshal(b, &env); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(env.Data, &em); err != nil {
		t.Fatal(err)
	}
	if env.V != 1 || env.Type != network.TypeError || em.Code != network.CodeUnsupportedVersion || em.Ref != "h1" ||
		!strings.Contains(em.Message, fmt.Sprintf("speaks %d", network.ProtocolVersion)) {
		t.Errorf("answer %s", b)
	}
	if st := websocket.CloseStatus(expectClosed(t, c)); st != websocket.StatusPolicyViolation {
		t.Errorf("closed with %v", st)
	}
}

// TestReplaysEarnNothing: whatever a worker replays of a paid job — its done
// on a new connection, the same done from another worker, the signed
// receipt sent back, a request for the receipt again — earns nothing more.
func TestReplaysEarnNothing(t *testing.T) {
	tp := startProxy(t, "", nil)
	key, _ := proxytest.NewKey()
	w := tp.worker(t, proxytest.Options{Key: key})
	if _, err := tp.client().Chat.Completions.New(testCtx(t), chatParams()); err != nil {
		t.Fatal(err)
	}
	paid := checkReceipts(t, tp, w, 1)[0]
	done := &network.Done{JobID: paid.Receipt.JobID, Usage: network.Usage{PromptTokens: 1_000_000, CompletionTokens: 1_000_000}, FinishReason: "stop"}
	w.Close()
	w2 := tp.worker(t, proxytest.Options{Key: key}) // the same worker, a new connection
	other := tp.worker(t, proxytest.Options{})
	msg := network.SignedReceipt(paid)
	totals, err := tp.Store().Totals(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		from     *proxytest.Worker
		typ      string
		payload  network.Validator
		wantCode string // the error the proxy answers; "" for none
	}{
		{"done of a paid job on a new connection", w2, network.TypeDone, done, network.CodeBadMessage},
		{"done of another worker's paid job", other, network.TypeDone, done, network.CodeBadMessage},
		{"the signed receipt sent back", w2, network.TypeReceipt, &msg, network.CodeBadMessage},
		{"job_error of a paid job", w2, network.TypeJobError, &network.JobError{JobID: paid.Receipt.JobID, Code: network.CodeRuntime}, network.CodeBadMessage},
		{"the receipt asked for again", w2, network.TypeReceiptsRequest, &network.ReceiptsRequest{Ranges: []network.SeqRange{{First: 1, Last: 1}}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nErr := len(tt.from.Errors())
			if err := tt.from.Send(tt.typ, tt.payload); err != nil {
				t.Fatal(err)
			}
			if err := tt.from.Sync(testCtx(t)); err != nil { // the proxy has handled it
				t.Fatal(err)
			}
			errs := tt.from.Errors()[nErr:]
			switch {
			case tt.wantCode == "" && len(errs) > 0:
				t.Errorf("errors %+v", errs)
			case tt.wantCode != "" && (len(errs) != 1 || errs[0].Code != tt.wantCode):
				t.Errorf("errors %+v, want one %s", errs, tt.wantCode)
			}
			if got, _ := tp.Store().Totals(context.Background()); got != totals {
				t.Errorf("totals %+v, were %+v", got, totals)
			}
			for _, wk := range []*proxytest.Worker{w2, other} {
				if b := storeBalance(t, tp.Store(), wk.ID()); b.Cumulative != map[bool]int64{true: paid.Receipt.Cumulative}[wk == w2] {
					t.Errorf("worker %s balance %+v", wk.ID()[:8], b)
				}
			}
		})
	}
	// The receipt sent again is the very same statement: same seq, same total.
	rs := w2.Receipts()
	if len(rs) != 1 || rs[0].Receipt != paid.Receipt || string(rs[0].Signature) != string(paid.Signature) {
		t.Errorf("receipts sent again %+v, want the paid one", rs)
	}
}

// TestFreshIdentitiesCostNoWrite: 1,000 fresh worker identities connect,
// register (with a payout address) and leave: the store commits no write
// and its file does not grow. A worker that earns is written at once.
func TestFreshIdentitiesCostNoWrite(t *testing.T) {
	const identities, parallel = 1000, 8
	tp := startProxy(t, "", func(c *proxy.Config) { c.Limits.MaxWorkerConnsPerIP = identities })
	dbPath := filepath.Join(tp.dir, proxy.DBFile)
	size := func() int64 {
		fi, err := os.Stat(dbPath)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	writes := func() int {
		n, err := proxy.StoreWrites(tp.Proxy)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	writes0, size0 := writes(), size()
	addr := "UQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAJKZ"
	ctx := waitCtx(t, 5*time.Minute)
	var next atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, parallel)
	for g := 0; g < parallel; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= identities {
				w, err := proxytest.Dial(ctx, tp.WorkerURL(), tp.PublicKey(), proxytest.Options{Models: proxytest.Models(model), PayoutAddress: addr})
				if err != nil {
					errs <- err
					return
				}
				w.Close()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("a fresh identity could not connect: %v", err)
	}
	waitStatus(t, tp, "every fresh identity gone", func(st proxy.Status) bool { return len(st.Workers) == 0 })
	if got := writes(); got != writes0 {
		t.Errorf("%d fresh identities cost %d store writes", identities, got-writes0)
	}
	if got := size(); got != size0 {
		t.Errorf("the store grew from %d to %d bytes", size0, got)
	}
	// The measure can see a write: a worker that earns is recorded.
	w := tp.worker(t, proxytest.Options{})
	if _, err := tp.client().Chat.Completions.New(testCtx(t), chatParams()); err != nil {
		t.Fatal(err)
	}
	checkReceipts(t, tp, w, 1)
	if writes() == writes0 {
		t.Error("a credited job made no store write")
	}
}

// TestQueueIsBounded: requests waiting for a busy model are capped by
// max_queued; one more is answered 503 with Retry-After, and the queued
// ones are served once the worker frees up.
func TestQueueIsBounded(t *testing.T) {
	tp := startProxy(t, "", func(c *proxy.Config) { c.Limits.MaxQueued = 2 })
	gate := make(chan struct{})
	tp.worker(t, proxytest.Options{MaxConcurrent: 1, Script: func(network.Job) proxytest.Behavior {
		return proxytest.Behavior{Gate: gate}
	}})
	errs := make(chan error, 3)
	request := func() {
		_, err := tp.client().Chat.Completions.New(testCtx(t), chatParams())
		errs <- err
	}
	go request()
	waitStatus(t, tp, "one job running", func(st proxy.Status) bool { return st.JobsRunning == 1 })
	go request()
	go request()
	waitStatus(t, tp, "two requests queued", func(st proxy.Status) bool { return st.Queued == 2 })
	resp := postChat(t, tp, testKey)
	if resp.code != http.StatusServiceUnavailable || resp.retryAfter == "" || !strings.Contains(resp.body, "queue_full") {
		t.Errorf("over the queue: HTTP %d Retry-After %q %s", resp.code, resp.retryAfter, resp.body)
	}
	close(gate)
	for i := 0; i < 3; i++ {
		if err := recv(t, errs, "a response"); err != nil {
			t.Errorf("a queued request failed: %v", err)
		}
	}
	if st, _ := tp.Status(context.Background()); st.Queued != 0 {
		t.Errorf("queued %d after all ended", st.Queued)
	}
}

// TestAPIKeyConcurrencyCap: an API key has at most its max_concurrent
// requests in flight (running or queued); the next is 429 with Retry-After,
// other keys are not affected, and a slot is usable again once one ends.
func TestAPIKeyConcurrencyCap(t *testing.T) {
	const otherKey = "sk-other-0123456789abcdef"
	tp := startProxy(t, "", func(c *proxy.Config) {
		c.APIKeys = []proxy.APIKey{{Key: testKey, Name: "capped", MaxConcurrent: 2}, {Key: otherKey, Name: "other"}}
	})
	gate := make(chan struct{})
	var jobs atomic.Int32
	tp.worker(t, proxytest.Options{MaxConcurrent: 4, Script: func(network.Job) proxytest.Behavior {
		if jobs.Add(1) <= 2 {
			return proxytest.Behavior{Gate: gate}
		}
		return proxytest.Behavior{}
	}})
	errs := make(chan error, 2)
	for i := 0; i < 2; i++ {
		go func() {
			_, err := tp.client().Chat.Completions.New(testCtx(t), chatParams())
			errs <- err
		}()
	}
	waitStatus(t, tp, "two jobs running", func(st proxy.Status) bool { return st.JobsRunning == 2 })
	resp := postChat(t, tp, testKey)
	if resp.code != http.StatusTooManyRequests || resp.retryAfter == "" || !strings.Contains(resp.body, "concurrency_limit_exceeded") {
		t.Errorf("over the key's cap: HTTP %d Retry-After %q %s", resp.code, resp.retryAfter, resp.body)
	}
	if resp := postChat(t, tp, otherKey); resp.code != http.StatusOK {
		t.Errorf("another key: HTTP %d %s", resp.code, resp.body)
	}
	close(gate)
	for i := 0; i < 2; i++ {
		if err := recv(t, errs, "a response"); err != nil {
			t.Errorf("a request under the cap failed: %v", err)
		}
	}
	if resp := postChat(t, tp, testKey); resp.code != http.StatusOK {
		t.Errorf("after the capped requests ended: HTTP %d %s", resp.code, resp.body)
	}
}

type chatResp struct {
	code       int
	retryAfter string
	body       string
}

func postChat(t *testing.T, tp *testProxy, key string) chatResp {
	t.Helper()
	req, _ := http.NewRequestWithContext(testCtx(t), http.MethodPost, tp.url("/v1/chat/completions"),
		strings.NewReader(`{"model":"`+model+`","messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return chatResp{code: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), body: string(b)}
}
