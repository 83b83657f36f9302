package memtrim

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

const mapSize = 4 << 20

// mapFile writes a file of mapSize bytes (byte i is i%251) into dir and maps
// it private with prot, touching every page.
func mapFile(t *testing.T, dir, name string, prot int) []byte {
	t.Helper()
	data := make([]byte, mapSize)
	for i := range data {
		data[i] = byte(i % 251)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := unix.Mmap(int(f.Fd()), 0, mapSize, prot, unix.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Munmap(b) })
	for i := 0; i < mapSize; i += os.Getpagesize() {
		touched += b[i]
	}
	return b
}

// touched keeps the page reads from being optimised away.
var touched byte

// TestPageOut: the pages of a mapped file named in the list leave the
// process's resident set (what a hidden window does to the GL libraries),
// and a mapping not named keeps its pages.
func TestPageOut(t *testing.T) {
	dir := t.TempDir()
	mapFile(t, dir, "libFakeGL-pageout.so", unix.PROT_READ)
	mapFile(t, dir, "kept-resident.bin", unix.PROT_READ)
	if got := residentKB(t, "libFakeGL-pageout.so"); got < mapSize/1024/2 {
		t.Fatalf("before: %d kB resident, want the file's pages in", got)
	}
	n, err := PageOut([]string{"libFakeGL-pageout"})
	if errors.Is(err, syscall.EINVAL) {
		t.Skip("this kernel has no MADV_PAGEOUT (Linux 5.4+)")
	}
	if err != nil || n != 1 {
		t.Fatalf("PageOut = %d, %v; want 1 mapping, no error", n, err)
	}
	if got := residentKB(t, "libFakeGL-pageout.so"); got > mapSize/1024/4 {
		t.Errorf("after: %d kB of the paged-out file still resident", got)
	}
	if got := residentKB(t, "kept-resident.bin"); got < mapSize/1024/2 {
		t.Errorf("a mapping not asked for lost its pages: %d kB resident", got)
	}
}

// TestPageOutKeepsWrittenPages: in a writable private mapping (a program's
// data section) PageOut asks only for the pages never written, and after
// it those have left the resident set while the written ones — this
// process's own memory, which could only go to swap — read what was
// written.
func TestPageOutKeepsWrittenPages(t *testing.T) {
	dir := t.TempDir()
	unwritten := mapFile(t, dir, "unwritten-data.bin", unix.PROT_READ|unix.PROT_WRITE)
	b := mapFile(t, dir, "data-section.bin", unix.PROT_READ|unix.PROT_WRITE)
	page := os.Getpagesize()
	written := 0
	for i := 0; i < mapSize; i += 4 * page {
		b[i] = 0xEE
		written++
	}
	for i := 0; i < mapSize; i += page {
		touched += b[i] // the writes may have unmapped their neighbours
	}
	// The runs PageOut asks for: the three clean pages between each two
	// written ones. (Without swap the kernel would keep the written pages
	// even if asked, so the resident set alone could not tell.)
	pm, err := os.Open("/proc/self/pagemap")
	if err != nil {
		t.Fatal(err)
	}
	defer pm.Close()
	start := uintptr(unsafe.Pointer(&b[0]))
	runs, err := filePageRuns(pm, mapping{start: start, end: start + mapSize, path: "data-section.bin"})
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != written {
		t.Errorf("%d runs of file pages, want %d", len(runs), written)
	}
	for _, r := range runs {
		off := int(r.start - start)
		if off%(4*page) != page || r.end-r.start != uintptr(3*page) {
			t.Errorf("run at +%d, %d bytes; want the 3 pages after a written one", off, r.end-r.start)
		}
	}

	n, err := PageOut([]string{"data-section.bin", "unwritten-data.bin"})
	if errors.Is(err, syscall.EINVAL) {
		t.Skip("this kernel has no MADV_PAGEOUT (Linux 5.4+)")
	}
	if err != nil || n != 2 {
		t.Fatalf("PageOut = %d, %v; want 2 mappings, no error", n, err)
	}
	if got := residentKB(t, "unwritten-data.bin"); got > mapSize/1024/4 {
		t.Errorf("after: %d kB of the writable mapping never written still resident", got)
	}
	if got, want := residentKB(t, "data-section.bin"), written*page/1024; got < want {
		t.Errorf("after: %d kB resident, under the %d kB written", got, want)
	}
	for i := 0; i < mapSize; i += page {
		want := byte(i % 251)
		if i%(4*page) == 0 {
			want = 0xEE
		}
		if b[i] != want || unwritten[i] != byte(i%251) {
			t.Fatalf("page at %d reads %d / %d, want %d / %d", i, b[i], unwritten[i], want, byte(i%251))
		}
	}
}

