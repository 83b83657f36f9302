package network

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/cocoon-desktop/cocoon-desktop/receipt"
)

// testKey makes a deterministic ed25519 key from a one-byte seed.
func testKey(b byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{b}, ed25519.SeedSize))
}

func ptr[T any](v T) *T { return &v }

func testReceipt(workerID string) Receipt {
	r := Receipt{
		JobID: "job-1", WorkerID: workerID, Model: "llama3.2:1b",
		PromptTokens: 120, CompletionTokens: 480,
		PricePrompt: 10, PriceCompletion: 30, CoefficientMilli: 1000, CommissionBPS: 1000,
		Cumulative: 1_000_000, Seq: 3, Time: 1_764_000_000_000,
	}
	r.Amount, _ = receipt.Amount(r.PromptTokens, r.CompletionTokens, r.PricePrompt, r.PriceCompletion, r.CoefficientMilli, r.CommissionBPS)
	return r
}

// validMessages is one valid payload of every message type.
func validMessages() map[string]Validator {
	proxy, worker := testKey(1), testKey(2)
	wpub := worker.Public().(ed25519.PublicKey)
	ppub := proxy.Public().(ed25519.PublicKey)
	n1, n2 := bytes.Repeat([]byte{7}, 32), bytes.Repeat([]byte{9}, 32)
	return map[string]Validator{
		TypeHello:     &Hello{WorkerKey: wpub, ClientNonce: n1, AppVersion: "0.1.0"},
		TypeChallenge: &Challenge{ProxyKey: ppub, Nonce: n2, ProxySig: ed25519.Sign(proxy, ProxyAuthBytes(n1, n2, wpub, n1))},
		TypeAuth:      &Auth{WorkerSig: ed25519.Sign(worker, WorkerAuthBytes(n2, n1, ppub, n1))},
		TypeWelcome:   &Welcome{WorkerID: WorkerID(wpub), HeartbeatMS: 10000, ServerTime: 1_764_000_000_000},
		TypeRegister: &Register{
			GPU:              GPUInfo{Name: "NVIDIA GeForce RTX 4090", VRAMTotal: 24 << 30, VRAMFree: 20 << 30, Driver: "550.54", Count: 1},
			Models:           []ModelInfo{{Name: "llama3.2:1b", Size: 1 << 30, Loaded: true, FitsVRAM: true}},
			CoefficientMilli: 1000, MaxConcurrent: 2, PayoutAddress: "UQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAJKZ",
		},
		TypeAvailability: &Availability{State: Paused, Reason: "owner is back"},
		TypePing:         &Ping{T: 1_764_000_000_000},
		TypePong:         &Ping{T: 1_764_000_000_000},
		TypeJob: &Job{JobID: "job-1", Model: "llama3.2:1b", Messages: []ChatMessage{{Role: "system", Content: "Be brief."}, {Role: "user", Content: "Hi ☃"}},
			Options: SamplingOptions{Temperature: ptr(0.7), TopP: ptr(0.9), Seed: ptr(42)}, MaxTokens: 256, Deadline: 1_764_000_060_000},
		TypeDelta:           &Delta{JobID: "job-1", Seq: 0, Text: "Hello"},
		TypeDone:            &Done{JobID: "job-1", Usage: Usage{PromptTokens: 12, CompletionTokens: 5, EvalMS: 40, TotalMS: 55}, FinishReason: "stop"},
		TypeJobError:        &JobError{JobID: "job-1", Code: CodeRuntime, Message: "model runtime failed"},
		TypeCancel:          &Cancel{JobID: "job-1", Reason: "client went away"},
		TypeReceipt:         ptr(SignedReceipt(receipt.Sign(proxy, testReceipt(WorkerID(wpub))))),
		TypeError:           &ErrorMsg{Code: CodeBadMessage, Message: "unknown message type", Ref: "w7"},
		TypeBye:             &Bye{Reason: "shutting down"},
		TypeReceiptsRequest: &ReceiptsRequest{Ranges: []SeqRange{{First: 3, Last: 4}, {First: 7, Last: 9}}},
		TypePayoutRequest: ptr(SignPayout(worker, PayoutRequest{PayoutID: "po-1", Amount: 700_000_000,
			Destination: "UQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAJKZ", Created: 1_764_000_000_000,
			ProxyKey: ppub, Expires: 1_764_003_600_000})),
	}
}

