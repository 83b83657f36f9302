// Package network is the wire protocol between Cocoon desktop workers and a
// Cocoon network proxy, and the worker side of it (Client).
//
// One long-lived WebSocket per worker, opened outbound by the worker (home
// PCs sit behind NAT), carries JSON messages in an Envelope. docs/protocol.md
// documents every message; this file is the source of truth for the types.
//
// Handshake (mutual, bound to both nonces, both keys and the TLS channel):
//
//	worker → proxy  hello      {version, worker_key, client_nonce}
//	proxy  → worker challenge  {proxy_key, nonce, proxy_sig}
//	         proxy_sig = ed25519(proxy, "cocoon-proxy-auth-v2" | client_nonce | nonce | worker_key | cb)
//	         the worker checks proxy_key against its pinned key and the signature
//	worker → proxy  auth       {worker_sig}
//	         worker_sig = ed25519(worker, "cocoon-worker-auth-v2" | nonce | client_nonce | proxy_key | cb)
//	proxy  → worker welcome    {worker_id, heartbeat_ms, server_time}
//
// cb is the TLS connection's tls-exporter channel binding (RFC 9266,
// ChannelBinding), so a handshake relayed over another TLS connection by a
// man in the middle does not verify.
//
// Then the worker sends register and availability; the proxy sends jobs; the
// worker streams delta messages and a done (or job_error); the proxy answers
// a done with a signed receipt. Either side may cancel a job, ping, or say bye.
// After register the proxy sends a balance (for reconciliation); the worker
// may send a signed payout_request, which the proxy answers with
// payout_status messages as the payout moves on chain.
package network

import (
	"bytes"
	"crypto/ed25519"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/receipt"
)

// ProtocolVersion is the version this code speaks. A peer with a version
// outside MinProtocolVersion..ProtocolVersion is refused with
// CodeUnsupportedVersion. Version 2 binds the handshake to the TLS channel
// and payout requests to the proxy key and an expiry: their signed bytes
// differ from version 1's, so a version 1 peer is told so instead of failing
// a signature check. Version 3 adds the chat surface (chat.go): register's
// features, the job's format, tools, stop and penalties, tool-call messages
// and done's tool_calls. Every field it added is omitted when empty, so a
// plain job is the same frame in both; the proxy answers a version 2 worker
// in version 2 and never sends it a job that needs a feature (Job.Features).
const ProtocolVersion = 3

// MinProtocolVersion is the oldest version this code still accepts.
const MinProtocolVersion = 2

// Features a worker announces in Register.Features: the parts of a job it
// can run beyond a plain chat (Job.Features lists what a job needs). A
// version 2 worker announces none. Keep this one block so that new job
// kinds add their feature here.
const (
	FeatureFormat    = "format"    // Job.Format: JSON mode and JSON schema (Ollama's format)
	FeatureTools     = "tools"     // Job.Tools, tool-call messages, Done.ToolCalls
	FeatureStop      = "stop"      // SamplingOptions.Stop
	FeaturePenalties = "penalties" // SamplingOptions.PresencePenalty, FrequencyPenalty
	FeatureLogprobs  = "logprobs"  // Job.Logprobs, TopLogprobs; Delta.Logprobs
)

// KnownFeatures are the features this code defines, in a stable order.
var KnownFeatures = []string{FeatureFormat, FeatureTools, FeatureStop, FeaturePenalties, FeatureLogprobs}

// Size limits. MaxMessageSize bounds every frame; the others bound fields.
const (
	MaxMessageSize   = 1 << 20 // 1 MiB: a job with a long conversation
	MaxDeltaText     = 64 << 10
	MaxModels        = 256
	MaxMessages      = 512
	MaxModelName     = receipt.MaxModelName
	MaxReasonLength  = 512
	MaxJobIDLength   = receipt.MaxJobIDLength
	MaxMaxTokens     = 1 << 20
	DefaultHeartbeat = 10 * time.Second
)

