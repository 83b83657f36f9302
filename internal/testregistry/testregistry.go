// Package testregistry runs a real OCI registry (distribution/distribution
// v3, in-process, filesystem storage) on loopback, for tests that push and
// pull models with a real Ollama.
//
// Three loopback listeners are involved:
//
//   - the registry itself (127.0.0.1:P1);
//   - the front (127.0.0.1:P2, Addr): it proxies every request to the
//     registry, except blob GETs, which it answers with a 307 redirect to the
//     blob server under the host name "localhost". `ollama pull --insecure`
//     needs that: it asks for a blob, expects a redirect to another host (a
//     CDN in the real registry) and fails with "no Location header in
//     response" when the registry serves the blob itself (Ollama issue
//     #7244);
//   - the blob server (127.0.0.1:P3, reached as localhost:P3): it proxies blob
//     GETs to the registry and is where transfers can be slowed (Throttle),
//     cut (FailBlobsAfter) or corrupted (CorruptBlobsAfter).
//
// Model names for Ollama are then "<Addr()>/library/tiny:latest", used with
// Insecure: true.
package testregistry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem" // registers the "filesystem" driver
	"github.com/sirupsen/logrus"
)

// Registry is a running registry with its front and blob server.
type Registry struct {
	dir       string
	regLn     net.Listener
	frontLn   net.Listener
	blobLn    net.Listener
	servers   []*http.Server
	regURL    *url.URL
	blobPort  int
	closeOnce sync.Once

	rate      atomic.Int64 // bytes per second for blob bodies; 0 = unlimited
	failAt    atomic.Int64 // blob bytes served after which transfers break; -1 = never
	corruptAt atomic.Int64 // blob bytes served after which bytes are inverted; -1 = never
	served    atomic.Int64 // blob body bytes served by the blob server
	redirects atomic.Int64 // blob GETs redirected by the front
	inFlight  atomic.Int64 // blob requests the blob server is answering now
}

var blobPath = regexp.MustCompile(`^/v2/.+/blobs/sha256:[0-9a-f]{64}$`)

var quietOnce sync.Once

// New starts a registry storing its data under dir.
func New(ctx context.Context, dir string) (*Registry, error) {
	quietOnce.Do(func() {
		// The registry logs every request at info level through logrus'
		// standard logger, and the expected "blob unknown" answers to
		// Ollama's existence checks at error level; keep test output readable.
		if os.Getenv("COCOON_REGISTRY_LOG") == "" {
			logrus.SetLevel(logrus.FatalLevel)
		}
	})
	r := &Registry{dir: dir}
	r.failAt.Store(-1)
	r.corruptAt.Store(-1)
	var err error
	listen := func() net.Listener {
		if err != nil {
			return nil
		}
		var l net.Listener
		l, err = net.Listen("tcp", "127.0.0.1:0")
		return l
	}
	r.regLn, r.frontLn, r.blobLn = listen(), listen(), listen()
	if err != nil {
		r.closeListeners()
		return nil, fmt.Errorf("testregistry: listen: %w", err)
	}
	r.regURL = &url.URL{Scheme: "http", Host: r.regLn.Addr().String()}
	r.blobPort = r.blobLn.Addr().(*net.TCPAddr).Port

	cfg := &configuration.Configuration{
		Storage: configuration.Storage{
			"filesystem":  configuration.Parameters{"rootdirectory": dir},
			"delete":      configuration.Parameters{"enabled": true},
			"maintenance": configuration.Parameters{"uploadpurging": map[any]any{"enabled": false}},
		},
	}
	cfg.HTTP.Secret = "cocoon-testregistry"
	var app *handlers.App
	func() {
		defer func() {
			if p := recover(); p != nil { // NewApp panics on configuration errors
				err = fmt.Errorf("testregistry: registry: %v", p)
			}
		}()
		app = handlers.NewApp(ctx, cfg)
	}()
	if err != nil {
		r.closeListeners()
		return nil, err
	}

	proxy := httputil.NewSingleHostReverseProxy(r.regURL)
	front := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method == http.MethodGet && blobPath.MatchString(req.URL.Path) {
			r.redirects.Add(1)
			u := url.URL{Scheme: "http", Host: fmt.Sprintf("localhost:%d", r.blobPort), Path: req.URL.Path, RawQuery: req.URL.RawQuery}
			http.Redirect(w, req, u.String(), http.StatusTemporaryRedirect)
			return
		}
		proxy.ServeHTTP(w, req)
	})
	r.serve(r.regLn, app)
	r.serve(r.frontLn, front)
	r.serve(r.blobLn, http.HandlerFunc(r.serveBlob))
	return r, nil
}

