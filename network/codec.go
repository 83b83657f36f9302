package network

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// ProtocolError is a decoding or validation failure with its wire code.
type ProtocolError struct {
	Code    string // one of the Code constants
	Message string
	Ref     string // the offending Envelope.ID, when known
}

func (e *ProtocolError) Error() string { return "network: " + e.Code + ": " + e.Message }

// AsErrorMsg turns the error into the ErrorMsg to send back.
func (e *ProtocolError) AsErrorMsg() ErrorMsg {
	return ErrorMsg{Code: e.Code, Message: e.Message, Ref: e.Ref}
}

// ErrProtocol matches every *ProtocolError with errors.Is.
var ErrProtocol = errors.New("network: protocol error")

func (e *ProtocolError) Is(target error) bool { return target == ErrProtocol }

func protoErr(code, ref, format string, args ...any) *ProtocolError {
	return &ProtocolError{Code: code, Ref: ref, Message: fmt.Sprintf(format, args...)}
}

// Validator is implemented by every payload type; Validate checks limits and
// required fields after decoding.
type Validator interface{ Validate() error }

// Encode builds one frame. It validates the payload first, so a peer never
// receives a message this code would reject.
func Encode(typ, id string, payload Validator) ([]byte, error) {
	return EncodeVersion(ProtocolVersion, typ, id, payload)
}

// EncodeVersion is Encode in envelope version v (MinProtocolVersion..
// ProtocolVersion): the proxy answers a worker in the version it spoke.
// The payload is the same; version 3's fields are omitted when empty, and
// the proxy never fills them for an older worker (Job.Features).
func EncodeVersion(v int, typ, id string, payload Validator) ([]byte, error) {
	if v < MinProtocolVersion || v > ProtocolVersion {
		return nil, fmt.Errorf("network: encode %s: protocol version %d is not one this side speaks", typ, v)
	}
	if payload != nil {
		if err := payload.Validate(); err != nil {
			return nil, fmt.Errorf("network: encode %s: %w", typ, err)
		}
	}
	env := Envelope{V: v, Type: typ, ID: id}
	if payload != nil {
		data, err := json.Marshal(payload)
		if err != nil {
			return nil, fmt.Errorf("network: encode %s: %w", typ, err)
		}
		env.Data = data
	}
	b, err := json.Marshal(env)
	if err != nil {
		return nil, fmt.Errorf("network: encode %s: %w", typ, err)
	}
	if len(b) > MaxMessageSize {
		return nil, protoErr(CodeTooLarge, id, "%s message is %d bytes, limit %d", typ, len(b), MaxMessageSize)
	}
	return b, nil
}

// EncodeVersionError builds an error frame in the envelope version the peer
// spoke, when that is an older version whose error message has the same
// shape (every version so far), so a peer on an old version can read why it
// is refused (e.g. unsupported_version) instead of failing to decode the
// answer. Other versions get the current one.
func EncodeVersionError(peerVersion int, id string, em *ErrorMsg) ([]byte, error) {
	if peerVersion >= MinProtocolVersion && peerVersion <= ProtocolVersion {
		return EncodeVersion(peerVersion, TypeError, id, em)
	}
	b, err := Encode(TypeError, id, em)
	if err != nil || peerVersion < 1 || peerVersion > ProtocolVersion {
		return b, err
	}
	var env Envelope
	if err := json.Unmarshal(b, &env); err != nil {
		return nil, fmt.Errorf("network: encode error: %w", err)
	}
	env.V = peerVersion
	return json.Marshal(env)
}

