package network

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// An invite tells a worker how to join a network: the proxy's worker
// endpoint, the proxy key to pin and the network's display name. The proxy
// prints it (`cocoon-proxy invite`); the owner pastes it into the app. It
// has two equivalent forms (docs/protocol.md, "Invites"):
//
//	cocoon://join?url=wss%3A%2F%2Fproxy.example%3A8443%2Fv1%2Fworker&key=<64 hex>&name=Example
//	cocoon1.<key>.<url>.<name>      each part base64url without padding
//
// The link opens from a web page or chat; the one string survives any
// copy and paste (no characters a chat client rewrites).
type Invite struct {
	URL      string            // wss://host:port/v1/worker (ws:// only for loopback hosts)
	ProxyKey ed25519.PublicKey // the key the worker pins
	Name     string            // the network's display name; may be empty
}

// Invite limits.
const (
	MaxInviteLength   = 4096
	MaxInviteURL      = 2048
	MaxInviteName     = 64 // characters
	InviteLinkPrefix  = "cocoon://join?"
	InviteShortPrefix = "cocoon1."
)

// ErrBadInvite wraps every reason ParseInvite refuses an invite.
var ErrBadInvite = errors.New("not a valid network invite")

func badInvite(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadInvite, fmt.Sprintf(format, args...))
}

// Link is the invite as a cocoon:// link.
func (inv Invite) Link() string {
	q := url.Values{}
	q.Set("url", inv.URL)
	q.Set("key", hex.EncodeToString(inv.ProxyKey))
	if inv.Name != "" {
		q.Set("name", inv.Name)
	}
	return InviteLinkPrefix + q.Encode()
}

// String is the invite as one string (cocoon1.…).
func (inv Invite) String() string {
	enc := base64.RawURLEncoding
	return InviteShortPrefix + enc.EncodeToString(inv.ProxyKey) + "." +
		enc.EncodeToString([]byte(inv.URL)) + "." + enc.EncodeToString([]byte(inv.Name))
}

// ParseInvite reads either form of an invite (surrounding space ignored)
// and checks every part: the URL must be wss:// (ws:// only to a loopback
// host) with a host and no user, query or fragment; the key 32 bytes (64 hex
// characters or 43 base64url); the name at most MaxInviteName printable
// characters. Every refusal wraps ErrBadInvite and says what is wrong.
func ParseInvite(s string) (Invite, error) {
	s = strings.TrimSpace(s)
	if len(s) > MaxInviteLength {
		return Invite{}, badInvite("it is %d characters long, at most %d", len(s), MaxInviteLength)
	}
	var inv Invite
	var err error
	switch {
	case s == "":
		return Invite{}, badInvite("it is empty")
	case strings.HasPrefix(s, InviteShortPrefix):
		inv, err = parseShortInvite(strings.TrimPrefix(s, InviteShortPrefix))
	case strings.HasPrefix(strings.ToLower(s), "cocoon://"):
		inv, err = parseInviteLink(s)
	case strings.HasPrefix(strings.ToLower(s), "wss://"), strings.HasPrefix(strings.ToLower(s), "ws://"):
		return Invite{}, badInvite("this is a proxy address without its key; paste the whole invite (cocoon://join?… or cocoon1.…)")
	default:
		return Invite{}, badInvite("it must start with cocoon://join? or cocoon1.")
	}
	if err != nil {
		return Invite{}, err
	}
	if err := checkInviteURL(inv.URL); err != nil {
		return Invite{}, err
	}
	if err := checkInviteName(inv.Name); err != nil {
		return Invite{}, err
	}
	return inv, nil
}

func parseShortInvite(s string) (Invite, error) {
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return Invite{}, badInvite("cocoon1 invites have 3 parts after the prefix, this one has %d", len(parts))
	}
	enc := base64.RawURLEncoding.Strict()
	key, err := enc.DecodeString(parts[0])
	if err != nil {
		return Invite{}, badInvite("the key is not base64url")
	}
	if len(key) != ed25519.PublicKeySize {
		return Invite{}, badInvite("the key is %d bytes, want %d", len(key), ed25519.PublicKeySize)
	}
	u, err := enc.DecodeString(parts[1])
	if err != nil {
		return Invite{}, badInvite("the URL part is not base64url")
	}
	name, err := enc.DecodeString(parts[2])
	if err != nil {
		return Invite{}, badInvite("the name part is not base64url")
	}
	return Invite{URL: string(u), ProxyKey: ed25519.PublicKey(key), Name: string(name)}, nil
}