// Message types.
const (
	TypeHello        = "hello"
	TypeChallenge    = "challenge"
	TypeAuth         = "auth"
	TypeWelcome      = "welcome"
	TypeRegister     = "register"
	TypeAvailability = "availability"
	TypePing         = "ping"
	TypePong         = "pong"
	TypeJob          = "job"
	TypeDelta        = "delta"
	TypeDone         = "done"
	TypeJobError     = "job_error"
	TypeCancel       = "cancel"
	TypeReceipt      = "receipt"
	TypeError        = "error"
	TypeBye          = "bye"
	// Payouts (docs/design.md, "Money"): the worker asks, the proxy pays on chain and reports.
	TypeBalance       = "balance"        // proxy → worker, after register: the proxy's view of the worker's money
	TypePayoutRequest = "payout_request" // worker → proxy
	TypePayoutStatus  = "payout_status"  // proxy → worker, on every state change and on request replays
	// TypeReceiptsRequest asks the proxy to send receipts again (worker →
	// proxy): the ones a crash or a full disk lost between the proxy's
	// signing and the worker's ledger. The proxy answers with receipt messages.
	TypeReceiptsRequest = "receipts_request"
)

// Limits of a receipts_request.
const (
	MaxReceiptRanges  = 64   // ranges in one request
	MaxReceiptsResent = 1000 // receipts one request may ask for in all
)

// SeqRange is the receipts with seq first..last, both included.
type SeqRange struct {
	First int64 `json:"first"`
	Last  int64 `json:"last"`
}

// ReceiptsRequest asks for the receipts of the given seq ranges again.
type ReceiptsRequest struct {
	Ranges []SeqRange `json:"ranges"`
}

// Error codes, in ErrorMsg.Code and JobError.Code.
const (
	CodeBadMessage         = "bad_message"         // not JSON, unknown type, missing or invalid field
	CodeTooLarge           = "too_large"           // over a size limit
	CodeUnsupportedVersion = "unsupported_version" // protocol major version differs
	CodeAuthFailed         = "auth_failed"         // a signature or key did not verify
	CodeNotRegistered      = "not_registered"      // a message that needs register first
	CodeUnknownModel       = "unknown_model"       // the worker does not have the job's model
	CodeBusy               = "busy"                // at max concurrency, or not accepting
	CodeCancelled          = "cancelled"           // the job was cancelled
	CodeTimeout            = "timeout"             // the job's deadline passed
	CodeRuntime            = "runtime_error"       // the model runtime failed
	CodeInternal           = "internal"
)

// Envelope is every frame on the wire.
type Envelope struct {
	V    int             `json:"v"`
	Type string          `json:"type"`
	ID   string          `json:"id,omitempty"` // the sender's message id, echoed in ErrorMsg.Ref
	Data json.RawMessage `json:"data,omitempty"`
}

// Hello opens the handshake (worker → proxy).
type Hello struct {
	WorkerKey   []byte `json:"worker_key"`   // ed25519 public key, 32 bytes (base64 in JSON)
	ClientNonce []byte `json:"client_nonce"` // 32 random bytes
	AppVersion  string `json:"app_version,omitempty"`
}

// Challenge answers Hello (proxy → worker).
type Challenge struct {
	ProxyKey []byte `json:"proxy_key"` // 32 bytes
	Nonce    []byte `json:"nonce"`     // 32 random bytes
	ProxySig []byte `json:"proxy_sig"` // see the package doc
}

// Auth proves the worker key (worker → proxy).
type Auth struct {
	WorkerSig []byte `json:"worker_sig"`
}

// Welcome ends the handshake (proxy → worker).
type Welcome struct {
	WorkerID    string `json:"worker_id"`
	HeartbeatMS int64  `json:"heartbeat_ms"`
	ServerTime  int64  `json:"server_time"` // unix ms
}

// ModelInfo is a model the worker can serve.
type ModelInfo struct {
	Name string `json:"name"`
	// Digest is "sha256:<hex>" of the model's weights (its GGUF blob; see
	// internal/modeldigest), so the proxy can pin the exact model a job and
	// a canary run on. Not the manifest digest: that one depends on the
	// machine's models directory for a created model. Empty from workers
	// that predate the field.
	Digest   string `json:"digest,omitempty"`
	Size     int64  `json:"size"`
	Loaded   bool   `json:"loaded"`
	FitsVRAM bool   `json:"fits_vram"`
}

