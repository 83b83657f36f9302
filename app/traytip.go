package app

import "fyne.io/systray"

// systrayTooltip sets the tray icon's hover text. Fyne's desktop.App has no
// tooltip call, but its tray is the fyne.io/systray package, whose
// SetTooltip sets the StatusNotifierItem's ToolTip property on Linux and
// the notification-area tip on Windows (and keeps it for an icon not yet
// shown). On Linux, tray hosts re-read the property on the item's
// NewToolTip signal, which systray does not send: announceTooltip does.
func systrayTooltip(text string) {
	systray.SetTooltip(text)
	announceTooltip()
}