// knownTypes maps each message type to a constructor of its payload.
var knownTypes = map[string]func() Validator{
	TypeHello:           func() Validator { return &Hello{} },
	TypeChallenge:       func() Validator { return &Challenge{} },
	TypeAuth:            func() Validator { return &Auth{} },
	TypeWelcome:         func() Validator { return &Welcome{} },
	TypeRegister:        func() Validator { return &Register{} },
	TypeAvailability:    func() Validator { return &Availability{} },
	TypePing:            func() Validator { return &Ping{} },
	TypePong:            func() Validator { return &Ping{} },
	TypeJob:             func() Validator { return &Job{} },
	TypeDelta:           func() Validator { return &Delta{} },
	TypeDone:            func() Validator { return &Done{} },
	TypeJobError:        func() Validator { return &JobError{} },
	TypeCancel:          func() Validator { return &Cancel{} },
	TypeReceipt:         func() Validator { return &SignedReceipt{} },
	TypeError:           func() Validator { return &ErrorMsg{} },
	TypeBye:             func() Validator { return &Bye{} },
	TypeBalance:         func() Validator { return &Balance{} },
	TypePayoutRequest:   func() Validator { return &PayoutRequest{} },
	TypePayoutStatus:    func() Validator { return &PayoutStatus{} },
	TypeReceiptsRequest: func() Validator { return &ReceiptsRequest{} },
	TypeEmbedding:       func() Validator { return &Embedding{} },
	TypeVoucher:         func() Validator { return &Voucher{} },
	TypeVoucherRequest:  func() Validator { return &VoucherRequest{} },
}

// Decode parses and validates one frame, returning the envelope and its
// typed payload (a pointer, e.g. *Job). Every failure is a *ProtocolError
// whose Code says what to answer; Decode never panics on any input.
func Decode(frame []byte) (Envelope, Validator, error) {
	var env Envelope
	if len(frame) > MaxMessageSize {
		return env, nil, protoErr(CodeTooLarge, "", "message is %d bytes, limit %d", len(frame), MaxMessageSize)
	}
	if err := strictUnmarshal(frame, &env); err != nil {
		return env, nil, protoErr(CodeBadMessage, "", "not a protocol envelope: %v", err)
	}
	if len(env.ID) > MaxJobIDLength {
		return env, nil, protoErr(CodeBadMessage, "", "message id longer than %d bytes", MaxJobIDLength)
	}
	if env.V < MinProtocolVersion || env.V > ProtocolVersion {
		return env, nil, protoErr(CodeUnsupportedVersion, env.ID, "protocol version %d, this side speaks %d (oldest accepted: %d)", env.V, ProtocolVersion, MinProtocolVersion)
	}
	mk, ok := knownTypes[env.Type]
	if !ok {
		return env, nil, protoErr(CodeBadMessage, env.ID, "unknown message type %q", truncate(env.Type, 64))
	}
	payload := mk()
	data := env.Data
	if len(data) == 0 {
		data = []byte("{}")
	}
	if err := strictUnmarshal(data, payload); err != nil {
		return env, nil, protoErr(CodeBadMessage, env.ID, "%s: %v", env.Type, err)
	}
	if err := payload.Validate(); err != nil {
		var pe *ProtocolError
		if errors.As(err, &pe) {
			pe.Ref = env.ID
			return env, nil, pe
		}
		return env, nil, protoErr(CodeBadMessage, env.ID, "%s: %v", env.Type, err)
	}
	return env, payload, nil
}

