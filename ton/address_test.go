package ton

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/ton/wallet"
)

// testWalletAddr is the V5R1 address of a fixed key, made by tonutils-go (an
// implementation independent of ParseAddress).
func testWalletAddr(t testing.TB, seedByte byte, tonNet Net) *address.Address {
	t.Helper()
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = seedByte + byte(i)
	}
	key := ed25519.NewKeyFromSeed(seed)
	a, err := wallet.AddressFromPubKey(key.Public().(ed25519.PublicKey), V5R1Config(tonNet), 0)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

type addrForms struct {
	raw, uq, eq, uqTest, eqTest string
}

func formsOf(a *address.Address) addrForms {
	return addrForms{
		raw:    a.StringRaw(),
		uq:     a.Bounce(false).Testnet(false).String(),
		eq:     a.Bounce(true).Testnet(false).String(),
		uqTest: a.Bounce(false).Testnet(true).String(),
		eqTest: a.Bounce(true).Testnet(true).String(),
	}
}

func toStdBase64(s string) string {
	return strings.NewReplacer("-", "+", "_", "/").Replace(s)
}

// flipChar changes the character at i to another valid base64url character.
func flipChar(s string, i int) string {
	c := byte('A')
	if s[i] == 'A' {
		c = 'B'
	}
	return s[:i] + string(c) + s[i+1:]
}

func TestParseAddressValid(t *testing.T) {
	f := formsOf(testWalletAddr(t, 1, Mainnet))
	if !strings.HasPrefix(f.uq, "UQ") || !strings.HasPrefix(f.eq, "EQ") || !strings.HasPrefix(f.uqTest, "0Q") || !strings.HasPrefix(f.eqTest, "kQ") {
		t.Fatalf("unexpected tonutils-go forms: %+v", f)
	}
	mc := testWalletAddr(t, 9, Mainnet)
	mcRaw := "-1:" + strings.SplitN(mc.StringRaw(), ":", 2)[1]
	mcUQ := address.NewAddress(0, 0xff, mc.Data()).Bounce(false).String()

	cases := []struct {
		name       string
		in         string
		net        Net
		raw        string
		bounceable bool
		testnet    bool
		friendly   string
		warnings   int
	}{
		{"UQ mainnet", f.uq, Mainnet, f.raw, false, false, f.uq, 0},
		{"EQ mainnet", f.eq, Mainnet, f.raw, true, false, f.uq, 1},
		{"UQ standard base64", toStdBase64(f.uq), Mainnet, f.raw, false, false, f.uq, 0},
		{"EQ standard base64", toStdBase64(f.eq), Mainnet, f.raw, true, false, f.uq, 1},
		{"surrounding spaces", "  " + f.uq + "\n", Mainnet, f.raw, false, false, f.uq, 0},
		{"0Q testnet", f.uqTest, Testnet, f.raw, false, true, f.uqTest, 0},
		{"kQ testnet", f.eqTest, Testnet, f.raw, true, true, f.uqTest, 1},
		{"raw mainnet", f.raw, Mainnet, f.raw, false, false, f.uq, 0},
		{"raw upper-case hex", "0:" + strings.ToUpper(f.raw[2:]), Mainnet, f.raw, false, false, f.uq, 0},
		{"raw testnet", f.raw, Testnet, f.raw, false, true, f.uqTest, 0},
		{"raw masterchain", mcRaw, Mainnet, mcRaw, false, false, mcUQ, 1},
		{"UQ masterchain", mcUQ, Mainnet, mcRaw, false, false, mcUQ, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, err := ParseAddress(c.in, c.net)
			if err != nil {
				t.Fatalf("ParseAddress(%q): %v", c.in, err)
			}
			if a.Raw != c.raw || a.Bounceable != c.bounceable || a.Testnet != c.testnet || a.Friendly != c.friendly {
				t.Fatalf("got %+v, want raw=%s bounceable=%v testnet=%v friendly=%s", a, c.raw, c.bounceable, c.testnet, c.friendly)
			}
			if got := len(a.Warnings()); got != c.warnings {
				t.Fatalf("warnings = %q, want %d", a.Warnings(), c.warnings)
			}
			// The tonutils-go conversion is the same account, with the given flags.
			ta := a.TON()
			if ta.StringRaw() != c.raw || ta.IsBounceable() != c.bounceable || ta.IsTestnetOnly() != c.testnet {
				t.Fatalf("TON() = %s bounce=%v testnet=%v", ta.StringRaw(), ta.IsBounceable(), ta.IsTestnetOnly())
			}
			// And tonutils-go's own parser agrees with the friendly form.
			if p, err := address.ParseAddr(a.Friendly); err != nil || p.StringRaw() != c.raw || p.IsBounceable() {
				t.Fatalf("tonutils-go ParseAddr(%s) = %v, %v", a.Friendly, p, err)
			}
		})
	}
}

