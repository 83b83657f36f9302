//go:build !windows

package worker

import (
	"path/filepath"

	"golang.org/x/sys/unix"
)

// diskFree returns the bytes available to this user on the filesystem holding path.
func diskFree(path string) (uint64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0, err
	}
	return st.Bavail * uint64(st.Bsize), nil
}

// mountPoint is the root of the filesystem holding path (an existing
// path): the highest ancestor on the same device.
func mountPoint(path string) string {
	p, err := filepath.Abs(path)
	if err != nil {
		return ""
	}
	var st unix.Stat_t
	if unix.Stat(p, &st) != nil {
		return ""
	}
	for {
		parent := filepath.Dir(p)
		if parent == p {
			return p
		}
		var ps unix.Stat_t
		if unix.Stat(parent, &ps) != nil || ps.Dev != st.Dev {
			return p
		}
		p = parent
	}
}
