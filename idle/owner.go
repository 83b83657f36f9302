package idle

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// The owner-presence rules for gamers: a game controller in use, a Steam
// game running, a full-screen program or presentation (by program name).
// They are OS-neutral here; the sources are controllers_linux.go (joystick
// and evdev devices) and windows.go over the Win32 calls in
// win32_windows.go.

// Reason codes of the gamer rules.
const (
	// CodeControllerActive: a game controller was used more recently than
	// the idle threshold. Like CodeOwnerActive it is the owner's presence.
	CodeControllerActive ReasonCode = "controller_active"
	// CodeSteamGame: Steam reports a running game (Programs[0] is its name
	// when Steam knows it, else "Steam app <id>").
	CodeSteamGame ReasonCode = "steam_game"
	// CodePresentation: Windows is in presentation mode (a slide show).
	CodePresentation ReasonCode = "presentation"
	// CodeControllersUnreadable is a note, never a reason to pause: the
	// controllers cannot be read, so a controller game may look idle.
	CodeControllersUnreadable ReasonCode = "controllers_unreadable"
)

// IsPresence reports whether the code means the owner is at the computer
// (input within the idle threshold): a wait that ends when they step away.
func (c ReasonCode) IsPresence() bool {
	return c == CodeOwnerActive || c == CodeControllerActive
}

// ErrControllersUnreadable is returned (wrapped, with the device) by a
// controller source that finds game controllers it may not read.
var ErrControllersUnreadable = errors.New("can't read game controllers: add yourself to the input group (sudo usermod -aG input $USER, then log in again)")

// ControllerIdler reports how long ago a game controller was last used.
// A negative duration means no controller input has been seen (none
// connected, or untouched since the source started). An error wrapping
// ErrControllersUnreadable says some controllers cannot be read; the
// duration is still valid for the others.
type ControllerIdler interface {
	ControllerIdle() (time.Duration, error)
}

// SteamGame is what Steam reports: the running game, if any.
type SteamGame struct {
	AppID uint32 `json:"app_id"` // 0: no game running
	Name  string `json:"name"`   // from Steam's own registry entry; "" when unknown
}

// SteamWatcher reports the game Steam says is running.
type SteamWatcher interface {
	SteamGame() (SteamGame, error)
}

// FullScreenInfo is a richer full-screen report: the program that has the
// screen and whether it is a presentation.
type FullScreenInfo struct {
	On           bool   `json:"on"`
	Title        string `json:"title"`        // the window's title, "" when unknown
	Program      string `json:"program"`      // the program's file name ("game.exe"), "" when unknown
	Presentation bool   `json:"presentation"` // presentation mode (Windows), not a game or video
}

// FullScreenDetailer is a FullScreener that can also name the program. The
// Watcher prefers it when its FullScreen source implements it.
type FullScreenDetailer interface {
	FullScreenDetail() (FullScreenInfo, error)
}

// steamName is the name shown for a running Steam game.
func steamName(g SteamGame) string {
	if g.Name != "" {
		return g.Name
	}
	return fmt.Sprintf("Steam app %d", g.AppID)
}

// fullScreenReason is the reason for a full-screen window or presentation.
func fullScreenReason(s Signals) Reason {
	if s.Presentation {
		return Reason{Code: CodePresentation, Text: "Presentation mode is on", Programs: nonEmpty(s.FullScreenProgram)}
	}
	r := Reason{Code: CodeFullScreen, Text: "A full-screen window is open", Programs: nonEmpty(s.FullScreenProgram)}
	switch {
	case s.FullScreenProgram != "" && s.FullScreenTitle != "":
		r.Text = fmt.Sprintf("Full-screen program: %s (%q)", s.FullScreenProgram, s.FullScreenTitle)
	case s.FullScreenProgram != "":
		r.Text = "Full-screen program: " + s.FullScreenProgram
	case s.FullScreenTitle != "":
		r.Text = fmt.Sprintf("%q is full screen", s.FullScreenTitle)
	}
	return r
}

// DefaultIgnoreSteamApps are Steam apps that report themselves running
// all day without being a game: Wallpaper Engine (431960) would otherwise
// keep its owner from ever serving.
var DefaultIgnoreSteamApps = []uint32{431960}

// steamReason is the reason for a running Steam game; ok is false when
// none runs or it is one of ignore.
func steamReason(s Signals, ignore []uint32) (Reason, bool) {
	if s.Steam.AppID == 0 || slices.Contains(ignore, s.Steam.AppID) {
		return Reason{}, false
	}
	name := steamName(s.Steam)
	return Reason{Code: CodeSteamGame, Text: "Steam game running: " + name, Programs: []string{name}}, true
}

// controllerReason is the reason for recent controller input, with the
// time left before it stops counting; ok is false when it does not count.
func controllerReason(now time.Time, idle, need time.Duration) (Reason, time.Duration, bool) {
	if idle < 0 || idle >= need {
		return Reason{}, 0, false
	}
	left := need - idle
	return Reason{
		Code: CodeControllerActive,
		Text: fmt.Sprintf("You used a game controller %s ago; serving starts after %s without input",
			human(idle), human(need)),
		Until: now.Add(left),
	}, left, true
}

// controllerNote is the note for unreadable controllers (nil err: none).
func controllerNote(err error) []Reason {
	if err == nil {
		return nil
	}
	text := ErrControllersUnreadable.Error()
	if !errors.Is(err, ErrControllersUnreadable) {
		text = "can't read game controllers: " + err.Error()
	}
	return []Reason{{Code: CodeControllersUnreadable, Text: text}}
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

// GamerSources are this OS's sources for the gamer rules; a nil field has
// no source here. NewGamerSources (per OS) makes them; Close releases
// them.
type GamerSources struct {
	// FullScreen names the full-screen program (Windows; on Linux the X11
	// source reports full screen).
	FullScreen  FullScreener
	Controllers ControllerIdler
	Steam       SteamWatcher
	Close       func() error
}
