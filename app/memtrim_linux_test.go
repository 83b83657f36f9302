package app

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestPageOutMappings: the pages of a mapped file named in the list leave
// the process's resident set (what a hidden window does to the GL
// libraries), and a mapping not named keeps its pages.
func TestPageOutMappings(t *testing.T) {
	const size = 4 << 20
	dir := t.TempDir()
	mapFile := func(name string) []byte {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, make([]byte, size), 0o600); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		b, err := unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ, unix.MAP_PRIVATE)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Munmap(b) })
		for i := 0; i < size; i += os.Getpagesize() { // touch every page
			touched += b[i]
		}
		return b
	}
	mapFile("libFakeGL-pageout.so")
	mapFile("kept-resident.bin")
	if got := residentKB(t, "libFakeGL-pageout.so"); got < size/1024/2 {
		t.Fatalf("before: %d kB resident, want the file's pages in", got)
	}
	n, err := pageOutMappings([]string{"libFakeGL-pageout"})
	if errors.Is(err, syscall.EINVAL) {
		t.Skip("this kernel has no MADV_PAGEOUT (Linux 5.4+)")
	}
	if err != nil || n != 1 {
		t.Fatalf("pageOutMappings = %d, %v; want 1 mapping, no error", n, err)
	}
	if got := residentKB(t, "libFakeGL-pageout.so"); got > size/1024/4 {
		t.Errorf("after: %d kB of the paged-out file still resident", got)
	}
	if got := residentKB(t, "kept-resident.bin"); got < size/1024/2 {
		t.Errorf("a mapping not asked for lost its pages: %d kB resident", got)
	}
}

// touched keeps the page reads of TestPageOutMappings from being optimised away.
var touched byte

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
		fields := strings.Fields(line)
		if len(fields) >= 5 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":") {
			in = strings.HasSuffix(line, name)
			continue
		}
		if in && fields[0] == "Rss:" {
			kb, err := strconv.Atoi(fields[1])
			if err != nil {
				t.Fatal(err)
			}
			return kb
		}
	}
	t.Fatal(fmt.Errorf("no mapping of %s in /proc/self/smaps", name))
	return 0
}
