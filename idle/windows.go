package idle

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// The Windows owner-presence rules, OS-neutral so their tests run on every
// OS: they see Windows only through win32, whose real functions are in
// win32_windows.go and whose fakes are in the tests.

// win32 is every Win32 call the Windows rules make.
type win32 struct {
	// notificationState is SHQueryUserNotificationState.
	notificationState func() (uint32, error)
	// foreground is the foreground window's title and process
	// (GetForegroundWindow, GetWindowTextW, GetWindowThreadProcessId);
	// pid 0 when there is none.
	foreground func() (title string, pid uint32)
	// processImage is the process's image path
	// (QueryFullProcessImageNameW).
	processImage func(pid uint32) (string, error)
	// userDWORD and userString read a value under HKEY_CURRENT_USER; a
	// missing key or value is errRegistryMissing.
	userDWORD  func(key, value string) (uint32, error)
	userString func(key, value string) (string, error)
	// xinputState is XInputGetState for a user (0–3);
	// errControllerAbsent when no controller is connected there,
	// errNoXInput when no XInput DLL could be loaded.
	xinputState func(user uint32) (xinputState, error)
}

// xinputState is XINPUT_STATE: the packet number, then XINPUT_GAMEPAD.
type xinputState struct {
	Packet                             uint32
	Buttons                            uint16
	LeftTrigger, RightTrigger          uint8
	ThumbLX, ThumbLY, ThumbRX, ThumbRY int16
}

var (
	errRegistryMissing  = errors.New("idle: registry value not found")
	errControllerAbsent = errors.New("idle: no controller connected")
	errNoXInput         = errors.New("idle: no XInput DLL (xinput1_4, xinput1_3, xinput9_1_0)")
)

// Steam's registry entries (HKEY_CURRENT_USER).
const (
	steamKey          = `Software\Valve\Steam`
	steamRunningAppID = "RunningAppID"
)

// XInput's documented dead zones and trigger threshold (XInput.h): a
// stick or trigger inside them is the controller's noise, not a hand.
const (
	xinputLeftThumbDeadZone  = 7849
	xinputRightThumbDeadZone = 8689
	xinputTriggerThreshold   = 30
	xinputUsers              = 4
	// xinputAbsentRecheck is how long an empty slot is left alone:
	// XInputGetState on an unconnected user is slow (it looks for the
	// device each time), and a poll every 250 ms would pay that 4 times.
	xinputAbsentRecheck = 2 * time.Second
)

// WindowsOwner is the Windows source of the gamer rules: full-screen
// programs and presentations (FullScreenDetailer), the running Steam game
// (SteamWatcher) and XInput controllers (ControllerIdler). Safe for
// concurrent use.
type WindowsOwner struct {
	api win32
	now func() time.Time

	mu          sync.Mutex
	pads        [xinputUsers]*xinputState // last counted state per user; nil: none connected
	absentUntil [xinputUsers]time.Time
	last        time.Time // last controller input; zero: none seen
}

func newWindowsOwner(api win32, now func() time.Time) *WindowsOwner {
	if now == nil {
		now = time.Now
	}
	return &WindowsOwner{api: api, now: now}
}

// FullScreen reports a full-screen program or presentation and the
// foreground window's title.
func (o *WindowsOwner) FullScreen() (bool, string, error) {
	info, err := o.FullScreenDetail()
	return info.On, info.Title, err
}

// FullScreenDetail asks SHQueryUserNotificationState: a Direct3D
// full-screen program, "busy" (a full-screen application) or presentation
// mode means the owner is in front of the screen. The program is the
// foreground window's process.
func (o *WindowsOwner) FullScreenDetail() (FullScreenInfo, error) {
	if o.api.notificationState == nil {
		return FullScreenInfo{}, nil
	}
	state, err := o.api.notificationState()
	if err != nil {
		return FullScreenInfo{}, fmt.Errorf("idle: SHQueryUserNotificationState: %w", err)
	}
	if !fullScreenState(state) {
		return FullScreenInfo{}, nil
	}
	info := FullScreenInfo{On: true, Presentation: state == qunsPresentationMode}
	if o.api.foreground != nil {
		var pid uint32
		info.Title, pid = o.api.foreground()
		if pid != 0 && o.api.processImage != nil {
			if path, err := o.api.processImage(pid); err == nil {
				info.Program = windowsBase(path)
			}
		}
	}
	return info, nil
}

