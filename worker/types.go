package worker

import (
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/gpu"
	"github.com/cocoon-desktop/cocoon-desktop/idle"
	"github.com/cocoon-desktop/cocoon-desktop/runtime/ollama"
)

// State is the worker's state in one word.
type State string

const (
	StateStopped State = "stopped"          // the owner has not started sharing
	StateWaiting State = "waiting_for_idle" // started; waits for the owner to be away
	StateServing State = "serving"          // the model is loaded and jobs are accepted
	StatePaused  State = "paused"           // was serving; paused for the Reasons in Status
	StateError   State = "error"            // started, but something needs the owner (see Status.Error)
)

// Started reports whether the owner has started sharing (any state but stopped).
func (s State) Started() bool { return s != StateStopped && s != "" }

// Status is a consistent snapshot of everything the UI shows.
type Status struct {
	State  State  `json:"state"`
	Error  string `json:"error,omitempty"` // plain words, when State == error
	Model  string `json:"model"`           // the model the worker serves
	GPU    gpu.Snapshot
	Ollama ollama.Status
	Models []ollama.Model
	Loaded []ollama.Loaded
	// Pulls holds downloads in progress (and the last result of finished ones) by model name.
	Pulls   map[string]ollama.PullProgress
	DataDir string
	// Reasons lists every reason in force now why the worker does not serve
	// (empty while serving or stopped).
	Reasons []idle.Reason
	// Notes are the idle policy's facts that do not stop serving (e.g.
	// game controllers that cannot be read), whatever the state.
	Notes   []idle.Reason `json:"notes,omitempty"`
	Network NetworkStatus
	Jobs    JobStats
	// Earned is the latest signed cumulative total (nanoTON) and Receipts how many are stored.
	Earned    int64
	Receipts  int
	LastPause *PauseRecord
	Earnings  EarningsStatus
	// Benchmark is the last local benchmark (onboarding), nil before one ran.
	Benchmark *BenchmarkResult
	// Placement says where the served model runs (GPU or CPU, and why).
	Placement Placement
	// DiskFull says, in words, what cannot be written for lack of disk
	// space ("" when all is written).
	DiskFull string
	// ErrorErr is the error behind Error, where the core has it (a failed
	// load, a failed start), for the UI to say it in the owner's words by
	// its sentinels; nil otherwise.
	ErrorErr error `json:"-"`
	// Fatal is set when Run has stopped on an error it cannot get past
	// (the same words as Error): nothing runs until the app starts again.
	Fatal string `json:"fatal,omitempty"`
	// FatalErr is the error behind Fatal, for the UI to say it in the
	// owner's words by its sentinels (errors.Is); nil while Run goes on.
	FatalErr error `json:"-"`
	// LedgerDamaged says why the earnings ledger cannot be used, while the
	// worker waits for the owner to rebuild it (Core.RebuildLedger); it
	// serves nothing meanwhile.
	LedgerDamaged string `json:"ledger_damaged,omitempty"`
}

// NetworkStatus is the worker's link to the network.
type NetworkStatus struct {
	Local     bool   `json:"local"`          // the embedded proxy on loopback
	Name      string `json:"name,omitempty"` // the network's display name (LocalNetworkName for the local one)
	URL       string `json:"url,omitempty"`
	Connected bool   `json:"connected"`
	WorkerID  string `json:"worker_id,omitempty"`
	Error     string `json:"error,omitempty"`
	Err       error  `json:"-"` // the error behind Error, for errors.Is in the UI (nil when none)
	RTT       time.Duration
	// APIURL and APIKey let the owner try the local network with any OpenAI client.
	APIURL string `json:"api_url,omitempty"`
	APIKey string `json:"-"`
}

// PauseRecord says how the last pause went: the owner gets the GPU back in
// Took (decision → model unloaded).
type PauseRecord struct {
	At        time.Time
	Reason    string
	Took      time.Duration // decision to VRAM freed (confirmed by NVML when there is a GPU)
	Unload    time.Duration // the unload alone, as Ollama answered it
	Cancelled int           // jobs cancelled because they outlasted the grace period
	// VRAMChecked says NVML was asked (a GPU is present); VRAMReleased that
	// it saw our Ollama processes hold no VRAM within the bound, and
	// VRAMLeft what they still held when it gave up.
	VRAMChecked  bool
	VRAMReleased bool
	VRAMLeft     uint64
}

// EventType names what changed.
type EventType string

const (
	EventState    EventType = "state"    // State/Error changed
	EventGPU      EventType = "gpu"      // a new GPU snapshot
	EventOllama   EventType = "ollama"   // Ollama status changed
	EventModels   EventType = "models"   // local or loaded models changed
	EventPull     EventType = "pull"     // download progress; Data is ollama.PullProgress
	EventError    EventType = "error"    // an error worth showing; Data is an error, or a string already in the owner's words
	EventJob      EventType = "job"      // Data is JobEvent
	EventNetwork  EventType = "network"  // connection state; Data is NetworkStatus
	EventReceipt  EventType = "receipt"  // a receipt was stored; Data is receipt.Signed
	EventEarnings EventType = "earnings" // balance or payouts changed
)

// Event is published on the core's event bus. Data depends on Type.
type Event struct {
	Type EventType
	Time time.Time
	Data any
}
