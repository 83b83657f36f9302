package escrow_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tvm/cell"

	"github.com/cocoon-desktop/cocoon-desktop/internal/tonsandbox"
	"github.com/cocoon-desktop/cocoon-desktop/ton"
	"github.com/cocoon-desktop/cocoon-desktop/ton/escrow"
	"github.com/cocoon-desktop/cocoon-desktop/ton/escrow/escrowtest"
)

const (
	oneTON   = 1_000_000_000
	claimFee = 10_000_000 // 0.01 TON
	delay    = 7 * 24 * time.Hour
)

func key(b byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{b}, ed25519.SeedSize))
}

func workerID(b byte) [32]byte {
	var w [32]byte
	copy(w[:], key(b).Public().(ed25519.PublicKey))
	return w
}

// owner is a fresh owner address (no wallet deployed yet, as a new
// Tonkeeper address), non-bounceable.
func owner(b byte) *address.Address {
	return address.NewAddress(0, 0, bytes.Repeat([]byte{b}, 32)).Bounce(false)
}

type fixture struct {
	ctx context.Context
	sb  *tonsandbox.Sandbox
	e   *escrowtest.Escrow
}

func newFixture(t *testing.T, balance uint64) *fixture {
	t.Helper()
	sb := tonsandbox.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	e, err := escrowtest.Deploy(ctx, sb, key(1), delay, claimFee, balance)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{ctx: ctx, sb: sb, e: e}
}

