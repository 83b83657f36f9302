package ton

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/xssnick/tonutils-go/address"
)

// Net is the TON network the app and the proxy pay on.
type Net int

const (
	// Mainnet is the real TON network (global id -239).
	Mainnet Net = iota
	// Testnet is the TON test network (global id -3).
	Testnet
)

// String returns "mainnet" or "testnet".
func (n Net) String() string {
	if n == Testnet {
		return "testnet"
	}
	return "mainnet"
}

// GlobalID is the network's global id, which a V5R1 wallet signs into every
// message (mainnet -239, testnet -3).
func (n Net) GlobalID() int32 {
	if n == Testnet {
		return -3
	}
	return -239
}

// ParseNet accepts "mainnet" or "testnet" (any case; "" means mainnet).
func ParseNet(s string) (Net, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "mainnet", "main":
		return Mainnet, nil
	case "testnet", "test":
		return Testnet, nil
	}
	return Mainnet, fmt.Errorf("unknown TON network %q (want mainnet or testnet)", s)
}

// Address errors. Every error ParseAddress returns is an *AddressError that
// matches ErrInvalidAddress and exactly one of the specific sentinels below
// with errors.Is; its message says what is wrong in words an owner can act on.
var (
	ErrInvalidAddress   = errors.New("invalid TON address")
	ErrAddressEmpty     = errors.New("address is empty")
	ErrAddressLength    = errors.New("address has the wrong length")
	ErrAddressChars     = errors.New("address has characters that do not belong in it")
	ErrAddressChecksum  = errors.New("address checksum does not match")
	ErrAddressWorkchain = errors.New("address is on an unknown workchain")
	ErrAddressFlags     = errors.New("address has an unknown type tag")
	ErrAddressNetwork   = errors.New("address is for the other TON network")
)

// AddressError is what ParseAddress returns on bad input.
type AddressError struct {
	Kind  error  // one of the ErrAddress* sentinels
	Input string // the input as given (trimmed)
	Msg   string // what exactly is wrong
}

func (e *AddressError) Error() string { return "invalid TON address: " + e.Msg }

// Unwrap lets errors.Is match both ErrInvalidAddress and the specific kind.
func (e *AddressError) Unwrap() []error { return []error{e.Kind, ErrInvalidAddress} }

func addrErr(kind error, input, format string, args ...any) error {
	return &AddressError{Kind: kind, Input: input, Msg: fmt.Sprintf(format, args...)}
}

// Address is a validated TON wallet address (standard, 256-bit).
type Address struct {
	// Raw is the canonical form "wc:hex" (64 lower-case hex digits). Two
	// addresses are the same account exactly when their Raw forms are equal.
	Raw string
	// Bounceable is true when the owner gave the bounceable form (EQ…/kQ…).
	// The raw form carries no flag and is taken as non-bounceable.
	Bounceable bool
	// Testnet is true for a testnet-only address (0Q…/kQ…), or a raw
	// address parsed for Testnet.
	Testnet bool
	// Friendly is the non-bounceable URL-safe form (UQ… on mainnet, 0Q… on
	// testnet): what to display and what to send to.
	Friendly string

	workchain int32
	hash      [32]byte
}

// user-friendly tag bytes (first byte of the 36-byte form).
const (
	tagBounceable    = 0x11
	tagNonBounceable = 0x51
	tagTestnetFlag   = 0x80
)

// ParseAddress validates an address as Tonkeeper shows or copies it: the
// user-friendly form in URL-safe base64 (UQ…/EQ…/0Q…/kQ…) or standard base64
// (with + and /), or the raw form "0:<64 hex>" / "-1:<64 hex>". It rejects an
// address for the other network than the one given.
func ParseAddress(s string, tonNet Net) (Address, error) {
	in := strings.TrimSpace(s)
	if in == "" {
		return Address{}, addrErr(ErrAddressEmpty, in, "the address is empty; paste your wallet address from Tonkeeper (it starts with UQ)")
	}
	if strings.Contains(in, ":") {
		return parseRawAddress(in, tonNet)
	}
	return parseFriendlyAddress(in, tonNet)
}

