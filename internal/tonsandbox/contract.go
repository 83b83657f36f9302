package tonsandbox

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/cocoon-desktop/cocoon-desktop/internal/testx"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"
	"github.com/xssnick/tonutils-go/tvm/cell"
)

// Treasury is the address of a wallet holding plenty of TON, one per name
// (made on first use): an escrow's operator, a deployer, a stranger.
func (s *Sandbox) Treasury(ctx context.Context, name string) (*address.Address, error) {
	var r struct {
		Address string `json:"address"`
	}
	if err := s.call(ctx, "treasury", map[string]any{"name": name}, &r); err != nil {
		return nil, err
	}
	return parseRaw(r.Address)
}

// DeployContract deploys a contract the way it is done on chain: an
// internal message carrying the state init and value nanoTON, sent from the
// treasury named from ("deployer" when empty).
func (s *Sandbox) DeployContract(ctx context.Context, from string, init *tlb.StateInit, value uint64) (*address.Address, []Tx, error) {
	if init == nil || init.Code == nil || init.Data == nil {
		return nil, nil, fmt.Errorf("deploy: state init needs code and data")
	}
	if from == "" {
		from = "deployer"
	}
	var r struct {
		Address      string `json:"address"`
		Transactions []Tx   `json:"transactions"`
	}
	err := s.call(ctx, "deployContract", map[string]any{
		"codeBoc64": boc64(init.Code), "dataBoc64": boc64(init.Data),
		"valueNano": strconv.FormatUint(value, 10), "from": from,
	}, &r)
	if err != nil {
		return nil, nil, err
	}
	a, err := parseRaw(r.Address)
	if err != nil {
		return nil, nil, err
	}
	if want := init.CalcAddress(0); !a.Equals(want) {
		return nil, nil, fmt.Errorf("deploy: sandbox put the contract at %s, tonutils-go computes %s", a.StringRaw(), want.StringRaw())
	}
	return a, r.Transactions, nil
}

// SetContract puts an active contract with init's code and data and
// balance nanoTON straight into the emulator's state, with no message: for
// states larger than a deploy message may carry (an escrow that has paid
// thousands of workers).
func (s *Sandbox) SetContract(ctx context.Context, init *tlb.StateInit, balance uint64) (*address.Address, error) {
	if init == nil || init.Code == nil || init.Data == nil {
		return nil, fmt.Errorf("set contract: state init needs code and data")
	}
	var r struct {
		Address string `json:"address"`
	}
	err := s.call(ctx, "setContract", map[string]any{
		"codeBoc64": boc64(init.Code), "dataBoc64": boc64(init.Data), "balanceNano": strconv.FormatUint(balance, 10),
	}, &r)
	if err != nil {
		return nil, err
	}
	return parseRaw(r.Address)
}

// SendInternal sends value nanoTON with body (nil: empty) from the treasury
// named from, and returns the transactions it caused, in order.
func (s *Sandbox) SendInternal(ctx context.Context, from string, to *address.Address, value uint64, body *cell.Cell, bounce bool) ([]Tx, error) {
	args := map[string]any{"from": from, "to": to.StringRaw(), "valueNano": strconv.FormatUint(value, 10), "bounce": bounce}
	if body != nil {
		args["bodyBoc64"] = boc64(body)
	}
	var r struct {
		Transactions []Tx `json:"transactions"`
	}
	if err := s.call(ctx, "sendInternal", args, &r); err != nil {
		return nil, err
	}
	return r.Transactions, nil
}

// GetMethodError is a get-method that ended with an exit code other than
// 0 or 1 (as tonutils-go's ton.ContractExecError).
type GetMethodError struct {
	Method   string
	ExitCode int
}

func (e *GetMethodError) Error() string {
	return fmt.Sprintf("get-method %s: exit code %d", e.Method, e.ExitCode)
}

