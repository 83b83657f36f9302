//go:build windows

package idle

import (
	"fmt"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

var (
	user32                           = windows.NewLazySystemDLL("user32.dll")
	kernel32                         = windows.NewLazySystemDLL("kernel32.dll")
	shell32                          = windows.NewLazySystemDLL("shell32.dll")
	procGetLastInputInfo             = user32.NewProc("GetLastInputInfo")
	procGetForegroundWindow          = user32.NewProc("GetForegroundWindow")
	procGetWindowTextW               = user32.NewProc("GetWindowTextW")
	procGetTickCount                 = kernel32.NewProc("GetTickCount")
	procSHQueryUserNotificationState = shell32.NewProc("SHQueryUserNotificationState")
)

// lastInputInfo is LASTINPUTINFO: cbSize and dwTime, both 32-bit.
type lastInputInfo struct {
	cbSize uint32
	dwTime uint32
}

// LastInput is the Windows input-idle source: GetLastInputInfo (the tick
// of the last keyboard/mouse input in this session) against GetTickCount.
// It also reports full-screen programs through SHQueryUserNotificationState.
// It holds no resources; its methods are safe for concurrent use.
type LastInput struct{}

// NewLastInput checks that GetLastInputInfo answers and returns the source.
func NewLastInput() (*LastInput, error) {
	l := &LastInput{}
	if _, err := l.InputIdle(); err != nil {
		return nil, err
	}
	return l, nil
}

// NewSystemIdle returns the platform's input-idle source: on Windows,
// GetLastInputInfo. The result also implements FullScreener and io.Closer.
func NewSystemIdle() (InputIdler, error) {
	l, err := NewLastInput()
	if err != nil {
		return nil, err
	}
	return l, nil
}

// InputIdle returns how long ago this session last saw keyboard or mouse
// input. GetLastInputInfo is read before GetTickCount, so "now" is never
// older than the last input except by a race tickIdle turns into 0.
func (l *LastInput) InputIdle() (time.Duration, error) {
	if err := procGetLastInputInfo.Find(); err != nil {
		return -1, fmt.Errorf("%w: %v", ErrUnsupported, err)
	}
	info := lastInputInfo{cbSize: uint32(unsafe.Sizeof(lastInputInfo{}))}
	r1, _, e := procGetLastInputInfo.Call(uintptr(unsafe.Pointer(&info)))
	if r1 == 0 {
		return -1, fmt.Errorf("idle: GetLastInputInfo: %v", e)
	}
	now, _, _ := procGetTickCount.Call()
	return tickIdle(uint32(now), info.dwTime), nil
}

// FullScreen reports whether a full-screen program (a game in exclusive or
// borderless full screen, a video, a presentation) has the screen, per
// SHQueryUserNotificationState, with the foreground window's title. It is
// WindowsOwner's rule (windows.go), which also names the program.
func (l *LastInput) FullScreen() (bool, string, error) {
	return systemOwner().FullScreen()
}

// systemOwner is the one WindowsOwner over the real Win32 calls that
// LastInput asks.
var systemOwner = sync.OnceValue(NewWindowsOwner)

// foregroundTitle is the title of the foreground window, or "".
func foregroundTitle() string {
	if procGetForegroundWindow.Find() != nil || procGetWindowTextW.Find() != nil {
		return ""
	}
	hwnd, _, _ := procGetForegroundWindow.Call()
	if hwnd == 0 {
		return ""
	}
	buf := make([]uint16, 256)
	n, _, _ := procGetWindowTextW.Call(hwnd, uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)))
	if n == 0 || int(n) > len(buf) {
		return ""
	}
	return windows.UTF16ToString(buf[:n])
}

// Close does nothing; it exists so callers can close any source.
func (l *LastInput) Close() error { return nil }
