package network

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
	"unicode/utf8"
)

// NetworkInfoPath is the proxy's public description of its network, served
// on the worker listener (GET, no authentication) so that an owner sees the
// name, prices and commission before joining. The body is signed with the
// proxy key, so a worker that pins that key can trust it whatever
// certificate served it.
const NetworkInfoPath = "/v1/network"

// MaxNetworkInfoSize bounds the signed network info document.
const MaxNetworkInfoSize = 64 << 10

// NetworkInfo is what GET /v1/network says about the network.
type NetworkInfo struct {
	// Name is the operator's name for the network ("" when not configured).
	Name string `json:"name"`
	// ProtocolVersion is the worker protocol's major version (ProtocolVersion).
	ProtocolVersion int `json:"protocol_version"`
	// CommissionBPS is the proxy's share of each job, 0..10000.
	CommissionBPS int64 `json:"commission_bps"`
	// Prices are nanoTON per token per model, as in the balance message.
	Prices []ModelPrice `json:"prices"`
	// Payouts says whether the proxy pays out; TONNetwork where (mainnet, testnet).
	Payouts    bool   `json:"payouts"`
	TONNetwork string `json:"ton_network"`
	// ServerTime is the proxy's clock (unix ms) when it signed this.
	ServerTime int64 `json:"server_time"`
}

// SignedNetworkInfo is the body of GET /v1/network: the info's JSON bytes and
// the proxy's signature over NetworkInfoContext | those bytes.
type SignedNetworkInfo struct {
	Info json.RawMessage `json:"info"`
	Sig  []byte          `json:"sig"`
}

// NetworkInfoContext prefixes the signed bytes of a network info document.
const NetworkInfoContext = "cocoon-network-info-v1"

// Network info errors.
var (
	// ErrNetworkInfo: the proxy's answer is not a valid, correctly signed
	// network info document.
	ErrNetworkInfo = errors.New("the network's description is invalid")
	// ErrOtherProtocol: the network speaks another protocol version.
	ErrOtherProtocol = errors.New("the network speaks another protocol version")
)

// Validate checks the info's fields.
func (n *NetworkInfo) Validate() error {
	if len(n.Name) > 128 || !utf8.ValidString(n.Name) {
		return fmt.Errorf("%w: name too long or not UTF-8", ErrNetworkInfo)
	}
	if n.CommissionBPS < 0 || n.CommissionBPS > 10000 {
		return fmt.Errorf("%w: commission_bps %d out of range 0..10000", ErrNetworkInfo, n.CommissionBPS)
	}
	if len(n.Prices) > MaxModels {
		return fmt.Errorf("%w: %d prices, limit %d", ErrNetworkInfo, len(n.Prices), MaxModels)
	}
	for _, p := range n.Prices {
		if p.Model == "" || len(p.Model) > MaxModelName || !utf8.ValidString(p.Model) || p.PricePrompt < 0 || p.PriceCompletion < 0 {
			return fmt.Errorf("%w: a price needs a model name and non-negative prices", ErrNetworkInfo)
		}
	}
	switch n.TONNetwork {
	case "mainnet", "testnet":
	default:
		return fmt.Errorf("%w: ton_network must be mainnet or testnet", ErrNetworkInfo)
	}
	return nil
}

// SignNetworkInfo makes the body of GET /v1/network.
func SignNetworkInfo(key ed25519.PrivateKey, info NetworkInfo) ([]byte, error) {
	b, err := json.Marshal(info)
	if err != nil {
		return nil, fmt.Errorf("network: sign network info: %w", err)
	}
	sig := ed25519.Sign(key, append([]byte(NetworkInfoContext), b...))
	return json.Marshal(SignedNetworkInfo{Info: b, Sig: sig})
}

// VerifyNetworkInfo decodes a GET /v1/network body strictly and checks its
// signature with the pinned proxy key and its fields. A network on another
// protocol version is ErrOtherProtocol (with the info, so it can be shown).
func VerifyNetworkInfo(body []byte, proxyKey ed25519.PublicKey) (NetworkInfo, error) {
	var s SignedNetworkInfo
	if err := strictJSON(body, &s); err != nil {
		return NetworkInfo{}, fmt.Errorf("%w: %v", ErrNetworkInfo, err)
	}
	if len(proxyKey) != ed25519.PublicKeySize || len(s.Sig) != ed25519.SignatureSize ||
		!ed25519.Verify(proxyKey, append([]byte(NetworkInfoContext), s.Info...), s.Sig) {
		return NetworkInfo{}, fmt.Errorf("%w: not signed by the invite's proxy key", ErrNetworkInfo)
	}
	var info NetworkInfo
	if err := strictJSON(s.Info, &info); err != nil {
		return NetworkInfo{}, fmt.Errorf("%w: %v", ErrNetworkInfo, err)
	}
	if err := info.Validate(); err != nil {
		return NetworkInfo{}, err
	}
	if info.ProtocolVersion != ProtocolVersion {
		return info, fmt.Errorf("%w: it speaks version %d, this app %d", ErrOtherProtocol, info.ProtocolVersion, ProtocolVersion)
	}
	return info, nil
}

func strictJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

// FetchNetworkInfo asks the invite's proxy for its network info over TLS
// pinned like the worker connection (a certificate of the pinned key, or one
// valid for the host under roots; nil: the system roots) and verifies it.
func FetchNetworkInfo(ctx context.Context, inv Invite, roots *x509.CertPool) (NetworkInfo, error) {
	u, err := inv.InfoURL()
	if err != nil {
		return NetworkInfo{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return NetworkInfo{}, fmt.Errorf("network: network info: %w", err)
	}
	hc := &http.Client{Transport: &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		TLSClientConfig:     pinnedTLSConfig(inv.ProxyKey, roots),
		TLSHandshakeTimeout: handshakeTimeout,
	}}
	defer hc.CloseIdleConnections()
	resp, err := hc.Do(req)
	var untrusted *certUntrustedError
	if errors.As(err, &untrusted) { // reached, but not the invite's proxy
		return NetworkInfo{}, fmt.Errorf("network: network info from %s: %w: its certificate is neither the invite's key nor valid for its host: %v", u, ErrNetworkInfo, untrusted.err)
	}
	if err != nil {
		return NetworkInfo{}, fmt.Errorf("network: network info from %s: %w", u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxNetworkInfoSize+1))
	if err != nil {
		return NetworkInfo{}, fmt.Errorf("network: network info from %s: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		return NetworkInfo{}, fmt.Errorf("network: network info from %s: %w: HTTP %d (an older proxy has no %s)", u, ErrNetworkInfo, resp.StatusCode, NetworkInfoPath)
	}
	if len(body) > MaxNetworkInfoSize {
		return NetworkInfo{}, fmt.Errorf("network: network info from %s: %w: over %d bytes", u, ErrNetworkInfo, MaxNetworkInfoSize)
	}
	info, err := VerifyNetworkInfo(body, inv.ProxyKey)
	if err != nil {
		return info, fmt.Errorf("network: network info from %s: %w", u, err)
	}
	return info, nil
}