func (f *fixture) balance(t *testing.T, a *address.Address) uint64 {
	t.Helper()
	b, _, err := f.sb.Balance(f.ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// received is what the escrow's payments to a brought in: how many and
// their sum, from the owner account's own transactions (its balance would
// also lose storage rent between them).
func (f *fixture) received(t *testing.T, a *address.Address) (n int, sum uint64) {
	t.Helper()
	txs, err := f.sb.Transactions(f.ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	for _, tx := range txs {
		if tx.In != nil && tx.In.Type == "internal" && tx.In.Src == f.e.Addr.StringRaw() {
			n++
			sum += uint64(tx.In.Value)
		}
	}
	return n, sum
}

func (f *fixture) paid(t *testing.T, w [32]byte) uint64 {
	t.Helper()
	n, err := escrow.PaidTotal(f.ctx, f.sb, f.e.Addr, w)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// claim expects the claim to be accepted and pay; it returns the escrow's
// transaction.
func (f *fixture) claim(t *testing.T, v escrow.Voucher) *tonsandbox.Tx {
	t.Helper()
	r, err := f.e.Claim(f.ctx, v)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Accepted {
		t.Fatalf("claim of %d refused: exit %v %s", v.Cumulative, deref(r.ExitCode), r.Error)
	}
	tx := escrowtest.TxOn(r.Transactions, f.e.Addr)
	if tx == nil || !tx.Success {
		t.Fatalf("claim transaction failed: %+v", tx)
	}
	// An external message may spend at most 10,000 gas unaccepted.
	if r.GasBeforeAccept == nil || *r.GasBeforeAccept <= 0 || *r.GasBeforeAccept >= 10_000 {
		t.Fatalf("gas before accept %v, want within the 10,000 credit", r.GasBeforeAccept)
	}
	return tx
}

// refused expects the claim to be refused before accept_message with the
// exit code: nothing committed, the escrow's balance and the worker's paid
// total unchanged.
func (f *fixture) refused(t *testing.T, v escrow.Voucher, sig []byte, exit int) {
	t.Helper()
	before := f.balance(t, f.e.Addr)
	paidBefore := f.paid(t, v.WorkerID)
	txsBefore, err := f.sb.Transactions(f.ctx, f.e.Addr)
	if err != nil {
		t.Fatal(err)
	}
	if sig == nil {
		if sig, err = escrow.Sign(f.e.ProxyKey, v); err != nil {
			t.Fatal(err)
		}
	}
	r, err := f.e.ClaimSigned(f.ctx, v, sig)
	if err != nil {
		t.Fatal(err)
	}
	if r.Accepted {
		t.Fatalf("claim accepted (%d transactions), want refused with exit %d", len(r.Transactions), exit)
	}
	if got := deref(r.ExitCode); got != exit {
		t.Fatalf("refused with exit %d (%s), want %d", got, r.Error, exit)
	}
	if r.GasBeforeAccept == nil || *r.GasBeforeAccept >= 10_000 {
		t.Fatalf("gas before the refusal %v, want within the 10,000 credit", r.GasBeforeAccept)
	}
	if after := f.balance(t, f.e.Addr); after != before {
		t.Fatalf("a refused claim cost the escrow %d nanoTON", int64(before)-int64(after))
	}
	if p := f.paid(t, v.WorkerID); p != paidBefore {
		t.Fatalf("paid total moved %d -> %d", paidBefore, p)
	}
	txsAfter, _ := f.sb.Transactions(f.ctx, f.e.Addr)
	if len(txsAfter) != len(txsBefore) {
		t.Fatalf("a refused claim left %d transactions", len(txsAfter)-len(txsBefore))
	}
}

func deref(p *int) int {
	if p == nil {
		return -1
	}
	return *p
}

// The checked-in BOC is what the checked-in source compiles to with the
// pinned compiler.
func TestCodeMatchesSource(t *testing.T) {
	tonsandbox.RequireNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := tonsandbox.CompileTolk(ctx, "contract/escrow.tolk")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(c.Code.Hash(), escrow.Code().Hash()) {
		t.Fatalf("contract/escrow.tolk compiles (tolk %s) to code hash %s, escrow.boc is %x: recompile with `node internal/tonsandbox/node/tolk.mjs` (docs/settlement.md)",
			c.TolkVersion, c.CodeHashHex, escrow.Code().Hash())
	}
	if !strings.EqualFold(c.CodeHashHex, escrow.CodeHash) {
		t.Fatalf("escrow.CodeHash %s, compiled %s", escrow.CodeHash, c.CodeHashHex)
	}
}

func TestClaimPaysDifferenceMinusFee(t *testing.T) {
	f := newFixture(t, 10*oneTON)
	w, to := workerID(7), owner(0xaa)
	steps := []struct {
		name  string
		total uint64
		want  uint64
	}{
		{"first claim", oneTON, oneTON - claimFee},
		{"the next total", 2_500_000_000, 1_500_000_000 - claimFee},
		{"just above the fee", 2_500_000_000 + claimFee + 1, 1},
	}
	var received uint64
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			before := f.balance(t, f.e.Addr)
			tx := f.claim(t, f.e.Voucher(w, to, s.total))
			if got := escrowtest.PaidTo(tx, to); got != s.want {
				t.Fatalf("sent %d, want exactly %d", got, s.want)
			}
			received += s.want
			if _, got := f.received(t, to); got != received {
				t.Fatalf("owner received %d in all, want %d", got, received)
			}
			if got := f.paid(t, w); got != s.total {
				t.Fatalf("paid_total %d, want %d", got, s.total)
			}
			// The fee pays for the claim: the escrow loses no more than
			// the payout plus the fee it kept.
			cost := before - f.balance(t, f.e.Addr) - s.want
			if cost > claimFee {
				t.Fatalf("the claim cost the escrow %d nanoTON besides the payout, more than the %d fee", cost, claimFee)
			}
			t.Logf("claim: gas %d, transaction fees %d, forward fees %d, escrow's cost %d nanoTON", uint64(*tx.GasUsed), uint64(tx.TotalFees), uint64(deref64(tx.FwdFees)), cost)
			for _, m := range tx.Out {
				if m.Bounce {
					t.Fatal("payout is bounceable: a fresh owner address would send it back")
				}
			}
		})
	}
}

func deref64(p *tonsandbox.Nano) tonsandbox.Nano {
	if p == nil {
		return 0
	}
	return *p
}

func TestStaleVouchersPayNothing(t *testing.T) {
	f := newFixture(t, 10*oneTON)
	w, to := workerID(7), owner(0xaa)
	older := f.e.Voucher(w, to, oneTON)
	newer := f.e.Voucher(w, to, 2*oneTON)
	f.claim(t, newer)
	t.Run("the same voucher again", func(t *testing.T) { f.refused(t, newer, nil, escrow.ExitNothingToClaim) })
	t.Run("an older voucher after a newer one", func(t *testing.T) { f.refused(t, older, nil, escrow.ExitNothingToClaim) })
	t.Run("a total not above paid + fee", func(t *testing.T) {
		f.refused(t, f.e.Voucher(w, to, 2*oneTON+claimFee), nil, escrow.ExitNothingToClaim)
	})
	if n, got := f.received(t, to); n != 1 || got != 2*oneTON-claimFee {
		t.Fatalf("owner received %d payments, %d in all; want one of %d", n, got, 2*oneTON-claimFee)
	}
	// Another worker's claim is its own channel.
	f.claim(t, f.e.Voucher(workerID(8), owner(0xbb), oneTON))
	if n, got := f.received(t, owner(0xbb)); n != 1 || got != oneTON-claimFee {
		t.Fatalf("second worker's owner received %d payments, %d in all", n, got)
	}
}

func TestForgedVouchersRefusedBeforeAccept(t *testing.T) {
	f := newFixture(t, 10*oneTON)
	w, to := workerID(7), owner(0xaa)
	good := f.e.Voucher(w, to, oneTON)
	goodSig, err := escrow.Sign(f.e.ProxyKey, good)
	if err != nil {
		t.Fatal(err)
	}
	changed := func(mod func(*escrow.Voucher)) escrow.Voucher { v := good; mod(&v); return v }
	forged, _ := escrow.Sign(key(2), good)
	cases := []struct {
		name string
		v    escrow.Voucher
		sig  []byte // nil: signed by the proxy key
		exit int
	}{
		{"signed by another key", good, forged, escrow.ExitBadSignature},
		{"a flipped signature bit", good, append(append([]byte{}, goodSig[:10]...), append([]byte{goodSig[10] ^ 4}, goodSig[11:]...)...), escrow.ExitBadSignature},
		{"another worker id", changed(func(v *escrow.Voucher) { v.WorkerID = workerID(8) }), goodSig, escrow.ExitBadSignature},
		{"a changed payout address", changed(func(v *escrow.Voucher) { v.Payout = owner(0xcc) }), goodSig, escrow.ExitBadSignature},
		{"a raised total", changed(func(v *escrow.Voucher) { v.Cumulative = 5 * oneTON }), goodSig, escrow.ExitBadSignature},
		{"signed for another escrow", changed(func(v *escrow.Voucher) { v.Escrow = owner(0xe5) }), nil, escrow.ExitWrongEscrow},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { f.refused(t, tc.v, tc.sig, tc.exit) })
	}
	t.Run("not a claim at all", func(t *testing.T) {
		before := f.balance(t, f.e.Addr)
		for _, body := range []*cell.Cell{
			cell.BeginCell().EndCell(),
			cell.BeginCell().MustStoreSlice(goodSig, 512).EndCell(),
			cell.BeginCell().MustStoreSlice(goodSig, 512).MustStoreRef(cell.BeginCell().MustStoreUInt(1, 8).EndCell()).EndCell(),
		} {
			msg, _ := escrow.ClaimMessage(good, goodSig)
			msg.Body, msg.DstAddr = body, f.e.Addr
			r, err := f.sb.Execute(f.ctx, msg)
			if err != nil {
				t.Fatal(err)
			}
			if r.Accepted {
				t.Fatalf("junk body accepted")
			}
		}
		if after := f.balance(t, f.e.Addr); after != before {
			t.Fatalf("junk cost the escrow %d", before-after)
		}
	})
	// The genuine voucher still pays after all that.
	tx := f.claim(t, good)
	if got := escrowtest.PaidTo(tx, to); got != oneTON-claimFee {
		t.Fatalf("paid %d", got)
	}
}

