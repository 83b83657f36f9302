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
// GL libraries' file pages (MADV_PAGEOUT, Linux 5.4+). Those are clean
// pages of the page cache: the kernel reads back what the window needs
// when it is shown again, and would drop them itself under memory
// pressure — this only does it before the owner's game has to ask. The
// ones the kernel will not page out for this user (files it may not write:
// the system's libraries, a program installed by root) are unmapped where
// no other process maps them, which leaves them to the page cache as
// memory the kernel can take back at once.
func releaseMemory(log *slog.Logger) {
	debug.FreeOSMemory()
	C.malloc_trim(0)
	n, err := memtrim.PageOut(nil)
	if err != nil {
		log.Debug("could not page out the program's file pages", "err", err)
		return
	}
	dropped, err := memtrim.DropUnsharedFilePages()
	if err != nil {
		log.Debug("could not unmap the file pages left resident", "err", err)
		return
	}
	log.Debug("hidden window: memory given back", "mappings", n, "unmapped", dropped)
}
