package worker

import (
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/gpu"
	modelrt "github.com/cocoon-desktop/cocoon-desktop/runtime"
)

// State is the worker's state in one word.
type State string

const (
	StateStopped State = "stopped" // the owner has not started sharing
	StateRunning State = "running" // started: the model is ready to serve
	StateError   State = "error"   // started, but something needs the owner (see Status.Error)
)

// Status is a consistent snapshot of everything the UI shows.
type Status struct {
	State  State  `json:"state"`
	Error  string `json:"error,omitempty"` // plain words, when State == error
	Model  string `json:"model"`           // the model the worker serves
	GPU    gpu.Snapshot
	Ollama modelrt.Status
	Models []modelrt.Model
	Loaded []modelrt.Loaded
	// Pulls holds downloads in progress (and the last result of finished ones) by model name.
	Pulls   map[string]modelrt.PullProgress
	DataDir string
}

// EventType names what changed.
type EventType string

const (
	EventState  EventType = "state"  // State/Error changed
	EventGPU    EventType = "gpu"    // a new GPU snapshot
	EventOllama EventType = "ollama" // Ollama status changed
	EventModels EventType = "models" // local or loaded models changed
	EventPull   EventType = "pull"   // download progress; Data is modelrt.PullProgress
	EventError  EventType = "error"  // an error worth showing; Data is string
)

// Event is published on the core's event bus. Data depends on Type.
type Event struct {
	Type EventType
	Time time.Time
	Data any
}