func TestUnderfundedEscrowPaysAfterTopUp(t *testing.T) {
	f := newFixture(t, oneTON/2)
	w, to := workerID(7), owner(0xaa)
	v := f.e.Voucher(w, to, 2*oneTON)
	f.refused(t, v, nil, escrow.ExitUnderfunded)
	// Plain transfers top it up: an empty body and a text comment.
	for _, body := range []*cell.Cell{nil, cell.BeginCell().MustStoreUInt(0, 32).MustStoreStringSnake("top-up").EndCell()} {
		tx, _, err := f.e.From(f.ctx, "stranger", body, oneTON)
		if err != nil {
			t.Fatal(err)
		}
		if !tx.Success {
			t.Fatalf("top-up refused: exit %d", deref(tx.ExitCode))
		}
	}
	tx := f.claim(t, v)
	if got := escrowtest.PaidTo(tx, to); got != 2*oneTON-claimFee {
		t.Fatalf("paid %d after the top-up, want %d", got, 2*oneTON-claimFee)
	}
	// The escrow kept its reserve.
	if b := f.balance(t, f.e.Addr); b < escrow.MinReserve {
		t.Fatalf("escrow left with %d, under the reserve %d", b, escrow.MinReserve)
	}
}

func TestOperatorWithdrawalTimeLock(t *testing.T) {
	f := newFixture(t, 10*oneTON)
	// The sandbox refuses to run an account backwards in time: start ahead.
	t0 := time.Now().Add(time.Hour).Truncate(time.Second).UTC()
	at := func(tm time.Time) {
		if err := f.sb.SetNow(f.ctx, tm); err != nil {
			t.Fatal(err)
		}
	}
	op := f.e.Params.Operator
	// send runs an operator-type message and returns the escrow's
	// transaction; wantExit 0 means it must succeed.
	send := func(t *testing.T, from string, body *cell.Cell, wantExit int) *tonsandbox.Tx {
		t.Helper()
		tx, _, err := f.e.From(f.ctx, from, body, oneTON/10)
		if err != nil {
			t.Fatal(err)
		}
		if got := deref(tx.ExitCode); got != wantExit {
			t.Fatalf("exit %d, want %d", got, wantExit)
		}
		if wantExit != 0 && (tx.Success || escrowtest.PaidTo(tx, op) > oneTON/10) {
			t.Fatalf("a refused operator message paid the operator %d", escrowtest.PaidTo(tx, op))
		}
		return tx
	}
	at(t0)
	t.Run("only the operator announces", func(t *testing.T) {
		send(t, "stranger", escrow.AnnounceWithdrawalBody(3*oneTON, 1), escrow.ExitNotOperator)
	})
	t.Run("nothing to execute before an announcement", func(t *testing.T) {
		send(t, escrowtest.OperatorName, escrow.ExecuteWithdrawalBody(2), escrow.ExitNoWithdrawal)
	})
	send(t, escrowtest.OperatorName, escrow.AnnounceWithdrawalBody(3*oneTON, 3), 0)
	st, err := escrow.ReadState(f.ctx, f.sb, f.e.Addr)
	if err != nil {
		t.Fatal(err)
	}
	if st.PendingWithdrawal != 3*oneTON || !st.WithdrawAfter.Equal(t0.Add(delay)) {
		t.Fatalf("pending %d after %s, want %d after %s", st.PendingWithdrawal, st.WithdrawAfter, 3*oneTON, t0.Add(delay))
	}
	t.Run("not before the delay", func(t *testing.T) {
		send(t, escrowtest.OperatorName, escrow.ExecuteWithdrawalBody(4), escrow.ExitWithdrawalLocked)
		at(t0.Add(delay - time.Second))
		send(t, escrowtest.OperatorName, escrow.ExecuteWithdrawalBody(5), escrow.ExitWithdrawalLocked)
	})
	t.Run("workers claim during the delay", func(t *testing.T) {
		tx := f.claim(t, f.e.Voucher(workerID(7), owner(0xaa), 2*oneTON))
		if got := escrowtest.PaidTo(tx, owner(0xaa)); got != 2*oneTON-claimFee {
			t.Fatalf("paid %d", got)
		}
	})
	t.Run("only the operator executes", func(t *testing.T) {
		at(t0.Add(delay))
		send(t, "stranger", escrow.ExecuteWithdrawalBody(6), escrow.ExitNotOperator)
		send(t, "stranger", escrow.CancelWithdrawalBody(6), escrow.ExitNotOperator)
	})
	t.Run("executes after the delay", func(t *testing.T) {
		tx := send(t, escrowtest.OperatorName, escrow.ExecuteWithdrawalBody(7), 0)
		if got := escrowtest.PaidTo(tx, op); got != 3*oneTON {
			t.Fatalf("operator got %d, want %d", got, 3*oneTON)
		}
		send(t, escrowtest.OperatorName, escrow.ExecuteWithdrawalBody(8), escrow.ExitNoWithdrawal)
	})
	t.Run("cancelled", func(t *testing.T) {
		send(t, escrowtest.OperatorName, escrow.AnnounceWithdrawalBody(oneTON, 9), 0)
		send(t, escrowtest.OperatorName, escrow.CancelWithdrawalBody(10), 0)
		at(t0.Add(3 * delay))
		send(t, escrowtest.OperatorName, escrow.ExecuteWithdrawalBody(11), escrow.ExitNoWithdrawal)
	})
	t.Run("capped at what is above the reserve", func(t *testing.T) {
		at(t0.Add(4 * delay))
		send(t, escrowtest.OperatorName, escrow.AnnounceWithdrawalBody(1000*oneTON, 12), 0)
		at(t0.Add(5 * delay))
		send(t, escrowtest.OperatorName, escrow.ExecuteWithdrawalBody(13), 0)
		if b := f.balance(t, f.e.Addr); b < escrow.MinReserve || b > escrow.MinReserve+claimFee+oneTON/10 {
			t.Fatalf("escrow left with %d after withdrawing everything", b)
		}
		// A worker's claim is now refused cleanly, not lost.
		f.refused(t, f.e.Voucher(workerID(7), owner(0xaa), 3*oneTON), nil, escrow.ExitUnderfunded)
	})
	t.Run("unknown operations bounce", func(t *testing.T) {
		send(t, escrowtest.OperatorName, cell.BeginCell().MustStoreUInt(0x12345678, 32).MustStoreUInt(0, 64).EndCell(), escrow.ExitUnknownOp)
	})
}

