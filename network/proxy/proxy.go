package proxy

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// storeLockTimeout is how long New waits for the store's file lock before
// saying another instance holds it.
const storeLockTimeout = time.Second

// Proxy is a running reference proxy: the OpenAI-compatible API listener,
// the worker listener, the connected workers, and the store.
type Proxy struct {
	cfg   Config
	log   *slog.Logger
	key   ed25519.PrivateKey
	pub   ed25519.PublicKey
	store Store

	apiLn, workerLn   net.Listener
	apiSrv, workerSrv *http.Server
	workerURL         string

	keys        map[string]*apiKeyState // by KeyDigest
	adminDigest string

	baseCtx    context.Context
	cancelBase context.CancelFunc

	mu          sync.Mutex
	workers     map[string]*workerConn // authenticated workers by id
	routes      map[string]*modelRoute // the routing index by model name (routeindex.go)
	jobsRunning int
	queued      int // requests waiting for a busy model (limits.go)
	closing     bool
	// slotFreed is closed (and replaced) whenever a job slot frees up, so
	// requests queued for a busy model wake up.
	slotFreed chan struct{}

	meter    *meter      // the proxy's own token counts (meter.go)
	vouchers *vouchers   // nil: no escrow contract (escrow.go)
	trust    *trustState // trust.go
	canary   *canaries   // nil: canary jobs are off (canary.go)

	connWG    sync.WaitGroup // worker connection goroutines
	pruneWG   sync.WaitGroup // the daily pruning of worker records
	apiLimit  *ipLimitListener
	wrkLimit  *ipLimitListener
	runOnce   sync.Once
	closeOnce sync.Once
	closeErr  error
	closed    chan struct{}
}

// New validates cfg (zero addresses and durations take the defaults), loads
// or creates the proxy key in cfg.DataDir, opens the store, and binds both
// listeners (so APIAddr and WorkerURL are known, ephemeral ports included).
// Call Run to serve, or Close to release everything without serving.
func New(cfg Config, logger *slog.Logger) (*Proxy, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	key, err := LoadOrCreateIdentity(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	st, err := OpenBoltStore(cfg.DataDir, storeLockTimeout)
	if err != nil {
		return nil, err
	}
	p := &Proxy{
		cfg:     cfg,
		log:     logger,
		key:     key,
		pub:     key.Public().(ed25519.PublicKey),
		store:   st,
		keys:    map[string]*apiKeyState{},
		workers: map[string]*workerConn{},
		closed:  make(chan struct{}),
		trust:   newTrustState(cfg.Trust),
	}
	for _, k := range cfg.APIKeys {
		d, _ := keyDigest(k.Key, k.KeySHA256) // validated above
		p.keys[d] = newAPIKeyState(d, k.Name, k.RateLimitPerMin)
		p.keys[d].maxInflight = cfg.Limits.maxInflight(k)
	}
	if cfg.AdminKey != "" || cfg.AdminKeySHA256 != "" {
		p.adminDigest, _ = keyDigest(cfg.AdminKey, cfg.AdminKeySHA256)
	}
	if p.meter, err = newMeter(cfg.Metering, cfg.ModelNames(), logger); err != nil {
		st.Close()
		return nil, err
	}
	if err := checkNoPendingPayouts(context.Background(), st); err != nil {
		st.Close()
		return nil, err
	}
	p.baseCtx, p.cancelBase = context.WithCancel(context.Background())
	p.pruneWorkers(p.baseCtx) // at start, before anything connects
	if cfg.Escrow != nil {
		if p.vouchers, err = newVouchers(cfg.Escrow, p.pub); err != nil {
			st.Close()
			p.cancelBase()
			return nil, err
		}
	}
	if cfg.Canary != nil {
		if p.canary, err = newCanaries(p, *cfg.Canary); err != nil {
			st.Close()
			p.cancelBase()
			return nil, err
		}
	}

	fail := func(err error) (*Proxy, error) {
		if p.apiLn != nil {
			p.apiLn.Close()
		}
		if p.workerLn != nil {
			p.workerLn.Close()
		}
		st.Close()
		p.cancelBase()
		return nil, err
	}
	whost, _, _ := net.SplitHostPort(cfg.WorkerAddr)
	cert, err := selfSignedCert(key, []string{whost, cfg.PublicHost})
	if err != nil {
		return fail(err)
	}
	al, err := net.Listen("tcp", cfg.APIAddr)
	if err != nil {
		return fail(fmt.Errorf("proxy: api_addr: %w", err))
	}
	p.apiLimit = newIPLimitListener(al, cfg.Limits.MaxConnsPerIP, "api", logger)
	p.apiLn = p.apiLimit
	wl, err := net.Listen("tcp", cfg.WorkerAddr)
	if err != nil {
		return fail(fmt.Errorf("proxy: worker_addr: %w", err))
	}
	// The per-IP cap sits under TLS: a refused connection costs no handshake.
	p.wrkLimit = newIPLimitListener(wl, cfg.Limits.MaxWorkerConnsPerIP, "worker", logger)
	p.workerLn = tls.NewListener(p.wrkLimit, &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cert},
	})
	host, port, _ := net.SplitHostPort(wl.Addr().String())
	if cfg.PublicHost != "" {
		host = cfg.PublicHost
	} else if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	p.workerURL = "wss://" + net.JoinHostPort(host, port) + "/v1/worker"

	baseCtx := func(net.Listener) context.Context { return p.baseCtx }
	// No WriteTimeout on either server: it would cut long streams. Stream
	// writes have their own deadline (StreamWriteTimeout), and a worker's
	// WebSocket has per-frame write timeouts.
	lim := cfg.Limits
	p.apiSrv = &http.Server{
		Handler:           p.apiHandler(),
		ReadHeaderTimeout: lim.ReadHeaderTimeout,
		ReadTimeout:       lim.ReadTimeout,
		IdleTimeout:       lim.IdleTimeout,
		ConnState:         clearWriteDeadlineWhenIdle,
		BaseContext:       baseCtx,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
	}
	wmux := http.NewServeMux()
	wmux.HandleFunc("GET /v1/worker", p.serveWorker)
	wmux.HandleFunc("GET /v1/network", p.serveNetworkInfo) // network.NetworkInfoPath (networkinfo.go)
	p.workerSrv = &http.Server{
		Handler:           wmux,
		ReadHeaderTimeout: lim.ReadHeaderTimeout,
		ReadTimeout:       lim.ReadTimeout, // the upgrade request; a hijacked WebSocket has no deadline
		IdleTimeout:       lim.IdleTimeout,
		BaseContext:       baseCtx,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
	}
	return p, nil
}

