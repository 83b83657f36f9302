// Package escrowtest deploys the real escrow contract (ton/escrow) in the
// TON sandbox (internal/tonsandbox) for tests: the contract's own tests,
// and the proxy's and the app's settlement tests.
package escrowtest

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"os"
	"time"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"
	"github.com/xssnick/tonutils-go/tvm/cell"

	"github.com/cocoon-desktop/cocoon-desktop/internal/tonsandbox"
	"github.com/cocoon-desktop/cocoon-desktop/ton/escrow"
)

// OperatorName is the sandbox treasury that plays the operator's wallet.
const OperatorName = "operator"

// Escrow is one deployed escrow.
type Escrow struct {
	SB       *tonsandbox.Sandbox
	Addr     *address.Address
	Params   escrow.Params
	ProxyKey ed25519.PrivateKey
}

// Deploy deploys an escrow for proxyKey whose operator is the sandbox
// treasury OperatorName, holding value nanoTON, by an internal message
// with its state init from that operator (as `cocoon-proxy escrow deploy`
// does on chain).
func Deploy(ctx context.Context, sb *tonsandbox.Sandbox, proxyKey ed25519.PrivateKey, delay time.Duration, claimFee, value uint64) (*Escrow, error) {
	return DeployWithPaid(ctx, sb, proxyKey, delay, claimFee, value, nil)
}

// DeployWithPaid is Deploy of an escrow whose storage already records these
// paid totals (escrow.DataWithPaid): its address is not AddressOf(Params).
// With totals, the contract is placed in the state directly (as if deployed
// long ago: a state of thousands of workers is larger than a message may
// carry) rather than deployed by a message.
func DeployWithPaid(ctx context.Context, sb *tonsandbox.Sandbox, proxyKey ed25519.PrivateKey, delay time.Duration, claimFee, value uint64, paid map[[32]byte]uint64) (*Escrow, error) {
	op, err := sb.Treasury(ctx, OperatorName)
	if err != nil {
		return nil, err
	}
	p := escrow.Params{ProxyKey: proxyKey.Public().(ed25519.PublicKey), Operator: op, WithdrawDelay: delay, ClaimFee: claimFee}
	return deploy(ctx, sb, OperatorName, proxyKey, p, value, paid)
}

// DeployParams deploys an escrow with any parameters (an operator that is
// the proxy's own wallet, say) from the sandbox treasury "deployer".
// proxyKey must be the private half of p.ProxyKey.
func DeployParams(ctx context.Context, sb *tonsandbox.Sandbox, proxyKey ed25519.PrivateKey, p escrow.Params, value uint64) (*Escrow, error) {
	if !proxyKey.Public().(ed25519.PublicKey).Equal(p.ProxyKey) {
		return nil, fmt.Errorf("escrowtest: the proxy key is not the one in the parameters")
	}
	return deploy(ctx, sb, "deployer", proxyKey, p, value, nil)
}

func deploy(ctx context.Context, sb *tonsandbox.Sandbox, from string, proxyKey ed25519.PrivateKey, p escrow.Params, value uint64, paid map[[32]byte]uint64) (*Escrow, error) {
	data, err := escrow.DataWithPaid(p, paid)
	if err != nil {
		return nil, err
	}
	code, err := Code()
	if err != nil {
		return nil, err
	}
	si := &tlb.StateInit{Code: code, Data: data}
	want := si.CalcAddress(p.Workchain)
	if len(paid) == 0 && os.Getenv(FromSourceEnv) != "1" {
		if want, err = escrow.AddressOf(p, false); err != nil {
			return nil, err
		}
	}
	if len(paid) > 0 {
		addr, err := sb.SetContract(ctx, si, value)
		if err != nil {
			return nil, err
		}
		if !addr.Equals(want) {
			return nil, fmt.Errorf("escrowtest: placed at %s, want %s", addr.StringRaw(), want.StringRaw())
		}
		addr.SetBounce(false)
		return &Escrow{SB: sb, Addr: addr, Params: p, ProxyKey: proxyKey}, nil
	}
	addr, txs, err := sb.DeployContract(ctx, from, si, value)
	if err != nil {
		return nil, err
	}
	if !addr.Equals(want) {
		return nil, fmt.Errorf("escrowtest: deployed at %s, AddressOf says %s", addr.StringRaw(), want.StringRaw())
	}
	if tx := TxOn(txs, addr); tx == nil || !tx.Success || tx.EndStatus != "active" {
		return nil, fmt.Errorf("escrowtest: deploy did not leave an active contract: %+v", tx)
	}
	addr.SetBounce(false)
	return &Escrow{SB: sb, Addr: addr, Params: p, ProxyKey: proxyKey}, nil
}

// Voucher is a voucher for this escrow.
func (e *Escrow) Voucher(worker [32]byte, payout *address.Address, total uint64) escrow.Voucher {
	return escrow.Voucher{Escrow: e.Addr, WorkerID: worker, Payout: payout, Cumulative: total}
}

// Claim signs v with the proxy key and sends the claim as an external
// message, whatever its escrow field says.
func (e *Escrow) Claim(ctx context.Context, v escrow.Voucher) (*tonsandbox.Result, error) {
	sig, err := escrow.Sign(e.ProxyKey, v)
	if err != nil {
		return nil, err
	}
	return e.ClaimSigned(ctx, v, sig)
}

// ClaimSigned sends the claim (v, sig) to this escrow, with the VM's gas
// log on: the result's GasBeforeAccept says what the checks cost.
func (e *Escrow) ClaimSigned(ctx context.Context, v escrow.Voucher, sig []byte) (*tonsandbox.Result, error) {
	msg, err := escrow.ClaimMessage(v, sig)
	if err != nil {
		return nil, err
	}
	msg.DstAddr = e.Addr
	return e.SB.ExecuteGasLog(ctx, msg)
}

// FromOperator sends body with value nanoTON from the operator's wallet
// (bounceable, as a wallet sends to a contract) and returns the escrow's
// transaction and all of them.
func (e *Escrow) FromOperator(ctx context.Context, body *cell.Cell, value uint64) (*tonsandbox.Tx, []tonsandbox.Tx, error) {
	return e.From(ctx, OperatorName, body, value)
}

// From is FromOperator from another treasury.
func (e *Escrow) From(ctx context.Context, treasury string, body *cell.Cell, value uint64) (*tonsandbox.Tx, []tonsandbox.Tx, error) {
	txs, err := e.SB.SendInternal(ctx, treasury, e.Addr, value, body, true)
	if err != nil {
		return nil, nil, err
	}
	tx := TxOn(txs, e.Addr)
	if tx == nil {
		return nil, txs, fmt.Errorf("escrowtest: no transaction on the escrow")
	}
	return tx, txs, nil
}

// Balance is the escrow's balance in nanoTON.
func (e *Escrow) Balance(ctx context.Context) (uint64, error) {
	b, _, err := e.SB.Balance(ctx, e.Addr)
	return b, err
}

// TxOn is the first transaction on account a, or nil.
func TxOn(txs []tonsandbox.Tx, a *address.Address) *tonsandbox.Tx {
	for i := range txs {
		if txs[i].Account == a.StringRaw() {
			return &txs[i]
		}
	}
	return nil
}

// PaidTo sums the internal messages tx sent to a.
func PaidTo(tx *tonsandbox.Tx, a *address.Address) uint64 {
	var sum uint64
	if tx == nil {
		return 0
	}
	for _, m := range tx.Out {
		if m.Type == "internal" && m.Dest == a.StringRaw() {
			sum += uint64(m.Value)
		}
	}
	return sum
}