func TestReadState(t *testing.T) {
	f := newFixture(t, 5*oneTON)
	st, err := escrow.ReadState(f.ctx, f.sb, f.e.Addr)
	if err != nil {
		t.Fatal(err)
	}
	bal := f.balance(t, f.e.Addr)
	if !bytes.Equal(st.ProxyKey, f.e.Params.ProxyKey) || !st.Operator.Equals(f.e.Params.Operator) ||
		st.Balance != bal || st.PendingWithdrawal != 0 || !st.WithdrawAfter.IsZero() ||
		st.WithdrawDelay != delay || st.ClaimFee != claimFee {
		t.Fatalf("state %+v (balance %d)", st, bal)
	}
	if n := f.paid(t, workerID(9)); n != 0 {
		t.Fatalf("paid_total of an unknown worker %d", n)
	}
	// Each single get-method agrees.
	for _, m := range []struct {
		name string
		want uint64
	}{{"claim_fee", claimFee}, {"withdraw_delay", uint64(delay / time.Second)}, {"escrow_balance", bal}} {
		res, err := f.sb.RunGetMethod(f.ctx, f.e.Addr, m.name)
		if err != nil {
			t.Fatal(err)
		}
		if len(res) != 1 || res[0].(interface{ Uint64() uint64 }).Uint64() != m.want {
			t.Fatalf("%s = %v, want %d", m.name, res, m.want)
		}
	}
	var ge *tonsandbox.GetMethodError
	if _, err := escrow.ReadState(f.ctx, f.sb, owner(0x01)); err == nil {
		t.Fatal("state of an address with no contract")
	} else if !errors.As(err, &ge) && !strings.Contains(err.Error(), "exit") {
		t.Logf("no contract: %v", err)
	}
}