func parseRawAddress(in string, tonNet Net) (Address, error) {
	wcStr, hexStr, _ := strings.Cut(in, ":")
	wc, err := strconv.ParseInt(wcStr, 10, 32)
	if err != nil {
		return Address{}, addrErr(ErrAddressWorkchain, in, "raw address must start with the workchain 0: or -1:, got %q", clip(wcStr, 12))
	}
	if wc != 0 && wc != -1 {
		return Address{}, addrErr(ErrAddressWorkchain, in, "workchain %d is unknown; TON wallets live on workchain 0 (or -1, the masterchain)", wc)
	}
	for i, r := range hexStr {
		if !isHexDigit(r) {
			return Address{}, addrErr(ErrAddressChars, in, "raw address has %q at position %d after the colon; only hex digits 0-9 and a-f are allowed", r, i+1)
		}
	}
	if len(hexStr) != 64 {
		return Address{}, addrErr(ErrAddressLength, in, "raw address must have 64 hex digits after %q, got %d", wcStr+":", len(hexStr))
	}
	var a Address
	a.workchain = int32(wc)
	if _, err := hex.Decode(a.hash[:], []byte(hexStr)); err != nil { // cannot fail after the checks above
		return Address{}, addrErr(ErrAddressChars, in, "raw address is not hex: %v", err)
	}
	a.Bounceable = false
	a.Testnet = tonNet == Testnet
	a.fill()
	return a, nil
}

func parseFriendlyAddress(in string, tonNet Net) (Address, error) {
	urlSafe, std := false, false
	for i, r := range in {
		switch {
		case r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z', r >= '0' && r <= '9':
		case r == '-' || r == '_':
			urlSafe = true
		case r == '+' || r == '/':
			std = true
		case r == '=' && i >= len(in)-2:
			// tolerate base64 padding at the very end
		default:
			return Address{}, addrErr(ErrAddressChars, in, "%q at position %d is not allowed in a TON address (letters, digits and - _ or + / only)", r, i+1)
		}
	}
	if urlSafe && std {
		return Address{}, addrErr(ErrAddressChars, in, "the address mixes URL-safe (- _) and standard (+ /) base64 characters; copy it again from the wallet")
	}
	body := strings.TrimRight(in, "=")
	if len(body) != 48 {
		return Address{}, addrErr(ErrAddressLength, in, "a TON address has 48 characters, this one has %d", len(body))
	}
	enc := base64.RawURLEncoding
	if std {
		enc = base64.RawStdEncoding
	}
	data, err := enc.DecodeString(body)
	if err != nil || len(data) != 36 {
		return Address{}, addrErr(ErrAddressChars, in, "the address is not valid base64")
	}
	want := crc16XModem(data[:34])
	if got := binary.BigEndian.Uint16(data[34:]); got != want {
		return Address{}, addrErr(ErrAddressChecksum, in, "the checksum does not match (a character was mistyped or lost); copy the address again from the wallet")
	}
	tag := data[0]
	testnet := tag&tagTestnetFlag != 0
	var bounceable bool
	switch tag &^ tagTestnetFlag {
	case tagBounceable:
		bounceable = true
	case tagNonBounceable:
		bounceable = false
	default:
		return Address{}, addrErr(ErrAddressFlags, in, "type tag 0x%02x is not a wallet address tag", tag)
	}
	wc := int32(int8(data[1]))
	if wc != 0 && wc != -1 {
		return Address{}, addrErr(ErrAddressWorkchain, in, "workchain %d is unknown; TON wallets live on workchain 0 (or -1, the masterchain)", wc)
	}
	if testnet && tonNet == Mainnet {
		return Address{}, addrErr(ErrAddressNetwork, in, "this is a testnet address (0Q…/kQ…) but payouts are on mainnet; use your mainnet address (UQ…)")
	}
	if !testnet && tonNet == Testnet {
		return Address{}, addrErr(ErrAddressNetwork, in, "this is a mainnet address (UQ…/EQ…) but payouts are on testnet; switch Tonkeeper to testnet and copy that address (0Q…)")
	}
	var a Address
	a.workchain = wc
	copy(a.hash[:], data[2:34])
	a.Bounceable = bounceable
	a.Testnet = testnet
	a.fill()
	return a, nil
}

