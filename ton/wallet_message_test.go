package ton

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"testing"

	"github.com/xssnick/tonutils-go/address"
)

func TestBuildContractMessageRefusesBadInput(t *testing.T) {
	w, err := NewPayoutWalletFromKey(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{3}, 32)), Mainnet)
	if err != nil {
		t.Fatal(err)
	}
	to := address.NewAddress(0, 0, bytes.Repeat([]byte{9}, 32))
	cases := []struct {
		name   string
		m      ContractMessage
		seqnos SeqnoSource
		want   error
	}{
		{"no destination", ContractMessage{Amount: 1}, FixedSeqno(1), nil},
		{"addr_none destination", ContractMessage{To: address.NewAddressNone(), Amount: 1}, FixedSeqno(1), nil},
		{"zero amount", ContractMessage{To: to}, FixedSeqno(1), ErrPayoutAmount},
		{"no seqno source", ContractMessage{To: to, Amount: 1}, nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := w.BuildContractMessage(context.Background(), tc.seqnos, tc.m)
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("BuildContractMessage = %v, want an error (%v)", err, tc.want)
			}
		})
	}
	ext, err := w.BuildContractMessage(context.Background(), FixedSeqno(0), ContractMessage{To: to, Amount: 5})
	if err != nil {
		t.Fatal(err)
	}
	if ext.StateInit == nil || !ext.DstAddr.Equals(w.TONAddress()) {
		t.Fatal("seqno 0: the wallet's own state init must travel with the first message")
	}
}