func parseInviteLink(s string) (Invite, error) {
	u, err := url.Parse(s)
	if err != nil {
		return Invite{}, badInvite("the link does not parse")
	}
	if u.Scheme != "cocoon" || u.Host != "join" || (u.Path != "" && u.Path != "/") || u.User != nil || u.Fragment != "" {
		return Invite{}, badInvite("a link must be cocoon://join?url=…&key=…")
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return Invite{}, badInvite("the link's parameters do not parse")
	}
	for k, v := range q {
		switch k {
		case "url", "key", "name":
		default:
			return Invite{}, badInvite("unknown parameter %q", truncateText(k, 32))
		}
		if len(v) != 1 {
			return Invite{}, badInvite("parameter %q given %d times", k, len(v))
		}
	}
	if q.Get("url") == "" {
		return Invite{}, badInvite("the link has no url")
	}
	if q.Get("key") == "" {
		return Invite{}, badInvite("the link has no key")
	}
	key, err := parseInviteKey(q.Get("key"))
	if err != nil {
		return Invite{}, err
	}
	return Invite{URL: q.Get("url"), ProxyKey: key, Name: q.Get("name")}, nil
}

// parseInviteKey takes 64 hex characters or 43 base64url ones.
func parseInviteKey(s string) (ed25519.PublicKey, error) {
	var b []byte
	var err error
	switch {
	case strings.Trim(s, "0123456789abcdefABCDEF") == "" && len(s)%2 == 0:
		b, err = hex.DecodeString(s)
	default:
		b, err = base64.RawURLEncoding.Strict().DecodeString(s)
	}
	if err != nil {
		return nil, badInvite("the key is neither hex nor base64url")
	}
	if len(b) != ed25519.PublicKeySize {
		return nil, badInvite("the key is %d bytes, want %d", len(b), ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(b), nil
}

func checkInviteURL(s string) error {
	if len(s) > MaxInviteURL {
		return badInvite("the URL is %d characters long, at most %d", len(s), MaxInviteURL)
	}
	u, err := url.Parse(s)
	if err != nil {
		return badInvite("the URL does not parse")
	}
	switch u.Scheme {
	case "wss":
	case "ws":
		if !isLoopbackHost(u.Hostname()) {
			return badInvite("the URL is not encrypted (ws://); a network must use wss://")
		}
	default:
		return badInvite("the URL must start with wss://")
	}
	if u.Hostname() == "" {
		return badInvite("the URL has no host")
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return badInvite("the URL must be a plain wss://host:port/path")
	}
	if p := u.Port(); p != "" {
		var n int
		if _, err := fmt.Sscanf(p, "%d", &n); err != nil || n < 1 || n > 65535 || fmt.Sprint(n) != p {
			return badInvite("the URL's port %q is not a port number", truncateText(p, 16))
		}
	}
	return nil
}

func isLoopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

func checkInviteName(s string) error {
	if !utf8.ValidString(s) {
		return badInvite("the name is not valid UTF-8")
	}
	if n := utf8.RuneCountInString(s); n > MaxInviteName {
		return badInvite("the name is %d characters long, at most %d", n, MaxInviteName)
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return badInvite("the name holds a control character")
		}
	}
	return nil
}

// InfoURL is where the proxy publishes its signed network info (GET
// /v1/network on the worker listener, same host and port as the invite's URL).
func (inv Invite) InfoURL() (string, error) {
	u, err := url.Parse(inv.URL)
	if err != nil {
		return "", badInvite("the URL does not parse")
	}
	switch u.Scheme {
	case "wss":
		u.Scheme = "https"
	case "ws":
		u.Scheme = "http"
	default:
		return "", badInvite("the URL must start with wss://")
	}
	u.Path, u.RawPath = NetworkInfoPath, ""
	return u.String(), nil
}

func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