// Totals already in storage (as after many claims) are what the contract
// reads: paid_total answers them and a claim pays only the difference.
func TestPaidTotalsFromStorage(t *testing.T) {
	sb := tonsandbox.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	paid := map[[32]byte]uint64{workerID(1): 1, workerID(2): oneTON, workerID(3): escrow.MaxCumulative}
	for i := 0; i < 200; i++ {
		var w [32]byte
		w[0], w[1] = byte(i), 0x5a
		paid[w] = uint64(i) * 1000
	}
	e, err := escrowtest.DeployWithPaid(ctx, sb, key(1), delay, claimFee, 10*oneTON, paid)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{ctx: ctx, sb: sb, e: e}
	for w, total := range paid {
		if got := f.paid(t, w); got != total {
			t.Fatalf("paid_total %x = %d, want %d", w[:4], got, total)
		}
	}
	tx := f.claim(t, e.Voucher(workerID(2), owner(0xaa), 3*oneTON))
	if got := escrowtest.PaidTo(tx, owner(0xaa)); got != 2*oneTON-claimFee {
		t.Fatalf("paid %d, want the difference minus the fee %d", got, 2*oneTON-claimFee)
	}
	f.refused(t, e.Voucher(workerID(3), owner(0xaa), escrow.MaxCumulative), nil, escrow.ExitNothingToClaim)
}

