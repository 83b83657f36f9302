package ton

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/liteclient"
	"github.com/xssnick/tonutils-go/tlb"
	tonapi "github.com/xssnick/tonutils-go/ton"
)

// Public liteserver configs.
const (
	MainnetConfigURL = "https://ton.org/global.config.json"
	TestnetConfigURL = "https://ton.org/testnet-global.config.json"
)

// LiteChain is the real Chain over TON liteservers (tonutils-go liteclient).
//
// It is deliberately thin: each method is one or two liteserver queries,
// bounded by a timeout. It cannot be exercised in this project's tests (no
// liteserver is reachable from CI); the payout logic is tested against the
// real wallet contract through internal/tonsandbox, which implements the same
// interface, and only the "unreachable" path of LiteChain is tested here.
type LiteChain struct {
	pool   *liteclient.ConnectionPool
	api    tonapi.APIClientWrapped
	tonNet Net
	// Timeout bounds each call whose context has no earlier deadline.
	Timeout time.Duration
	// MaxScan bounds how many of the sender's transactions FindTransfer reads.
	MaxScan int
}

var _ Chain = (*LiteChain)(nil)

// NewLiteChain connects to the liteservers of a global config given as a URL
// (http/https), inline JSON, or a file path. The connection is bounded by
// DefaultChainTimeout (or ctx's earlier deadline); when no liteserver answers
// it fails with ErrChainUnreachable.
func NewLiteChain(ctx context.Context, config string, tonNet Net) (*LiteChain, error) {
	ctx, cancel := WithChainTimeout(ctx, DefaultChainTimeout)
	defer cancel()

	cfg, err := loadLiteConfig(ctx, config)
	if err != nil {
		return nil, err
	}
	if len(cfg.Liteservers) == 0 {
		return nil, fmt.Errorf("TON config has no liteservers: %w", ErrChainUnreachable)
	}
	pool := liteclient.NewConnectionPool()
	if err := pool.AddConnectionsFromConfig(ctx, cfg); err != nil {
		pool.Stop()
		return nil, unreachable("connect to liteservers", err)
	}
	api := tonapi.NewAPIClient(pool, tonapi.ProofCheckPolicyFast).WithRetry(2)
	return &LiteChain{pool: pool, api: api, tonNet: tonNet, Timeout: DefaultChainTimeout, MaxScan: 200}, nil
}

func loadLiteConfig(ctx context.Context, config string) (*liteclient.GlobalConfig, error) {
	c := strings.TrimSpace(config)
	switch {
	case c == "":
		return nil, errors.New("TON config: empty (want a URL, JSON or a file path)")
	case strings.HasPrefix(c, "http://") || strings.HasPrefix(c, "https://"):
		cfg, err := liteclient.GetConfigFromUrl(ctx, c)
		if err != nil {
			return nil, unreachable("fetch TON config "+c, err)
		}
		return cfg, nil
	case strings.HasPrefix(c, "{"):
		var cfg liteclient.GlobalConfig
		if err := json.Unmarshal([]byte(c), &cfg); err != nil {
			return nil, fmt.Errorf("TON config JSON: %w", err)
		}
		return &cfg, nil
	default:
		b, err := os.ReadFile(c)
		if err != nil {
			return nil, fmt.Errorf("TON config: %w", err)
		}
		var cfg liteclient.GlobalConfig
		if err := json.Unmarshal(b, &cfg); err != nil {
			return nil, fmt.Errorf("TON config %s: %w", c, err)
		}
		return &cfg, nil
	}
}

// Close drops the liteserver connections.
func (c *LiteChain) Close() { c.pool.Stop() }

// Net is the network this chain was opened for.
func (c *LiteChain) Net() Net { return c.tonNet }

