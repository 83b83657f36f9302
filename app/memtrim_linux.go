package app

// #include <malloc.h>
import "C"

import (
	"log/slog"
	"runtime/debug"

	"github.com/cocoon-desktop/cocoon-desktop/internal/memtrim"
)

// releaseMemory gives memory a hidden window does not use back to the
// system, as Android does for apps in the background: the Go heap's free
// pages, the C heap's (malloc_trim: once the window and its GL context are
// gone, Mesa's freed shader and texture memory), and the program's and the
// GL libraries' pages (MADV_PAGEOUT, Linux 5.4+). Those are clean file
// pages: the kernel reads back what the window needs when it is shown
// again, and would drop them itself under memory pressure — this only does
// it before the owner's game has to ask.
func releaseMemory(log *slog.Logger) {
	debug.FreeOSMemory()
	C.malloc_trim(0)
	n, err := memtrim.PageOut(nil)
	if err != nil {
		log.Debug("could not page out the program's file pages", "err", err)
		return
	}
	log.Debug("hidden window: memory given back", "mappings", n)
}
