package tonsandbox

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"
	"github.com/xssnick/tonutils-go/ton/wallet"

	"github.com/cocoon-desktop/cocoon-desktop/ton"
)

const oneTON = 1_000_000_000

func key(b byte) ed25519.PrivateKey {
	seed := bytes.Repeat([]byte{b}, ed25519.SeedSize)
	return ed25519.NewKeyFromSeed(seed)
}

// ownerAddr is an owner's wallet address (a V5R1 of another key) in the
// form Tonkeeper shows: non-bounceable, or bounceable when asked.
func ownerAddr(t *testing.T, b byte, network ton.Net, bounceable bool) ton.Address {
	t.Helper()
	a, err := wallet.AddressFromPubKey(key(b).Public().(ed25519.PublicKey), ton.V5R1Config(network), 0)
	if err != nil {
		t.Fatal(err)
	}
	s := a.Bounce(bounceable).Testnet(network == ton.Testnet).String()
	parsed, err := ton.ParseAddress(s, network)
	if err != nil {
		t.Fatal(err)
	}
	return parsed
}

type fixture struct {
	sb     *Sandbox
	pw     *ton.PayoutWallet
	wallet *address.Address
	ctx    context.Context
}

func newFixture(t *testing.T, network ton.Net, deploy bool, balance uint64) *fixture {
	t.Helper()
	sb := Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	pw, err := ton.NewPayoutWalletFromKey(key(1), network)
	if err != nil {
		t.Fatal(err)
	}
	var w *address.Address
	if deploy {
		w, err = sb.DeployWalletV5R1(ctx, pw.PublicKey(), network, balance)
	} else {
		w, err = sb.FundWalletV5R1(ctx, pw.PublicKey(), network, balance)
	}
	if err != nil {
		t.Fatal(err)
	}
	// The address @ton/ton computes for the key and network is the one
	// tonutils-go signs for.
	if w.StringRaw() != pw.TONAddress().StringRaw() {
		t.Fatalf("sandbox wallet %s, Go wallet %s", w.StringRaw(), pw.TONAddress().StringRaw())
	}
	return &fixture{sb: sb, pw: pw, wallet: w, ctx: ctx}
}

