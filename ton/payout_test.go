package ton

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"
	"github.com/xssnick/tonutils-go/ton/wallet"
	"github.com/xssnick/tonutils-go/tvm/cell"
)

// The end-to-end payout tests against the real wallet contract are in
// internal/tonsandbox; these check what BuildTransfer signs, offline.

func payoutKey(b byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{b}, ed25519.SeedSize))
}

type v5Signed struct {
	walletID   uint32
	validUntil uint32
	seqno      uint32
	mode       uint8
	msg        tlb.InternalMessage
	sigOK      bool
}

// decodeV5 takes apart a V5R1 external body: signed payload
// (op, wallet id, valid_until, seqno, actions) + 512-bit signature.
func decodeV5(t *testing.T, body *cell.Cell, pub ed25519.PublicKey) v5Signed {
	t.Helper()
	var d v5Signed
	s := body.BeginParse()
	payloadBits := body.BitsSize() - 512
	bits, err := s.LoadSlice(payloadBits)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := s.LoadSlice(512)
	if err != nil {
		t.Fatal(err)
	}
	pb := cell.BeginCell().MustStoreSlice(bits, payloadBits)
	for i := 0; i < int(body.RefsNum()); i++ {
		pb.MustStoreRef(body.MustPeekRef(i))
	}
	d.sigOK = ed25519.Verify(pub, pb.EndCell().Hash(), sig)

	p := pb.EndCell().BeginParse()
	if op := p.MustLoadUInt(32); op != 0x7369676e {
		t.Fatalf("op 0x%x, want signed external 0x7369676e", op)
	}
	d.walletID = uint32(p.MustLoadUInt(32))
	d.validUntil = uint32(p.MustLoadUInt(32))
	d.seqno = uint32(p.MustLoadUInt(32))
	if !p.MustLoadBoolBit() {
		t.Fatal("no out actions")
	}
	list := p.MustLoadRef()
	if p.MustLoadBoolBit() {
		t.Fatal("unexpected extended actions")
	}
	list.MustLoadRef() // previous (empty) list
	if tag := list.MustLoadUInt(32); tag != 0x0ec3c86d {
		t.Fatalf("action 0x%x, want send_msg", tag)
	}
	d.mode = uint8(list.MustLoadUInt(8))
	if err := tlb.LoadFromCell(&d.msg, list.MustLoadRef()); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestPayoutComment(t *testing.T) {
	if got := PayoutComment("w-1f"); got != "cocoon payout w-1f" {
		t.Fatal(got)
	}
}

func TestPayoutWalletFromSeed(t *testing.T) {
	seed := wallet.NewSeed()
	for _, net := range []Net{Mainnet, Testnet} {
		pw, err := NewPayoutWalletFromSeed(strings.Join(seed, " "), net)
		if err != nil {
			t.Fatal(err)
		}
		ref, err := wallet.FromSeed(nil, seed, wallet.ConfigV5R1Final{NetworkGlobalID: net.GlobalID()})
		if err != nil {
			t.Fatal(err)
		}
		if pw.TONAddress().StringRaw() != ref.WalletAddress().StringRaw() {
			t.Fatalf("%s: address %s, tonutils-go %s", net, pw.TONAddress().StringRaw(), ref.WalletAddress().StringRaw())
		}
		a := pw.Address()
		if a.Testnet != (net == Testnet) || a.Bounceable || !strings.HasPrefix(a.Friendly, map[Net]string{Mainnet: "UQ", Testnet: "0Q"}[net]) {
			t.Fatalf("%s: Address() = %+v", net, a)
		}
	}
	if _, err := NewPayoutWalletFromSeed("  ", Mainnet); err == nil {
		t.Fatal("empty seed accepted")
	}
	if _, err := NewPayoutWalletFromSeed("not a real seed phrase at all", Mainnet); err == nil {
		t.Fatal("bad seed accepted")
	}
	if _, err := NewPayoutWalletFromKey(ed25519.PrivateKey{1, 2}, Mainnet); err == nil {
		t.Fatal("short key accepted")
	}
}

func TestPayoutBuildTransfer(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		net        Net
		bounceable bool
		seqno      uint32
	}{
		{Mainnet, false, 0}, {Mainnet, false, 41}, {Mainnet, true, 7}, {Testnet, false, 3},
	} {
		t.Run(fmt.Sprintf("%s/bounce=%v/seqno=%d", tc.net, tc.bounceable, tc.seqno), func(t *testing.T) {
			pw, err := NewPayoutWalletFromKey(payoutKey(1), tc.net)
			if err != nil {
				t.Fatal(err)
			}
			dst := testWalletAddr(t, 50, tc.net).Bounce(tc.bounceable).Testnet(tc.net == Testnet)
			to, err := ParseAddress(dst.String(), tc.net)
			if err != nil {
				t.Fatal(err)
			}
			const amount = 987_654_321_012
			comment := PayoutComment(strings.Repeat("x", 128)) // longest ledger id: the comment spans two cells
			before := time.Now()
			ext, err := pw.BuildTransfer(ctx, FixedSeqno(tc.seqno), to, amount, comment)
			if err != nil {
				t.Fatal(err)
			}
			if !ext.DstAddr.Equals(pw.TONAddress()) {
				t.Fatalf("external to %s, wallet is %s", ext.DstAddr, pw.TONAddress())
			}
			if (ext.StateInit != nil) != (tc.seqno == 0) {
				t.Fatalf("state init attached = %v with seqno %d", ext.StateInit != nil, tc.seqno)
			}
			d := decodeV5(t, ext.Body, pw.PublicKey())
			if !d.sigOK {
				t.Fatal("signature does not verify with the wallet's public key")
			}
			wantID := wallet.V5R1ID{NetworkGlobalID: tc.net.GlobalID()}.Serialized()
			if d.walletID != wantID || d.seqno != tc.seqno || d.mode != wallet.PayGasSeparately+wallet.IgnoreErrors {
				t.Fatalf("wallet id %x (want %x), seqno %d, mode %d", d.walletID, wantID, d.seqno, d.mode)
			}
			if vu := time.Unix(int64(d.validUntil), 0); vu.Before(before.Add(pw.TTL-2*time.Second)) || vu.After(time.Now().Add(pw.TTL+time.Second)) {
				t.Fatalf("valid until %v, TTL %v", vu, pw.TTL)
			}
			m := d.msg
			if m.DstAddr.StringRaw() != to.Raw || m.Amount.Nano().Uint64() != amount || m.Bounce != tc.bounceable || m.Comment() != comment {
				t.Fatalf("message to %s amount %s bounce %v comment %q", m.DstAddr.StringRaw(), m.Amount.Nano(), m.Bounce, m.Comment())
			}
			if h := ExternalMessageHash(ext); len(h) != 32 {
				t.Fatalf("hash %x", h)
			}
		})
	}
}

