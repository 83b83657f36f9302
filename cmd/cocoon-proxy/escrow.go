package main

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"strings"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"
	"github.com/xssnick/tonutils-go/tvm/cell"

	"github.com/cocoon-desktop/cocoon-desktop/network/proxy"
	"github.com/cocoon-desktop/cocoon-desktop/ton"
	"github.com/cocoon-desktop/cocoon-desktop/ton/escrow"
)

// escrowChain is what `cocoon-proxy escrow` needs from TON: the operator
// wallet's seqno, sending its messages, and the escrow's get-methods.
// ton.LazyLiteChain is the real one; the tests use the sandbox.
type escrowChain interface {
	ton.SeqnoSource
	SendExternal(ctx context.Context, msg *tlb.ExternalMessage) ([]byte, error)
	escrow.Getter
}

// errEscrowUsage: an escrow command line that names no known command.
var errEscrowUsage = errors.New("usage: cocoon-proxy -config FILE escrow deploy [TON] | status | withdraw announce TON | withdraw execute | withdraw cancel")

// operatorMessageValue is the TON an operator message carries for the
// escrow's gas (the rest comes back with the message's bounce or stays).
const operatorMessageValue = 50_000_000

// runEscrow runs `escrow deploy|status|withdraw` against chain (nil: the
// liteservers of the config's network).
func runEscrow(ctx context.Context, cfg proxy.Config, args []string, stdout io.Writer, chain escrowChain) error {
	ec := cfg.Escrow
	if ec == nil {
		return errors.New("escrow: the config has no \"escrow\" object")
	}
	if len(args) == 0 {
		return errEscrowUsage
	}
	key, err := proxy.LoadOrCreateIdentity(cfg.DataDir)
	if err != nil {
		return err
	}
	pubBytes := []byte(key.Public().(ed25519.PublicKey))
	addr, err := ec.ResolveAddress(pubBytes)
	if err != nil {
		return err
	}
	if chain == nil {
		lc := &ton.LazyLiteChain{Config: ec.LiteConfig, Net: ec.Network}
		defer lc.Close()
		chain = lc
	}
	switch {
	case args[0] == "deploy" && len(args) <= 2:
		value := uint64(1_000_000_000)
		if len(args) == 2 {
			if value, err = parseTON(args[1]); err != nil {
				return err
			}
		}
		return escrowDeploy(ctx, ec, pubBytes, addr, value, stdout, chain)
	case args[0] == "status" && len(args) == 1:
		return escrowStatus(ctx, cfg, addr, stdout, chain)
	case args[0] == "withdraw" && len(args) == 3 && args[1] == "announce":
		amount, err := parseTON(args[2])
		if err != nil {
			return err
		}
		return operatorSend(ctx, ec, addr, escrow.AnnounceWithdrawalBody(amount, 0), nil, operatorMessageValue, stdout, chain,
			fmt.Sprintf("withdrawal of %s TON announced; it can execute after %v", ton.Format(int64(amount)), ec.WithdrawDelay))
	case args[0] == "withdraw" && len(args) == 2 && args[1] == "execute":
		return operatorSend(ctx, ec, addr, escrow.ExecuteWithdrawalBody(0), nil, operatorMessageValue, stdout, chain, "withdrawal executed (when its delay has passed: check `escrow status`)")
	case args[0] == "withdraw" && len(args) == 2 && args[1] == "cancel":
		return operatorSend(ctx, ec, addr, escrow.CancelWithdrawalBody(0), nil, operatorMessageValue, stdout, chain, "withdrawal cancelled")
	}
	return errEscrowUsage
}

// parseTON reads an amount like "12.5" (TON) into nanoTON.
func parseTON(s string) (uint64, error) {
	r, ok := new(big.Rat).SetString(strings.TrimSpace(s))
	if !ok || r.Sign() <= 0 {
		return 0, fmt.Errorf("escrow: %q is not a positive amount of TON", s)
	}
	r.Mul(r, big.NewRat(1_000_000_000, 1))
	if !r.IsInt() || !r.Num().IsUint64() {
		return 0, fmt.Errorf("escrow: %q TON is not a whole number of nanoTON in range", s)
	}
	return r.Num().Uint64(), nil
}

