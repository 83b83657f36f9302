// Package receipt is the money record shared by the network and the ledger:
// a proxy's signed statement of one paid job (Receipt, Signed), how it is
// signed and checked offline (Sign, Signed.Verify), and the pricing formula
// that fixes its amount (Amount).
//
// It has no idea of wires or files: the network package carries receipts in
// its protocol messages and the earnings package stores them, and both import
// this one, so the stored ledger format does not depend on the wire.
package receipt

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
)

// Field limits a receipt must respect.
const (
	MaxJobIDLength    = 64
	MaxModelName      = 256
	MaxWorkerIDLength = 128
)

// Context is the domain-separation prefix of every receipt signature.
const Context = "cocoon-receipt-v1"

// ErrBadSignature means a signature did not verify against the expected key.
var ErrBadSignature = errors.New("bad signature")

// ErrBadAmount means a receipt's amount does not follow from its factors, or
// its factors are out of range.
var ErrBadAmount = errors.New("amount does not match its factors")

// Receipt is the proxy's statement of one paid job. Cumulative is the
// worker's total earned over all its receipts, so the claimable amount is
// always Cumulative − already paid.
type Receipt struct {
	JobID            string `json:"job_id"`
	WorkerID         string `json:"worker_id"`
	Model            string `json:"model"`
	PromptTokens     int64  `json:"prompt_tokens"`
	CompletionTokens int64  `json:"completion_tokens"`
	PricePrompt      int64  `json:"price_prompt"`      // nanoTON per prompt token
	PriceCompletion  int64  `json:"price_completion"`  // nanoTON per completion token
	CoefficientMilli int64  `json:"coefficient_milli"` // the worker's multiplier ×1000
	CommissionBPS    int64  `json:"commission_bps"`    // the proxy's share, basis points
	Amount           int64  `json:"amount"`            // nanoTON credited to the worker
	Cumulative       int64  `json:"cumulative"`        // nanoTON, the worker's running total
	Seq              int64  `json:"seq"`               // 1, 2, ... per worker
	Time             int64  `json:"time"`              // unix ms
}

// Signed is a Receipt with the proxy's ed25519 signature over SigningBytes.
type Signed struct {
	Receipt   Receipt `json:"receipt"`
	ProxyKey  []byte  `json:"proxy_key"`
	Signature []byte  `json:"signature"`
}

// Amount computes a job's worker payment in nanoTON from its factors:
//
//	gross  = (prompt × pricePrompt + completion × priceCompletion) × coefficient / 1000
//	amount = gross × (10000 − commission) / 10000
//
// rounded down, in exact integer arithmetic. It returns an error wrapping
// ErrBadAmount for negative factors or a result that does not fit in int64.
func Amount(prompt, completion, pricePrompt, priceCompletion, coefficientMilli, commissionBPS int64) (int64, error) {
	if prompt < 0 || completion < 0 || pricePrompt < 0 || priceCompletion < 0 || coefficientMilli < 0 ||
		commissionBPS < 0 || commissionBPS > 10000 {
		return 0, fmt.Errorf("receipt: %w: negative factor or commission over 100%%", ErrBadAmount)
	}
	g := new(big.Int).Mul(big.NewInt(prompt), big.NewInt(pricePrompt))
	g.Add(g, new(big.Int).Mul(big.NewInt(completion), big.NewInt(priceCompletion)))
	g.Mul(g, big.NewInt(coefficientMilli))
	g.Mul(g, big.NewInt(10000-commissionBPS))
	g.Quo(g, big.NewInt(1000*10000))
	if !g.IsInt64() {
		return 0, fmt.Errorf("receipt: %w: overflows int64 nanoTON", ErrBadAmount)
	}
	return g.Int64(), nil
}

// CheckAmount reports whether r.Amount matches its factors.
func (r Receipt) CheckAmount() error {
	want, err := Amount(r.PromptTokens, r.CompletionTokens, r.PricePrompt, r.PriceCompletion, r.CoefficientMilli, r.CommissionBPS)
	if err != nil {
		return err
	}
	if want != r.Amount {
		return fmt.Errorf("receipt %s: %w: %d, want %d", r.JobID, ErrBadAmount, r.Amount, want)
	}
	return nil
}

// SigningBytes is the canonical byte string a receipt's signature covers:
// the context string, a newline, then the receipt's JSON (Go's encoding of
// the struct is deterministic: fixed field order, no extra spaces).
func (r Receipt) SigningBytes() []byte {
	b, _ := json.Marshal(r) // a struct of strings and ints cannot fail
	return append([]byte(Context+"\n"), b...)
}

// Sign signs r with the proxy's private key.
func Sign(proxy ed25519.PrivateKey, r Receipt) Signed {
	return Signed{
		Receipt:   r,
		ProxyKey:  append([]byte(nil), proxy.Public().(ed25519.PublicKey)...),
		Signature: ed25519.Sign(proxy, r.SigningBytes()),
	}
}

// Verify checks the receipt was signed by pinned (the proxy key the worker
// trusts) and that its amount matches its factors.
func (s Signed) Verify(pinned ed25519.PublicKey) error {
	if len(pinned) != ed25519.PublicKeySize || !bytes.Equal(s.ProxyKey, pinned) {
		return fmt.Errorf("receipt %s: %w: not from the pinned proxy key", s.Receipt.JobID, ErrBadSignature)
	}
	if !ed25519.Verify(pinned, s.Receipt.SigningBytes(), s.Signature) {
		return fmt.Errorf("receipt %s: %w", s.Receipt.JobID, ErrBadSignature)
	}
	return s.Receipt.CheckAmount()
}