// Start starts a registry in a temporary directory for the test and closes
// it when the test ends.
func Start(t testing.TB) *Registry {
	t.Helper()
	r, err := New(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

func (r *Registry) serve(l net.Listener, h http.Handler) {
	s := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	r.servers = append(r.servers, s)
	go s.Serve(l)
}

func (r *Registry) closeListeners() {
	for _, l := range []net.Listener{r.regLn, r.frontLn, r.blobLn} {
		if l != nil {
			l.Close()
		}
	}
}

// Addr returns the front's address, 127.0.0.1:PORT: the registry host to
// put in Ollama model names.
func (r *Registry) Addr() string { return r.frontLn.Addr().String() }

// URL returns the front's base URL, http://127.0.0.1:PORT.
func (r *Registry) URL() string { return "http://" + r.Addr() }

// RegistryAddr returns the address of the registry itself, behind the front.
func (r *Registry) RegistryAddr() string { return r.regLn.Addr().String() }

// BlobAddr returns the address blob GETs are redirected to, localhost:PORT.
func (r *Registry) BlobAddr() string { return fmt.Sprintf("localhost:%d", r.blobPort) }

// Dir returns the registry's storage directory.
func (r *Registry) Dir() string { return r.dir }

// Throttle limits blob transfers to about bytesPerSec bytes per second, for
// every transfer in progress and later ones; 0 (or less) lifts the limit.
func (r *Registry) Throttle(bytesPerSec int64) { r.rate.Store(max(bytesPerSec, 0)) }

// FailBlobsAfter breaks blob transfers once n more blob bytes have been
// served (counting from the call, over all transfers): the transfer that
// crosses the mark is cut (the connection is dropped mid-body) and every
// later blob request is answered 503 with an empty body. n < 0 stops
// failing.
//
// Note Ollama retries a broken part 6 times with 1, 2, 4, 8, 16 and 32 s
// pauses, so its pull fails about a minute after the cut.
func (r *Registry) FailBlobsAfter(n int64) {
	if n < 0 {
		r.failAt.Store(-1)
		return
	}
	r.failAt.Store(r.served.Load() + n)
}

// CorruptBlobsAfter corrupts one blob transfer once n more blob bytes have
// been served (counting from the call): the rest of the transfer that
// crosses the mark is sent inverted, so it completes with the right length
// and the wrong digest; later transfers are clean again. Ollama then fails
// the pull at once ("digest mismatch, file must be downloaded again") after
// reporting the layer complete. n < 0 disarms it.
func (r *Registry) CorruptBlobsAfter(n int64) {
	if n < 0 {
		r.corruptAt.Store(-1)
		return
	}
	r.corruptAt.Store(r.served.Load() + n)
}

// BlobBytesServed returns how many blob body bytes the blob server has sent.
func (r *Registry) BlobBytesServed() int64 { return r.served.Load() }

// BlobTransfersInFlight returns how many blob requests the blob server is
// answering now (a test waits for 0 after cancelling a pull).
func (r *Registry) BlobTransfersInFlight() int64 { return r.inFlight.Load() }

// BlobRedirects returns how many blob GETs the front redirected.
func (r *Registry) BlobRedirects() int64 { return r.redirects.Load() }

// Close stops the listeners and servers. Open connections are closed.
func (r *Registry) Close() {
	r.closeOnce.Do(func() {
		for _, s := range r.servers {
			s.Close()
		}
		r.closeListeners()
	})
}

func (r *Registry) failing() bool {
	at := r.failAt.Load()
	return at >= 0 && r.served.Load() >= at
}

// serveBlob proxies a blob GET (or HEAD) to the registry, applying the
// throttle and failure knobs to the body.
func (r *Registry) serveBlob(w http.ResponseWriter, req *http.Request) {
	r.inFlight.Add(1)
	defer r.inFlight.Add(-1)
	if (req.Method != http.MethodGet && req.Method != http.MethodHead) || !blobPath.MatchString(req.URL.Path) {
		http.Error(w, "the blob server serves blob GETs only", http.StatusNotFound)
		return
	}
	if r.failing() {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	u := *r.regURL
	u.Path, u.RawQuery = req.URL.Path, req.URL.RawQuery
	out, err := http.NewRequestWithContext(req.Context(), req.Method, u.String(), nil)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	for _, h := range []string{"Range", "If-Range", "If-None-Match", "Accept", "Authorization"} {
		if v := req.Header.Get(h); v != "" {
			out.Header.Set(h, v)
		}
	}
	resp, err := http.DefaultTransport.RoundTrip(out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for k, vs := range resp.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	if req.Method == http.MethodHead {
		return
	}
	flusher, _ := w.(http.Flusher)
	buf := make([]byte, 8<<10)
	start := time.Now()
	var sent int64
	corrupting := false
	for {
		chunk := buf
		rate := r.rate.Load()
		if rate > 0 {
			// Small writes keep the rate smooth at low limits.
			chunk = buf[:min(int64(len(buf)), max(rate/20, 512))]
		}
		if at := r.failAt.Load(); at >= 0 {
			left := at - r.served.Load()
			if left <= 0 {
				panic(http.ErrAbortHandler) // drop the connection mid-body
			}
			chunk = chunk[:min(int64(len(chunk)), left)]
		}
		n, rerr := resp.Body.Read(chunk)
		if n > 0 && !corrupting {
			if at := r.corruptAt.Load(); at >= 0 && r.served.Load()+int64(n) > at && r.corruptAt.CompareAndSwap(at, -1) {
				corrupting = true
				from := max(at-r.served.Load(), 0)
				for i := range chunk[from:n] {
					chunk[from+int64(i)] ^= 0xff
				}
			}
		} else if n > 0 {
			for i := range chunk[:n] {
				chunk[i] ^= 0xff
			}
		}
		if n > 0 {
			if _, werr := w.Write(chunk[:n]); werr != nil {
				return
			}
			if flusher != nil {
				flusher.Flush()
			}
			sent += int64(n)
			r.served.Add(int64(n))
		}
		if rerr != nil {
			if !errors.Is(rerr, io.EOF) {
				panic(http.ErrAbortHandler)
			}
			return
		}
		if rate := r.rate.Load(); rate > 0 {
			due := start.Add(time.Duration(float64(sent) / float64(rate) * float64(time.Second)))
			if d := time.Until(due); d > 0 {
				select {
				case <-time.After(d):
				case <-req.Context().Done():
					return
				}
			}
		}
	}
}

// Reference returns the Ollama model name for repo (e.g. "library/tiny")
// and tag in this registry: "<Addr()>/library/tiny:latest".
func (r *Registry) Reference(repo, tag string) string {
	return r.Addr() + "/" + strings.TrimPrefix(repo, "/") + ":" + tag
}