// GPUInfo summarises the worker's GPU for routing and display.
type GPUInfo struct {
	Name         string `json:"name,omitempty"` // empty: no GPU (CPU only)
	VRAMTotal    uint64 `json:"vram_total,omitempty"`
	VRAMFree     uint64 `json:"vram_free,omitempty"`
	Driver       string `json:"driver,omitempty"`
	Count        int    `json:"count"`
	Confidential bool   `json:"confidential,omitempty"`
}

// Register describes what the worker offers (worker → proxy). It may be sent
// again at any time to update models or limits.
type Register struct {
	GPU              GPUInfo     `json:"gpu"`
	Models           []ModelInfo `json:"models"`
	CoefficientMilli int64       `json:"coefficient_milli"` // price multiplier ×1000; 1000 = 1.0
	MaxConcurrent    int         `json:"max_concurrent"`
	PayoutAddress    string      `json:"payout_address,omitempty"` // TON address, validated by the proxy
	// Features are what the worker can run beyond a plain chat job (the
	// Feature constants); unknown names are kept (a newer worker), but the
	// proxy routes only by the ones it knows.
	Features []string `json:"features,omitempty"`
}

// Availability states.
const (
	Accepting = "accepting" // takes new jobs
	Draining  = "draining"  // finishes running jobs, takes no new ones
	Paused    = "paused"    // takes nothing (owner is back, over temperature, ...)
)

// Availability says whether the worker takes jobs now (worker → proxy).
type Availability struct {
	State  string `json:"state"`
	Reason string `json:"reason,omitempty"`
}

// Ping and Pong carry the sender's clock (unix ms) for round-trip time.
type Ping struct {
	T int64 `json:"t"`
}

// ChatMessage is one message of a job's conversation.
type ChatMessage struct {
	Role    string `json:"role"` // system, user, assistant, tool (FeatureTools)
	Content string `json:"content"`
	// ToolCalls are an assistant message's calls (FeatureTools).
	ToolCalls []ToolCall `json:"tool_calls,omitempty"`
	// ToolCallID and ToolName say which call a tool message answers.
	ToolCallID string `json:"tool_call_id,omitempty"`
	ToolName   string `json:"tool_name,omitempty"`
}

// SamplingOptions are the job's sampling settings; nil means the model default.
type SamplingOptions struct {
	Temperature *float64 `json:"temperature,omitempty"`
	TopP        *float64 `json:"top_p,omitempty"`
	Seed        *int     `json:"seed,omitempty"`
	// Stop ends the text before the first of these strings (FeatureStop).
	Stop []string `json:"stop,omitempty"`
	// PresencePenalty and FrequencyPenalty are OpenAI's and Ollama's
	// penalties, -2..2 (FeaturePenalties).
	PresencePenalty  *float64 `json:"presence_penalty,omitempty"`
	FrequencyPenalty *float64 `json:"frequency_penalty,omitempty"`
}

// Job asks the worker to run one chat completion (proxy → worker).
type Job struct {
	JobID     string          `json:"job_id"`
	Model     string          `json:"model"`
	Messages  []ChatMessage   `json:"messages"`
	Options   SamplingOptions `json:"options"`
	MaxTokens int             `json:"max_tokens,omitempty"`
	Deadline  int64           `json:"deadline"` // unix ms; the worker cancels past it
	// Format constrains the output (FeatureFormat): the JSON string "json"
	// or a JSON schema object, as Ollama's format takes it.
	Format json.RawMessage `json:"format,omitempty"`
	// Tools the model may call (FeatureTools).
	Tools []Tool `json:"tools,omitempty"`
	// Logprobs asks for each generated token's log probability, and
	// TopLogprobs (0..20) for that many alternatives (FeatureLogprobs).
	Logprobs    bool `json:"logprobs,omitempty"`
	TopLogprobs int  `json:"top_logprobs,omitempty"`
}

// Delta is a piece of generated text (worker → proxy). Seq starts at 0 and
// increases by one per delta of a job.
type Delta struct {
	JobID string `json:"job_id"`
	Seq   int    `json:"seq"`
	Text  string `json:"text"`
	// Logprobs are the log probabilities of the tokens generated since the
	// last delta (FeatureLogprobs), in order; a delta may carry them with
	// no text (tokens whose text is not complete UTF-8 yet).
	Logprobs []TokenLogprob `json:"logprobs,omitempty"`
}

