// Package tonsandbox runs the real TON wallet contract code for tests: a
// small Node program (node/sandbox.mjs) over @ton/sandbox, the emulator TON
// developers test contracts with, driven over line-delimited JSON.
//
// A *Sandbox implements ton.Chain, so the proxy's payout code (signing
// in Go with tonutils-go) runs end to end against wallet V5R1 exactly as it
// executes on chain: amounts, bounce flags, comments, seqno and replay
// protection, expiry.
//
// The npm packages are pinned in node/package-lock.json and installed by
// install.sh (`make test` runs it). Without node or the packages, Start
// skips the test with a message saying how to install them; set
// COCOON_REQUIRE_TON_SANDBOX=1 to make that a failure instead (CI).
package tonsandbox

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/internal/testx"

	"github.com/cocoon-desktop/cocoon-desktop/ton"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"
)

// InstallHint is what a skipped test says.
const InstallHint = "run `make test`, which installs the sandbox's npm packages (or `bash internal/tonsandbox/install.sh`)"

// RequireEnv, when set to 1, turns a missing node or npm install into a
// test failure instead of a skip.
const RequireEnv = "COCOON_REQUIRE_TON_SANDBOX"

// DefaultTimeout bounds each request whose context has no earlier deadline.
const DefaultTimeout = 30 * time.Second

// Dir is internal/tonsandbox in the source tree: where this file was
// compiled from, or (for -trimpath builds) the working directory when it is
// this package's directory, as under `go test`.
func Dir() string {
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		if _, err := os.Stat(filepath.Join(filepath.Dir(file), "install.sh")); err == nil {
			return filepath.Dir(file)
		}
	}
	wd, _ := os.Getwd()
	return wd
}

// NodeDir holds package.json, package-lock.json, sandbox.mjs, node_modules.
func NodeDir() string { return filepath.Join(Dir(), "node") }

// Install runs install.sh: `npm ci` in NodeDir unless node_modules already
// matches package-lock.json. Idempotent.
func Install() error {
	cmd := exec.Command("bash", filepath.Join(Dir(), "install.sh"))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("tonsandbox install: %w", err)
	}
	return nil
}

// Available reports whether Start can run: node on PATH and the npm
// packages installed. When not, the reason says what is missing.
func Available() (ok bool, reason string) {
	if _, err := exec.LookPath("node"); err != nil {
		return false, "node is not installed (Node.js 18 or newer is needed for the TON sandbox)"
	}
	if _, err := os.Stat(filepath.Join(NodeDir(), "node_modules", "@ton", "sandbox", "package.json")); err != nil {
		return false, "the TON sandbox's npm packages are not installed in " + NodeDir()
	}
	return true, ""
}

// Sandbox is one running emulated blockchain (fresh state per Start).
type Sandbox struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan []byte
	stderr *lockedBuffer

	mu     sync.Mutex // one request at a time
	nextID int64
	closed bool
}

var _ ton.Chain = (*Sandbox)(nil)

// Start runs a fresh sandbox for the test and stops it at cleanup. It skips
// the test (see RequireEnv) when node or the npm packages are missing.
func Start(t testing.TB) *Sandbox {
	t.Helper()
	if ok, reason := Available(); !ok {
		if os.Getenv(RequireEnv) == "1" {
			t.Fatalf("TON sandbox: %s; %s", reason, InstallHint)
		}
		testx.SkipOrFail(t, "TON sandbox", reason+"; "+InstallHint)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := StartProcess(ctx)
	if err != nil {
		t.Fatalf("TON sandbox: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// StartProcess runs `node sandbox.mjs` and waits until it is ready.
func StartProcess(ctx context.Context) (*Sandbox, error) {
	cmd := exec.Command("node", "sandbox.mjs")
	cmd.Dir = NodeDir()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	s := &Sandbox{cmd: cmd, stdin: stdin, lines: make(chan []byte, 16), stderr: &lockedBuffer{}}
	cmd.Stderr = s.stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start node: %w", err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 64<<20)
		for sc.Scan() {
			s.lines <- append([]byte(nil), sc.Bytes()...)
		}
		close(s.lines)
	}()
	// The first line is {"id":0,"ok":true,"result":{"ready":true}}.
	if _, err := s.await(ctx, 0); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("sandbox did not start: %w", err)
	}
	return s, nil
}

// Close stops the node process.
func (s *Sandbox) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	_ = s.stdin.Close()
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		return <-done
	}
}

type response struct {
	ID     int64           `json:"id"`
	OK     bool            `json:"ok"`
	Result json.RawMessage `json:"result"`
	Error  string          `json:"error"`
}