// TestDropUnsharedFilePages: a read-only file mapping this process alone
// maps leaves the resident set and reads back the same bytes; a file
// mapped twice (as a library another program maps too) keeps its pages,
// since unmapping them would free nothing.
func TestDropUnsharedFilePages(t *testing.T) {
	dir := t.TempDir()
	alone := mapFile(t, dir, "alone.bin", unix.PROT_READ)
	mapFile(t, dir, "twice.bin", unix.PROT_READ)
	f, err := os.Open(filepath.Join(dir, "twice.bin"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	second, err := unix.Mmap(int(f.Fd()), 0, mapSize, unix.PROT_READ, unix.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Munmap(second) })
	for i := 0; i < mapSize; i += os.Getpagesize() {
		touched += second[i]
	}

	n, err := DropUnsharedFilePages()
	if err != nil || n == 0 {
		t.Fatalf("DropUnsharedFilePages = %d, %v; want mappings dropped, no error", n, err)
	}
	if got := residentKB(t, "alone.bin"); got > mapSize/1024/4 {
		t.Errorf("after: %d kB of the mapping this process alone maps still resident", got)
	}
	if got := residentKB(t, "twice.bin"); got < mapSize/1024/2 {
		t.Errorf("after: %d kB of the file mapped twice resident, want its pages kept", got)
	}
	for i := 0; i < mapSize; i += 4093 {
		if alone[i] != byte(i%251) {
			t.Fatalf("the dropped mapping reads %d at %d, want the file's %d", alone[i], i, byte(i%251))
		}
	}
}

// TestDropFileMappings: a read-only file mapping leaves the resident set
// and reads back the same bytes; a read-only mapping that was written
// before it was made read-only (as the dynamic linker does to RELRO) keeps
// what was written — dropping it would have read the file back instead.
func TestDropFileMappings(t *testing.T) {
	dir := t.TempDir()
	clean := mapFile(t, dir, "clean-text.bin", unix.PROT_READ)
	relro := mapFile(t, dir, "relro-like.bin", unix.PROT_READ|unix.PROT_WRITE)
	for i := 0; i < mapSize; i += os.Getpagesize() {
		relro[i] = 0xEE // a copy-on-write page of this process's own
	}
	if err := unix.Mprotect(relro, unix.PROT_READ); err != nil {
		t.Fatal(err)
	}
	if got := residentKB(t, "clean-text.bin"); got < mapSize/1024/2 {
		t.Fatalf("before: %d kB resident, want the file's pages in", got)
	}

	n, err := DropFileMappings()
	if err != nil || n == 0 {
		t.Fatalf("DropFileMappings = %d, %v; want mappings dropped, no error", n, err)
	}
	if got := residentKB(t, "clean-text.bin"); got > mapSize/1024/4 {
		t.Errorf("after: %d kB of the dropped mapping still resident", got)
	}
	for i := 0; i < mapSize; i += 4093 {
		if clean[i] != byte(i%251) {
			t.Fatalf("the dropped mapping reads %d at %d, want the file's %d", clean[i], i, byte(i%251))
		}
	}
	for i := 0; i < mapSize; i += os.Getpagesize() {
		if relro[i] != 0xEE {
			t.Fatalf("the written read-only mapping lost its page at %d: reads %d, want 0xEE", i, relro[i])
		}
	}
}

func TestParseMapsLine(t *testing.T) {
	for _, tc := range []struct {
		name, line string
		ok         bool
		want       mapping
	}{
		{"library", "7f00a000-7f00b000 r-xp 00001000 08:01 1234 /usr/lib/libGL.so.1",
			true, mapping{start: 0x7f00a000, end: 0x7f00b000, perms: "r-xp", path: "/usr/lib/libGL.so.1", anonKB: -1}},
		{"path with a space", "1000-2000 r--p 00000000 08:01 7 /tmp/a b.so",
			true, mapping{start: 0x1000, end: 0x2000, perms: "r--p", path: "/tmp/a b.so", anonKB: -1}},
		{"anonymous", "1000-2000 rw-p 00000000 00:00 0",
			true, mapping{start: 0x1000, end: 0x2000, perms: "rw-p", anonKB: -1}},
		{"attribute line", "Rss:                   4 kB", false, mapping{}},
		{"flags line", "VmFlags: rd ex mr mw me dw", false, mapping{}},
		{"bad range", "2000-1000 r--p 0 08:01 7 /x", false, mapping{}},
		{"not hex", "zz-1000 r--p 0 08:01 7 /x", false, mapping{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := parseMapsLine(tc.line)
			if ok != tc.ok || got != tc.want {
				t.Errorf("parseMapsLine(%q) = %+v, %v; want %+v, %v", tc.line, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestCandidate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		m     mapping
		wants bool
	}{
		{"read-only library", mapping{perms: "r--p", path: "/usr/lib/x.so"}, true},
		{"code", mapping{perms: "r-xp", path: "/usr/bin/cocoon"}, true},
		{"writable", mapping{perms: "rw-p", path: "/usr/lib/x.so"}, true},
		{"shared", mapping{perms: "r--s", path: "/usr/lib/x.so"}, false},
		{"device", mapping{perms: "r--p", path: "/dev/dri/card0"}, false},
		{"shared memory", mapping{perms: "r--p", path: "/SYSV00000000"}, false},
		{"memfd", mapping{perms: "r--p", path: "/memfd:x"}, false},
		{"deleted file", mapping{perms: "r-xp", path: "/usr/bin/cocoon (deleted)"}, false},
		{"heap", mapping{perms: "r--p", path: "[heap]"}, false},
		{"anonymous", mapping{perms: "r--p"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.m.candidate(); got != tc.wants {
				t.Errorf("candidate(%+v) = %v, want %v", tc.m, got, tc.wants)
			}
		})
	}
}

func TestReadOnly(t *testing.T) {
	for perms, want := range map[string]bool{"r--p": true, "r-xp": true, "rw-p": false, "rwxp": false, "": false} {
		if got := (mapping{perms: perms}).readOnly(); got != want {
			t.Errorf("readOnly(%q) = %v, want %v", perms, got, want)
		}
	}
}

// residentKB is the Rss of the mapping of /proc/self/smaps whose path ends in name.
func residentKB(t *testing.T, name string) int {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if _, ok := parseMapsLine(line); ok {
			in = strings.HasSuffix(line, name)
			continue
		}
		if in && strings.HasPrefix(line, "Rss:") {
			kb, _ := strconv.Atoi(strings.Fields(line)[1])
			return kb
		}
	}
	t.Fatalf("no mapping of %s in smaps", name)
	return 0
}
