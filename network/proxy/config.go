package proxy

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cocoon-desktop/cocoon-desktop/network"
)

// Defaults applied by DefaultConfig, ParseConfig and New.
const (
	DefaultAPIAddr       = "127.0.0.1:8080"
	DefaultWorkerAddr    = "127.0.0.1:8443"
	DefaultCommissionBPS = 1000 // 10%
	DefaultJobTimeout    = 120 * time.Second
	DefaultMaxBodyBytes  = 1 << 20 // 1 MiB
	DefaultMaxAttempts   = 3
)

// Limits checked by Validate.
const (
	maxConfigSize   = 1 << 20
	maxAPIKeys      = 10_000
	maxNameLength   = 128
	minHeartbeat    = 10 * time.Millisecond
	maxHeartbeat    = 10 * time.Minute
	maxJobTimeout   = 24 * time.Hour
	maxPricePerTok  = 1_000_000_000_000 // 1000 TON per token: surely a typo beyond this
	maxRateLimitMin = 1_000_000
)

// ModelPrice is a model's price in nanoTON per token.
type ModelPrice struct {
	PricePrompt     int64 `json:"price_prompt"`
	PriceCompletion int64 `json:"price_completion"`
	// PriceEmbedding is the price per input token of an embedding; nil:
	// PricePrompt (embedding a text is the same work as reading a prompt).
	PriceEmbedding *int64 `json:"price_embedding,omitempty"`
}

// APIKey is one app developer's key. Exactly one of Key (the secret itself)
// or KeySHA256 (hex of its SHA-256, so the config need not hold the secret)
// is set.
type APIKey struct {
	Key             string `json:"key,omitempty"`
	KeySHA256       string `json:"key_sha256,omitempty"`
	Name            string `json:"name"`
	RateLimitPerMin int    `json:"rate_limit_per_min,omitempty"` // 0: unlimited
	MaxConcurrent   int    `json:"max_concurrent,omitempty"`     // requests in flight; 0: limits.max_concurrent_per_key
}

// Config is the proxy's configuration. Start from DefaultConfig when
// embedding the proxy; New fills zero addresses and durations with the
// defaults (a zero CommissionBPS stays 0%).
type Config struct {
	// APIAddr is the OpenAI-compatible API listener (plain HTTP). Use
	// "127.0.0.1:0" for an ephemeral port.
	APIAddr string
	// WorkerAddr is the worker listener (TLS WebSocket).
	WorkerAddr string
	// PublicHost, when set, is the host name workers use in WorkerURL
	// instead of the listener's address; it is also put in the certificate.
	PublicHost string
	// Name is the network's display name, in its invite and GET /v1/network
	// (networkinfo.go); PublicWorkerURL the worker URL the invite carries
	// ("": WorkerURL), for a proxy behind a TCP forwarder or another name.
	Name            string
	PublicWorkerURL string
	// DataDir holds proxy.key and proxy.db. Created 0700 when missing.
	DataDir string
	// Models is the price list; only these models are served.
	Models map[string]ModelPrice
	// CommissionBPS is the proxy's share of each job in basis points.
	CommissionBPS int64
	// APIKeys are the app developers' keys. Empty: every request is 401.
	APIKeys []APIKey
	// AdminKey (or AdminKeySHA256) is the bearer token GET /v1/status
	// needs, from any address (loopback too: a reverse proxy on the same
	// host makes every request loopback). Unset: /v1/status is off.
	AdminKey       string
	AdminKeySHA256 string
	// JobTimeout bounds one request from its start to its last token.
	JobTimeout time.Duration
	// Heartbeat is the ping interval; a worker silent for 3 heartbeats is dropped.
	Heartbeat time.Duration
	// MaxBodyBytes bounds a request body (413 beyond it).
	MaxBodyBytes int64
	// MaxAttempts is how many workers a request tries before the first token.
	MaxAttempts int
	// Escrow names the escrow contract the proxy signs vouchers for
	// (escrow.go); nil: no vouchers.
	Escrow *EscrowConfig
	// Trust is the trust policy (trust.go). Its zero value neither holds
	// nor caps new workers' earnings; a config file gets DefaultTrustConfig.
	Trust TrustConfig
	// Limits bounds connections, queues and per-key concurrency (limits.go).
	Limits LimitsConfig
	// Metering is how the proxy counts tokens itself (meter.go).
	Metering MeteringConfig
	// Canary turns on canary jobs (canary.go); nil: off.
	Canary *CanaryConfig
}

