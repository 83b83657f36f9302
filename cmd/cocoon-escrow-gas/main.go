// Command cocoon-escrow-gas measures what the escrow contract (ton/escrow)
// costs on the real TVM (internal/tonsandbox): gas and fees per claim with
// 0, 1,000 and 10,000 workers already paid, per operator message, and the
// storage its per-worker totals take. It prints a Markdown table for
// docs/BENCHMARKS.md ("Escrow gas", written by scripts/bench-escrow.sh).
package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tvm/cell"

	"github.com/cocoon-desktop/cocoon-desktop/internal/tonsandbox"
	"github.com/cocoon-desktop/cocoon-desktop/ton/escrow"
	"github.com/cocoon-desktop/cocoon-desktop/ton/escrow/escrowtest"
)

const oneTON = 1_000_000_000

// Basechain storage prices (config param 18 on mainnet): nanoTON per bit
// and per cell per 65,536 seconds.
const (
	bitPricePS  = 1
	cellPricePS = 500
	year        = 365 * 24 * 3600
)

func main() {
	sizes := flag.String("workers", "0,1000,10000", "escrows with this many workers already paid")
	flag.Parse()
	if err := run(*sizes); err != nil {
		slog.Error("escrow gas", "err", err)
		os.Exit(1)
	}
}

type row struct{ what, gas, fees, note string }

func run(sizes string) error {
	if ok, reason := tonsandbox.Available(); !ok {
		return errors.New(reason + "; " + tonsandbox.InstallHint)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var ns []int
	for _, f := range bytes.Split([]byte(sizes), []byte(",")) {
		var n int
		if _, err := fmt.Sscan(string(f), &n); err != nil || n < 0 {
			return fmt.Errorf("bad -workers %q", sizes)
		}
		ns = append(ns, n)
	}
	proxy := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, 32))
	payout := address.NewAddress(0, 0, bytes.Repeat([]byte{0xaa}, 32))
	var rows []row
	for _, n := range ns {
		sb, err := tonsandbox.StartProcess(ctx)
		if err != nil {
			return err
		}
		paid := make(map[[32]byte]uint64, n)
		for i := 0; i < n; i++ {
			var w [32]byte
			copy(w[:], fmt.Appendf(nil, "worker-%d", i))
			w = [32]byte(ed25519.NewKeyFromSeed(bytes.Repeat(w[:], 1)).Public().(ed25519.PublicKey))
			paid[w] = oneTON
		}
		e, err := escrowtest.DeployWithPaid(ctx, sb, proxy, escrow.DefaultWithdrawDelay, escrow.DefaultClaimFee, 1000*oneTON, paid)
		if err != nil {
			_ = sb.Close()
			return err
		}
		var fresh [32]byte
		fresh[0] = 0xfe
		claim := func(w [32]byte, total uint64) (*tonsandbox.Tx, int64, error) {
			r, err := e.Claim(ctx, e.Voucher(w, payout, total))
			if err != nil {
				return nil, 0, err
			}
			tx := escrowtest.TxOn(r.Transactions, e.Addr)
			if !r.Accepted || tx == nil || !tx.Success || r.GasBeforeAccept == nil {
				return nil, 0, fmt.Errorf("claim with %d workers refused: %s", n, r.Error)
			}
			return tx, *r.GasBeforeAccept, nil
		}
		// Each claim's cost to the escrow: what its balance lost besides
		// the payout (gas, storage, the payout's forward fee).
		for _, c := range []struct {
			what          string
			before, total uint64
		}{{"first", 0, 2 * oneTON}, {"next", 2 * oneTON, 3 * oneTON}} {
			before, err := e.Balance(ctx)
			if err != nil {
				_ = sb.Close()
				return err
			}
			tx, checks, err := claim(fresh, c.total)
			if err != nil {
				_ = sb.Close()
				return err
			}
			after, err := e.Balance(ctx)
			if err != nil {
				_ = sb.Close()
				return err
			}
			cost := before - after - (c.total - c.before - escrow.DefaultClaimFee)
			rows = append(rows, row{fmt.Sprintf("claim, a worker's %s, %d others in storage", c.what, n), gasOf(tx), ton(cost),
				fmt.Sprintf("%d gas before accept (of the 10,000 credit)", checks)})
		}
		stale, err := e.Claim(ctx, e.Voucher(fresh, payout, 3*oneTON))
		if err != nil || stale.Accepted || stale.GasBeforeAccept == nil {
			_ = sb.Close()
			return fmt.Errorf("a replayed claim with %d workers was not refused: %v", n, err)
		}
		rows = append(rows, row{fmt.Sprintf("claim refused (replayed), %d others in storage", n), "-", "0",
			fmt.Sprintf("%d gas spent before refusing, not charged", *stale.GasBeforeAccept)})
		if n == ns[0] {
			for _, m := range []struct {
				what string
				body *cell.Cell
			}{
				{"operator: announce withdrawal", escrow.AnnounceWithdrawalBody(oneTON, 1)},
				{"operator: cancel withdrawal", escrow.CancelWithdrawalBody(2)},
			} {
				tx, _, err := e.FromOperator(ctx, m.body, oneTON/10)
				if err != nil {
					_ = sb.Close()
					return err
				}
				rows = append(rows, row{m.what, gasOf(tx), ton(uint64(tx.TotalFees)), "its transaction fees"})
			}
		}
		data, _ := escrow.DataWithPaid(e.Params, paid)
		cells, bits := countCells(data)
		rent := (uint64(bits)*bitPricePS + uint64(cells)*cellPricePS) * year / 65536
		rows = append(rows, row{fmt.Sprintf("storage with %d workers", n), "", ton(rent) + " a year",
			fmt.Sprintf("rent of %d cells, %d bits", cells, bits)})
		if err := sb.Close(); err != nil {
			return err
		}
	}
	fmt.Println("| what | gas | cost to the escrow (TON) | note |")
	fmt.Println("|---|---|---|---|")
	for _, r := range rows {
		fmt.Printf("| %s | %s | %s | %s |\n", r.what, r.gas, r.fees, r.note)
	}
	return nil
}

func gasOf(tx *tonsandbox.Tx) string {
	if tx.GasUsed == nil {
		return "-"
	}
	return fmt.Sprint(uint64(*tx.GasUsed))
}

func ton(nano uint64) string { return fmt.Sprintf("%d.%09d", nano/oneTON, nano%oneTON) }

// countCells counts the distinct cells and their bits under c.
func countCells(c *cell.Cell) (cells, bits int) {
	seen := map[string]bool{}
	var walk func(c *cell.Cell)
	walk = func(c *cell.Cell) {
		h := string(c.Hash())
		if seen[h] {
			return
		}
		seen[h] = true
		cells++
		bits += int(c.BitsSize())
		for i := 0; i < int(c.RefsNum()); i++ {
			r, _ := c.PeekRef(i)
			walk(r)
		}
	}
	walk(c)
	return cells, bits
}