func (f *fixture) balance(t *testing.T, a *address.Address) uint64 {
	t.Helper()
	b, _, err := f.sb.Balance(f.ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// walletTx is the payout wallet's transaction among the result's.
func walletTx(t *testing.T, r *Result, w *address.Address) Tx {
	t.Helper()
	for _, tx := range r.Transactions {
		if tx.Account == w.StringRaw() {
			return tx
		}
	}
	t.Fatalf("no transaction on the wallet %s in %+v", w.StringRaw(), r.Transactions)
	return Tx{}
}

func TestPayoutExecutesOnWalletV5R1(t *testing.T) {
	f := newFixture(t, ton.Mainnet, true, 10*oneTON)
	to := ownerAddr(t, 2, ton.Mainnet, false) // UQ…
	const amount = 1_234_567_891
	comment := ton.PayoutComment("po-7f3a")

	seq, err := f.sb.Seqno(f.ctx, f.wallet)
	if err != nil || seq != 0 {
		t.Fatalf("seqno = %d, %v", seq, err)
	}
	ext, err := f.pw.BuildTransfer(f.ctx, f.sb, to, amount, comment)
	if err != nil {
		t.Fatal(err)
	}
	res, err := f.sb.Execute(f.ctx, ext)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Accepted {
		t.Fatalf("not accepted: exit %v: %s", res.ExitCode, res.Error)
	}
	if res.MsgHash != hex.EncodeToString(ton.ExternalMessageHash(ext)) {
		t.Fatalf("msg hash %s, Go computes %x", res.MsgHash, ton.ExternalMessageHash(ext))
	}
	tx := walletTx(t, res, f.wallet)
	if !tx.Success || tx.ExitCode == nil || *tx.ExitCode != 0 || tx.ActionResultCode == nil || *tx.ActionResultCode != 0 {
		t.Fatalf("wallet transaction failed: %+v", tx)
	}
	if len(tx.Out) != 1 {
		t.Fatalf("out messages: %+v", tx.Out)
	}
	out := tx.Out[0]
	if out.Type != "internal" || out.Dest != to.Raw || uint64(out.Value) != amount || out.Bounce || out.Comment == nil || *out.Comment != comment {
		t.Fatalf("out message %+v (comment %v), want to %s amount %d bounce=false comment %q", out, deref(out.Comment), to.Raw, amount, comment)
	}
	// The owner's account got exactly the amount (fees are paid on top by the wallet).
	if got := f.balance(t, to.TON()); got != amount {
		t.Fatalf("owner balance %d, want %d", got, amount)
	}
	walletAfter := f.balance(t, f.wallet)
	if walletAfter >= 10*oneTON-amount {
		t.Fatalf("wallet balance %d: fees not taken on top of the amount", walletAfter)
	}
	t.Logf("wallet paid %d nanoTON in fees", 10*oneTON-amount-walletAfter)
	if seq, _ := f.sb.Seqno(f.ctx, f.wallet); seq != 1 {
		t.Fatalf("seqno after payout = %d, want 1", seq)
	}

	// Replay: the same signed message again is refused, nothing moves.
	txsBefore, _ := f.sb.Transactions(f.ctx, f.wallet)
	_, err = f.sb.SendExternal(f.ctx, ext)
	if !errors.Is(err, ton.ErrMessageRejected) || !strings.Contains(err.Error(), "exit code 133") {
		t.Fatalf("replay: err = %v, want ErrMessageRejected with exit code 133 (invalid seqno)", err)
	}
	t.Logf("replay refused: %v", err)
	if got := f.balance(t, f.wallet); got != walletAfter {
		t.Fatalf("wallet balance changed on replay: %d -> %d", walletAfter, got)
	}
	if got := f.balance(t, to.TON()); got != amount {
		t.Fatalf("owner balance changed on replay: %d", got)
	}
	if txs, _ := f.sb.Transactions(f.ctx, f.wallet); len(txs) != len(txsBefore) {
		t.Fatalf("replay made a transaction: %d -> %d", len(txsBefore), len(txs))
	}
	if seq, _ := f.sb.Seqno(f.ctx, f.wallet); seq != 1 {
		t.Fatalf("seqno after replay = %d", seq)
	}

	// FindTransfer finds it by destination and comment, and only that.
	tr, ok, err := f.sb.FindTransfer(f.ctx, f.wallet, to.TON(), comment, time.Now().Add(-time.Minute))
	if err != nil || !ok {
		t.Fatalf("FindTransfer: %v %v", ok, err)
	}
	if tr.Amount != amount || tr.Bounce || tr.Comment != comment || tr.To.StringRaw() != to.Raw || tr.Aborted || len(tr.TxHash) != 32 || tr.LT == 0 {
		t.Fatalf("transfer %+v", tr)
	}
	if _, ok, _ := f.sb.FindTransfer(f.ctx, f.wallet, to.TON(), ton.PayoutComment("other"), time.Time{}); ok {
		t.Fatal("found a transfer with another comment")
	}
	other := ownerAddr(t, 3, ton.Mainnet, false)
	if _, ok, _ := f.sb.FindTransfer(f.ctx, f.wallet, other.TON(), comment, time.Time{}); ok {
		t.Fatal("found a transfer to another address")
	}
	if _, ok, _ := f.sb.FindTransfer(f.ctx, f.wallet, to.TON(), comment, time.Now().Add(time.Hour)); ok {
		t.Fatal("found a transfer older than since")
	}
}

func TestPayoutWrongSeqnoRejected(t *testing.T) {
	f := newFixture(t, ton.Mainnet, true, 10*oneTON)
	to := ownerAddr(t, 2, ton.Mainnet, false)
	before := f.balance(t, f.wallet)
	for _, seq := range []uint32{1, 5} { // stored seqno is 0
		ext, err := f.pw.BuildTransfer(f.ctx, ton.FixedSeqno(seq), to, oneTON, ton.PayoutComment("x"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.sb.SendExternal(f.ctx, ext); !errors.Is(err, ton.ErrMessageRejected) || !strings.Contains(err.Error(), "exit code 133") {
			t.Fatalf("seqno %d: err = %v, want ErrMessageRejected with exit code 133 (invalid seqno)", seq, err)
		} else {
			t.Logf("seqno %d refused: %v", seq, err)
		}
	}
	if got := f.balance(t, f.wallet); got != before {
		t.Fatalf("balance changed: %d -> %d", before, got)
	}
	// An old seqno after the wallet moved on is refused too.
	if _, err := f.pw.Pay(f.ctx, f.sb, to, oneTON, ton.PayoutComment("a")); err != nil {
		t.Fatal(err)
	}
	ext, _ := f.pw.BuildTransfer(f.ctx, ton.FixedSeqno(0), to, oneTON, ton.PayoutComment("b"))
	if _, err := f.sb.SendExternal(f.ctx, ext); !errors.Is(err, ton.ErrMessageRejected) {
		t.Fatalf("old seqno: err = %v", err)
	}
}

func TestPayoutExpiredRejected(t *testing.T) {
	f := newFixture(t, ton.Mainnet, true, 10*oneTON)
	f.pw.TTL = time.Minute
	to := ownerAddr(t, 2, ton.Mainnet, false)
	ext, err := f.pw.BuildTransfer(f.ctx, f.sb, to, oneTON, ton.PayoutComment("late"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.sb.SetNow(f.ctx, time.Now().Add(5*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.sb.SendExternal(f.ctx, ext); !errors.Is(err, ton.ErrMessageRejected) || !strings.Contains(err.Error(), "exit code 136") {
		t.Fatalf("expired: err = %v, want ErrMessageRejected with exit code 136 (expired)", err)
	} else {
		t.Logf("expired message refused: %v", err)
	}
}

func TestPayoutBounceableDestination(t *testing.T) {
	f := newFixture(t, ton.Mainnet, true, 10*oneTON)
	to := ownerAddr(t, 4, ton.Mainnet, true) // EQ… of a wallet never deployed
	res, err := f.sb.Execute(f.ctx, mustBuild(t, f, to, 2*oneTON, "eq"))
	if err != nil || !res.Accepted {
		t.Fatalf("%v %+v", err, res)
	}
	out := walletTx(t, res, f.wallet).Out[0]
	if !out.Bounce || uint64(out.Value) != 2*oneTON || out.Dest != to.Raw {
		t.Fatalf("out %+v", out)
	}
	// As Address.Warnings says: to an uninitialised wallet it bounces back.
	bounced := false
	for _, tx := range res.Transactions {
		if tx.Account == f.wallet.StringRaw() && tx.In != nil && tx.In.Bounced {
			bounced = true
		}
	}
	if !bounced {
		t.Fatalf("expected the transfer to bounce back: %+v", res.Transactions)
	}
	if got := f.balance(t, to.TON()); got != 0 {
		t.Fatalf("uninitialised owner kept %d", got)
	}
}

func TestPayoutDeploysUninitialisedWallet(t *testing.T) {
	f := newFixture(t, ton.Testnet, false, 5*oneTON)
	if _, status, _ := f.sb.Balance(f.ctx, f.wallet); status != "uninit" {
		t.Fatalf("status %s, want uninit", status)
	}
	to := ownerAddr(t, 2, ton.Testnet, false) // 0Q…
	ext := mustBuild(t, f, to, oneTON/2, "first")
	if ext.StateInit == nil {
		t.Fatal("first payout has no state init")
	}
	res, err := f.sb.Execute(f.ctx, ext)
	if err != nil || !res.Accepted {
		t.Fatalf("%v %+v", err, res)
	}
	if tx := walletTx(t, res, f.wallet); !tx.Success || tx.EndStatus != "active" || len(tx.Out) != 1 || uint64(tx.Out[0].Value) != oneTON/2 {
		t.Fatalf("tx %+v", tx)
	}
	ext2 := mustBuild(t, f, to, oneTON/4, "second")
	if ext2.StateInit != nil {
		t.Fatal("second payout carries a state init")
	}
	if _, err := f.sb.SendExternal(f.ctx, ext2); err != nil {
		t.Fatal(err)
	}
	// The owner's account is uninitialised, so each message it receives
	// also pays its storage rent since the last one: a nanoTON or so,
	// depending on the seconds between them. What arrived is exact; the
	// balance is that less the fees its transactions paid.
	txs, err := f.sb.Transactions(f.ctx, to.TON())
	if err != nil {
		t.Fatal(err)
	}
	var received, fees uint64
	for _, tx := range txs {
		if tx.In != nil {
			received += uint64(tx.In.Value)
		}
		fees += uint64(tx.TotalFees)
	}
	if received != oneTON/2+oneTON/4 {
		t.Fatalf("owner received %d in %d transactions, want %d", received, len(txs), oneTON/2+oneTON/4)
	}
	if fees > 1000 {
		t.Fatalf("owner's transactions paid %d nanoTON of fees, want a few (storage rent)", fees)
	}
	if got := f.balance(t, to.TON()); got != received-fees {
		t.Fatalf("owner has %d, want %d received less %d fees", got, received, fees)
	}
	t.Logf("owner received %d nanoTON in %d transactions, paid %d in fees", received, len(txs), fees)
	// A mainnet-signed message for the same key targets another address
	// (the network id is part of the wallet id), so it cannot touch this one.
	main, _ := ton.NewPayoutWalletFromKey(key(1), ton.Mainnet)
	if main.TONAddress().Equals(f.wallet) {
		t.Fatal("mainnet and testnet wallets share an address")
	}
}

func TestSandboxUnknownCommandAndClosed(t *testing.T) {
	sb := Start(t)
	ctx := context.Background()
	if err := sb.call(ctx, "nope", nil, nil); err == nil {
		t.Fatal("unknown command accepted")
	}
	if _, err := sb.Seqno(ctx, address.MustParseRawAddr("0:"+hex.EncodeToString(make([]byte, 32)))); err != nil {
		t.Fatalf("seqno of a missing account: %v", err)
	}
	_ = sb.Close()
	if _, err := sb.Seqno(ctx, address.MustParseRawAddr("0:"+hex.EncodeToString(make([]byte, 32)))); !errors.Is(err, ton.ErrChainUnreachable) {
		t.Fatalf("closed sandbox: %v", err)
	}
}

func mustBuild(t *testing.T, f *fixture, to ton.Address, amount uint64, id string) *tlb.ExternalMessage {
	t.Helper()
	ext, err := f.pw.BuildTransfer(f.ctx, f.sb, to, amount, ton.PayoutComment(id))
	if err != nil {
		t.Fatal(err)
	}
	return ext
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// A comment longer than one cell (the longest ledger payout id) reads
// back whole from the contract's out message.
func TestPayoutLongCommentOnChain(t *testing.T) {
	f := newFixture(t, ton.Mainnet, true, 10*oneTON)
	to := ownerAddr(t, 2, ton.Mainnet, false)
	comment := ton.PayoutComment(strings.Repeat("0123456789abcdef", 8))
	if _, err := f.pw.Pay(f.ctx, f.sb, to, oneTON, comment); err != nil {
		t.Fatal(err)
	}
	tr, ok, err := f.sb.FindTransfer(f.ctx, f.wallet, to.TON(), comment, time.Time{})
	if err != nil || !ok || tr.Comment != comment || tr.Amount != oneTON {
		t.Fatalf("%+v %v %v", tr, ok, err)
	}
}