// DefaultConfig returns a Config with every default set and no models or keys.
func DefaultConfig() Config {
	return Config{
		APIAddr:       DefaultAPIAddr,
		WorkerAddr:    DefaultWorkerAddr,
		Models:        map[string]ModelPrice{},
		CommissionBPS: DefaultCommissionBPS,
		JobTimeout:    DefaultJobTimeout,
		Heartbeat:     network.DefaultHeartbeat,
		MaxBodyBytes:  DefaultMaxBodyBytes,
		MaxAttempts:   DefaultMaxAttempts,
		Limits:        DefaultLimits(),
		Metering:      DefaultMeteringConfig(),
	}
}

// fileConfig is the JSON form of Config. Pointers tell "absent" (keep the
// default) from an explicit zero.
type fileConfig struct {
	APIAddr        *string               `json:"api_addr"`
	WorkerAddr     *string               `json:"worker_addr"`
	PublicHost     *string               `json:"public_host"`
	DataDir        *string               `json:"data_dir"`
	Models         map[string]ModelPrice `json:"models"`
	CommissionBPS  *int64                `json:"commission_bps"`
	APIKeys        []APIKey              `json:"api_keys"`
	AdminKey       *string               `json:"admin_key"`
	AdminKeySHA256 *string               `json:"admin_key_sha256"`
	JobTimeout     *string               `json:"job_timeout"`
	Heartbeat      *string               `json:"heartbeat"`
	MaxBodyBytes   *int64                `json:"max_body_bytes"`
	MaxAttempts    *int                  `json:"max_attempts"`
	Payouts        json.RawMessage       `json:"payouts"` // retired: refused with a pointer to escrow
	Escrow         *fileEscrowConfig     `json:"escrow"`
	Trust          *fileTrustConfig      `json:"trust"`
	Limits         *fileLimitsConfig     `json:"limits"`
	Metering       *fileMeteringConfig   `json:"metering"`
	Canary         *fileCanaryConfig     `json:"canary"`

	// The invite (networkinfo.go).
	Name            *string `json:"name"`
	PublicWorkerURL *string `json:"public_worker_url"`
}

// LoadConfig reads and validates a JSON config file. A relative data_dir is
// taken relative to the file's directory.
func LoadConfig(path string) (Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return Config{}, fmt.Errorf("proxy config: %w", err)
	}
	defer f.Close()
	b, err := readLimited(f, maxConfigSize)
	if err != nil {
		return Config{}, fmt.Errorf("proxy config %s: %w", path, err)
	}
	cfg, err := ParseConfig(b)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	if err := checkConfigFileMode(path, f, cfg); err != nil {
		return Config{}, err
	}
	if cfg.DataDir != "" && !isAbs(cfg.DataDir) {
		cfg.DataDir = joinDir(path, cfg.DataDir)
	}
	if ec := cfg.Escrow; ec != nil && ec.OperatorSeedFile != "" && !isAbs(ec.OperatorSeedFile) {
		ec.OperatorSeedFile = joinDir(path, ec.OperatorSeedFile)
	}
	cfg.Metering = cfg.Metering.resolveDirs(path)
	if cc := cfg.Canary; cc != nil && cc.CorpusFile != "" && !isAbs(cc.CorpusFile) {
		cc.CorpusFile = joinDir(path, cc.CorpusFile)
	}
	return cfg, nil
}