// strictUnmarshal rejects unknown fields and trailing data: a peer that
// sends fields we do not know is on another version and must be told so.
func strictUnmarshal(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	// dec.More() would miss a trailing '}' or ']'; only JSON whitespace may follow.
	if len(bytes.TrimLeft(b[dec.InputOffset():], " \t\r\n")) != 0 {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func checkText(field, s string, max int) error {
	if len(s) > max {
		return protoErr(CodeTooLarge, "", "%s is %d bytes, limit %d", field, len(s), max)
	}
	if !utf8.ValidString(s) {
		return protoErr(CodeBadMessage, "", "%s is not valid UTF-8", field)
	}
	return nil
}

func checkJobID(id string) error {
	if id == "" {
		return protoErr(CodeBadMessage, "", "job_id is required")
	}
	return checkText("job_id", id, MaxJobIDLength)
}

func checkLen(field string, b []byte, n int) error {
	if len(b) != n {
		return protoErr(CodeBadMessage, "", "%s must be %d bytes, got %d", field, n, len(b))
	}
	return nil
}

// Validate implementations: limits and required fields of each payload.

func (m *Hello) Validate() error {
	if err := checkLen("worker_key", m.WorkerKey, 32); err != nil {
		return err
	}
	if err := checkLen("client_nonce", m.ClientNonce, 32); err != nil {
		return err
	}
	return checkText("app_version", m.AppVersion, 64)
}

func (m *Challenge) Validate() error {
	if err := checkLen("proxy_key", m.ProxyKey, 32); err != nil {
		return err
	}
	if err := checkLen("nonce", m.Nonce, 32); err != nil {
		return err
	}
	return checkLen("proxy_sig", m.ProxySig, 64)
}

func (m *Auth) Validate() error { return checkLen("worker_sig", m.WorkerSig, 64) }

func (m *Welcome) Validate() error {
	if m.WorkerID == "" {
		return protoErr(CodeBadMessage, "", "worker_id is required")
	}
	if m.HeartbeatMS < 0 {
		return protoErr(CodeBadMessage, "", "heartbeat_ms is negative")
	}
	return checkText("worker_id", m.WorkerID, 128)
}

func (m *Register) Validate() error {
	if len(m.Models) > MaxModels {
		return protoErr(CodeTooLarge, "", "%d models, limit %d", len(m.Models), MaxModels)
	}
	for _, mi := range m.Models {
		if mi.Name == "" {
			return protoErr(CodeBadMessage, "", "a model has no name")
		}
		if err := checkText("model name", mi.Name, MaxModelName); err != nil {
			return err
		}
		if mi.Size < 0 {
			return protoErr(CodeBadMessage, "", "model %s has a negative size", mi.Name)
		}
		if err := checkText("model digest", mi.Digest, MaxModelName); err != nil {
			return err
		}
	}
	if m.CoefficientMilli < 1 || m.CoefficientMilli > 100_000 {
		return protoErr(CodeBadMessage, "", "coefficient_milli %d out of range 1..100000", m.CoefficientMilli)
	}
	if m.MaxConcurrent < 1 || m.MaxConcurrent > 64 {
		return protoErr(CodeBadMessage, "", "max_concurrent %d out of range 1..64", m.MaxConcurrent)
	}
	if m.GPU.Count < 0 {
		return protoErr(CodeBadMessage, "", "gpu count is negative")
	}
	if err := checkText("gpu name", m.GPU.Name, 256); err != nil {
		return err
	}
	if err := checkText("gpu driver", m.GPU.Driver, 64); err != nil {
		return err
	}
	if err := checkText("payout_address", m.PayoutAddress, 128); err != nil {
		return err
	}
	return validateFeatures(m.Features)
}

func (m *Availability) Validate() error {
	switch m.State {
	case Accepting, Draining, Paused:
	default:
		return protoErr(CodeBadMessage, "", "unknown availability state %q", truncate(m.State, 32))
	}
	return checkText("reason", m.Reason, MaxReasonLength)
}

func (m *Ping) Validate() error { return nil }

func (m *Job) Validate() error {
	if err := checkJobID(m.JobID); err != nil {
		return err
	}
	if m.Model == "" {
		return protoErr(CodeBadMessage, "", "model is required")
	}
	if err := checkText("model", m.Model, MaxModelName); err != nil {
		return err
	}
	if m.Kind != JobChat {
		if err := m.validateKind(); err != nil { // jobkinds.go
			return err
		}
	} else if len(m.Messages) == 0 {
		return protoErr(CodeBadMessage, "", "messages are required")
	}
	if len(m.Messages) > MaxMessages {
		return protoErr(CodeTooLarge, "", "%d messages, limit %d", len(m.Messages), MaxMessages)
	}
	for _, cm := range m.Messages {
		switch cm.Role {
		case "system", "user", "assistant", "tool":
		default:
			return protoErr(CodeBadMessage, "", "unknown role %q", truncate(cm.Role, 32))
		}
		if !utf8.ValidString(cm.Content) {
			return protoErr(CodeBadMessage, "", "message content is not valid UTF-8")
		}
	}
	if m.MaxTokens < 0 || m.MaxTokens > MaxMaxTokens {
		return protoErr(CodeBadMessage, "", "max_tokens %d out of range 0..%d", m.MaxTokens, MaxMaxTokens)
	}
	if m.Deadline <= 0 {
		return protoErr(CodeBadMessage, "", "deadline is required")
	}
	if t := m.Options.Temperature; t != nil && (*t < 0 || *t > 2) {
		return protoErr(CodeBadMessage, "", "temperature %v out of range 0..2", *t)
	}
	if p := m.Options.TopP; p != nil && (*p < 0 || *p > 1) {
		return protoErr(CodeBadMessage, "", "top_p %v out of range 0..1", *p)
	}
	return m.validateChatSurface()
}

func (m *Delta) Validate() error {
	if err := checkJobID(m.JobID); err != nil {
		return err
	}
	if m.Seq < 0 {
		return protoErr(CodeBadMessage, "", "seq is negative")
	}
	if err := checkLogprobs(m.Logprobs); err != nil {
		return err
	}
	return checkText("text", m.Text, MaxDeltaText)
}

func (m *Done) Validate() error {
	if err := checkJobID(m.JobID); err != nil {
		return err
	}
	if m.Usage.PromptTokens < 0 || m.Usage.CompletionTokens < 0 || m.Usage.EvalMS < 0 || m.Usage.TotalMS < 0 {
		return protoErr(CodeBadMessage, "", "negative usage")
	}
	if err := checkToolCalls(m.ToolCalls); err != nil {
		return err
	}
	return checkText("finish_reason", m.FinishReason, 32)
}

func (m *JobError) Validate() error {
	if err := checkJobID(m.JobID); err != nil {
		return err
	}
	if m.Code == "" {
		return protoErr(CodeBadMessage, "", "code is required")
	}
	if err := checkText("code", m.Code, 64); err != nil {
		return err
	}
	return checkText("message", m.Message, MaxReasonLength)
}

func (m *Cancel) Validate() error {
	if err := checkJobID(m.JobID); err != nil {
		return err
	}
	return checkText("reason", m.Reason, MaxReasonLength)
}

func (m *SignedReceipt) Validate() error {
	r := m.Receipt
	if err := checkJobID(r.JobID); err != nil {
		return err
	}
	if err := checkLen("proxy_key", m.ProxyKey, 32); err != nil {
		return err
	}
	if err := checkLen("signature", m.Signature, 64); err != nil {
		return err
	}
	if r.WorkerID == "" || r.Model == "" {
		return protoErr(CodeBadMessage, "", "receipt needs worker_id and model")
	}
	if err := checkText("worker_id", r.WorkerID, 128); err != nil {
		return err
	}
	if err := checkText("model", r.Model, MaxModelName); err != nil {
		return err
	}
	if r.Amount < 0 || r.Cumulative < r.Amount || r.Seq < 1 || r.PromptTokens < 0 || r.CompletionTokens < 0 {
		return protoErr(CodeBadMessage, "", "receipt has inconsistent amounts")
	}
	return nil
}

func (m *ErrorMsg) Validate() error {
	if m.Code == "" {
		return protoErr(CodeBadMessage, "", "code is required")
	}
	if err := checkText("code", m.Code, 64); err != nil {
		return err
	}
	if err := checkText("ref", m.Ref, MaxJobIDLength); err != nil {
		return err
	}
	return checkText("message", m.Message, MaxReasonLength)
}

func (m *Bye) Validate() error { return checkText("reason", m.Reason, MaxReasonLength) }

func (m *Balance) Validate() error {
	if m.Cumulative < 0 || m.LastSeq < 0 || m.Paid < 0 || m.Pending < 0 || m.MinPayout < 0 || m.PayoutFee < 0 {
		return protoErr(CodeBadMessage, "", "negative balance field")
	}
	if m.Paid+m.Pending > m.Cumulative {
		return protoErr(CodeBadMessage, "", "paid and pending exceed the earned total")
	}
	if m.CommissionBPS < 0 || m.CommissionBPS > 10000 {
		return protoErr(CodeBadMessage, "", "commission_bps out of range 0..10000")
	}
	if len(m.Prices) > MaxModels {
		return protoErr(CodeTooLarge, "", "%d prices, limit %d", len(m.Prices), MaxModels)
	}
	for _, p := range m.Prices {
		if p.Model == "" || p.PricePrompt < 0 || p.PriceCompletion < 0 {
			return protoErr(CodeBadMessage, "", "a price needs a model and non-negative prices")
		}
		if err := checkText("model", p.Model, MaxModelName); err != nil {
			return err
		}
	}
	switch m.Network {
	case "mainnet", "testnet":
	default:
		return protoErr(CodeBadMessage, "", "network must be mainnet or testnet")
	}
	if s := m.Standing; s != nil {
		switch s.Level {
		case TrustNew, TrustTrusted, TrustQuarantined:
		default:
			return protoErr(CodeBadMessage, "", "standing level %q is not new, trusted or quarantined", truncate(s.Level, 32))
		}
		if s.CanariesPassed < 0 || s.CanariesFailed < 0 || s.CanariesNeeded < 0 || s.Held < 0 || s.HeldUntil < 0 || s.DailyCap < 0 || s.EarnedToday < 0 {
			return protoErr(CodeBadMessage, "", "negative standing field")
		}
		if s.Held > m.Cumulative-m.Paid-m.Pending {
			return protoErr(CodeBadMessage, "", "held exceeds the unpaid balance")
		}
		if err := checkText("standing reason", s.Reason, MaxReasonLength); err != nil {
			return err
		}
	}
	return nil
}

// checkPayoutID allows ids that are safe in a TON comment and a file name.
func checkPayoutID(id string) error {
	if id == "" || len(id) > MaxJobIDLength {
		return protoErr(CodeBadMessage, "", "payout_id must be 1..%d bytes", MaxJobIDLength)
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return protoErr(CodeBadMessage, "", "payout_id may hold only letters, digits, - and _")
		}
	}
	return nil
}

func (m *PayoutRequest) Validate() error {
	if err := checkPayoutID(m.PayoutID); err != nil {
		return err
	}
	if m.Amount <= 0 {
		return protoErr(CodeBadMessage, "", "amount must be positive")
	}
	if m.Destination == "" {
		return protoErr(CodeBadMessage, "", "destination is required")
	}
	if err := checkText("destination", m.Destination, 128); err != nil {
		return err
	}
	if m.Created <= 0 {
		return protoErr(CodeBadMessage, "", "created is required")
	}
	if err := checkLen("proxy_key", m.ProxyKey, 32); err != nil {
		return err
	}
	if m.Expires <= 0 {
		return protoErr(CodeBadMessage, "", "expires is required")
	}
	return checkLen("worker_sig", m.WorkerSig, 64)
}

func (m *PayoutStatus) Validate() error {
	if err := checkPayoutID(m.PayoutID); err != nil {
		return err
	}
	switch m.State {
	case PayoutAccepted, PayoutSent, PayoutConfirmed, PayoutFailed, PayoutRejected:
	default:
		return protoErr(CodeBadMessage, "", "unknown payout state %q", truncate(m.State, 32))
	}
	if m.Amount < 0 || m.Fee < 0 {
		return protoErr(CodeBadMessage, "", "negative payout amount")
	}
	for _, f := range []struct{ name, v string }{{"destination", m.Destination}, {"msg_hash", m.MsgHash}, {"tx_hash", m.TxHash}} {
		if err := checkText(f.name, f.v, 128); err != nil {
			return err
		}
	}
	if err := checkText("reason", m.Reason, MaxReasonLength); err != nil {
		return err
	}
	return m.Balance.Validate()
}

func (m *ReceiptsRequest) Validate() error {
	if len(m.Ranges) == 0 || len(m.Ranges) > MaxReceiptRanges {
		return protoErr(CodeBadMessage, "", "receipts_request needs 1..%d ranges", MaxReceiptRanges)
	}
	var n int64
	for _, r := range m.Ranges {
		if r.First < 1 || r.Last < r.First {
			return protoErr(CodeBadMessage, "", "receipts_request range %d..%d is not 1 ≤ first ≤ last", r.First, r.Last)
		}
		if r.Last-r.First >= MaxReceiptsResent {
			return protoErr(CodeTooLarge, "", "receipts_request asks for more than %d receipts", MaxReceiptsResent)
		}
		n += r.Last - r.First + 1
		if n > MaxReceiptsResent {
			return protoErr(CodeTooLarge, "", "receipts_request asks for more than %d receipts", MaxReceiptsResent)
		}
	}
	return nil
}