var _ escrow.Getter = (*tonsandbox.Sandbox)(nil)

// Through the ton.Chain interface (as the app sends claims), a refused
// claim is ton.ErrMessageRejected carrying the contract's exit code.
func TestRefusedClaimSaysWhy(t *testing.T) {
	f := newFixture(t, 10*oneTON)
	v := f.e.Voucher(workerID(7), owner(0xaa), oneTON)
	sig, err := escrow.Sign(f.e.ProxyKey, v)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := escrow.ClaimMessage(v, sig)
	if err != nil {
		t.Fatal(err)
	}
	hash, err := f.sb.SendExternal(f.ctx, msg)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(hash, ton.ExternalMessageHash(msg)) {
		t.Fatalf("message hash %x, want %x", hash, ton.ExternalMessageHash(msg))
	}
	_, err = f.sb.SendExternal(f.ctx, msg)
	if !errors.Is(err, ton.ErrMessageRejected) {
		t.Fatalf("replay: %v, want ErrMessageRejected", err)
	}
	if code, ok := escrow.RefusalExitCode(err); !ok || code != escrow.ExitNothingToClaim {
		t.Fatalf("exit code %d (%v) in %q", code, ok, err)
	}
	if !strings.Contains(escrow.ExitCodeText(escrow.ExitNothingToClaim), "already paid") {
		t.Fatal(escrow.ExitCodeText(escrow.ExitNothingToClaim))
	}
}

// An escrow deployed with any parameters answers to its own operator only.
func TestDeployParams(t *testing.T) {
	sb := tonsandbox.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ops, err := sb.Treasury(ctx, "proxy-operator")
	if err != nil {
		t.Fatal(err)
	}
	p := escrow.Params{ProxyKey: key(3).Public().(ed25519.PublicKey), Operator: ops, WithdrawDelay: time.Hour, ClaimFee: escrow.DefaultClaimFee}
	if _, err := escrowtest.DeployParams(ctx, sb, key(4), p, oneTON); err == nil {
		t.Fatal("deployed with a proxy key that does not match the parameters")
	}
	e, err := escrowtest.DeployParams(ctx, sb, key(3), p, 2*oneTON)
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := escrow.AddressOf(p, false); !e.Addr.Equals(want) {
		t.Fatalf("deployed at %s, AddressOf %s", e.Addr, want)
	}
	tx, _, err := e.From(ctx, escrowtest.OperatorName, escrow.AnnounceWithdrawalBody(oneTON, 1), oneTON/10)
	if err != nil {
		t.Fatal(err)
	}
	if deref(tx.ExitCode) != escrow.ExitNotOperator {
		t.Fatalf("another escrow's operator: exit %d", deref(tx.ExitCode))
	}
	tx, _, err = e.From(ctx, "proxy-operator", escrow.AnnounceWithdrawalBody(oneTON, 2), oneTON/10)
	if err != nil {
		t.Fatal(err)
	}
	if !tx.Success {
		t.Fatalf("its operator's announcement: exit %d", deref(tx.ExitCode))
	}
	st, err := escrow.ReadState(ctx, sb, e.Addr)
	if err != nil {
		t.Fatal(err)
	}
	if st.PendingWithdrawal != oneTON || st.WithdrawDelay != time.Hour || !st.Operator.Equals(ops) {
		t.Fatalf("state %+v", st)
	}
}

