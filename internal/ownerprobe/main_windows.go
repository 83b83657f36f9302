//go:build windows

package main

import (
	"encoding/json"
	"os"

	"github.com/cocoon-desktop/cocoon-desktop/idle"
)

// report is the probe's output.
type report struct {
	Steam         idle.SteamGame      `json:"steam"`
	SteamErr      string              `json:"steam_error,omitempty"`
	FullScreen    idle.FullScreenInfo `json:"full_screen"`
	FullScreenErr string              `json:"full_screen_error,omitempty"`
	// ControllerIdleMS is -1 when no controller input was seen.
	ControllerIdleMS int64  `json:"controller_idle_ms"`
	ControllerErr    string `json:"controller_error,omitempty"`
}

func main() {
	o := idle.NewWindowsOwner()
	var r report
	var err error
	if r.Steam, err = o.SteamGame(); err != nil {
		r.SteamErr = err.Error()
	}
	if r.FullScreen, err = o.FullScreenDetail(); err != nil {
		r.FullScreenErr = err.Error()
	}
	d, err := o.ControllerIdle()
	r.ControllerIdleMS = d.Milliseconds()
	if d < 0 {
		r.ControllerIdleMS = -1
	}
	if err != nil {
		r.ControllerErr = err.Error()
	}
	if err := json.NewEncoder(os.Stdout).Encode(r); err != nil {
		os.Exit(1)
	}
}
