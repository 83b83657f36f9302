package network

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"testing"

	"github.com/cocoon-desktop/cocoon-desktop/ton"
	"github.com/cocoon-desktop/cocoon-desktop/ton/escrow"
)

// TestDocVoucherVerifies: the voucher example in docs/protocol.md is
// signed by the documented key over the escrow's cell, and a changed field
// does not verify.
func TestDocVoucherVerifies(t *testing.T) {
	pub := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, 32)).Public().(ed25519.PublicKey)
	var v *Voucher
	for _, ex := range docExamples(t) {
		env, payload, err := Decode([]byte(ex))
		if err == nil && env.Type == TypeVoucher {
			v = payload.(*Voucher)
		}
	}
	if v == nil {
		t.Fatal("docs/protocol.md has no voucher example")
	}
	cell := func(m Voucher) escrow.Voucher {
		e, err := ton.ParseAddress(m.Escrow, ton.Mainnet)
		if err != nil {
			t.Fatal(err)
		}
		p, err := ton.ParseAddress(m.Payout, ton.Mainnet)
		if err != nil {
			t.Fatal(err)
		}
		ev := escrow.Voucher{Escrow: e.TON(), Payout: p.TON(), Cumulative: uint64(m.Cumulative)}
		id, _ := hex.DecodeString(m.WorkerID)
		copy(ev.WorkerID[:], id)
		return ev
	}
	if err := escrow.Verify(pub, cell(*v), v.Signature); err != nil {
		t.Fatalf("the documented voucher does not verify: %v", err)
	}
	if v.Earned-v.Held != v.Cumulative {
		t.Errorf("earned − held ≠ cumulative in the example")
	}
	changed := *v
	changed.Cumulative++
	if escrow.Verify(pub, cell(changed), v.Signature) == nil {
		t.Fatal("a voucher with a changed total verified")
	}
}
