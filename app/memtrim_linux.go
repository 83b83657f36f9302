package app

import (
	"bufio"
	"log/slog"
	"os"
	"runtime/debug"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// glLibraries are the parts of the GL stack (Mesa, its LLVM, the GL
// dispatch) whose pages a hidden window does not use.
var glLibraries = []string{"libLLVM", "/dri/", "libgallium", "libGL", "libEGL", "libglapi", "swrast"}

// releaseMemory gives memory a hidden window does not use back to the
// system, as Android does for apps in the background: the Go heap's free
// pages and the GL libraries' pages (MADV_PAGEOUT, Linux 5.4+). (glibc's
// malloc_trim was measured to free nothing here: the C heap's pages are in use.) Those are clean file pages: the kernel
// reads back what the window needs when it is shown again, and would drop
// them itself under memory pressure — this only does it before the owner's
// game has to ask.
func releaseMemory(log *slog.Logger) {
	debug.FreeOSMemory()
	n, err := pageOutMappings(glLibraries)
	if err != nil {
		log.Debug("could not page out the GL libraries", "err", err)
		return
	}
	log.Debug("hidden window: memory given back", "gl_mappings", n)
}

// pageOutMappings asks the kernel to page out every mapping of
// /proc/self/maps whose path contains one of parts; it returns how many it asked for.
func pageOutMappings(parts []string) (int, error) {
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	type span struct{ start, end uintptr }
	var spans []span
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || !containsAny(fields[5], parts) {
			continue
		}
		lo, hi, ok := strings.Cut(fields[0], "-")
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil || end <= start {
			continue
		}
		spans = append(spans, span{uintptr(start), uintptr(end)})
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	for _, s := range spans {
		// The raw call: the range is not Go memory, so no slice over it.
		if _, _, errno := unix.Syscall(unix.SYS_MADVISE, s.start, s.end-s.start, unix.MADV_PAGEOUT); errno != 0 {
			return 0, errno
		}
	}
	return len(spans), nil
}

func containsAny(s string, parts []string) bool {
	for _, p := range parts {
		if strings.Contains(s, p) {
			return true
		}
	}
	return false
}