// fill sets Raw and Friendly from workchain, hash and Testnet.
func (a *Address) fill() {
	a.Raw = strconv.Itoa(int(a.workchain)) + ":" + hex.EncodeToString(a.hash[:])
	a.Friendly = a.friendly(false)
}

func (a Address) friendly(bounceable bool) string {
	var b [36]byte
	b[0] = tagNonBounceable
	if bounceable {
		b[0] = tagBounceable
	}
	if a.Testnet {
		b[0] |= tagTestnetFlag
	}
	b[1] = byte(int8(a.workchain))
	copy(b[2:34], a.hash[:])
	binary.BigEndian.PutUint16(b[34:], crc16XModem(b[:34]))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// IsZero reports whether a is the zero value (no address set).
func (a Address) IsZero() bool { return a.Raw == "" }

// String is the Friendly (non-bounceable) form.
func (a Address) String() string { return a.Friendly }

// BounceableForm is the bounceable URL-safe form (EQ…/kQ…).
func (a Address) BounceableForm() string {
	if a.IsZero() {
		return ""
	}
	return a.friendly(true)
}

// Workchain is 0 for ordinary wallets, -1 for the masterchain.
func (a Address) Workchain() int32 { return a.workchain }

// Short is a compact form for the UI: "UQBx…3f9a".
func (a Address) Short() string {
	f := a.Friendly
	if len(f) <= 10 {
		return f
	}
	return f[:4] + "…" + f[len(f)-4:]
}

// Warnings lists things the owner should know about an address that is
// valid. Empty when there is nothing to say.
func (a Address) Warnings() []string {
	var w []string
	if a.IsZero() {
		return nil
	}
	if a.Bounceable {
		w = append(w, fmt.Sprintf("This is the bounceable form (%s…). If this wallet has never sent a transaction, "+
			"a payout to it bounces back and you receive nothing. Payouts go to the non-bounceable form %s, "+
			"which Tonkeeper shows by default; prefer pasting that one.", a.BounceableForm()[:2], a.Short()))
	}
	if a.workchain == -1 {
		w = append(w, "This address is on the masterchain (-1); wallets normally live on workchain 0 and fees there are much higher.")
	}
	return w
}

// TON converts to a tonutils-go address with the bounce flag taken from the
// form the owner gave (non-bounceable for UQ… and raw input).
func (a Address) TON() *address.Address {
	ad := address.NewAddress(0, byte(int8(a.workchain)), append([]byte(nil), a.hash[:]...))
	ad.SetBounce(a.Bounceable)
	ad.SetTestnetOnly(a.Testnet)
	return ad
}

// AddressFromTON converts a tonutils-go standard address (flags kept).
func AddressFromTON(t *address.Address) (Address, error) {
	if t == nil || t.Type() != address.StdAddress || len(t.Data()) != 32 {
		return Address{}, addrErr(ErrAddressLength, "", "not a standard 256-bit address")
	}
	wc := t.Workchain()
	if wc != 0 && wc != -1 {
		return Address{}, addrErr(ErrAddressWorkchain, "", "workchain %d is unknown", wc)
	}
	var a Address
	a.workchain = wc
	copy(a.hash[:], t.Data())
	a.Bounceable = t.IsBounceable()
	a.Testnet = t.IsTestnetOnly()
	a.fill()
	return a, nil
}

func isHexDigit(r rune) bool {
	return r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F'
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// crc16XModem is CRC-16/XMODEM (poly 0x1021, init 0), the checksum of TON
// user-friendly addresses.
func crc16XModem(b []byte) uint16 {
	var crc uint16
	for _, c := range b {
		crc ^= uint16(c) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}
