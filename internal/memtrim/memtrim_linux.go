package memtrim

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// PageOut asks the kernel to page out the file pages of every private
// mapping of a regular file in /proc/self/maps (of those whose path
// contains one of parts, when parts is not empty); it returns how many
// mappings had such pages. Those are clean pages of the page cache: the
// kernel reads back what is touched again, and under memory pressure would
// drop them itself. A page this process wrote (copy-on-write: a writable
// mapping's data, a relocated read-only one) is its own anonymous memory
// and is left alone — /proc/self/pagemap tells the two apart — since paging
// it out would only move it to swap. Pages another process maps too stay
// (the kernel pages out only what this process alone maps), and so do the
// pages of a file this process could not open for writing when it is not
// root (Linux 5.19+ keeps other users' page cache out of reach; see
// DropUnsharedFilePages). It needs MADV_PAGEOUT (Linux 5.4+; EINVAL before).
func PageOut(parts []string) (int, error) {
	spans, err := fileMappings(func(m mapping) bool { return len(parts) == 0 || containsAny(m.path, parts) })
	if err != nil {
		return 0, err
	}
	return adviseRuns(spans, pagePresent|pageFile, unix.MADV_PAGEOUT)
}

// DropUnsharedFilePages drops this process's mapping of the file pages
// that PageOut left resident and no other process maps, in the read-only
// private mappings of regular files that hold no page of this process's
// own; it returns how many mappings had such pages. PageOut leaves them
// when this process may not write the file and is not root (Linux 5.19+
// pages out only what the caller could write: not the system's libraries,
// nor a program installed by root). Unmapped, they are the page cache's
// and no longer this process's: the kernel reclaims them first and at no
// cost when memory is wanted (they count as available), and a page
// touched again comes back with a minor fault. Pages another process maps
// too (another program's copy of the same library) stay: unmapping them
// here would free nothing. Read-only mappings only: a writable one could
// be written between reading pagemap and madvise, and MADV_DONTNEED would
// throw that write away.
func DropUnsharedFilePages() (int, error) {
	spans, err := fileMappings(mapping.untouched)
	if err != nil {
		return 0, err
	}
	return adviseRuns(spans, pagePresent|pageFile|pageExclusive, unix.MADV_DONTNEED)
}

// adviseRuns gives advice for the runs of pages of spans whose pagemap
// entries have every bit of want set, and returns how many spans had any.
func adviseRuns(spans []mapping, want uint64, advice int) (int, error) {
	pm, err := os.Open("/proc/self/pagemap")
	if err != nil {
		return 0, fmt.Errorf("memtrim: %w", err)
	}
	defer pm.Close()
	n := 0
	for _, s := range spans {
		runs, err := pageRuns(pm, s, want)
		if err != nil {
			return 0, err
		}
		if len(runs) == 0 {
			continue
		}
		if err := advise(runs, advice); err != nil {
			return 0, err
		}
		n++
	}
	return n, nil
}

// pagemap entry bits (Documentation/admin-guide/mm/pagemap.rst).
const (
	pagePresent   = 1 << 63
	pageFile      = 1 << 61 // a page-cache page (or shared anonymous memory)
	pageExclusive = 1 << 56 // mapped by this process alone
)

// filePageRuns splits m into the runs of its pages that are resident and
// the file's own (page cache), reading their entries in pagemap.
func filePageRuns(pagemap *os.File, m mapping) ([]mapping, error) {
	return pageRuns(pagemap, m, pagePresent|pageFile)
}

// pageRuns splits m into the runs of its pages whose pagemap entries have
// every bit of want set.
func pageRuns(pagemap *os.File, m mapping, want uint64) ([]mapping, error) {
	page := uintptr(os.Getpagesize())
	n := int((m.end - m.start) / page)
	buf := make([]byte, 8*n)
	if _, err := pagemap.ReadAt(buf, int64(m.start/page)*8); err != nil {
		return nil, fmt.Errorf("memtrim: read pagemap of %s: %w", m.path, err)
	}
	var runs []mapping
	open := false
	for i := 0; i < n; i++ {
		e := binary.LittleEndian.Uint64(buf[8*i:])
		addr := m.start + uintptr(i)*page
		switch in := e&want == want; {
		case in && !open:
			r := m
			r.start, r.end = addr, addr+page
			runs, open = append(runs, r), true
		case in:
			runs[len(runs)-1].end = addr + page
		default:
			open = false
		}
	}
	return runs, nil
}

