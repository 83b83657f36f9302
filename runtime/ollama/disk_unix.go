//go:build !windows

package ollama

import "golang.org/x/sys/unix"

const isWindows = false

// diskFree returns the bytes available to this user on the filesystem holding path.
func diskFree(path string) (uint64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0, err
	}
	return st.Bavail * uint64(st.Bsize), nil
}