// TestEncodeVersionError: a peer refused for its version gets the error in
// the envelope version it spoke when that is an older one, so it can read it.
func TestEncodeVersionError(t *testing.T) {
	em := &ErrorMsg{Code: CodeUnsupportedVersion, Message: "protocol version 1, this side speaks 2", Ref: "h1"}
	for _, tc := range []struct {
		name        string
		peerVersion int
		wantV       int
	}{
		{"older peer gets its own version", 1, 1},
		{"current peer", ProtocolVersion, ProtocolVersion},
		{"newer peer gets ours", ProtocolVersion + 1, ProtocolVersion},
		{"no version gets ours", 0, ProtocolVersion},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := EncodeVersionError(tc.peerVersion, "e1", em)
			if err != nil {
				t.Fatal(err)
			}
			var env Envelope
			if err := strictUnmarshal(b, &env); err != nil {
				t.Fatal(err)
			}
			var got ErrorMsg
			if err := strictUnmarshal(env.Data, &got); err != nil {
				t.Fatal(err)
			}
			if env.V != tc.wantV || env.Type != TypeError || env.ID != "e1" || got != *em {
				t.Errorf("frame %s: v=%d, want %d", b, env.V, tc.wantV)
			}
		})
	}
}

func TestReceiptsRequestLimits(t *testing.T) {
	many := make([]SeqRange, MaxReceiptRanges+1)
	for i := range many {
		many[i] = SeqRange{First: int64(2*i + 1), Last: int64(2*i + 1)}
	}
	tests := []struct {
		name   string
		ranges []SeqRange
		code   string // "" valid
	}{
		{"one", []SeqRange{{First: 1, Last: 1}}, ""},
		{"the most receipts", []SeqRange{{First: 1, Last: MaxReceiptsResent}}, ""},
		{"none", nil, CodeBadMessage},
		{"seq 0", []SeqRange{{First: 0, Last: 3}}, CodeBadMessage},
		{"backwards", []SeqRange{{First: 5, Last: 4}}, CodeBadMessage},
		{"too many receipts in one range", []SeqRange{{First: 1, Last: MaxReceiptsResent + 1}}, CodeTooLarge},
		{"too many receipts in all", []SeqRange{{First: 1, Last: 600}, {First: 1001, Last: 1500}}, CodeTooLarge},
		{"a huge range does not overflow", []SeqRange{{First: 1, Last: math.MaxInt64}}, CodeTooLarge},
		{"too many ranges", many, CodeBadMessage},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := (&ReceiptsRequest{Ranges: tc.ranges}).Validate()
			var pe *ProtocolError
			switch {
			case tc.code == "" && err != nil:
				t.Fatalf("valid request refused: %v", err)
			case tc.code != "" && (!errors.As(err, &pe) || pe.Code != tc.code):
				t.Fatalf("err = %v, want code %s", err, tc.code)
			}
		})
	}
}

func validFrames(tb testing.TB) [][]byte {
	tb.Helper()
	var out [][]byte
	for typ, p := range validMessages() {
		b, err := Encode(typ, "m1", p)
		if err != nil {
			tb.Fatalf("encode %s: %v", typ, err)
		}
		out = append(out, b)
	}
	b, err := Encode(TypeBye, "", nil) // no data at all
	if err != nil {
		tb.Fatal(err)
	}
	return append(out, b)
}

