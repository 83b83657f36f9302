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

// releaseMemory gives memory a hidden window does not use back to the
// system, as Android does for apps in the background: the Go heap's free
// pages and the GL libraries' pages (MADV_PAGEOUT, Linux 5.4+). (glibc's
// malloc_trim was measured to free nothing here: the C heap's pages are in use.) Those are clean file pages: the kernel
// reads back what the window needs when it is shown again, and would drop
// them itself under memory pressure — this only does it before the owner's
// game has to ask.
func releaseMemory(log *slog.Logger) {
	debug.FreeOSMemory()
	n, err := pageOutMappings(nil)
	if err != nil {
		log.Debug("could not page out the program's file pages", "err", err)
		return
	}
	log.Debug("hidden window: memory given back", "mappings", n)
}

// pageOutMappings asks the kernel to page out every read-only mapping of a
// file in /proc/self/maps — of those whose path contains one of parts,
// when parts is not empty; it returns how many it asked for. Writable
// mappings are skipped: their changed pages are anonymous and would go to
// swap, and so are devices and shared memory.
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
		if len(fields) < 6 || !pageOutCandidate(fields[1], fields[5], parts) {
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

// pageOutCandidate: a read-only private mapping of a regular file named
// by one of parts (any, when parts is empty).
func pageOutCandidate(perms, path string, parts []string) bool {
	if !strings.HasPrefix(path, "/") || strings.HasPrefix(path, "/dev/") || strings.HasPrefix(path, "/SYSV") ||
		strings.HasPrefix(path, "/memfd:") || len(perms) < 4 || perms[1] == 'w' || perms[3] != 'p' {
		return false
	}
	return len(parts) == 0 || containsAny(path, parts)
}

func containsAny(s string, parts []string) bool {
	for _, p := range parts {
		if strings.Contains(s, p) {
			return true
		}
	}
	return false
}
