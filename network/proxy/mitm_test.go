package proxy_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/cocoon-desktop/cocoon-desktop/network"
	"github.com/cocoon-desktop/cocoon-desktop/network/proxy/proxytest"
)

// testCA returns a CA pool and a certificate for 127.0.0.1 it signed: what a
// man in the middle with a CA-valid certificate for the proxy's host has.
func testCA(t *testing.T) (*x509.CertPool, tls.Certificate) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return pool, tls.Certificate{Certificate: [][]byte{leafDER}, PrivateKey: leafKey}
}

// relay is a man in the middle: it terminates the worker's TLS with its own
// (CA-valid) certificate, opens its own TLS connection to the real proxy
// and copies every frame between the two.
type relay struct {
	url string
	wg  sync.WaitGroup

	mu   sync.Mutex
	seen []string // "→type" worker to proxy, "←type" proxy to worker
}

func startRelay(t *testing.T, tp *testProxy, cert tls.Certificate) *relay {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &relay{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		victim, err := websocket.Accept(w, req, &websocket.AcceptOptions{InsecureSkipVerify: true})
		if err != nil {
			return
		}
		victim.SetReadLimit(network.MaxMessageSize)
		upstream, _, err := proxytest.DialConnBinding(ctx, tp.WorkerURL(), tp.PublicKey())
		if err != nil {
			victim.CloseNow()
			return
		}
		r.wg.Add(2)
		go r.pipe(ctx, victim, upstream, "→")
		go r.pipe(ctx, upstream, victim, "←")
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	r.url = "wss://" + strings.TrimPrefix(srv.URL, "https://") + "/v1/worker"
	t.Cleanup(func() {
		cancel()
		srv.Close()
		r.wg.Wait() // the pipes end with ctx
	})
	return r
}

func (r *relay) pipe(ctx context.Context, from, to *websocket.Conn, dir string) {
	defer r.wg.Done()
	defer from.CloseNow()
	defer to.CloseNow()
	for {
		typ, b, err := from.Read(ctx)
		if err != nil {
			return
		}
		var env struct{ Type string }
		_ = json.Unmarshal(b, &env)
		r.mu.Lock()
		r.seen = append(r.seen, dir+env.Type)
		r.mu.Unlock()
		if err := to.Write(ctx, typ, b); err != nil {
			return
		}
	}
}

func (r *relay) frames() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.seen...)
}

func (r *relay) saw(frame string) bool {
	for _, s := range r.frames() {
		if s == frame {
			return true
		}
	}
	return false
}

// authWithoutChecking runs a worker's side of the handshake on c, signing
// with binding and never checking the proxy's signature (a worker that
// would follow a relay anywhere); it returns the proxy's answer to auth.
func authWithoutChecking(t *testing.T, c *websocket.Conn, key ed25519.PrivateKey, proxyKey ed25519.PublicKey, binding []byte) network.Validator {
	t.Helper()
	ctx := testCtx(t)
	cn := make([]byte, 32)
	rand.Read(cn)
	hello, _ := network.Encode(network.TypeHello, "h1", &network.Hello{WorkerKey: key.Public().(ed25519.PublicKey), ClientNonce: cn})
	if err := c.Write(ctx, websocket.MessageText, hello); err != nil {
		t.Fatal(err)
	}
	_, p, err := proxytest.Read(ctx, c)
	ch, ok := p.(*network.Challenge)
	if err != nil || !ok {
		t.Fatalf("no challenge: %v %v", p, err)
	}
	sig := ed25519.Sign(key, network.WorkerAuthBytes(ch.Nonce, cn, proxyKey, binding))
	auth, _ := network.Encode(network.TypeAuth, "h2", &network.Auth{WorkerSig: sig})
	if err := c.Write(ctx, websocket.MessageText, auth); err != nil {
		t.Fatal(err)
	}
	_, p, err = proxytest.Read(ctx, c)
	if err != nil {
		t.Fatalf("no answer to auth: %v", err)
	}
	return p
}

// TestHandshakeBoundToTLSChannel: a man in the middle that the worker's TLS
// accepts (a CA-valid certificate for the host) and that relays the
// handshake to the real proxy over its own TLS connection gets nowhere: the
// real worker refuses the proxy's signature (it covers the other TLS
// connection), and a worker that signs its own connection is refused by
// the proxy.
func TestHandshakeBoundToTLSChannel(t *testing.T) {
	tp := startProxy(t, "", nil)
	pool, cert := testCA(t)

	t.Run("the real worker refuses a relayed challenge", func(t *testing.T) {
		r := startRelay(t, tp, cert)
		key, _ := proxytest.NewKey()
		events := make(chan network.ClientEvent, 64)
		c := network.NewClient(network.ClientConfig{
			URL: r.url, ProxyKey: tp.PublicKey(), Key: key, RootCAs: pool,
			Handler: handlerFunc(func(context.Context, network.Job, func(string) error) (network.Usage, string, error) {
				return network.Usage{}, "stop", nil
			}),
			MinBackoff: time.Hour, // one attempt is enough
			OnEvent: func(e network.ClientEvent) {
				select {
				case events <- e:
				default:
				}
			},
		})
		c.SetRegistration(network.Register{Models: proxytest.Models(model), CoefficientMilli: 1000, MaxConcurrent: 1})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- c.Run(ctx) }()
		defer func() { cancel(); <-done }()
		var ev network.ClientEvent
		for ev.Kind != network.EventAuthFailed && ev.Kind != network.EventConnected {
			ev = recv(t, events, "a connection outcome")
		}
		if ev.Kind != network.EventAuthFailed || !strings.Contains(ev.Reason, "does not verify on this TLS connection") {
			t.Fatalf("through the relay: %s", ev)
		}
		// The relay's TLS was accepted and the proxy's real challenge reached
		// the worker; no auth ever went back.
		if !r.saw("→hello") || !r.saw("←challenge") || r.saw("→auth") || r.saw("←welcome") {
			t.Errorf("relayed %v", r.frames())
		}
		if st, _ := tp.Status(context.Background()); len(st.Workers) != 0 {
			t.Errorf("the proxy has workers %+v", st.Workers)
		}
	})

	t.Run("the proxy refuses a signature over another connection", func(t *testing.T) {
		r := startRelay(t, tp, cert)
		hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS13}}}
		c, resp, err := websocket.Dial(testCtx(t), r.url, &websocket.DialOptions{HTTPClient: hc})
		if err != nil {
			t.Fatal(err)
		}
		defer c.CloseNow()
		binding, err := network.ChannelBinding(resp.TLS)
		if err != nil {
			t.Fatal(err)
		}
		key, _ := proxytest.NewKey()
		got := authWithoutChecking(t, c, key, tp.PublicKey(), binding)
		if em, ok := got.(*network.ErrorMsg); !ok || em.Code != network.CodeAuthFailed {
			t.Fatalf("the proxy answered %#v to a worker signature over the relay's connection", got)
		}
	})

	t.Run("control: the same worker directly is welcome", func(t *testing.T) {
		c, binding, err := proxytest.DialConnBinding(testCtx(t), tp.WorkerURL(), tp.PublicKey())
		if err != nil {
			t.Fatal(err)
		}
		defer c.CloseNow()
		key, id := proxytest.NewKey()
		got := authWithoutChecking(t, c, key, tp.PublicKey(), binding)
		if wl, ok := got.(*network.Welcome); !ok || wl.WorkerID != id {
			t.Fatalf("directly: %#v", got)
		}
	})
}