func invalidFrames() []string {
	// Oversized fields use the small limits: a 64 KiB seed makes the fuzzer
	// spend its time minimizing instead of exploring.
	big := strings.Repeat("a", MaxReasonLength+1)
	return []string{
		``, `null`, `[]`, `"x"`, `{`, `{"v":2,"type":"ping"`, // truncated / not an object
		`{"v":2,"type":"job","data":{"job_id":"j","model":"m","messages":[{"role":"user","content":"hi"}],"deadline":1`,
		`{"v":1,"type":"ping","data":{"t":1}}`,                                   // wrong (old) version
		`{"v":4,"type":"ping","data":{"t":1}}`,                                   // wrong (newer) version
		`{"v":0,"type":"ping"}`,                                                  // missing version
		`{"v":2,"type":"teleport"}`,                                              // unknown type
		`{"v":2,"type":"ping","x":1}`,                                            // unknown envelope field
		`{"v":2,"type":"ping","data":{"t":1,"u":2}}`,                             // unknown payload field
		`{"v":2,"type":"cancel","data":{"job_id":"j","reason":"` + big + `"}}`,   // oversized field
		`{"v":2,"type":"delta","data":{"job_id":"j","seq":0,"text":"\xff\xfe"}}`, // bad UTF-8 (coerced)
		`{"v":2,"type":"ping","data":{"t":1e400}}`,                               // huge number
		`{"v":2,"type":"ping","data":{"t":99999999999999999999}}`,
		`{"v":2,"type":"delta","data":{"job_id":"j","seq":1.5,"text":"x"}}`,
		`{"v":2,"type":"job","data":{"job_id":"j","model":"m","messages":[{"role":"user","content":"x"}],"deadline":1,"options":{"temperature":1e308}}}`,
		`{"v":2,"type":"ping"}}`, // trailing data
		`{"v":2,"type":"ping"} {"v":2}`,
		`{"v":2,"type":"ping","id":"` + strings.Repeat("i", 65) + `"}`,
		`{"v":2,"type":"receipt","data":{"receipt":{"job_id":"j","worker_id":"w","model":"m","amount":-1,"seq":1},"proxy_key":"AAAA","signature":"AAAA"}}`,
	}
}

// FuzzDecode: Decode never panics, and whatever it accepts re-encodes and
// decodes to the same value.
func FuzzDecode(f *testing.F) {
	for _, b := range validFrames(f) {
		f.Add(b)
	}
	for _, s := range invalidFrames() {
		f.Add([]byte(s))
	}
	for _, ex := range docExamples(f) {
		f.Add([]byte(ex))
	}
	for _, b := range chatSurfaceFrames(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		env, payload, err := Decode(frame)
		if err != nil {
			var pe *ProtocolError
			if !errors.As(err, &pe) || !errors.Is(err, ErrProtocol) || pe.Code == "" {
				t.Fatalf("Decode error is not a *ProtocolError with a code: %#v", err)
			}
			if payload != nil {
				t.Fatal("payload with an error")
			}
			return
		}
		again, err := EncodeVersion(env.V, env.Type, env.ID, payload)
		if err != nil {
			// Go escapes <, >, & and invalid UTF-8 as \uXXXX, so a frame near
			// the limit may grow past it; anything else is a bug.
			var pe *ProtocolError
			if errors.As(err, &pe) && pe.Code == CodeTooLarge && len(frame) > MaxMessageSize/6 {
				return
			}
			t.Fatalf("accepted frame does not re-encode: %v", err)
		}
		env2, payload2, err := Decode(again)
		if err != nil {
			t.Fatalf("re-encoded frame does not decode: %v\n%s", err, again)
		}
		if env2.V != env.V || env2.Type != env.Type || env2.ID != env.ID {
			t.Fatalf("envelope changed: %+v -> %+v", env, env2)
		}
		if !reflect.DeepEqual(payload, payload2) {
			t.Fatalf("payload changed:\n%#v\n%#v", payload, payload2)
		}
	})
}

