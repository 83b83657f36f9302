package network

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func testInvite() Invite {
	key := make([]byte, ed25519.PublicKeySize)
	for i := range key {
		key[i] = byte(i + 1)
	}
	return Invite{URL: "wss://proxy.example:8443/v1/worker", ProxyKey: key, Name: "Example GPU net"}
}

func TestInviteRoundTrip(t *testing.T) {
	inv := testInvite()
	for _, tc := range []struct {
		name, text string
	}{
		{"link", inv.Link()},
		{"one string", inv.String()},
		{"link with spaces around", "  " + inv.Link() + "\n"},
		{"link with a base64url key", strings.Replace(inv.Link(), hex.EncodeToString(inv.ProxyKey), base64.RawURLEncoding.EncodeToString(inv.ProxyKey), 1)},
		{"unicode name", Invite{URL: inv.URL, ProxyKey: inv.ProxyKey, Name: "Сеть №1 🚀"}.String()},
		{"loopback ws", Invite{URL: "ws://127.0.0.1:9/v1/worker", ProxyKey: inv.ProxyKey}.Link()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseInvite(tc.text)
			if err != nil {
				t.Fatalf("ParseInvite(%q): %v", tc.text, err)
			}
			if !bytes.Equal(got.ProxyKey, inv.ProxyKey) {
				t.Errorf("key = %x, want %x", got.ProxyKey, inv.ProxyKey)
			}
			again, err := ParseInvite(got.String())
			if err != nil || again.URL != got.URL || again.Name != got.Name || !bytes.Equal(again.ProxyKey, got.ProxyKey) {
				t.Errorf("re-parse of %q = %+v, %v; want %+v", got.String(), again, err, got)
			}
		})
	}
	got, _ := ParseInvite(inv.Link())
	if got.URL != inv.URL || got.Name != inv.Name {
		t.Errorf("link parsed to %+v, want %+v", got, inv)
	}
}

