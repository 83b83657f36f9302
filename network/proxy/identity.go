package proxy

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/network"
)

// KeyFile is the proxy's private key file in the data directory (0600).
const KeyFile = "proxy.key"

// LoadOrCreateIdentity loads the proxy's ed25519 key from dir/proxy.key, or
// creates it (0600, in a 0700 directory) when the file does not exist. A key
// file readable by group or others is refused, as ssh does. The file format
// and checks are the worker's identity key's (network.LoadOrCreateKey).
func LoadOrCreateIdentity(dir string) (ed25519.PrivateKey, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("proxy: data dir: %w", err)
	}
	k, err := network.LoadOrCreateKey(filepath.Join(dir, KeyFile))
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	return k, nil
}

// selfSignedCert makes a TLS certificate whose key is the proxy's ed25519
// key, valid for hosts (names or IPs) plus localhost and 127.0.0.1.
func selfSignedCert(priv ed25519.PrivateKey, hosts []string) (tls.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "cocoon-proxy"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	for _, h := range hosts {
		if h == "" {
			continue
		}
		if ip := net.ParseIP(h); ip != nil {
			if !ip.IsUnspecified() {
				tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			}
		} else if h != "localhost" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, priv.Public(), priv)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("proxy: certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: priv, Leaf: leaf}, nil
}

// PinnedTLSConfig is the client side of the proxy's TLS: TLS 1.3 only, and
// the connection is accepted only when the server's leaf certificate carries
// exactly the pinned ed25519 public key (the certificate is self-signed, so
// no CA is involved). Test clients and tools use it to reach the worker
// endpoint; the worker's own client (network.Client) pins the key its own
// way, and also accepts a CA-signed certificate for a proxy behind a TLS
// front.
func PinnedTLSConfig(pinned ed25519.PublicKey) *tls.Config {
	pin := append(ed25519.PublicKey(nil), pinned...)
	return &tls.Config{
		MinVersion:         tls.VersionTLS13,
		InsecureSkipVerify: true, // replaced by the pin check below
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("proxy TLS: no certificate")
			}
			leaf := cs.PeerCertificates[0]
			pub, ok := leaf.PublicKey.(ed25519.PublicKey)
			if !ok || len(pin) != ed25519.PublicKeySize || !bytes.Equal(pub, pin) {
				return errors.New("proxy TLS: certificate key is not the pinned proxy key")
			}
			// TLS 1.3's CertificateVerify already proved the peer holds the
			// key; the self-signature check rejects a malformed leaf.
			if err := leaf.CheckSignature(leaf.SignatureAlgorithm, leaf.RawTBSCertificate, leaf.Signature); err != nil {
				return fmt.Errorf("proxy TLS: certificate: %w", err)
			}
			return nil
		},
	}
}

func readLimited(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("over %d bytes", limit)
	}
	return b, nil
}

func isAbs(p string) bool { return filepath.IsAbs(p) }

// joinDir resolves rel against the directory of file.
func joinDir(file, rel string) string { return filepath.Join(filepath.Dir(file), rel) }