// Usage is what a job consumed, from the model runtime.
type Usage struct {
	PromptTokens     int   `json:"prompt_tokens"`
	CompletionTokens int   `json:"completion_tokens"`
	EvalMS           int64 `json:"eval_ms,omitempty"`
	TotalMS          int64 `json:"total_ms,omitempty"`
}

// Done ends a job successfully (worker → proxy).
type Done struct {
	JobID        string `json:"job_id"`
	Usage        Usage  `json:"usage"`
	FinishReason string `json:"finish_reason"` // stop, length, tool_calls
	// ToolCalls are the calls the model made (FeatureTools), in order.
	ToolCalls []ToolCall `json:"tool_calls,omitempty"`
}

// JobError ends a job with a failure (worker → proxy).
type JobError struct {
	JobID   string `json:"job_id"`
	Code    string `json:"code"`
	Message string `json:"message,omitempty"`
}

// Cancel stops a job (either direction).
type Cancel struct {
	JobID  string `json:"job_id"`
	Reason string `json:"reason,omitempty"`
}

// ErrorMsg reports a protocol error about a message (either direction).
type ErrorMsg struct {
	Code    string `json:"code"`
	Message string `json:"message,omitempty"`
	Ref     string `json:"ref,omitempty"` // the Envelope.ID it is about
}

// Bye closes the session cleanly (either direction).
type Bye struct {
	Reason string `json:"reason,omitempty"`
}

// SignedReceipt is the receipt message (proxy → worker): the proxy's signed
// statement of one paid job, a receipt.Signed on the wire. Its JSON is that
// of receipt.Signed; the codec checks its shape (Validate), and the worker
// converts it with receipt.Signed(m) before checking the signature and
// storing it.
type SignedReceipt receipt.Signed

// Receipt is the receipt carried in a SignedReceipt.
type Receipt = receipt.Receipt

// Balance is the proxy's view of the worker's money, sent after every
// register so both sides can reconcile (the worker compares Cumulative and
// LastSeq with its newest receipt and tells the owner about a mismatch).
type Balance struct {
	Cumulative int64  `json:"cumulative"` // nanoTON, the newest signed total
	LastSeq    int64  `json:"last_seq"`
	Paid       int64  `json:"paid"`    // nanoTON debited by confirmed payouts
	Pending    int64  `json:"pending"` // nanoTON debited by payouts not yet confirmed or failed
	MinPayout  int64  `json:"min_payout"`
	PayoutFee  int64  `json:"payout_fee"` // nanoTON kept from each payout for the network fee
	Network    string `json:"network"`    // "mainnet" or "testnet": where payouts go
	// Payouts is false on a proxy that does not pay out (the local test
	// network): the app then says so instead of offering Pay out.
	Payouts bool `json:"payouts"`
	// Prices are what the proxy pays for each model it serves, and
	// CommissionBPS its share, so the owner sees what a model earns.
	Prices        []ModelPrice `json:"prices,omitempty"`
	CommissionBPS int64        `json:"commission_bps"`
	// Standing is the worker's trust standing at the proxy (docs/trust.md);
	// nil from a proxy that keeps none.
	Standing *Standing `json:"standing,omitempty"`
}

// Trust levels of a worker at the proxy (Standing.Level).
const (
	// TrustNew: a new identity; its earnings are held and capped per day
	// until it has passed enough canary jobs.
	TrustNew = "new"
	// TrustTrusted: it passed enough canaries; its earnings are not held.
	TrustTrusted = "trusted"
	// TrustQuarantined: it failed canaries or metering checks too often;
	// it gets no jobs and its unpaid balance is held.
	TrustQuarantined = "quarantined"
)

