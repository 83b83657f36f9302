// Package idle decides when Cocoon Desktop may use the owner's GPU (docs/design.md, "The owner first").
//
// It has three parts:
//
//   - Sources of signals: InputIdler (time since the last keyboard/mouse
//     input) and FullScreener (is the active window full screen). On Linux,
//     X11 implements both over the X server's MIT-SCREEN-SAVER extension and
//     EWMH properties, in pure Go (github.com/jezek/xgb). On Windows,
//     LastInput implements both with GetLastInputInfo/GetTickCount and
//     SHQueryUserNotificationState (no cgo). NewSystemIdle picks the one for
//     this OS; elsewhere it returns ErrUnsupported. The gamers' sources
//     (NewGamerSources): ControllerIdler (Controllers over /dev/input on
//     Linux, XInput on Windows), SteamWatcher and FullScreenDetailer (the
//     full-screen program's name) on Windows (WindowsOwner, its Win32 calls
//     injected so the rules are tested anywhere).
//   - Policy: a pure state machine without goroutines or clocks of its own.
//     Update(now, Signals) returns a Decision: serve or not, and every reason
//     in force why not as a typed ReasonCode with the programs behind it
//     (and the same in words for logs), plus notes that do not block.
//   - Watcher: polls the sources every PollInterval (250 ms by default),
//     feeds the Policy and reports changed decisions.
//
// The owner always comes first. Pausing is immediate; resuming waits
// (hysteresis) so the GPU does not flap between the owner and the network.
// The GPU use of our own processes (Ollama and its runners, Signals.OwnPIDs)
// never counts as the owner using the GPU: the job's own load must not look
// like the owner (a common complaint about other idle-GPU apps).
package idle