func TestEncodeDecodeEveryType(t *testing.T) {
	for typ, p := range validMessages() {
		b, err := Encode(typ, "m1", p)
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		env, got, err := Decode(b)
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		if env.Type != typ || env.ID != "m1" || env.V != ProtocolVersion || !reflect.DeepEqual(got, p) {
			t.Fatalf("%s: round trip changed it: %+v %#v", typ, env, got)
		}
	}
}

func TestEncodeRefusesInvalid(t *testing.T) {
	if _, err := Encode(TypeDelta, "", &Delta{JobID: "", Text: "x"}); err == nil || !errors.Is(err, ErrProtocol) {
		t.Fatalf("encode of a delta without job id: %v", err)
	}
	huge := &Job{JobID: "j", Model: "m", Deadline: 1, Messages: []ChatMessage{{Role: "user", Content: strings.Repeat("x", MaxMessageSize)}}}
	var pe *ProtocolError
	if _, err := Encode(TypeJob, "", huge); !errors.As(err, &pe) || pe.Code != CodeTooLarge {
		t.Fatalf("encode of a 1 MiB job: %v", err)
	}
}

func TestDecodeErrorCodes(t *testing.T) {
	job := func(extra string) string {
		return `{"v":2,"type":"job","id":"p1","data":{"job_id":"j1","model":"m","messages":[{"role":"user","content":"hi"}],"deadline":1` + extra + `}}`
	}
	cases := []struct {
		name, frame, code, ref string
	}{
		{"empty", ``, CodeBadMessage, ""},
		{"not json", `hello`, CodeBadMessage, ""},
		{"array", `[1]`, CodeBadMessage, ""},
		{"truncated", `{"v":2,"type":"ping"`, CodeBadMessage, ""},
		{"trailing brace", `{"v":2,"type":"ping"}}`, CodeBadMessage, ""},
		{"trailing value", `{"v":2,"type":"ping"} 1`, CodeBadMessage, ""},
		{"unknown envelope field", `{"v":2,"type":"ping","extra":true}`, CodeBadMessage, ""},
		{"long id", `{"v":2,"type":"ping","id":"` + strings.Repeat("x", MaxJobIDLength+1) + `"}`, CodeBadMessage, ""},
		{"version 1", `{"v":1,"type":"ping","id":"p1"}`, CodeUnsupportedVersion, "p1"},
		{"version 4", `{"v":4,"type":"ping","id":"p1"}`, CodeUnsupportedVersion, "p1"},
		{"no version", `{"type":"ping","id":"p1"}`, CodeUnsupportedVersion, "p1"},
		{"unknown type", `{"v":2,"type":"teleport","id":"p1"}`, CodeBadMessage, "p1"},
		{"unknown payload field", job(`,"priority":9`), CodeBadMessage, "p1"},
		{"wrong field type", `{"v":2,"type":"ping","id":"p1","data":{"t":"now"}}`, CodeBadMessage, "p1"},
		{"huge number", `{"v":2,"type":"ping","id":"p1","data":{"t":1e999}}`, CodeBadMessage, "p1"},
		{"int overflow", `{"v":2,"type":"ping","id":"p1","data":{"t":9223372036854775808}}`, CodeBadMessage, "p1"},
		{"data not an object", `{"v":2,"type":"ping","id":"p1","data":[1]}`, CodeBadMessage, "p1"},
		{"job without deadline", `{"v":2,"type":"job","id":"p1","data":{"job_id":"j1","model":"m","messages":[{"role":"user","content":"hi"}]}}`, CodeBadMessage, "p1"},
		{"job bad role", strings.Replace(job(""), `"user"`, `"root"`, 1), CodeBadMessage, "p1"},
		{"job temperature", job(`,"options":{"temperature":3}`), CodeBadMessage, "p1"},
		{"job max_tokens", job(`,"max_tokens":-1`), CodeBadMessage, "p1"},
		{"job long id", strings.Replace(job(""), `"j1"`, `"`+strings.Repeat("j", MaxJobIDLength+1)+`"`, 1), CodeTooLarge, "p1"},
		{"delta too long", `{"v":2,"type":"delta","id":"p1","data":{"job_id":"j","seq":0,"text":"` + strings.Repeat("a", MaxDeltaText+1) + `"}}`, CodeTooLarge, "p1"},
		{"delta negative seq", `{"v":2,"type":"delta","id":"p1","data":{"job_id":"j","seq":-1,"text":"a"}}`, CodeBadMessage, "p1"},
		{"hello short key", `{"v":2,"type":"hello","id":"p1","data":{"worker_key":"AAAA","client_nonce":"AAAA"}}`, CodeBadMessage, "p1"},
		{"hello bad base64", `{"v":2,"type":"hello","id":"p1","data":{"worker_key":"!!","client_nonce":"AAAA"}}`, CodeBadMessage, "p1"},
		{"availability state", `{"v":2,"type":"availability","id":"p1","data":{"state":"asleep"}}`, CodeBadMessage, "p1"},
		{"register no models limit", `{"v":2,"type":"register","id":"p1","data":{"gpu":{"count":1},"models":[],"coefficient_milli":0,"max_concurrent":1}}`, CodeBadMessage, "p1"},
		{"error without code", `{"v":2,"type":"error","id":"p1","data":{}}`, CodeBadMessage, "p1"},
		{"frame too large", `{"v":2,"type":"ping","id":"p1","data":{"t":1}}` + strings.Repeat(" ", MaxMessageSize), CodeTooLarge, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, p, err := Decode([]byte(tc.frame))
			var pe *ProtocolError
			if !errors.As(err, &pe) {
				t.Fatalf("want a *ProtocolError %s, got %v (payload %#v)", tc.code, err, p)
			}
			if pe.Code != tc.code || pe.Ref != tc.ref {
				t.Fatalf("want code %s ref %q, got %s ref %q: %v", tc.code, tc.ref, pe.Code, pe.Ref, err)
			}
			if !errors.Is(err, ErrProtocol) {
				t.Fatal("not ErrProtocol")
			}
			em := pe.AsErrorMsg()
			if _, err := Encode(TypeError, "", &em); err != nil {
				t.Fatalf("the error reply does not encode: %v", err)
			}
		})
	}
}

