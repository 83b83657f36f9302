//go:build !linux && !windows

package app

import (
	"log/slog"
	"runtime/debug"
)

// releaseMemory gives the Go heap's free pages back to the system.
func releaseMemory(*slog.Logger) { debug.FreeOSMemory() }