// ParseConfig parses and validates a JSON config. Unknown fields, trailing
// data, wrong types and out-of-range values are errors that name the field.
func ParseConfig(b []byte) (Config, error) {
	if len(b) > maxConfigSize {
		return Config{}, fmt.Errorf("proxy config: %d bytes, limit %d", len(b), maxConfigSize)
	}
	var fc fileConfig
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&fc); err != nil {
		return Config{}, fmt.Errorf("proxy config: %w", err)
	}
	if dec.More() {
		return Config{}, errors.New("proxy config: trailing data after the JSON object")
	}
	cfg := DefaultConfig()
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&cfg.APIAddr, fc.APIAddr)
	set(&cfg.WorkerAddr, fc.WorkerAddr)
	set(&cfg.PublicHost, fc.PublicHost)
	set(&cfg.Name, fc.Name)
	set(&cfg.PublicWorkerURL, fc.PublicWorkerURL)
	set(&cfg.DataDir, fc.DataDir)
	set(&cfg.AdminKey, fc.AdminKey)
	set(&cfg.AdminKeySHA256, fc.AdminKeySHA256)
	if fc.Models != nil {
		cfg.Models = fc.Models
	}
	if fc.CommissionBPS != nil {
		cfg.CommissionBPS = *fc.CommissionBPS
	}
	cfg.APIKeys = fc.APIKeys
	if fc.MaxBodyBytes != nil {
		cfg.MaxBodyBytes = *fc.MaxBodyBytes
	}
	if fc.MaxAttempts != nil {
		cfg.MaxAttempts = *fc.MaxAttempts
	}
	for _, d := range []struct {
		name string
		src  *string
		dst  *time.Duration
	}{{"job_timeout", fc.JobTimeout, &cfg.JobTimeout}, {"heartbeat", fc.Heartbeat, &cfg.Heartbeat}} {
		if d.src == nil {
			continue
		}
		v, err := time.ParseDuration(*d.src)
		if err != nil {
			return Config{}, fmt.Errorf("proxy config: %s: %q is not a duration like \"120s\"", d.name, truncateStr(*d.src, 32))
		}
		*d.dst = v
	}
	if fc.Payouts != nil {
		return Config{}, ErrPayoutsRetired
	}
	esc, err := parseEscrowConfig(fc.Escrow)
	if err != nil {
		return Config{}, err
	}
	cfg.Escrow = esc
	trust, err := parseTrustConfig(fc.Trust)
	if err != nil {
		return Config{}, err
	}
	cfg.Trust = trust
	lim, err := parseLimits(fc.Limits)
	if err != nil {
		return Config{}, err
	}
	cfg.Limits = lim
	cfg.Metering = fc.Metering.apply(cfg.Metering)
	if fc.Canary != nil {
		cc, err := fc.Canary.parse()
		if err != nil {
			return Config{}, err
		}
		cfg.Canary = cc
	}
	if cfg.DataDir == "" {
		return Config{}, errors.New("proxy config: data_dir is required")
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// withDefaults fills zero addresses, durations and limits.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.APIAddr == "" {
		c.APIAddr = d.APIAddr
	}
	if c.WorkerAddr == "" {
		c.WorkerAddr = d.WorkerAddr
	}
	if c.JobTimeout == 0 {
		c.JobTimeout = d.JobTimeout
	}
	if c.Heartbeat == 0 {
		c.Heartbeat = d.Heartbeat
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = d.MaxBodyBytes
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = d.MaxAttempts
	}
	if c.Models == nil {
		c.Models = map[string]ModelPrice{}
	}
	c.Escrow = c.Escrow.withDefaults()
	c.Trust = c.Trust.withDefaults()
	c.Limits = c.Limits.withDefaults()
	c.Metering = c.Metering.withDefaults()
	c.Canary = c.Canary.withDefaults()
	return c
}

