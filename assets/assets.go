// Package assets holds Cocoon Desktop's icons as PNG bytes embedded in the
// binary: the app icon and one tray icon per worker state.
//
// The PNGs are drawn by gen/main.go (stdlib only); regenerate them from the
// repository root with:
//
//	go run assets/gen/main.go
//
// This package deliberately does not import fyne: the app package wraps these
// bytes in fyne resources.
package assets

import _ "embed"

// Icon is the 256×256 application icon.
//
//go:embed icon.png
var Icon []byte

// TrayStopped is the 64×64 tray icon shown while the worker is stopped (grey).
//
//go:embed tray-stopped.png
var TrayStopped []byte

// TrayRunning is the 64×64 tray icon shown while the worker is running (green).
//
//go:embed tray-running.png
var TrayRunning []byte

// TrayError is the 64×64 tray icon shown when the worker needs attention (red).
//
//go:embed tray-error.png
var TrayError []byte
