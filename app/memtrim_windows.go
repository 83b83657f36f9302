package app

import (
	"log/slog"
	"runtime/debug"

	"golang.org/x/sys/windows"
)

// releaseMemory gives memory a hidden window does not use back to the
// system: the Go heap's free pages, then the working set is trimmed (what
// Windows itself does to a minimized window's process), so pages come
// back only as they are touched.
func releaseMemory(log *slog.Logger) {
	debug.FreeOSMemory()
	const none = ^uintptr(0) // (SIZE_T)-1 both: trim the working set
	if err := windows.SetProcessWorkingSetSizeEx(windows.CurrentProcess(), none, none, 0); err != nil {
		log.Debug("could not trim the working set", "err", err)
	}
}
