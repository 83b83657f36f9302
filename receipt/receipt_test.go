package receipt

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"math"
	"testing"
)

func testKey(b byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{b}, ed25519.SeedSize))
}

func testReceipt(workerID string) Receipt {
	r := Receipt{
		JobID: "job-1", WorkerID: workerID, Model: "llama3.2:1b",
		PromptTokens: 120, CompletionTokens: 480,
		PricePrompt: 10, PriceCompletion: 30, CoefficientMilli: 1000, CommissionBPS: 1000,
		Cumulative: 1_000_000, Seq: 3, Time: 1_764_000_000_000,
	}
	r.Amount, _ = Amount(r.PromptTokens, r.CompletionTokens, r.PricePrompt, r.PriceCompletion, r.CoefficientMilli, r.CommissionBPS)
	return r
}

func TestAmount(t *testing.T) {
	cases := []struct {
		name                           string
		p, c, pp, pc, coef, comm, want int64
	}{
		{"zero", 0, 0, 10, 30, 1000, 1000, 0},
		{"exact", 100, 200, 10, 30, 1000, 0, 7000},
		{"commission 10%", 100, 200, 10, 30, 1000, 1000, 6300},
		{"coefficient 1.5", 100, 200, 10, 30, 1500, 0, 10500},
		{"commission 0", 1, 1, 1, 1, 1000, 0, 2},
		{"commission 100%", 1000, 1000, 1000, 1000, 1000, 10000, 0},
		{"rounds down gross", 1, 0, 1, 0, 999, 0, 0},    // 0.999 → 0
		{"rounds down net", 3, 0, 1, 0, 1000, 1, 2},     // 3 × 0.9999 = 2.9997 → 2
		{"rounds down both", 7, 3, 3, 7, 1234, 333, 50}, // 42 × 1234 × 9667 / 1e7 = 50.102 → 50
		{"coefficient 0", 100, 100, 10, 10, 0, 0, 0},
		{"large", 1 << 20, 1 << 20, 1_000_000, 1_000_000, 100_000, 0, 209_715_200_000_000},
		{"max int64", math.MaxInt64, 0, 1, 0, 1000, 0, math.MaxInt64},
	}
	for _, tc := range cases {
		got, err := Amount(tc.p, tc.c, tc.pp, tc.pc, tc.coef, tc.comm)
		if err != nil || got != tc.want {
			t.Errorf("%s: Amount = %d, %v; want %d", tc.name, got, err, tc.want)
		}
	}
	bad := []struct {
		name                     string
		p, c, pp, pc, coef, comm int64
	}{
		{"overflow", math.MaxInt64, math.MaxInt64, math.MaxInt64, math.MaxInt64, 100_000, 0},
		{"overflow coefficient", math.MaxInt64, 0, 1, 0, 1001, 0},
		{"negative tokens", -1, 0, 1, 1, 1000, 0},
		{"negative price", 1, 1, -1, 1, 1000, 0},
		{"negative coefficient", 1, 1, 1, 1, -1, 0},
		{"negative commission", 1, 1, 1, 1, 1000, -1},
		{"commission over 100%", 1, 1, 1, 1, 1000, 10001},
	}
	for _, tc := range bad {
		if got, err := Amount(tc.p, tc.c, tc.pp, tc.pc, tc.coef, tc.comm); !errors.Is(err, ErrBadAmount) {
			t.Errorf("%s: Amount = %d, want an error", tc.name, got)
		}
	}
}

func TestReceiptSignVerify(t *testing.T) {
	proxy, other := testKey(1), testKey(3)
	pinned := proxy.Public().(ed25519.PublicKey)
	r := testReceipt("w")
	sr := Sign(proxy, r)
	if err := sr.Verify(pinned); err != nil {
		t.Fatalf("valid receipt: %v", err)
	}
	// Every field is covered by the signature.
	tamper := map[string]func(*Receipt){
		"job_id":      func(r *Receipt) { r.JobID = "job-2" },
		"worker_id":   func(r *Receipt) { r.WorkerID = "x" },
		"model":       func(r *Receipt) { r.Model = "other" },
		"amount":      func(r *Receipt) { r.Amount++ },
		"cumulative":  func(r *Receipt) { r.Cumulative++ },
		"seq":         func(r *Receipt) { r.Seq++ },
		"time":        func(r *Receipt) { r.Time++ },
		"commission":  func(r *Receipt) { r.CommissionBPS++ },
		"coefficient": func(r *Receipt) { r.CoefficientMilli++ },
	}
	for name, f := range tamper {
		s := sr
		f(&s.Receipt)
		if err := s.Verify(pinned); !errors.Is(err, ErrBadSignature) {
			t.Errorf("tampered %s: %v", name, err)
		}
	}
	s := sr
	s.Signature = append([]byte(nil), sr.Signature...)
	s.Signature[0] ^= 1
	if err := s.Verify(pinned); !errors.Is(err, ErrBadSignature) {
		t.Errorf("flipped signature bit: %v", err)
	}
	// Signed by another key, claiming that key or the pinned one.
	o := Sign(other, r)
	if err := o.Verify(pinned); !errors.Is(err, ErrBadSignature) {
		t.Errorf("other key: %v", err)
	}
	o.ProxyKey = pinned
	if err := o.Verify(pinned); !errors.Is(err, ErrBadSignature) {
		t.Errorf("other key claiming the pinned one: %v", err)
	}
	if err := sr.Verify(nil); err == nil {
		t.Error("no pinned key accepted")
	}
	// Correctly signed, but the amount does not match its factors.
	wrong := r
	wrong.Amount++
	if err := Sign(proxy, wrong).Verify(pinned); !errors.Is(err, ErrBadAmount) || errors.Is(err, ErrBadSignature) {
		t.Errorf("amount mismatch: %v", err)
	}
}