// Standing is what the proxy thinks of the worker and what it holds back.
// The proxy sends it in every Balance and again whenever it changes.
type Standing struct {
	Level          string `json:"level"` // TrustNew, TrustTrusted or TrustQuarantined
	CanariesPassed int64  `json:"canaries_passed"`
	CanariesFailed int64  `json:"canaries_failed"`
	// CanariesNeeded is how many passed canaries make a new worker trusted.
	CanariesNeeded int64 `json:"canaries_needed"`
	// Held is the nanoTON of Cumulative that cannot be paid out yet;
	// HeldUntil (unix ms) is when the last of it is released, 0 when
	// nothing is held or the hold has no end (quarantine).
	Held      int64 `json:"held"`
	HeldUntil int64 `json:"held_until,omitempty"`
	// DailyCap is the most a new worker is credited per UTC day (0: no
	// cap); EarnedToday what it was credited today.
	DailyCap    int64 `json:"daily_cap,omitempty"`
	EarnedToday int64 `json:"earned_today,omitempty"`
	// Reason says in words why the worker is quarantined (or what it
	// still needs), for the owner.
	Reason string `json:"reason,omitempty"`
}

// ModelPrice is one model's price list entry, nanoTON per token.
type ModelPrice struct {
	Model           string `json:"model"`
	PricePrompt     int64  `json:"price_prompt"`
	PriceCompletion int64  `json:"price_completion"`
}

// WorkerShare is what the worker earns for tokens of a model at this
// price, coefficient 1.0: the same formula as receipt.Amount.
func (b Balance) WorkerShare(model string, prompt, completion int64) (int64, bool) {
	for _, p := range b.Prices {
		if p.Model == model {
			a, err := receipt.Amount(prompt, completion, p.PricePrompt, p.PriceCompletion, 1000, b.CommissionBPS)
			return a, err == nil
		}
	}
	return 0, false
}

// Payout states, in PayoutStatus.State.
const (
	PayoutAccepted  = "accepted"  // checks passed; debited; being sent
	PayoutSent      = "sent"      // the chain took the message (MsgHash)
	PayoutConfirmed = "confirmed" // the transfer is on chain (TxHash)
	PayoutFailed    = "failed"    // it did not happen; the amount is available again
	PayoutRejected  = "rejected"  // refused before any debit (Reason says why)
)

// PayoutRequest asks the proxy to pay the owner (worker → proxy). The worker
// key signs it, so only the worker's owner can move its earnings; PayoutID,
// made by the worker, makes it idempotent: the same id is paid at most once,
// and a replay only gets the current PayoutStatus back. ProxyKey and
// Expires are signed too, so a request cannot be replayed to another proxy
// (where the same worker key may also have earned) nor long after it was made.
type PayoutRequest struct {
	PayoutID    string `json:"payout_id"`
	Amount      int64  `json:"amount"`      // nanoTON debited; the owner receives Amount − PayoutFee
	Destination string `json:"destination"` // TON address, as the owner entered it
	Created     int64  `json:"created"`     // unix ms
	ProxyKey    []byte `json:"proxy_key"`   // the ed25519 key of the proxy asked to pay, 32 bytes
	Expires     int64  `json:"expires"`     // unix ms; the proxy refuses the request after it
	WorkerSig   []byte `json:"worker_sig"`  // over SigningBytes
}

// Validity of a payout request: the worker signs each request (again on
// every resend) to expire PayoutRequestTTL later; the proxy refuses an
// expiry further ahead than MaxPayoutRequestTTL (a worker clock far ahead,
// or a request made to be replayed later).
const (
	PayoutRequestTTL    = time.Hour
	MaxPayoutRequestTTL = 24 * time.Hour
)

// Payout request refusals (wrapped in CheckFor's errors).
var (
	ErrPayoutOtherProxy = errors.New("network: the payout request is for another proxy")
	ErrPayoutExpired    = errors.New("network: the payout request has expired")
	ErrPayoutTooLong    = errors.New("network: the payout request expires too far ahead")
)