func (s *Sandbox) await(ctx context.Context, id int64) (json.RawMessage, error) {
	for {
		select {
		case line, ok := <-s.lines:
			if !ok {
				return nil, fmt.Errorf("%w: sandbox process exited: %s", ton.ErrChainUnreachable, strings.TrimSpace(s.stderr.String()))
			}
			var r response
			if err := json.Unmarshal(line, &r); err != nil {
				return nil, fmt.Errorf("sandbox: bad response %q: %w", line, err)
			}
			if r.ID != id {
				continue // the answer to a request that timed out
			}
			if !r.OK {
				return nil, fmt.Errorf("sandbox: %s", r.Error)
			}
			return r.Result, nil
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: sandbox did not answer: %w", ton.ErrChainUnreachable, ctx.Err())
		}
	}
}

// call sends one command and decodes its result into out.
func (s *Sandbox) call(ctx context.Context, cmd string, args map[string]any, out any) error {
	ctx, cancel := ton.WithChainTimeout(ctx, DefaultTimeout)
	defer cancel()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("%w: sandbox is closed", ton.ErrChainUnreachable)
	}
	s.nextID++
	id := s.nextID
	req := map[string]any{"id": id, "cmd": cmd}
	for k, v := range args {
		req[k] = v
	}
	b, err := json.Marshal(req)
	if err != nil {
		return err
	}
	if _, err := s.stdin.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("%w: write to sandbox: %w", ton.ErrChainUnreachable, err)
	}
	res, err := s.await(ctx, id)
	if err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	if out != nil {
		if err := json.Unmarshal(res, out); err != nil {
			return fmt.Errorf("%s: decode %s: %w", cmd, res, err)
		}
	}
	return nil
}

// Nano is an amount in nanoTON, sent as a decimal string by the sandbox.
type Nano uint64

// UnmarshalJSON accepts "123" or 123.
func (n *Nano) UnmarshalJSON(b []byte) error {
	v, err := strconv.ParseUint(strings.Trim(string(b), `"`), 10, 64)
	if err != nil {
		return fmt.Errorf("nano amount %s: %w", b, err)
	}
	*n = Nano(v)
	return nil
}

// Message is one message of a transaction, as the sandbox saw it.
type Message struct {
	Type    string  `json:"type"` // internal, external-in, external-out
	Src     string  `json:"src"`  // raw "wc:hex", empty for external-in
	Dest    string  `json:"dest"` // raw "wc:hex"
	Value   Nano    `json:"value"`
	Bounce  bool    `json:"bounce"`
	Bounced bool    `json:"bounced"`
	Comment *string `json:"comment"` // text comment (op 0), nil if none
}

// Tx is one executed transaction.
type Tx struct {
	Hash             string    `json:"hash"`
	LT               string    `json:"lt"`
	Now              int64     `json:"now"`
	Account          string    `json:"account"` // raw address it ran on
	OrigStatus       string    `json:"origStatus"`
	EndStatus        string    `json:"endStatus"`
	In               *Message  `json:"in"`
	Out              []Message `json:"out"`
	Success          bool      `json:"success"`
	Aborted          *bool     `json:"aborted"`
	ComputeSkipped   *string   `json:"computeSkipped"`
	ExitCode         *int      `json:"exitCode"`
	ActionResultCode *int      `json:"actionResultCode"`
	GasUsed          *Nano     `json:"gasUsed"`   // compute phase gas units; nil when skipped
	TotalFees        Nano      `json:"totalFees"` // nanoTON: storage + gas + action fees
	FwdFees          *Nano     `json:"fwdFees"`   // nanoTON: the action phase's forward fees
}

// Result of executing an external message.
type Result struct {
	// Accepted is false when the contract refused the message (it threw
	// before accept_message): nothing happened on chain, as a liteserver
	// would refuse to relay it.
	Accepted bool   `json:"accepted"`
	MsgHash  string `json:"msgHash"` // hex, normalized (TEP-467)
	ExitCode *int   `json:"exitCode"`
	Error    string `json:"error"`
	// GasBeforeAccept is the gas the contract spent before accept_message
	// (or before refusing), out of the 10,000 an external message may
	// spend unaccepted; only from ExecuteGasLog.
	GasBeforeAccept *int64 `json:"gasBeforeAccept"`
	// Transactions: the wallet's and those its messages caused, in order.
	Transactions []Tx `json:"transactions"`
}

// DeployWalletV5R1 creates an active wallet V5R1 of the key on the network
// (its wallet id signs the network's global id) holding exactly balance.
func (s *Sandbox) DeployWalletV5R1(ctx context.Context, pub ed25519.PublicKey, network ton.Net, balance uint64) (*address.Address, error) {
	return s.wallet(ctx, pub, network, balance, true)
}

// FundWalletV5R1 only sends balance to the key's V5R1 address; the account
// stays uninitialised until a message with its state init arrives.
func (s *Sandbox) FundWalletV5R1(ctx context.Context, pub ed25519.PublicKey, network ton.Net, balance uint64) (*address.Address, error) {
	return s.wallet(ctx, pub, network, balance, false)
}