// DropFileMappings drops this process's page-table entries for every
// read-only private mapping of a regular file that holds no page of its own
// (no copy-on-write page: smaps says "Anonymous: 0 kB"); it returns how many.
// The pages stay in the page cache, for the other processes that map them
// and for this one: what it touches again comes back with a minor fault,
// the same bytes. Its use is a process that shares most of its file pages
// with another and touches few of them itself: the Ollama guard, which is
// this program re-executed, so that the app alone maps the program's pages
// and can page out those it does not use.
//
// A mapping holding anonymous pages is skipped: MADV_DONTNEED would throw
// them away (a relocated RELRO section is read-only but was written once).
func DropFileMappings() (int, error) {
	spans, err := fileMappings(mapping.untouched)
	if err != nil {
		return 0, err
	}
	return len(spans), advise(spans, unix.MADV_DONTNEED)
}

// mapping is one line of /proc/self/smaps and its anonymous size.
type mapping struct {
	start, end uintptr
	perms      string
	path       string
	anonKB     int // -1 until its Anonymous: line is read
}

// candidate: a private mapping of a regular file.
func (m mapping) candidate() bool {
	p := m.path
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "/dev/") || strings.HasPrefix(p, "/SYSV") ||
		strings.HasPrefix(p, "/memfd:") || strings.HasSuffix(p, " (deleted)") {
		return false
	}
	return len(m.perms) >= 4 && m.perms[3] == 'p'
}

// readOnly: the mapping cannot be written (it may have been before).
func (m mapping) readOnly() bool { return len(m.perms) >= 2 && m.perms[1] != 'w' }

// untouched: read-only and without a page of its own (no copy-on-write
// page), so every page it maps is the file's as on disk.
func (m mapping) untouched() bool { return m.readOnly() && m.anonKB == 0 }

// fileMappings lists the candidate mappings of /proc/self/smaps that keep
// says to keep, with their anonymous size known.
func fileMappings(keep func(mapping) bool) ([]mapping, error) {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return nil, fmt.Errorf("memtrim: %w", err)
	}
	defer f.Close()
	var (
		out []mapping
		cur *mapping
	)
	flush := func() {
		if cur != nil && cur.anonKB >= 0 && cur.candidate() && keep(*cur) {
			out = append(out, *cur)
		}
		cur = nil
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if m, ok := parseMapsLine(line); ok {
			flush()
			cur = &m
			continue
		}
		if cur != nil && strings.HasPrefix(line, "Anonymous:") {
			if kb, err := strconv.Atoi(strings.Fields(line)[1]); err == nil {
				cur.anonKB = kb
			}
		}
	}
	flush()
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("memtrim: read smaps: %w", err)
	}
	return out, nil
}

// parseMapsLine parses a mapping's header line ("start-end perms offset dev
// inode [path]"); the other lines of smaps ("Rss: 4 kB") are not one.
func parseMapsLine(line string) (mapping, bool) {
	fields := strings.Fields(line)
	if len(fields) < 5 || strings.HasSuffix(fields[0], ":") {
		return mapping{}, false
	}
	lo, hi, ok := strings.Cut(fields[0], "-")
	if !ok {
		return mapping{}, false
	}
	start, err1 := strconv.ParseUint(lo, 16, 64)
	end, err2 := strconv.ParseUint(hi, 16, 64)
	if err1 != nil || err2 != nil || end <= start {
		return mapping{}, false
	}
	m := mapping{start: uintptr(start), end: uintptr(end), perms: fields[1], anonKB: -1}
	if len(fields) >= 6 {
		m.path = strings.Join(fields[5:], " ")
	}
	return m, true
}

func advise(spans []mapping, advice int) error {
	for _, s := range spans {
		// The raw call: the range is not Go memory, so no slice over it.
		if _, _, errno := unix.Syscall(unix.SYS_MADVISE, s.start, s.end-s.start, uintptr(advice)); errno != 0 {
			return fmt.Errorf("memtrim: madvise %s: %w", s.path, errno)
		}
	}
	return nil
}

func containsAny(s string, parts []string) bool {
	for _, p := range parts {
		if strings.Contains(s, p) {
			return true
		}
	}
	return false
}