// operatorWallet reads the operator's wallet from operator_seed_file and
// checks that it is the escrow's operator.
func operatorWallet(ec *proxy.EscrowConfig) (*ton.PayoutWallet, error) {
	if ec.OperatorSeedFile == "" {
		return nil, errors.New("escrow: operator_seed_file is required to send the operator's messages")
	}
	fi, err := os.Stat(ec.OperatorSeedFile)
	if err != nil {
		return nil, fmt.Errorf("escrow: operator_seed_file: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("escrow: operator_seed_file %s is readable by others (mode %v); chmod 600 it", ec.OperatorSeedFile, fi.Mode().Perm())
	}
	b, err := os.ReadFile(ec.OperatorSeedFile)
	if err != nil {
		return nil, fmt.Errorf("escrow: operator_seed_file: %w", err)
	}
	w, err := ton.NewPayoutWalletFromSeed(string(b), ec.Network)
	if err != nil {
		return nil, fmt.Errorf("escrow: operator wallet: %w", err)
	}
	if ec.Operator != "" {
		op, err := ton.ParseAddress(ec.Operator, ec.Network)
		if err != nil {
			return nil, fmt.Errorf("escrow: operator: %w", err)
		}
		if !op.TON().Equals(w.TONAddress()) {
			return nil, fmt.Errorf("escrow: operator_seed_file is the wallet %s, not the operator %s", w.Address().Friendly, ec.Operator)
		}
	}
	return w, nil
}

// operatorSend sends body (and init) from the operator wallet to the escrow.
func operatorSend(ctx context.Context, ec *proxy.EscrowConfig, to *address.Address, body *cell.Cell, init *tlb.StateInit, value uint64, stdout io.Writer, chain escrowChain, done string) error {
	w, err := operatorWallet(ec)
	if err != nil {
		return err
	}
	ext, err := w.BuildContractMessage(ctx, chain, ton.ContractMessage{To: to, Amount: value, Bounce: init == nil, Body: body, StateInit: init})
	if err != nil {
		return fmt.Errorf("escrow: %w", err)
	}
	hash, err := chain.SendExternal(ctx, ext)
	if err != nil {
		return fmt.Errorf("escrow: send from the operator wallet %s: %w", w.Address().Friendly, err)
	}
	fmt.Fprintf(stdout, "%s\nmessage %s (from %s to %s)\n", done, hex.EncodeToString(hash), w.Address().Friendly, to.String())
	return nil
}

// escrowDeploy deploys the escrow: its state init (proxy key, operator,
// delay, fee) and value nanoTON, from the operator wallet.
func escrowDeploy(ctx context.Context, ec *proxy.EscrowConfig, pub []byte, addr *address.Address, value uint64, stdout io.Writer, chain escrowChain) error {
	if ec.Operator == "" {
		return errors.New("escrow deploy: operator is required (the escrow's address is derived from it)")
	}
	p, err := ec.Params(pub)
	if err != nil {
		return err
	}
	init, err := escrow.StateInit(p)
	if err != nil {
		return fmt.Errorf("escrow deploy: %w", err)
	}
	return operatorSend(ctx, ec, addr, nil, init, value, stdout, chain,
		fmt.Sprintf("escrow %s deployed with %s TON (claim fee %s TON, withdrawal delay %v); put \"address\": %q in the config",
			addr.String(), ton.Format(int64(value)), ton.Format(ec.ClaimFee), ec.WithdrawDelay, addr.String()))
}

// escrowStatus prints the escrow's balance, what it owes (the signed
// vouchers less what it paid each worker) and a pending withdrawal.
func escrowStatus(ctx context.Context, cfg proxy.Config, addr *address.Address, stdout io.Writer, chain escrowChain) error {
	s, err := escrow.ReadState(ctx, chain, addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "escrow %s\nbalance %s TON\nclaim fee %s TON, withdrawal delay %v\n",
		addr.String(), ton.Format(int64(s.Balance)), ton.Format(int64(s.ClaimFee)), s.WithdrawDelay)
	if s.PendingWithdrawal > 0 {
		fmt.Fprintf(stdout, "pending withdrawal %s TON, executable after %s\n", ton.Format(int64(s.PendingWithdrawal)), s.WithdrawAfter.Format("2006-01-02 15:04 MST"))
	} else {
		fmt.Fprintln(stdout, "no pending withdrawal")
	}
	st, err := proxy.OpenBoltStore(cfg.DataDir, storeTryLock)
	if errors.Is(err, proxy.ErrStoreLocked) {
		fmt.Fprintln(stdout, "owed: unknown while the proxy runs (its store is locked); stop it or run status again later")
		return nil
	}
	if err != nil {
		return err
	}
	defer st.Close()
	vouched, err := st.Vouched(ctx)
	if err != nil {
		return err
	}
	var signed, owed int64
	for id, total := range vouched {
		var wid [32]byte
		b, err := hex.DecodeString(id)
		if err != nil || len(b) != 32 {
			continue
		}
		copy(wid[:], b)
		paid, err := escrow.PaidTotal(ctx, chain, addr, wid)
		if err != nil {
			return err
		}
		signed += total
		owed += max(total-int64(paid), 0)
	}
	fmt.Fprintf(stdout, "signed %s TON to %d workers; owed %s TON (signed − paid)\n", ton.Format(signed), len(vouched), ton.Format(owed))
	if need := owed + escrow.MinReserve; uint64(need) > s.Balance {
		fmt.Fprintf(stdout, "WARNING: the escrow holds less than it owes: top it up with %s TON (plain transfer)\n", ton.Format(need-int64(s.Balance)))
	}
	return nil
}