func (s *Sandbox) wallet(ctx context.Context, pub ed25519.PublicKey, network ton.Net, balance uint64, deploy bool) (*address.Address, error) {
	var r struct {
		Address string `json:"address"`
	}
	err := s.call(ctx, "deployWalletV5R1", map[string]any{
		"publicKeyHex": hex.EncodeToString(pub), "network": network.String(),
		"balanceNano": strconv.FormatUint(balance, 10), "deploy": deploy,
	}, &r)
	if err != nil {
		return nil, err
	}
	a, err := address.ParseRawAddr(r.Address)
	if err != nil {
		return nil, err
	}
	a.SetBounce(false)
	a.SetTestnetOnly(network == ton.Testnet)
	return a, nil
}

// Seqno implements ton.Chain (0 for an uninitialised wallet).
func (s *Sandbox) Seqno(ctx context.Context, wallet *address.Address) (uint32, error) {
	var r struct {
		Seqno uint32 `json:"seqno"`
	}
	if err := s.call(ctx, "seqno", map[string]any{"address": wallet.StringRaw()}, &r); err != nil {
		return 0, err
	}
	return r.Seqno, nil
}

// Execute runs an external message against the contract and reports what
// happened in detail.
func (s *Sandbox) Execute(ctx context.Context, msg *tlb.ExternalMessage) (*Result, error) {
	c, err := tlb.ToCell(msg)
	if err != nil {
		return nil, fmt.Errorf("serialize external message: %w", err)
	}
	var r Result
	if err := s.call(ctx, "sendExternal", map[string]any{"bocBase64": base64.StdEncoding.EncodeToString(c.ToBOC())}, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// SendExternal implements ton.Chain: a message the contract refuses is
// ton.ErrMessageRejected, with the exit code.
func (s *Sandbox) SendExternal(ctx context.Context, msg *tlb.ExternalMessage) ([]byte, error) {
	r, err := s.Execute(ctx, msg)
	if err != nil {
		return nil, err
	}
	if !r.Accepted {
		code := "none"
		if r.ExitCode != nil {
			code = strconv.Itoa(*r.ExitCode)
		}
		return nil, fmt.Errorf("%w: exit code %s: %s", ton.ErrMessageRejected, code, firstLine(r.Error))
	}
	return hex.DecodeString(r.MsgHash)
}

// Balance is the account's balance in nanoTON and its status (active,
// uninit, frozen, nonexist).
func (s *Sandbox) Balance(ctx context.Context, a *address.Address) (uint64, string, error) {
	var r struct {
		Balance Nano   `json:"balanceNano"`
		Status  string `json:"status"`
	}
	if err := s.call(ctx, "balance", map[string]any{"address": a.StringRaw()}, &r); err != nil {
		return 0, "", err
	}
	return uint64(r.Balance), r.Status, nil
}

// Transactions on the account, oldest first.
func (s *Sandbox) Transactions(ctx context.Context, a *address.Address) ([]Tx, error) {
	var r struct {
		Transactions []Tx `json:"transactions"`
	}
	if err := s.call(ctx, "transactions", map[string]any{"address": a.StringRaw()}, &r); err != nil {
		return nil, err
	}
	return r.Transactions, nil
}

// SetNow fixes the emulator's clock (zero time: follow the real clock).
func (s *Sandbox) SetNow(ctx context.Context, t time.Time) error {
	var unix int64
	if !t.IsZero() {
		unix = t.Unix()
	}
	return s.call(ctx, "setNow", map[string]any{"unix": unix}, nil)
}

// FindTransfer implements ton.Chain over the sandbox's record of the
// sender's transactions, newest first.
func (s *Sandbox) FindTransfer(ctx context.Context, from, to *address.Address, comment string, since time.Time) (ton.Transfer, bool, error) {
	txs, err := s.Transactions(ctx, from)
	if err != nil {
		return ton.Transfer{}, false, err
	}
	for i := len(txs) - 1; i >= 0; i-- {
		tx := txs[i]
		if time.Unix(tx.Now, 0).Before(since.Truncate(time.Second)) {
			break
		}
		for _, m := range tx.Out {
			if m.Type != "internal" || m.Comment == nil || *m.Comment != comment || m.Dest != to.StringRaw() {
				continue
			}
			dst, err := address.ParseRawAddr(m.Dest)
			if err != nil {
				return ton.Transfer{}, false, err
			}
			dst.SetBounce(m.Bounce)
			hash, _ := hex.DecodeString(tx.Hash)
			lt, _ := strconv.ParseUint(tx.LT, 10, 64)
			return ton.Transfer{
				From: from, To: dst, Amount: uint64(m.Value), Bounce: m.Bounce, Comment: *m.Comment,
				TxHash: hash, LT: lt, Time: time.Unix(tx.Now, 0), Aborted: tx.Aborted != nil && *tx.Aborted,
			}, true, nil
		}
	}
	return ton.Transfer{}, false, nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() > 1<<20 {
		return len(p), nil
	}
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