// RunGetMethod runs a get-method on the real TVM. Arguments and results
// have tonutils-go's types (*big.Int, int64, uint64, *cell.Cell,
// *cell.Slice; results: *big.Int, *cell.Cell, *cell.Slice, nil, []any),
// first value first, exactly as ton.APIClient.RunGetMethod's AsTuple gives
// them: the stack travels as the same TVM stack cell a liteserver sends.
func (s *Sandbox) RunGetMethod(ctx context.Context, addr *address.Address, method string, args ...any) ([]any, error) {
	var in tlb.Stack
	for i := len(args) - 1; i >= 0; i-- {
		in.Push(args[i])
	}
	stackCell, err := in.ToCell()
	if err != nil {
		return nil, fmt.Errorf("get-method %s: arguments: %w", method, err)
	}
	var r struct {
		ExitCode   int     `json:"exitCode"`
		StackBoc64 *string `json:"stackBoc64"`
	}
	if err := s.call(ctx, "runGetMethod", map[string]any{"address": addr.StringRaw(), "method": method, "stackBoc64": boc64(stackCell)}, &r); err != nil {
		return nil, err
	}
	if r.StackBoc64 == nil || (r.ExitCode != 0 && r.ExitCode != 1) {
		return nil, &GetMethodError{Method: method, ExitCode: r.ExitCode}
	}
	raw, err := base64.StdEncoding.DecodeString(*r.StackBoc64)
	if err != nil {
		return nil, fmt.Errorf("get-method %s: result: %w", method, err)
	}
	c, err := cell.FromBOC(raw)
	if err != nil {
		return nil, fmt.Errorf("get-method %s: result: %w", method, err)
	}
	var out tlb.Stack
	if err := out.LoadFromCell(c.BeginParse()); err != nil {
		return nil, fmt.Errorf("get-method %s: result stack: %w", method, err)
	}
	var res []any
	for out.Depth() > 0 {
		v, err := out.Pop()
		if err != nil {
			return nil, err
		}
		res = append(res, v)
	}
	return res, nil
}

func boc64(c *cell.Cell) string { return base64.StdEncoding.EncodeToString(c.ToBOC()) }

func parseRaw(s string) (*address.Address, error) {
	a, err := address.ParseRawAddr(s)
	if err != nil {
		return nil, fmt.Errorf("sandbox address %q: %w", s, err)
	}
	return a, nil
}

// ExecuteGasLog is Execute with the VM's gas log on, so the result says how
// much gas the contract spent before accepting (or refusing) the message.
func (s *Sandbox) ExecuteGasLog(ctx context.Context, msg *tlb.ExternalMessage) (*Result, error) {
	c, err := tlb.ToCell(msg)
	if err != nil {
		return nil, fmt.Errorf("serialize external message: %w", err)
	}
	var r Result
	if err := s.call(ctx, "sendExternal", map[string]any{"bocBase64": base64.StdEncoding.EncodeToString(c.ToBOC()), "gasLog": true}, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// Compiled is a Tolk contract compiled by the pinned @ton/tolk-js.
type Compiled struct {
	Code        *cell.Cell
	CodeHashHex string // upper-case hex, as the compiler prints it
	TolkVersion string
}

// CompileTolk compiles the Tolk source file at path (imports relative to
// it) with node/tolk.mjs. It needs what Start needs: node and the npm
// packages (see Available).
func CompileTolk(ctx context.Context, path string) (Compiled, error) {
	if ok, reason := Available(); !ok {
		return Compiled{}, fmt.Errorf("compile %s: %s", path, reason)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return Compiled{}, err
	}
	cmd := exec.CommandContext(ctx, "node", "tolk.mjs", abs)
	cmd.Dir = NodeDir()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return Compiled{}, fmt.Errorf("compile %s: %w: %s", path, err, strings.TrimSpace(stderr.String()))
	}
	var r struct {
		CodeBoc64   string `json:"codeBoc64"`
		CodeHashHex string `json:"codeHashHex"`
		TolkVersion string `json:"tolkVersion"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		return Compiled{}, fmt.Errorf("compile %s: compiler output: %w", path, err)
	}
	raw, err := base64.StdEncoding.DecodeString(r.CodeBoc64)
	if err != nil {
		return Compiled{}, fmt.Errorf("compile %s: code: %w", path, err)
	}
	code, err := cell.FromBOC(raw)
	if err != nil {
		return Compiled{}, fmt.Errorf("compile %s: code: %w", path, err)
	}
	return Compiled{Code: code, CodeHashHex: r.CodeHashHex, TolkVersion: r.TolkVersion}, nil
}

// RequireNode skips the test (or fails it, see RequireEnv) when node or the
// npm packages are missing, without starting a sandbox: for tests that only
// compile (CompileTolk).
func RequireNode(t testing.TB) {
	t.Helper()
	if ok, reason := Available(); !ok {
		if os.Getenv(RequireEnv) == "1" {
			t.Fatalf("TON sandbox: %s; %s", reason, InstallHint)
		}
		testx.SkipOrFail(t, "TON sandbox", reason+"; "+InstallHint)
	}
}
