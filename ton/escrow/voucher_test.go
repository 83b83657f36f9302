package escrow

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"
	"github.com/xssnick/tonutils-go/tvm/cell"
)

func testKey(b byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{b}, ed25519.SeedSize))
}

func testAddr(wc byte, b byte) *address.Address {
	return address.NewAddress(0, wc, bytes.Repeat([]byte{b}, 32))
}

func testVoucher() Voucher {
	var w [32]byte
	copy(w[:], testKey(7).Public().(ed25519.PublicKey))
	return Voucher{Escrow: testAddr(0, 0xe5), WorkerID: w, Payout: testAddr(0, 0xaa), Cumulative: 1_234_567_890}
}

// The layout is pinned: the contract parses exactly these bits, and a
// change here without one there would make every claim fail.
func TestVoucherCellLayout(t *testing.T) {
	v := testVoucher()
	c, err := v.Cell()
	if err != nil {
		t.Fatal(err)
	}
	s := c.BeginParse()
	if got := s.MustLoadUInt(32); got != 0x636f636f {
		t.Fatalf("tag %#x", got)
	}
	if got := s.MustLoadUInt(32); got != 1 {
		t.Fatalf("version %d", got)
	}
	if a := s.MustLoadAddr(); !a.Equals(v.Escrow) {
		t.Fatalf("escrow %s", a)
	}
	if w := s.MustLoadSlice(256); !bytes.Equal(w, v.WorkerID[:]) {
		t.Fatalf("worker %x", w)
	}
	if a := s.MustLoadAddr(); !a.Equals(v.Payout) {
		t.Fatalf("payout %s", a)
	}
	if n := s.MustLoadCoins(); n != v.Cumulative {
		t.Fatalf("cumulative %d", n)
	}
	if s.BitsLeft() != 0 || s.RefsNum() != 0 {
		t.Fatalf("%d bits and %d refs left", s.BitsLeft(), s.RefsNum())
	}
	// 32+32+267+256+267+(4+8*4) bits: one cell, no references.
	if c.BitsSize() != 890 {
		t.Fatalf("voucher is %d bits", c.BitsSize())
	}
}

func TestSignVerify(t *testing.T) {
	proxy := testKey(1)
	pub := proxy.Public().(ed25519.PublicKey)
	v := testVoucher()
	sig, err := Sign(proxy, v)
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(pub, v, sig); err != nil {
		t.Fatalf("own signature: %v", err)
	}
	other := testKey(2).Public().(ed25519.PublicKey)
	tampered := func(f func(*Voucher)) Voucher { w := v; f(&w); return w }
	cases := []struct {
		name string
		pub  ed25519.PublicKey
		v    Voucher
		sig  []byte
	}{
		{"another proxy key", other, v, sig},
		{"another escrow", pub, tampered(func(w *Voucher) { w.Escrow = testAddr(0, 0xe6) }), sig},
		{"escrow on the masterchain", pub, tampered(func(w *Voucher) { w.Escrow = testAddr(0xff, 0xe5) }), sig},
		{"another worker", pub, tampered(func(w *Voucher) { w.WorkerID[31] ^= 1 }), sig},
		{"another payout address", pub, tampered(func(w *Voucher) { w.Payout = testAddr(0, 0xab) }), sig},
		{"a larger total", pub, tampered(func(w *Voucher) { w.Cumulative++ }), sig},
		{"a flipped signature bit", pub, v, append(append([]byte(nil), sig[:63]...), sig[63]^1)},
		{"a short signature", pub, v, sig[:63]},
		{"no signature", pub, v, nil},
		{"a short key", pub[:31], v, sig},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := Verify(tc.pub, tc.v, tc.sig); !errors.Is(err, ErrBadSignature) {
				t.Fatalf("Verify = %v, want ErrBadSignature", err)
			}
		})
	}
}

// The signature covers the cell hash, not some other serialization.
func TestSignatureCoversCellHash(t *testing.T) {
	proxy := testKey(1)
	v := testVoucher()
	sig, err := Sign(proxy, v)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := v.Cell()
	if !ed25519.Verify(proxy.Public().(ed25519.PublicKey), c.Hash(), sig) {
		t.Fatal("signature is not over the voucher cell's hash")
	}
}

