// Package autostart turns "start Cocoon Desktop when I log in" on and off.
//
// Linux (and other XDG desktops): a desktop entry in
// $XDG_CONFIG_HOME/autostart (default ~/.config/autostart). Windows: a value
// under HKCU\Software\Microsoft\Windows\CurrentVersion\Run. It is off until
// the owner turns it on. The launched app gets --start (share once idle).
package autostart

import "errors"

// Name is the autostart entry's name: the desktop file's base name on Linux,
// the Run value's name on Windows.
const Name = "cocoon-desktop"

// StartArg is the flag the login launch passes.
const StartArg = "--start"

// ErrUnsupported is returned on systems with no autostart mechanism here.
var ErrUnsupported = errors.New("autostart: not supported on this system")