func TestParseAddressInvalid(t *testing.T) {
	f := formsOf(testWalletAddr(t, 1, Mainnet))
	// A base64url string of 36 bytes with a valid checksum but a bad tag or workchain.
	withHeader := func(tag, wc byte) string {
		b, _ := base64.RawURLEncoding.DecodeString(f.uq)
		b[0], b[1] = tag, wc
		sum := crc16XModem(b[:34])
		b[34], b[35] = byte(sum>>8), byte(sum)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	cases := []struct {
		name string
		in   string
		net  Net
		kind error
		says string // part of the message
	}{
		{"empty", "", Mainnet, ErrAddressEmpty, "empty"},
		{"spaces only", "   ", Mainnet, ErrAddressEmpty, "empty"},
		{"one char mistyped", flipChar(f.uq, 20), Mainnet, ErrAddressChecksum, "checksum"},
		{"checksum chars changed", flipChar(f.uq, 47), Mainnet, ErrAddressChecksum, "checksum"},
		{"truncated", f.uq[:47], Mainnet, ErrAddressLength, "has 47"},
		{"too long", f.uq + "A", Mainnet, ErrAddressLength, "has 49"},
		{"space inside", f.uq[:10] + " " + f.uq[11:], Mainnet, ErrAddressChars, "position 11"},
		{"cyrillic letter", strings.Replace(f.uq, f.uq[5:6], "Ж", 1), Mainnet, ErrAddressChars, "not allowed"},
		{"mixed alphabets", "-" + toStdBase64(f.uq)[1:47] + "+", Mainnet, ErrAddressChars, "mixes"},
		{"testnet on mainnet 0Q", f.uqTest, Mainnet, ErrAddressNetwork, "testnet address"},
		{"testnet on mainnet kQ", f.eqTest, Mainnet, ErrAddressNetwork, "testnet address"},
		{"mainnet on testnet UQ", f.uq, Testnet, ErrAddressNetwork, "mainnet address"},
		{"mainnet on testnet EQ", f.eq, Testnet, ErrAddressNetwork, "mainnet address"},
		{"unknown tag", withHeader(0x22, 0), Mainnet, ErrAddressFlags, "0x22"},
		{"unknown workchain friendly", withHeader(0x51, 5), Mainnet, ErrAddressWorkchain, "workchain 5"},
		{"raw unknown workchain", "7:" + f.raw[2:], Mainnet, ErrAddressWorkchain, "workchain 7"},
		{"raw bad workchain", "x:" + f.raw[2:], Mainnet, ErrAddressWorkchain, "0: or -1:"},
		{"raw short", f.raw[:60], Mainnet, ErrAddressLength, "got 58"},
		{"raw long", f.raw + "00", Mainnet, ErrAddressLength, "got 66"},
		{"raw non-hex", f.raw[:10] + "g" + f.raw[11:], Mainnet, ErrAddressChars, "position 9"},
		{"raw two colons", "0:" + f.raw, Mainnet, ErrAddressChars, "':'"},
		{"url", "ton://transfer/" + f.uq, Mainnet, ErrAddressWorkchain, "0: or -1:"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, err := ParseAddress(c.in, c.net)
			if err == nil {
				t.Fatalf("ParseAddress(%q) = %+v, want error", c.in, a)
			}
			if !errors.Is(err, c.kind) || !errors.Is(err, ErrInvalidAddress) {
				t.Fatalf("error %q is not %v (and ErrInvalidAddress)", err, c.kind)
			}
			var ae *AddressError
			if !errors.As(err, &ae) || ae.Kind != c.kind {
				t.Fatalf("error %T %v is not an *AddressError of kind %v", err, err, c.kind)
			}
			if !strings.Contains(err.Error(), c.says) {
				t.Fatalf("error %q does not say %q", err, c.says)
			}
		})
	}
}