func TestVoucherCellRefusesBadAddresses(t *testing.T) {
	cases := []struct {
		name string
		f    func(*Voucher)
	}{
		{"no escrow", func(v *Voucher) { v.Escrow = nil }},
		{"no payout", func(v *Voucher) { v.Payout = nil }},
		{"addr_none payout", func(v *Voucher) { v.Payout = address.NewAddressNone() }},
		{"var payout", func(v *Voucher) { v.Payout = address.NewAddressVar(0, 0, 256, bytes.Repeat([]byte{1}, 32)) }},
		{"external escrow", func(v *Voucher) { v.Escrow = address.NewAddressExt(0, 8, []byte{1}) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := testVoucher()
			tc.f(&v)
			if _, err := v.Cell(); !errors.Is(err, ErrBadVoucher) {
				t.Fatalf("Cell = %v, want ErrBadVoucher", err)
			}
			if _, err := Sign(testKey(1), v); !errors.Is(err, ErrBadVoucher) {
				t.Fatalf("Sign = %v, want ErrBadVoucher", err)
			}
		})
	}
}

func TestParseVoucher(t *testing.T) {
	v := testVoucher()
	good, _ := v.Cell()
	build := func(f func(b *cell.Builder)) *cell.Cell { b := cell.BeginCell(); f(b); return b.EndCell() }
	fields := func(b *cell.Builder, tag, ver uint64) {
		b.MustStoreUInt(tag, 32).MustStoreUInt(ver, 32).MustStoreAddr(v.Escrow).MustStoreSlice(v.WorkerID[:], 256).MustStoreAddr(v.Payout)
	}
	cases := []struct {
		name string
		c    *cell.Cell
		ok   bool
	}{
		{"canonical", good, true},
		{"zero total", build(func(b *cell.Builder) { fields(b, VoucherTag, 1); b.MustStoreCoins(0) }), true},
		{"max total", build(func(b *cell.Builder) { fields(b, VoucherTag, 1); b.MustStoreCoins(MaxCumulative) }), true},
		{"total past 64 bits", build(func(b *cell.Builder) {
			fields(b, VoucherTag, 1)
			b.MustStoreUInt(9, 4).MustStoreUInt(1, 8).MustStoreUInt(0, 64)
		}), false},
		{"padded total", build(func(b *cell.Builder) {
			fields(b, VoucherTag, 1)
			b.MustStoreUInt(2, 4).MustStoreUInt(0, 8).MustStoreUInt(5, 8)
		}), false},
		{"wrong tag", build(func(b *cell.Builder) { fields(b, 0x7369676e, 1); b.MustStoreCoins(5) }), false},
		{"wrong version", build(func(b *cell.Builder) { fields(b, VoucherTag, 2); b.MustStoreCoins(5) }), false},
		{"trailing bits", build(func(b *cell.Builder) { fields(b, VoucherTag, 1); b.MustStoreCoins(5).MustStoreUInt(0, 1) }), false},
		{"a reference", build(func(b *cell.Builder) {
			fields(b, VoucherTag, 1)
			b.MustStoreCoins(5).MustStoreRef(cell.BeginCell().EndCell())
		}), false},
		{"truncated", build(func(b *cell.Builder) { b.MustStoreUInt(VoucherTag, 32).MustStoreUInt(1, 32).MustStoreAddr(v.Escrow) }), false},
		{"anycast escrow", build(func(b *cell.Builder) {
			b.MustStoreUInt(VoucherTag, 32).MustStoreUInt(1, 32)
			b.MustStoreUInt(0b11, 2).MustStoreUInt(1, 5).MustStoreUInt(1, 1).MustStoreUInt(0, 8).MustStoreSlice(v.Escrow.Data(), 256)
			b.MustStoreSlice(v.WorkerID[:], 256).MustStoreAddr(v.Payout).MustStoreCoins(5)
		}), false},
		{"empty", cell.BeginCell().EndCell(), false},
		{"nil", nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseVoucherCell(tc.c)
			if !tc.ok {
				if !errors.Is(err, ErrBadVoucher) {
					t.Fatalf("ParseVoucherCell = %+v, %v; want ErrBadVoucher", got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			again, _ := got.Cell()
			if !bytes.Equal(again.Hash(), tc.c.Hash()) {
				t.Fatal("parsed voucher does not rebuild the same cell")
			}
		})
	}
	parsed, err := ParseVoucherBOC(good.ToBOC())
	if err != nil {
		t.Fatal(err)
	}
	if !parsed.Escrow.Equals(v.Escrow) || !parsed.Payout.Equals(v.Payout) || parsed.WorkerID != v.WorkerID || parsed.Cumulative != v.Cumulative {
		t.Fatalf("BOC round trip: %+v, want %+v", parsed, v)
	}
	if _, err := ParseVoucherBOC([]byte("not a boc")); !errors.Is(err, ErrBadVoucher) {
		t.Fatalf("ParseVoucherBOC(junk) = %v", err)
	}
}

func TestClaimMessage(t *testing.T) {
	v := testVoucher()
	sig, _ := Sign(testKey(1), v)
	msg, err := ClaimMessage(v, sig)
	if err != nil {
		t.Fatal(err)
	}
	if !msg.DstAddr.Equals(v.Escrow) {
		t.Fatalf("sent to %s, want the escrow %s", msg.DstAddr, v.Escrow)
	}
	// It serializes as an external-in message and its body reads back.
	c, err := tlb.ToCell(msg)
	if err != nil {
		t.Fatal(err)
	}
	var back tlb.ExternalMessage
	if err := tlb.LoadFromCell(&back, c.BeginParse()); err != nil {
		t.Fatal(err)
	}
	gv, gsig, err := ParseClaimBody(back.Body)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(gsig, sig) || gv.Cumulative != v.Cumulative || gv.WorkerID != v.WorkerID {
		t.Fatalf("claim body round trip: %+v %x", gv, gsig)
	}
	if _, err := ClaimMessage(v, sig[:10]); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("short signature: %v", err)
	}
	if _, _, err := ParseClaimBody(cell.BeginCell().MustStoreSlice(sig, 512).EndCell()); !errors.Is(err, ErrBadVoucher) {
		t.Fatalf("claim without voucher: %v", err)
	}
}

// FuzzParseVoucherBOC: any bytes from outside either fail with
// ErrBadVoucher or decode to a voucher that rebuilds the very same cell.
func FuzzParseVoucherBOC(f *testing.F) {
	v := testVoucher()
	c, _ := v.Cell()
	f.Add(c.ToBOC())
	f.Add([]byte{})
	f.Add([]byte("b5ee9c72"))
	raw, _ := hex.DecodeString("b5ee9c724101010100020000004cacb9cd")
	f.Add(raw)
	f.Fuzz(func(t *testing.T, boc []byte) {
		got, err := ParseVoucherBOC(boc)
		if err != nil {
			if !errors.Is(err, ErrBadVoucher) {
				t.Fatalf("error %v is not ErrBadVoucher", err)
			}
			return
		}
		again, err := got.Cell()
		if err != nil {
			t.Fatalf("decoded voucher does not encode: %v", err)
		}
		root, _ := DecodeBOC(boc)
		if !bytes.Equal(again.Hash(), root.Hash()) {
			t.Fatal("decoded voucher encodes to another cell")
		}
	})
}

// FuzzParseClaimBody: the same for a whole claim body.
func FuzzParseClaimBody(f *testing.F) {
	v := testVoucher()
	sig, _ := Sign(testKey(1), v)
	body, _ := ClaimBody(v, sig)
	f.Add(body.ToBOC())
	f.Add([]byte{0})
	f.Fuzz(func(t *testing.T, boc []byte) {
		c, err := DecodeBOC(boc)
		if err != nil {
			return
		}
		got, gsig, err := ParseClaimBody(c)
		if err != nil {
			if !errors.Is(err, ErrBadVoucher) {
				t.Fatalf("error %v is not ErrBadVoucher", err)
			}
			return
		}
		again, err := ClaimBody(got, gsig)
		if err != nil || !bytes.Equal(again.Hash(), c.Hash()) {
			t.Fatalf("claim body does not round-trip: %v", err)
		}
	})
}