// The operator's side end to end on real contracts: the operator's wallet
// V5R1 (signed in Go) deploys the escrow with its state init, announces a
// withdrawal, and takes it after the delay.
func TestOperatorWalletDeploysAndWithdraws(t *testing.T) {
	sb := tonsandbox.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	opWallet, err := ton.NewPayoutWalletFromKey(key(5), ton.Mainnet)
	if err != nil {
		t.Fatal(err)
	}
	opWallet.TTL = 24 * time.Hour // the test moves the sandbox's clock past the delay
	if _, err := sb.DeployWalletV5R1(ctx, opWallet.PublicKey(), ton.Mainnet, 100*oneTON); err != nil {
		t.Fatal(err)
	}
	p := escrow.Params{ProxyKey: key(1).Public().(ed25519.PublicKey), Operator: opWallet.TONAddress(), WithdrawDelay: time.Hour, ClaimFee: escrow.DefaultClaimFee}
	si, err := escrow.StateInit(p)
	if err != nil {
		t.Fatal(err)
	}
	addr, err := escrow.AddressOf(p, false)
	if err != nil {
		t.Fatal(err)
	}
	// send signs m with the operator's wallet and returns the escrow's
	// transaction.
	send := func(t *testing.T, m ton.ContractMessage) *tonsandbox.Tx {
		t.Helper()
		ext, err := opWallet.BuildContractMessage(ctx, sb, m)
		if err != nil {
			t.Fatal(err)
		}
		r, err := sb.Execute(ctx, ext)
		if err != nil {
			t.Fatal(err)
		}
		if !r.Accepted {
			t.Fatalf("the operator's wallet refused its message: %s", r.Error)
		}
		tx := escrowtest.TxOn(r.Transactions, addr)
		if tx == nil {
			t.Fatalf("no transaction on the escrow: wallet exit %d, action %d", deref(r.Transactions[0].ExitCode), deref(r.Transactions[0].ActionResultCode))
		}
		return tx
	}
	t0 := time.Now().Add(time.Minute).Truncate(time.Second)
	if err := sb.SetNow(ctx, t0); err != nil {
		t.Fatal(err)
	}
	if tx := send(t, ton.ContractMessage{To: addr, Amount: 10 * oneTON, StateInit: si}); !tx.Success || tx.EndStatus != "active" {
		t.Fatalf("deploy: %+v", tx)
	}
	e := &escrowtest.Escrow{SB: sb, Addr: addr, Params: p, ProxyKey: key(1)}
	f := &fixture{ctx: ctx, sb: sb, e: e}
	send(t, ton.ContractMessage{To: addr, Amount: oneTON / 20, Bounce: true, Body: escrow.AnnounceWithdrawalBody(4*oneTON, 1)})
	if tx := send(t, ton.ContractMessage{To: addr, Amount: oneTON / 20, Bounce: true, Body: escrow.ExecuteWithdrawalBody(2)}); deref(tx.ExitCode) != escrow.ExitWithdrawalLocked {
		t.Fatalf("execute at once: exit %d", deref(tx.ExitCode))
	}
	f.claim(t, e.Voucher(workerID(7), owner(0xaa), oneTON)) // claims go on during the delay
	if err := sb.SetNow(ctx, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	tx := send(t, ton.ContractMessage{To: addr, Amount: oneTON / 20, Bounce: true, Body: escrow.ExecuteWithdrawalBody(3)})
	if got := escrowtest.PaidTo(tx, opWallet.TONAddress()); got != 4*oneTON {
		t.Fatalf("the operator's wallet got %d, want %d", got, 4*oneTON)
	}
	st, err := escrow.ReadState(ctx, sb, addr)
	if err != nil {
		t.Fatal(err)
	}
	if st.PendingWithdrawal != 0 || st.Balance < 5*oneTON-escrow.DefaultClaimFee {
		t.Fatalf("after the withdrawal: %+v", st)
	}
}