func (c *LiteChain) classify(op string, err error) error {
	if err == nil {
		return nil
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, liteclient.ErrNoConnections) ||
		errors.Is(err, liteclient.ErrStopped) || errors.As(err, &ne) {
		return unreachable(op, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// Seqno runs the wallet's seqno get-method; 0 when it is not deployed.
func (c *LiteChain) Seqno(ctx context.Context, wallet *address.Address) (uint32, error) {
	ctx, cancel := WithChainTimeout(ctx, c.Timeout)
	defer cancel()
	block, err := c.api.CurrentMasterchainInfo(ctx)
	if err != nil {
		return 0, c.classify("seqno", err)
	}
	res, err := c.api.WaitForBlock(block.SeqNo).RunGetMethod(ctx, block, wallet, "seqno")
	if err != nil {
		var ce tonapi.ContractExecError
		if errors.As(err, &ce) && ce.Code == tonapi.ErrCodeContractNotInitialized {
			return 0, nil
		}
		return 0, c.classify("seqno", err)
	}
	n, err := res.Int(0)
	if err != nil {
		return 0, fmt.Errorf("seqno: %w", err)
	}
	return uint32(n.Uint64()), nil
}

// SendExternal sends the message to a liteserver. A liteserver checks that
// the contract accepts it before relaying; a refusal is ErrMessageRejected.
func (c *LiteChain) SendExternal(ctx context.Context, msg *tlb.ExternalMessage) ([]byte, error) {
	ctx, cancel := WithChainTimeout(ctx, c.Timeout)
	defer cancel()
	if err := c.api.SendExternalMessage(ctx, msg); err != nil {
		var ls tonapi.LSError
		if errors.As(err, &ls) && (strings.Contains(ls.Text, "not accepted") || strings.Contains(ls.Text, "cannot apply external message")) {
			return nil, fmt.Errorf("send external message: %w: %s", ErrMessageRejected, ls.Text)
		}
		return nil, c.classify("send external message", err)
	}
	return ExternalMessageHash(msg), nil
}

// FindTransfer pages back through the sender's transactions (newest first)
// until one older than since, or MaxScan of them.
func (c *LiteChain) FindTransfer(ctx context.Context, from, to *address.Address, comment string, since time.Time) (Transfer, bool, error) {
	ctx, cancel := WithChainTimeout(ctx, c.Timeout)
	defer cancel()
	block, err := c.api.CurrentMasterchainInfo(ctx)
	if err != nil {
		return Transfer{}, false, c.classify("find transfer", err)
	}
	acc, err := c.api.WaitForBlock(block.SeqNo).GetAccount(ctx, block, from)
	if err != nil {
		return Transfer{}, false, c.classify("find transfer", err)
	}
	if !acc.IsActive || acc.LastTxLT == 0 {
		return Transfer{}, false, nil
	}
	lt, hash := acc.LastTxLT, acc.LastTxHash
	scanned := 0
	for scanned < c.MaxScan && lt != 0 {
		txs, err := c.api.ListTransactions(ctx, from, 16, lt, hash)
		if errors.Is(err, tonapi.ErrNoTransactionsWereFound) {
			return Transfer{}, false, nil
		}
		if err != nil {
			return Transfer{}, false, c.classify("find transfer", err)
		}
		for i := len(txs) - 1; i >= 0; i-- { // newest first
			tx := txs[i]
			scanned++
			if time.Unix(int64(tx.Now), 0).Before(since) {
				return Transfer{}, false, nil
			}
			if t, ok := transferIn(tx, from, to, comment); ok {
				return t, true, nil
			}
		}
		oldest := txs[0]
		lt, hash = oldest.PrevTxLT, oldest.PrevTxHash
	}
	return Transfer{}, false, nil
}

// transferIn finds an outgoing internal message to `to` with the comment.
func transferIn(tx *tlb.Transaction, from, to *address.Address, comment string) (Transfer, bool) {
	if tx.IO.Out == nil {
		return Transfer{}, false
	}
	msgs, err := tx.IO.Out.ToSlice()
	if err != nil {
		return Transfer{}, false
	}
	for _, m := range msgs {
		if m.MsgType != tlb.MsgTypeInternal {
			continue
		}
		im := m.AsInternal()
		if im.DstAddr == nil || !im.DstAddr.Equals(to) || im.Comment() != comment {
			continue
		}
		aborted := false
		if d, ok := tx.Description.(tlb.TransactionDescriptionOrdinary); ok {
			aborted = d.Aborted
		}
		return Transfer{
			From: from, To: im.DstAddr, Amount: im.Amount.Nano().Uint64(), Bounce: im.Bounce,
			Comment: comment, TxHash: tx.Hash, LT: tx.LT, Time: time.Unix(int64(tx.Now), 0), Aborted: aborted,
		}, true
	}
	return Transfer{}, false
}