func TestPayoutBuildTransferErrors(t *testing.T) {
	ctx := context.Background()
	pw, _ := NewPayoutWalletFromKey(payoutKey(1), Mainnet)
	to, _ := ParseAddress(testWalletAddr(t, 50, Mainnet).Bounce(false).String(), Mainnet)
	toTest, _ := ParseAddress(testWalletAddr(t, 50, Testnet).Bounce(false).Testnet(true).String(), Testnet)
	seqErr := errors.New("liteserver said no")
	cases := []struct {
		name    string
		src     SeqnoSource
		to      Address
		amount  uint64
		comment string
		want    error
	}{
		{"zero amount", FixedSeqno(1), to, 0, "c", ErrPayoutAmount},
		{"no destination", FixedSeqno(1), Address{}, 1, "c", ErrAddressEmpty},
		{"testnet destination", FixedSeqno(1), toTest, 1, "c", ErrPayoutNetwork},
		{"comment too long", FixedSeqno(1), to, 1, strings.Repeat("y", MaxCommentBytes+1), ErrPayoutComment},
		{"control char in comment", FixedSeqno(1), to, 1, "a\nb", ErrPayoutComment},
		{"seqno source fails", seqnoFunc(func() (uint32, error) { return 0, seqErr }), to, 1, "c", seqErr},
		{"unreachable", seqnoFunc(func() (uint32, error) { return 0, unreachable("seqno", context.DeadlineExceeded) }), to, 1, "c", ErrChainUnreachable},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ext, err := pw.BuildTransfer(ctx, c.src, c.to, c.amount, c.comment)
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, %v; want %v", ext, err, c.want)
			}
		})
	}
	if _, err := pw.BuildTransfer(ctx, nil, to, 1, "c"); err == nil {
		t.Fatal("nil seqno source accepted")
	}
}

type seqnoFunc func() (uint32, error)

func (f seqnoFunc) Seqno(context.Context, *address.Address) (uint32, error) { return f() }

// BuildTransfer is safe for concurrent use: each message carries the seqno
// its own source gave.
func TestPayoutBuildTransferConcurrent(t *testing.T) {
	pw, _ := NewPayoutWalletFromKey(payoutKey(1), Mainnet)
	to, _ := ParseAddress(testWalletAddr(t, 50, Mainnet).Bounce(false).String(), Mainnet)
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			ext, err := pw.BuildTransfer(context.Background(), FixedSeqno(i+1), to, uint64(i+1), PayoutComment(fmt.Sprint(i)))
			if err != nil {
				t.Error(err)
				return
			}
			if d := decodeV5(t, ext.Body, pw.PublicKey()); d.seqno != uint32(i+1) || d.msg.Amount.Nano().Uint64() != uint64(i+1) {
				t.Errorf("message %d carries seqno %d amount %s", i, d.seqno, d.msg.Amount.Nano())
			}
		})
	}
	wg.Wait()
}

func TestWithChainTimeout(t *testing.T) {
	ctx, cancel := WithChainTimeout(context.Background(), 0)
	defer cancel()
	if dl, ok := ctx.Deadline(); !ok || time.Until(dl) > DefaultChainTimeout {
		t.Fatal("default timeout not applied")
	}
	short, cancel2 := context.WithTimeout(context.Background(), time.Second)
	defer cancel2()
	ctx3, cancel3 := WithChainTimeout(short, time.Hour)
	defer cancel3()
	if dl, _ := ctx3.Deadline(); time.Until(dl) > time.Second {
		t.Fatal("earlier deadline not kept")
	}
	if got := FixedSeqno(9); mustSeqno(t, got) != 9 {
		t.Fatal("FixedSeqno")
	}
}

func mustSeqno(t *testing.T, s SeqnoSource) uint32 {
	n, err := s.Seqno(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
