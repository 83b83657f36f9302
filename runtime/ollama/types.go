// Package ollama is Cocoon Desktop's model runtime: it finds or supervises an
// Ollama server on loopback, manages models (list, fit in VRAM, pull, delete,
// load, unload) and runs one chat job at a time with streaming and usage.
//
// A cancelled operation returns an error wrapping the caller's context error
// (context.Canceled or context.DeadlineExceeded), never a sentinel of its own.
//
// # Process tree of a managed Ollama
//
// `ollama serve` starts its model runners with no process attributes, so
// nothing ties them to the server's life or to Cocoon's. On Linux the
// Supervisor puts a guard in between: this executable, re-executed with a
// marker that this package's init catches (so the app and every test binary
// can be the guard without code of their own). The guard gets SIGTERM when
// Cocoon dies (Pdeathsig), is a child subreaper so orphaned runners
// re-parent to it, and runs the server in its own process group. When the
// server exits, the guard kills everything left below it and exits with the
// server's status; on SIGTERM it forwards SIGTERM, waits 5 s, then kills
// the rest. PID is the server's; PIDs lists guard, server and runners. On
// Windows a kill-on-close job object does the same; elsewhere the server's
// process group is stopped as a whole, but runners can outlive a crash.
package ollama

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/ollama/ollama/api"
)

// Sentinel errors; wrapped with context by the functions that return them.
var (
	// ErrOllamaNotFound: no running Ollama answered and no ollama binary was found to start.
	ErrOllamaNotFound = errors.New("ollama not found")
	// ErrOllamaUnreachable: Ollama was expected at an address but does not answer.
	ErrOllamaUnreachable = errors.New("ollama not answering")
	// ErrModelNotFound: the model is not present locally (or not in the registry, for a pull).
	ErrModelNotFound = errors.New("model not found")
	// ErrPullFailed: a model download stopped part way.
	ErrPullFailed = errors.New("model download failed")
	// ErrNotManaged: the Ollama in use is the owner's own (attached), which
	// Cocoon does not restart.
	ErrNotManaged = errors.New("the Ollama in use is not managed by Cocoon")
	// ErrDiskFull: the model store has no space left.
	ErrDiskFull = errors.New("not enough disk space for the model")
	// ErrRegistryUnreachable: Ollama answered, but it could not reach the
	// model registry (no internet, DNS, a firewall): a download cannot start.
	ErrRegistryUnreachable = errors.New("model registry unreachable")
)

// Mode says how Cocoon reaches Ollama.
type Mode string

const (
	ModeAttached Mode = "attached" // the owner's own Ollama, already running
	ModeManaged  Mode = "managed"  // started and supervised by Cocoon
)

// Status describes the Ollama backend right now.
type Status struct {
	Reachable bool   `json:"reachable"`
	Version   string `json:"version,omitempty"`
	Mode      Mode   `json:"mode,omitempty"`
	Address   string `json:"address,omitempty"` // http://127.0.0.1:port
	Binary    string `json:"binary,omitempty"`  // managed mode: the ollama binary in use
	Source    string `json:"source,omitempty"`  // managed mode: which Ollama that is (SourceBundled, ...)
	PID       int    `json:"pid,omitempty"`     // managed mode
	Restarts  int    `json:"restarts,omitempty"`
	Error     string `json:"error,omitempty"` // last error, plain words
	// Computes are the inference devices the managed Ollama found at start
	// (from its log; unknown for an attached Ollama), and GPUBackend the
	// library of the first GPU among them ("" when it computes on the CPU).
	Computes   []Compute `json:"computes,omitempty"`
	GPUBackend string    `json:"gpu_backend,omitempty"`
}

// Model is a model in the local store.
type Model struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`   // bytes on disk
	Digest string `json:"digest"` // the manifest's, as /api/tags reports it
	// WeightsDigest is "sha256:<hex>" of the model's GGUF blob: the same on
	// every machine for the same weights (package modeldigest); empty when
	// /api/show does not name a blob.
	WeightsDigest string    `json:"weights_digest,omitempty"`
	Family        string    `json:"family,omitempty"`
	Parameters    string    `json:"parameters,omitempty"`
	Quant         string    `json:"quantization,omitempty"`
	ModifiedAt    time.Time `json:"modified_at"`
	// FitsVRAM is true when the model fits in the free VRAM minus the owner's reserve.
	// Without a GPU it is false and FitNote says why.
	FitsVRAM bool   `json:"fits_vram"`
	FitNote  string `json:"fit_note,omitempty"`
	Loaded   bool   `json:"loaded"`
}

// Loaded is a model currently held in memory by Ollama.
type Loaded struct {
	Name      string    `json:"name"`
	Size      int64     `json:"size"`
	SizeVRAM  int64     `json:"size_vram"`
	ExpiresAt time.Time `json:"expires_at"`
}

// PullProgress reports a model download. Rate is bytes per second over the recent window.
type PullProgress struct {
	Model     string  `json:"model"`
	Status    string  `json:"status"`
	Completed int64   `json:"completed"`
	Total     int64   `json:"total"`
	Percent   float64 `json:"percent"` // 0..100
	Rate      float64 `json:"rate"`    // bytes/s
	Done      bool    `json:"done"`
	Err       string  `json:"error,omitempty"`
}

// Message is one chat message of a job.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
	// ToolCalls, ToolName and ToolCallID carry tool calls and their
	// results through a conversation (Ollama's api.Message fields).
	ToolCalls  []api.ToolCall `json:"tool_calls,omitempty"`
	ToolName   string         `json:"tool_name,omitempty"`
	ToolCallID string         `json:"tool_call_id,omitempty"`
}

// Job is one chat completion to run.
type Job struct {
	Model       string
	Messages    []Message
	Temperature *float64
	TopP        *float64
	Seed        *int
	MaxTokens   int // 0: model default
	// Stop, PresencePenalty and FrequencyPenalty go to Ollama's options.
	Stop             []string
	PresencePenalty  *float64
	FrequencyPenalty *float64
	// Format is Ollama's format: "json" or a JSON schema; nil: free text.
	Format json.RawMessage
	// Tools the model may call; each call it makes goes to OnToolCall.
	Tools      api.Tools
	OnToolCall func(api.ToolCall) error
	// Logprobs asks Ollama for each token's log probability (and
	// TopLogprobs alternatives); each response's go to OnLogprobs before
	// its text goes to onDelta.
	Logprobs    bool
	TopLogprobs int
	OnLogprobs  func([]api.Logprob) error
}

// Usage is what a finished job consumed, from Ollama's final message.
type Usage struct {
	PromptTokens     int           `json:"prompt_tokens"`
	CompletionTokens int           `json:"completion_tokens"`
	LoadDuration     time.Duration `json:"load_duration"`
	PromptDuration   time.Duration `json:"prompt_duration"`
	EvalDuration     time.Duration `json:"eval_duration"`
	TotalDuration    time.Duration `json:"total_duration"`
	DoneReason       string        `json:"done_reason"` // "stop", "length", ...
}