// PublicKey is the proxy's ed25519 public key, which workers pin.
func (p *Proxy) PublicKey() ed25519.PublicKey { return append(ed25519.PublicKey(nil), p.pub...) }

// APIAddr is the API listener's address (host:port), for http://APIAddr/v1/.
func (p *Proxy) APIAddr() string { return p.apiLn.Addr().String() }

// WorkerURL is the URL workers dial: wss://host:port/v1/worker.
func (p *Proxy) WorkerURL() string { return p.workerURL }

// Store is the proxy's store (read it for totals; it is closed when Run returns).
func (p *Proxy) Store() Store { return p.store }

// Config is the effective configuration, defaults filled.
func (p *Proxy) Config() Config { return p.cfg }

// Run serves both listeners until ctx ends or a listener fails; then it
// fails running requests, says bye to every worker, closes their
// connections and the store. Run may be called once.
func (p *Proxy) Run(ctx context.Context) error {
	started := false
	p.runOnce.Do(func() { started = true })
	if !started {
		return errors.New("proxy: Run called twice")
	}
	select {
	case <-p.closed:
		return errors.New("proxy: closed")
	default:
	}
	p.log.Info("proxy listening", "api", "http://"+p.APIAddr()+"/v1/", "worker", p.workerURL,
		"public_key", fmt.Sprintf("%x", p.pub), "models", len(p.cfg.Models))
	errc := make(chan error, 2)
	go func() { errc <- p.apiSrv.Serve(p.apiLn) }()
	go func() { errc <- p.workerSrv.Serve(p.workerLn) }()
	p.pruneWG.Add(1)
	go func() {
		defer p.pruneWG.Done()
		p.pruneLoop(p.baseCtx)
	}()
	p.startTrust()
	p.canary.start(p.baseCtx)
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		} else {
			err = fmt.Errorf("proxy: serve: %w", err)
		}
	}
	if cerr := p.Close(); err == nil {
		err = cerr
	}
	return err
}

// Close stops everything Run started (or what New opened, if Run never
// ran). It is safe to call more than once.
func (p *Proxy) Close() error {
	p.closeOnce.Do(func() {
		p.log.Info("proxy stopping")
		p.mu.Lock()
		p.closing = true
		ws := make([]*workerConn, 0, len(p.workers))
		for _, w := range p.workers {
			ws = append(ws, w)
		}
		p.mu.Unlock()
		// Running requests end now (their contexts derive from baseCtx).
		p.cancelBase()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = p.apiSrv.Shutdown(sctx) // waits for handlers, so no store write is in flight after it
		_ = p.workerSrv.Shutdown(sctx)
		p.apiLn.Close()
		p.workerLn.Close()
		var wg sync.WaitGroup
		for _, w := range ws {
			wg.Add(1)
			go func() {
				defer wg.Done()
				w.sendBye("proxy shutting down")
				w.close(websocket.StatusGoingAway, "proxy shutting down")
			}()
		}
		wg.Wait()
		p.connWG.Wait()
		p.canary.wait() // nor a canary
		p.trust.wg.Wait()
		p.pruneWG.Wait()
		p.closeErr = p.store.Close()
		close(p.closed)
		p.log.Info("proxy stopped")
	})
	return p.closeErr
}
