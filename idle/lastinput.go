package idle

import "time"

// Platform-neutral arithmetic for the Windows source (lastinput_windows.go),
// kept here so it is tested on every OS.

// tickIdle is the time between lastInput (LASTINPUTINFO.dwTime) and now
// (GetTickCount), both 32-bit millisecond tick counts that wrap every
// 49.7 days. Unsigned subtraction is right across one wrap. A lastInput
// "after" now (input arrived between the two calls, which would otherwise
// read as ~49 days idle) is 0.
func tickIdle(now, lastInput uint32) time.Duration {
	d := now - lastInput
	if d > 1<<31 {
		return 0
	}
	return time.Duration(d) * time.Millisecond
}

// QUERY_USER_NOTIFICATION_STATE values (shellapi.h) returned by
// SHQueryUserNotificationState.
const (
	qunsNotPresent           = 1 // screen saver, locked, or fast user switching
	qunsBusy                 = 2 // a full-screen application, or presentation settings
	qunsRunningD3DFullScreen = 3 // a full-screen (exclusive) Direct3D application
	qunsPresentationMode     = 4
	qunsAcceptsNotifications = 5
	qunsQuietTime            = 6
	qunsApp                  = 7 // a Windows Store app is running
)

// fullScreenState reports whether a QUERY_USER_NOTIFICATION_STATE means the
// owner is in a full-screen program (a game, a video, a presentation).
func fullScreenState(state uint32) bool {
	switch state {
	case qunsBusy, qunsRunningD3DFullScreen, qunsPresentationMode:
		return true
	}
	return false
}
