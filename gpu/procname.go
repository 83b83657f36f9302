package gpu

import (
	"os"
	"runtime"
	"strconv"
	"strings"
)

// procComm is the default process-name lookup: /proc/<pid>/comm on Linux.
func procComm(pid uint32) string {
	if runtime.GOOS != "linux" {
		return ""
	}
	b, err := os.ReadFile("/proc/" + strconv.FormatUint(uint64(pid), 10) + "/comm")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