func TestDecodeCoercesBadUTF8(t *testing.T) {
	// encoding/json replaces invalid UTF-8 with U+FFFD, so such text decodes
	// and re-encodes as valid UTF-8 rather than failing.
	_, p, err := Decode([]byte("{\"v\":2,\"type\":\"delta\",\"data\":{\"job_id\":\"j\",\"seq\":0,\"text\":\"a\xffb\"}}"))
	if err != nil {
		t.Fatal(err)
	}
	if got := p.(*Delta).Text; got != "a\uFFFDb" {
		t.Fatalf("text %q", got)
	}
}

func TestBalanceWorkerShare(t *testing.T) {
	b := Balance{Network: "testnet", CommissionBPS: 1000, Prices: []ModelPrice{{Model: "m", PricePrompt: 10, PriceCompletion: 30}}}
	if got, ok := b.WorkerShare("m", 120, 480); !ok || got != 14040 {
		t.Fatalf("WorkerShare = %d %v, want 14040 (the example in docs/protocol.md §8)", got, ok)
	}
	if _, ok := b.WorkerShare("other", 1, 1); ok {
		t.Fatal("a model without a price has no share")
	}
	b.CommissionBPS = 10001
	if err := b.Validate(); err == nil {
		t.Fatal("commission over 100% accepted")
	}
}

// signReceipt signs r as the proxy does and wraps it as the wire message.
func signReceipt(proxy ed25519.PrivateKey, r Receipt) SignedReceipt {
	return SignedReceipt(receipt.Sign(proxy, r))
}