// CheckFor checks that the request is addressed to the proxy with key
// proxyKey and is valid at now (its signature is VerifyPayout's job).
func (p PayoutRequest) CheckFor(proxyKey ed25519.PublicKey, now time.Time) error {
	if !bytes.Equal(p.ProxyKey, proxyKey) {
		return fmt.Errorf("%w: signed for proxy key %x, this proxy is %x", ErrPayoutOtherProxy, p.ProxyKey, []byte(proxyKey))
	}
	exp := time.UnixMilli(p.Expires)
	if !now.Before(exp) {
		return fmt.Errorf("%w: it expired at %s, the proxy's time is %s (the app signs each send afresh: is the worker's clock behind?)",
			ErrPayoutExpired, exp.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if exp.Sub(now) > MaxPayoutRequestTTL {
		return fmt.Errorf("%w: it expires at %s, more than %v from now (%s): check the worker's clock",
			ErrPayoutTooLong, exp.UTC().Format(time.RFC3339), MaxPayoutRequestTTL, now.UTC().Format(time.RFC3339))
	}
	return nil
}

// PayoutStatus reports a payout (proxy → worker).
type PayoutStatus struct {
	PayoutID    string  `json:"payout_id"`
	State       string  `json:"state"`
	Amount      int64   `json:"amount"`
	Fee         int64   `json:"fee"`
	Destination string  `json:"destination,omitempty"`
	MsgHash     string  `json:"msg_hash,omitempty"` // hex, the external message (normalized hash)
	TxHash      string  `json:"tx_hash,omitempty"`  // hex, once confirmed
	Reason      string  `json:"reason,omitempty"`
	Balance     Balance `json:"balance"` // after this change
}

// SigningBytes is what the worker key signs in a PayoutRequest.
func (p PayoutRequest) SigningBytes() []byte {
	p.WorkerSig = nil
	b, _ := json.Marshal(p)
	return append([]byte(payoutContext+"\n"), b...)
}

// SignPayout signs a payout request with the worker key.
func SignPayout(worker ed25519.PrivateKey, p PayoutRequest) PayoutRequest {
	p.WorkerSig = ed25519.Sign(worker, p.SigningBytes())
	return p
}

// VerifyPayout checks a payout request against the worker's public key.
func (p PayoutRequest) VerifyPayout(worker ed25519.PublicKey) error {
	if len(worker) != ed25519.PublicKeySize || !ed25519.Verify(worker, p.SigningBytes(), p.WorkerSig) {
		return fmt.Errorf("%w: payout %s", ErrBadSignature, p.PayoutID)
	}
	return nil
}

// Domain-separation prefixes for every signature. The "-v2" ones changed
// their signed bytes in protocol version 2.
const (
	proxyAuthContext  = "cocoon-proxy-auth-v2"
	workerAuthContext = "cocoon-worker-auth-v2"
	payoutContext     = "cocoon-payout-v2"
)

// ProxyAuthBytes is what the proxy signs in Challenge; binding is the
// connection's ChannelBinding.
func ProxyAuthBytes(clientNonce, nonce, workerKey, binding []byte) []byte {
	return concat([]byte(proxyAuthContext), clientNonce, nonce, workerKey, binding)
}

// WorkerAuthBytes is what the worker signs in Auth; binding is the
// connection's ChannelBinding.
func WorkerAuthBytes(nonce, clientNonce, proxyKey, binding []byte) []byte {
	return concat([]byte(workerAuthContext), nonce, clientNonce, proxyKey, binding)
}

// Channel binding (RFC 9266 "tls-exporter"): keying material exported from
// the TLS connection with this label, no context, ChannelBindingSize bytes.
const (
	ChannelBindingLabel = "EXPORTER-Channel-Binding"
	ChannelBindingSize  = 32
)

// ErrNoChannelBinding means a TLS connection could not export a channel
// binding (TLS 1.2 without the extended master secret).
var ErrNoChannelBinding = errors.New("network: the TLS connection offers no channel binding (TLS 1.3, or TLS 1.2 with extended master secret, is required)")

// ChannelBinding returns the tls-exporter channel binding of a connection:
// both ends of one TLS connection compute the same 32 bytes, and a man in
// the middle, who holds two TLS connections, gets different ones on each.
// cs is nil on a plain connection (ws:// on loopback only, never the
// reference proxy): then the binding is 32 zero bytes.
func ChannelBinding(cs *tls.ConnectionState) ([]byte, error) {
	if cs == nil {
		return make([]byte, ChannelBindingSize), nil
	}
	b, err := cs.ExportKeyingMaterial(ChannelBindingLabel, nil, ChannelBindingSize)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoChannelBinding, err)
	}
	return b, nil
}

func concat(parts ...[]byte) []byte {
	return bytes.Join(parts, nil)
}

// ErrBadSignature means a signature did not verify against the expected key;
// it is receipt.ErrBadSignature, so one errors.Is test covers receipts,
// payout requests and the handshake.
var ErrBadSignature = receipt.ErrBadSignature
