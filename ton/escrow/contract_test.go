package escrow

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tvm/cell"
)

func testParams() Params {
	return Params{ProxyKey: testKey(1).Public().(ed25519.PublicKey), Operator: testAddr(0, 0x0b), WithdrawDelay: DefaultWithdrawDelay, ClaimFee: DefaultClaimFee}
}

func TestParams(t *testing.T) {
	cases := []struct {
		name string
		mod  func(*Params)
		ok   bool
	}{
		{"defaults", func(*Params) {}, true},
		{"no delay", func(p *Params) { p.WithdrawDelay = 0 }, true},
		{"the longest delay", func(p *Params) { p.WithdrawDelay = MaxWithdrawDelay }, true},
		{"masterchain", func(p *Params) { p.Workchain = -1 }, true},
		{"short proxy key", func(p *Params) { p.ProxyKey = p.ProxyKey[:31] }, false},
		{"no proxy key", func(p *Params) { p.ProxyKey = nil }, false},
		{"no operator", func(p *Params) { p.Operator = nil }, false},
		{"operator addr_none", func(p *Params) { p.Operator = address.NewAddressNone() }, false},
		{"negative delay", func(p *Params) { p.WithdrawDelay = -time.Second }, false},
		{"delay past the maximum", func(p *Params) { p.WithdrawDelay = MaxWithdrawDelay + time.Second }, false},
		{"fractional delay", func(p *Params) { p.WithdrawDelay = time.Hour + time.Millisecond }, false},
		{"workchain 1", func(p *Params) { p.Workchain = 1 }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := testParams()
			tc.mod(&p)
			a, err := AddressOf(p, false)
			if !tc.ok {
				if !errors.Is(err, ErrBadParams) {
					t.Fatalf("AddressOf = %v, %v; want ErrBadParams", a, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if a.IsBounceable() || int(a.Workchain()) != p.Workchain {
				t.Fatalf("address %s: bounceable %v, workchain %d", a, a.IsBounceable(), a.Workchain())
			}
		})
	}
	// Every parameter is part of the address: an escrow with another key,
	// operator, delay or fee is another contract.
	base, _ := AddressOf(testParams(), false)
	for name, mod := range map[string]func(*Params){
		"key":      func(p *Params) { p.ProxyKey = testKey(2).Public().(ed25519.PublicKey) },
		"operator": func(p *Params) { p.Operator = testAddr(0, 0x0c) },
		"delay":    func(p *Params) { p.WithdrawDelay += time.Second },
		"fee":      func(p *Params) { p.ClaimFee++ },
	} {
		p := testParams()
		mod(&p)
		if a, _ := AddressOf(p, false); a.Equals(base) {
			t.Errorf("changing the %s keeps the address", name)
		}
	}
}

func TestCodeIsEmbedded(t *testing.T) {
	if got := hex.EncodeToString(Code().Hash()); got != CodeHash {
		t.Fatalf("embedded code hash %s, CodeHash %s", got, CodeHash)
	}
}

func TestOperatorBodies(t *testing.T) {
	s := AnnounceWithdrawalBody(123, 7).BeginParse()
	if op, q, amt := s.MustLoadUInt(32), s.MustLoadUInt(64), s.MustLoadCoins(); op != OpAnnounceWithdrawal || q != 7 || amt != 123 || s.BitsLeft() != 0 {
		t.Fatalf("announce: op %#x query %d amount %d", op, q, amt)
	}
	for op, c := range map[uint64]*cell.Cell{OpExecuteWithdrawal: ExecuteWithdrawalBody(9), OpCancelWithdrawal: CancelWithdrawalBody(9)} {
		s := c.BeginParse()
		if got, q := s.MustLoadUInt(32), s.MustLoadUInt(64); got != op || q != 9 || s.BitsLeft() != 0 {
			t.Fatalf("op %#x: got %#x query %d", op, got, q)
		}
	}
}

// stack is a Getter answering fixed values, standing for a liteserver
// (which can answer anything: the decoding must not trust it).
type stack map[string][]any

func (s stack) RunGetMethod(_ context.Context, _ *address.Address, method string, _ ...any) ([]any, error) {
	v, ok := s[method]
	if !ok {
		return nil, errors.New("no such method")
	}
	return v, nil
}

func TestGetResultsChecked(t *testing.T) {
	key := new(big.Int).SetBytes(testKey(1).Public().(ed25519.PublicKey))
	op := cell.BeginCell().MustStoreAddr(testAddr(0, 0x0b)).EndCell().BeginParse()
	good := []any{key, op, big.NewInt(5e9), big.NewInt(1e9), big.NewInt(1_800_000_000), big.NewInt(604800), big.NewInt(DefaultClaimFee)}
	with := func(i int, v any) []any { r := append([]any(nil), good...); r[i] = v; return r }
	st, err := ReadState(context.Background(), stack{"escrow_state": good}, testAddr(0, 1))
	if err != nil {
		t.Fatal(err)
	}
	if st.Balance != 5e9 || st.PendingWithdrawal != 1e9 || !st.WithdrawAfter.Equal(time.Unix(1_800_000_000, 0)) ||
		st.WithdrawDelay != 7*24*time.Hour || st.ClaimFee != DefaultClaimFee || !st.Operator.Equals(testAddr(0, 0x0b)) {
		t.Fatalf("state %+v", st)
	}
	bad := []struct {
		name string
		res  []any
	}{
		{"too few values", good[:6]},
		{"negative balance", with(2, big.NewInt(-1))},
		{"balance past 64 bits", with(2, new(big.Int).Lsh(big.NewInt(1), 64))},
		{"time past 32 bits", with(4, new(big.Int).Lsh(big.NewInt(1), 32))},
		{"key past 256 bits", with(0, new(big.Int).Lsh(big.NewInt(1), 256))},
		{"operator not a slice", with(1, big.NewInt(1))},
		{"operator not an address", with(1, cell.BeginCell().MustStoreUInt(1, 8).EndCell().BeginParse())},
		{"a number as a cell", with(3, cell.BeginCell().EndCell())},
		{"null", with(6, nil)},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ReadState(context.Background(), stack{"escrow_state": tc.res}, testAddr(0, 1)); !errors.Is(err, ErrBadGetResult) {
				t.Fatalf("ReadState = %v, want ErrBadGetResult", err)
			}
		})
	}
	for name, res := range map[string][]any{"two values": {big.NewInt(1), big.NewInt(2)}, "negative": {big.NewInt(-5)}, "a slice": {op}} {
		if _, err := PaidTotal(context.Background(), stack{"paid_total": res}, testAddr(0, 1), [32]byte{}); !errors.Is(err, ErrBadGetResult) {
			t.Errorf("PaidTotal with %s = %v, want ErrBadGetResult", name, err)
		}
	}
	if _, err := PaidTotal(context.Background(), stack{}, testAddr(0, 1), [32]byte{}); err == nil || errors.Is(err, ErrBadGetResult) {
		t.Fatalf("a failing chain: %v", err)
	}
}

func TestRefusalExitCode(t *testing.T) {
	cases := []struct {
		name string
		err  error
		code int
		ok   bool
	}{
		{"sandbox", errors.New("wallet contract rejected the message: exit code 102: ..."), 102, true},
		{"liteserver", errors.New("send external message: rejected: cannot apply external message to current state : External message was not accepted\nCannot run message on account: inbound external message rejected by transaction 6B2B:\nexitcode=103, steps=41, gas_used=0"), 103, true},
		{"negative", errors.New("exitcode=-14, steps=1"), -14, true},
		{"no code", errors.New("TON network unreachable"), 0, false},
		{"nil", nil, 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, ok := RefusalExitCode(tc.err)
			if code != tc.code || ok != tc.ok {
				t.Fatalf("RefusalExitCode = %d, %v; want %d, %v", code, ok, tc.code, tc.ok)
			}
		})
	}
	if ExitCodeText(9999) != "exit code 9999" || ExitCodeText(ExitUnderfunded) == "" {
		t.Fatal("ExitCodeText")
	}
}
