//go:build windows

package idle

import (
	"errors"
	"fmt"
	"sync"
	"unsafe"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"
)

// The real Win32 calls behind WindowsOwner (windows.go holds the rules).

var procGetWindowThreadProcessId = user32.NewProc("GetWindowThreadProcessId")

// NewWindowsOwner returns the gamer-rule source over this Windows session.
func NewWindowsOwner() *WindowsOwner { return newWindowsOwner(systemWin32(), nil) }

// NewGamerSources returns the Windows sources: one WindowsOwner for full
// screen, Steam and XInput controllers.
func NewGamerSources() GamerSources {
	o := NewWindowsOwner()
	return GamerSources{FullScreen: o, Controllers: o, Steam: o, Close: func() error { return nil }}
}

func systemWin32() win32 {
	x := &xinputDLL{}
	return win32{
		notificationState: func() (uint32, error) {
			if err := procSHQueryUserNotificationState.Find(); err != nil {
				return 0, err
			}
			var state uint32
			hr, _, _ := procSHQueryUserNotificationState.Call(uintptr(unsafe.Pointer(&state)))
			if int32(uint32(hr)) < 0 {
				return 0, fmt.Errorf("HRESULT %#x", uint32(hr))
			}
			return state, nil
		},
		foreground: func() (string, uint32) {
			if procGetForegroundWindow.Find() != nil || procGetWindowThreadProcessId.Find() != nil {
				return "", 0
			}
			hwnd, _, _ := procGetForegroundWindow.Call()
			if hwnd == 0 {
				return "", 0
			}
			var pid uint32
			procGetWindowThreadProcessId.Call(hwnd, uintptr(unsafe.Pointer(&pid)))
			return foregroundTitle(), pid
		},
		processImage: func(pid uint32) (string, error) {
			h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, pid)
			if err != nil {
				return "", err
			}
			defer windows.CloseHandle(h)
			buf := make([]uint16, windows.MAX_LONG_PATH)
			n := uint32(len(buf))
			if err := windows.QueryFullProcessImageName(h, 0, &buf[0], &n); err != nil {
				return "", err
			}
			return windows.UTF16ToString(buf[:n]), nil
		},
		userDWORD: func(key, value string) (uint32, error) {
			k, err := registry.OpenKey(registry.CURRENT_USER, key, registry.QUERY_VALUE)
			if err != nil {
				return 0, registryErr(err)
			}
			defer k.Close()
			v, typ, err := k.GetIntegerValue(value)
			if err != nil {
				return 0, registryErr(err)
			}
			if typ != registry.DWORD || v > 0xffffffff {
				return 0, fmt.Errorf("value of type %d, not a DWORD", typ)
			}
			return uint32(v), nil
		},
		userString: func(key, value string) (string, error) {
			k, err := registry.OpenKey(registry.CURRENT_USER, key, registry.QUERY_VALUE)
			if err != nil {
				return "", registryErr(err)
			}
			defer k.Close()
			v, _, err := k.GetStringValue(value)
			if err != nil {
				return "", registryErr(err)
			}
			return v, nil
		},
		xinputState: x.state,
	}
}

func registryErr(err error) error {
	if errors.Is(err, registry.ErrNotExist) || errors.Is(err, windows.ERROR_FILE_NOT_FOUND) {
		return errRegistryMissing
	}
	return err
}

// xinputDLL finds XInputGetState in the newest XInput DLL present:
// xinput1_4 (Windows 8 and later), xinput1_3 (the DirectX runtime), or
// xinput9_1_0 (Windows Vista and later, always present).
type xinputDLL struct {
	once sync.Once
	proc *windows.LazyProc // nil: none found
}

func (x *xinputDLL) state(user uint32) (xinputState, error) {
	x.once.Do(func() {
		for _, name := range []string{"xinput1_4.dll", "xinput1_3.dll", "xinput9_1_0.dll"} {
			p := windows.NewLazySystemDLL(name).NewProc("XInputGetState")
			if p.Find() == nil {
				x.proc = p
				return
			}
		}
	})
	if x.proc == nil {
		return xinputState{}, errNoXInput
	}
	// XINPUT_STATE: DWORD dwPacketNumber; XINPUT_GAMEPAD Gamepad (WORD,
	// BYTE, BYTE, 4 × SHORT): 16 bytes, the layout of xinputState.
	var st xinputState
	r, _, _ := x.proc.Call(uintptr(user), uintptr(unsafe.Pointer(&st)))
	switch windows.Errno(r) {
	case windows.ERROR_SUCCESS:
		return st, nil
	case windows.ERROR_DEVICE_NOT_CONNECTED:
		return xinputState{}, errControllerAbsent
	default:
		return xinputState{}, fmt.Errorf("XInputGetState(%d): %w", user, windows.Errno(r))
	}
}