// SteamGame reads HKCU\Software\Valve\Steam\RunningAppID (Steam writes
// the running game's app id there, 0 when none) and the game's name from
// HKCU\Software\Valve\Steam\Apps\<id>\Name. No Steam is no game.
func (o *WindowsOwner) SteamGame() (SteamGame, error) {
	if o.api.userDWORD == nil {
		return SteamGame{}, nil
	}
	id, err := o.api.userDWORD(steamKey, steamRunningAppID)
	if errors.Is(err, errRegistryMissing) {
		return SteamGame{}, nil
	}
	if err != nil {
		return SteamGame{}, fmt.Errorf("idle: read HKCU\\%s\\%s: %w", steamKey, steamRunningAppID, err)
	}
	g := SteamGame{AppID: id}
	if id != 0 && o.api.userString != nil {
		if name, err := o.api.userString(fmt.Sprintf(`%s\Apps\%d`, steamKey, id), "Name"); err == nil {
			g.Name = strings.TrimSpace(name)
		}
	}
	return g, nil
}

// ControllerIdle polls the four XInput users. A changed packet number
// means the state changed; it counts as the owner's input when a button
// changed or a stick or trigger moved beyond XInput's dead zones (a
// drifting stick bumps the packet number too). A controller seen for the
// first time is its resting state, not input.
func (o *WindowsOwner) ControllerIdle() (time.Duration, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := o.now()
	if o.api.xinputState != nil {
		for u := range uint32(xinputUsers) {
			if now.Before(o.absentUntil[u]) {
				continue
			}
			st, err := o.api.xinputState(u)
			switch {
			case errors.Is(err, errNoXInput):
				return -1, nil // no XInput on this Windows: no controllers to see
			case err != nil:
				o.pads[u] = nil
				o.absentUntil[u] = now.Add(xinputAbsentRecheck)
				continue
			}
			prev := o.pads[u]
			switch {
			case prev == nil:
				o.pads[u] = &st
			case st.Packet == prev.Packet:
			case xinputMoved(*prev, st):
				o.pads[u] = &st
				o.last = now
			default:
				prev.Packet = st.Packet // noise: keep the counted position
			}
		}
	}
	if o.last.IsZero() {
		return -1, nil
	}
	return max(now.Sub(o.last), 0), nil
}

// xinputMoved tells a hand from noise between two states.
func xinputMoved(a, b xinputState) bool {
	if a.Buttons != b.Buttons {
		return true
	}
	if absDiff(int32(a.LeftTrigger), int32(b.LeftTrigger)) > xinputTriggerThreshold ||
		absDiff(int32(a.RightTrigger), int32(b.RightTrigger)) > xinputTriggerThreshold {
		return true
	}
	return absDiff(int32(a.ThumbLX), int32(b.ThumbLX)) > xinputLeftThumbDeadZone ||
		absDiff(int32(a.ThumbLY), int32(b.ThumbLY)) > xinputLeftThumbDeadZone ||
		absDiff(int32(a.ThumbRX), int32(b.ThumbRX)) > xinputRightThumbDeadZone ||
		absDiff(int32(a.ThumbRY), int32(b.ThumbRY)) > xinputRightThumbDeadZone
}

func absDiff(a, b int32) int32 {
	if a > b {
		return a - b
	}
	return b - a
}

// windowsBase is the file name of a Windows path ("C:\Games\game.exe" →
// "game.exe"), whatever the host's separator.
func windowsBase(path string) string {
	if i := strings.LastIndexAny(path, `\/`); i >= 0 {
		return path[i+1:]
	}
	return path
}
