//go:build windows

package gpu

import "golang.org/x/sys/windows"

// defaultProcName returns the image name of a process ("game.exe"), or ""
// when it cannot be opened (it exited, or belongs to a protected process).
var defaultProcName = winProcName

func winProcName(pid uint32) string {
	if pid == 0 {
		return ""
	}
	h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, pid)
	if err != nil {
		return ""
	}
	defer windows.CloseHandle(h)
	buf := make([]uint16, windows.MAX_LONG_PATH)
	n := uint32(len(buf))
	if err := windows.QueryFullProcessImageName(h, 0, &buf[0], &n); err != nil {
		return ""
	}
	return baseName(windows.UTF16ToString(buf[:n]))
}