func TestParseInviteRefuses(t *testing.T) {
	inv := testInvite()
	hexKey := hex.EncodeToString(inv.ProxyKey)
	short := func(key []byte, u, name string) string {
		return Invite{URL: u, ProxyKey: key, Name: name}.String()
	}
	for _, tc := range []struct {
		name, text, want string
	}{
		{"empty", "   ", "empty"},
		{"https link", "https://proxy.example/join", "must start with cocoon://join? or cocoon1."},
		{"bare proxy URL", "wss://proxy.example:8443/v1/worker", "without its key"},
		{"wrong host", "cocoon://leave?url=wss%3A%2F%2Fa%2Fv1%2Fworker&key=" + hexKey, "cocoon://join"},
		{"no key", "cocoon://join?url=wss%3A%2F%2Fa%2Fv1%2Fworker", "no key"},
		{"no url", "cocoon://join?key=" + hexKey, "no url"},
		{"short key hex", "cocoon://join?url=wss%3A%2F%2Fa%2Fv1%2Fworker&key=" + hexKey[:62], "bytes, want 32"},
		{"key not hex", "cocoon://join?url=wss%3A%2F%2Fa%2Fv1%2Fworker&key=" + strings.Repeat("!", 64), "neither hex nor base64url"},
		{"unknown parameter", inv.Link() + "&pay=1", "unknown parameter"},
		{"duplicate parameter", inv.Link() + "&name=x", "given 2 times"},
		{"plain ws to a remote host", Invite{URL: "ws://proxy.example/v1/worker", ProxyKey: inv.ProxyKey}.Link(), "not encrypted"},
		{"https URL", Invite{URL: "https://proxy.example/v1/worker", ProxyKey: inv.ProxyKey}.Link(), "must start with wss://"},
		{"no host", Invite{URL: "wss:///v1/worker", ProxyKey: inv.ProxyKey}.Link(), "no host"},
		{"user in URL", Invite{URL: "wss://me@proxy.example/v1/worker", ProxyKey: inv.ProxyKey}.Link(), "plain wss://"},
		{"bad port", Invite{URL: "wss://proxy.example:99999/v1/worker", ProxyKey: inv.ProxyKey}.Link(), "not a port number"},
		{"one string: short key", short(inv.ProxyKey[:31], inv.URL, ""), "31 bytes"},
		{"one string: two parts", "cocoon1.abc.def", "3 parts"},
		{"one string: not base64", "cocoon1.***.a.b", "not base64url"},
		{"name too long", short(inv.ProxyKey, inv.URL, strings.Repeat("n", 65)), "at most 64"},
		{"name with a newline", short(inv.ProxyKey, inv.URL, "a\nb"), "control character"},
		{"name not UTF-8", short(inv.ProxyKey, inv.URL, "\xff"), "UTF-8"},
		{"too long", "cocoon1." + strings.Repeat("a", MaxInviteLength), "characters long"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseInvite(tc.text)
			if !errors.Is(err, ErrBadInvite) {
				t.Fatalf("ParseInvite(%q) = %v, want ErrBadInvite", tc.text, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
		})
	}
}

func TestInviteInfoURL(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"wss", "wss://proxy.example:8443/v1/worker", "https://proxy.example:8443/v1/network"},
		{"loopback ws", "ws://127.0.0.1:9/v1/worker", "http://127.0.0.1:9/v1/network"},
		{"other path", "wss://[::1]:8443/cocoon/worker", "https://[::1]:8443/v1/network"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Invite{URL: tc.in}.InfoURL()
			if err != nil || got != tc.want {
				t.Errorf("InfoURL(%s) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
}

// FuzzParseInvite: any text is parsed or refused with ErrBadInvite, never a
// panic; what parses passes the checks again in both printed forms.
func FuzzParseInvite(f *testing.F) {
	inv := testInvite()
	for _, s := range []string{inv.Link(), inv.String(), "cocoon://join?url=ws%3A%2F%2Flocalhost%3A1%2Fw&key=" + base64.RawURLEncoding.EncodeToString(inv.ProxyKey),
		"cocoon1...", "cocoon://join?%zz", "wss://a/b", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseInvite(s)
		if err != nil {
			if !errors.Is(err, ErrBadInvite) {
				t.Fatalf("ParseInvite(%q): error %v does not wrap ErrBadInvite", s, err)
			}
			return
		}
		if len(got.ProxyKey) != ed25519.PublicKeySize {
			t.Fatalf("ParseInvite(%q): key of %d bytes", s, len(got.ProxyKey))
		}
		for _, form := range []string{got.String(), got.Link()} {
			again, err := ParseInvite(form)
			if err != nil || again.URL != got.URL || again.Name != got.Name || !bytes.Equal(again.ProxyKey, got.ProxyKey) {
				t.Fatalf("ParseInvite(%q) = %+v; its form %q re-parses to %+v, %v", s, got, form, again, err)
			}
		}
	})
}

func TestVerifyNetworkInfo(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	otherPub, _, _ := ed25519.GenerateKey(nil)
	good := NetworkInfo{Name: "N", ProtocolVersion: ProtocolVersion, CommissionBPS: 1000, TONNetwork: "mainnet",
		Prices: []ModelPrice{{Model: "m", PricePrompt: 1, PriceCompletion: 2}}}
	sign := func(info NetworkInfo) []byte {
		b, err := SignNetworkInfo(priv, info)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tampered := bytes.Replace(sign(good), []byte(`"commission_bps":1000`), []byte(`"commission_bps":10`), 1)
	oldVersion := good
	oldVersion.ProtocolVersion = 1
	badBPS := good
	badBPS.CommissionBPS = 10001
	for _, tc := range []struct {
		name string
		body []byte
		key  ed25519.PublicKey
		want error
	}{
		{"good", sign(good), pub, nil},
		{"another key", sign(good), otherPub, ErrNetworkInfo},
		{"tampered", tampered, pub, ErrNetworkInfo},
		{"old protocol", sign(oldVersion), pub, ErrOtherProtocol},
		{"commission out of range", sign(badBPS), pub, ErrNetworkInfo},
		{"not JSON", []byte("<html>"), pub, ErrNetworkInfo},
		{"unknown field", []byte(`{"info":{},"sig":"","x":1}`), pub, ErrNetworkInfo},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := VerifyNetworkInfo(tc.body, tc.key)
			if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Fatalf("VerifyNetworkInfo = %v, want %v", err, tc.want)
			}
			if tc.want == nil && (got.Name != "N" || got.CommissionBPS != 1000 || len(got.Prices) != 1) {
				t.Errorf("info = %+v", got)
			}
		})
	}
}