func TestAddressShortAndWarnings(t *testing.T) {
	f := formsOf(testWalletAddr(t, 1, Mainnet))
	a, err := ParseAddress(f.eq, Mainnet)
	if err != nil {
		t.Fatal(err)
	}
	if s := a.Short(); s != f.uq[:4]+"…"+f.uq[44:] || !strings.HasPrefix(s, "UQ") {
		t.Fatalf("Short() = %q", s)
	}
	w := a.Warnings()
	if len(w) != 1 || !strings.Contains(w[0], "bounce") || !strings.Contains(w[0], a.Short()) || !strings.Contains(w[0], "EQ") {
		t.Fatalf("warnings = %q", w)
	}
	if a.BounceableForm() != f.eq || a.String() != f.uq {
		t.Fatalf("forms: %s %s", a.BounceableForm(), a.String())
	}
	var zero Address
	if zero.Warnings() != nil || zero.Short() != "" || !zero.IsZero() {
		t.Fatal("zero address")
	}
}

func TestAddressFromTONRoundTrip(t *testing.T) {
	for _, net := range []Net{Mainnet, Testnet} {
		ta := testWalletAddr(t, 3, net).Testnet(net == Testnet)
		a, err := AddressFromTON(ta)
		if err != nil {
			t.Fatal(err)
		}
		b, err := ParseAddress(ta.String(), net)
		if err != nil {
			t.Fatal(err)
		}
		if a != b {
			t.Fatalf("%s: AddressFromTON %+v != ParseAddress %+v", net, a, b)
		}
	}
}

func TestParseNet(t *testing.T) {
	for in, want := range map[string]Net{"": Mainnet, "mainnet": Mainnet, "TESTNET": Testnet, " test ": Testnet} {
		if got, err := ParseNet(in); err != nil || got != want {
			t.Fatalf("ParseNet(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseNet("devnet"); err == nil {
		t.Fatal("devnet accepted")
	}
	if Mainnet.GlobalID() != -239 || Testnet.GlobalID() != -3 {
		t.Fatal("global ids")
	}
}

func FuzzParseAddress(f *testing.F) {
	fm := formsOf(testWalletAddr(f, 1, Mainnet))
	for _, s := range []string{fm.raw, fm.uq, fm.eq, fm.uqTest, fm.eqTest, toStdBase64(fm.eq), "", ":", "-1:", "0:zz", fm.uq[:47], "-128:" + fm.raw[2:]} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, testnet bool) {
		net := Mainnet
		if testnet {
			net = Testnet
		}
		a, err := ParseAddress(s, net)
		if err != nil {
			var ae *AddressError
			if !errors.As(err, &ae) || !errors.Is(err, ErrInvalidAddress) || ae.Msg == "" {
				t.Fatalf("error %v is not a described *AddressError", err)
			}
			return
		}
		if a.Testnet != testnet {
			t.Fatalf("accepted %q on %s with Testnet=%v", s, net, a.Testnet)
		}
		for _, form := range []string{a.Raw, a.Friendly, a.BounceableForm()} {
			b, err := ParseAddress(form, net)
			if err != nil {
				t.Fatalf("accepted %q, but its form %q fails: %v", s, form, err)
			}
			if b.Raw != a.Raw {
				t.Fatalf("%q: form %q parses to %s, want %s", s, form, b.Raw, a.Raw)
			}
		}
		if ta := a.TON(); ta.StringRaw() != a.Raw {
			t.Fatalf("TON() raw %s != %s", ta.StringRaw(), a.Raw)
		}
	})
}