// Validate checks every field. Errors name the config file's field.
func (c Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("proxy config: "+format, args...)
	}
	for _, a := range []struct{ name, v string }{{"api_addr", c.APIAddr}, {"worker_addr", c.WorkerAddr}} {
		if err := checkAddr(a.v); err != nil {
			return bad("%s: %v", a.name, err)
		}
	}
	if c.PublicHost != "" && (len(c.PublicHost) > 253 || strings.ContainsAny(c.PublicHost, "/:@ \t\r\n?#") || !utf8.ValidString(c.PublicHost)) {
		if ip := net.ParseIP(c.PublicHost); ip == nil {
			return bad("public_host: %q is not a host name or IP address", truncateStr(c.PublicHost, 64))
		}
	}
	if c.DataDir == "" {
		return bad("data_dir is required")
	}
	if err := c.validateInvite(); err != nil {
		return err
	}
	if len(c.Models) == 0 {
		return bad("models: at least one model with its prices is required")
	}
	for name, p := range c.Models {
		if name == "" || len(name) > network.MaxModelName || !utf8.ValidString(name) || strings.TrimSpace(name) != name {
			return bad("models: bad model name %q (1..%d bytes of UTF-8, no surrounding spaces)", truncateStr(name, 64), network.MaxModelName)
		}
		if p.PricePrompt < 0 || p.PriceCompletion < 0 {
			return bad("models[%q]: prices must not be negative", name)
		}
		if p.PricePrompt > maxPricePerTok || p.PriceCompletion > maxPricePerTok {
			return bad("models[%q]: price over %d nanoTON per token", name, int64(maxPricePerTok))
		}
		if e := p.EmbeddingPrice(); e < 0 || e > maxPricePerTok {
			return bad("models[%q]: price_embedding must be 0..%d nanoTON per token", name, int64(maxPricePerTok))
		}
	}
	if c.CommissionBPS < 0 || c.CommissionBPS > 10000 {
		return bad("commission_bps: %d out of range 0..10000", c.CommissionBPS)
	}
	if len(c.APIKeys) > maxAPIKeys {
		return bad("api_keys: %d keys, limit %d", len(c.APIKeys), maxAPIKeys)
	}
	seen := map[string]int{}
	for i, k := range c.APIKeys {
		id, err := keyDigest(k.Key, k.KeySHA256)
		if err != nil {
			return bad("api_keys[%d]: %v", i, err)
		}
		if j, dup := seen[id]; dup {
			return bad("api_keys[%d]: same key as api_keys[%d]", i, j)
		}
		seen[id] = i
		if k.Name == "" || len(k.Name) > maxNameLength || !utf8.ValidString(k.Name) {
			return bad("api_keys[%d]: name is required (1..%d bytes)", i, maxNameLength)
		}
		if k.RateLimitPerMin < 0 || k.RateLimitPerMin > maxRateLimitMin {
			return bad("api_keys[%d]: rate_limit_per_min %d out of range 0..%d (0: unlimited)", i, k.RateLimitPerMin, maxRateLimitMin)
		}
	}
	if c.AdminKey != "" || c.AdminKeySHA256 != "" {
		id, err := keyDigest(c.AdminKey, c.AdminKeySHA256)
		if err != nil {
			return bad("admin_key: %v", err)
		}
		if _, dup := seen[id]; dup {
			return bad("admin_key: must differ from every api key")
		}
	}
	if c.JobTimeout <= 0 || c.JobTimeout > maxJobTimeout {
		return bad("job_timeout: %v out of range (0, %v]", c.JobTimeout, maxJobTimeout)
	}
	if c.Heartbeat < minHeartbeat || c.Heartbeat > maxHeartbeat {
		return bad("heartbeat: %v out of range %v..%v", c.Heartbeat, minHeartbeat, maxHeartbeat)
	}
	if c.MaxBodyBytes < 1024 || c.MaxBodyBytes > 64<<20 {
		return bad("max_body_bytes: %d out of range 1024..%d", c.MaxBodyBytes, 64<<20)
	}
	if c.MaxAttempts < 1 || c.MaxAttempts > 10 {
		return bad("max_attempts: %d out of range 1..10", c.MaxAttempts)
	}
	if err := c.Trust.validate(); err != nil {
		return err
	}
	if err := validateLimits(c.Limits, c.APIKeys); err != nil {
		return err
	}
	if err := c.Metering.validate(); err != nil {
		return err
	}
	if c.Canary != nil {
		if err := c.Canary.validate(); err != nil {
			return err
		}
	}
	if c.Escrow != nil {
		if err := c.Escrow.validate(); err != nil {
			return err
		}
	}
	return nil
}

// ModelNames returns the price list's model names, sorted.
func (c Config) ModelNames() []string {
	names := make([]string, 0, len(c.Models))
	for n := range c.Models {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// KeyDigest returns the hex SHA-256 of an API key, the form key_sha256 takes.
func KeyDigest(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// keyDigest validates a key/key_sha256 pair and returns the key's digest.
func keyDigest(key, digest string) (string, error) {
	switch {
	case key != "" && digest != "":
		return "", errors.New("set key or key_sha256, not both")
	case key != "":
		if len(key) < 16 || len(key) > 256 {
			return "", fmt.Errorf("key must be 16..256 bytes, got %d", len(key))
		}
		for _, r := range key {
			if r <= ' ' || r > '~' {
				return "", errors.New("key must be printable ASCII without spaces")
			}
		}
		return KeyDigest(key), nil
	case digest != "":
		d := strings.ToLower(digest)
		if b, err := hex.DecodeString(d); err != nil || len(b) != sha256.Size {
			return "", errors.New("key_sha256 must be 64 hex digits")
		}
		return d, nil
	default:
		return "", errors.New("key or key_sha256 is required")
	}
}

func checkAddr(a string) error {
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		return fmt.Errorf("%q is not host:port", truncateStr(a, 64))
	}
	if host != "" && net.ParseIP(host) == nil && (strings.ContainsAny(host, "/@ \t\r\n") || len(host) > 253) {
		return fmt.Errorf("bad host %q", truncateStr(host, 64))
	}
	if port == "" {
		return errors.New("port is required (0 for an ephemeral one)")
	}
	var n int
	for _, r := range port {
		if r < '0' || r > '9' {
			return fmt.Errorf("bad port %q", truncateStr(port, 16))
		}
		n = n*10 + int(r-'0')
		if n > 65535 {
			return fmt.Errorf("port %s out of range", truncateStr(port, 16))
		}
	}
	return nil
}

func truncateStr(s string, n int) string {
	if len(s) > n {
		s = s[:n] + "…"
	}
	return strings.ToValidUTF8(s, "?")
}
