package app

import "github.com/cocoon-desktop/cocoon-desktop/idle"

// trayReason is a pause reason in a few stable words for the tray's menu
// line, chosen by its code (and program name), never by parsing the
// policy's English text. The reasons' own texts carry live figures
// (seconds since the last input, "cleared 20 s ago", degrees, watts, free
// memory) that change at every poll; a menu line made of them re-sent the
// whole menu every second or two. Codes without words of their own fall
// back to the text's first clause.
func trayReason(r idle.Reason) string {
	program := ""
	if len(r.Programs) > 0 {
		program = r.Programs[0]
	}
	switch r.Code {
	case idle.CodeOwnerActive:
		return "you are using the computer"
	case idle.CodeControllerActive:
		return "a game controller is in use"
	case idle.CodeSteamGame:
		if program != "" {
			return shortReason("playing " + program) // "playing Half-Life 2"
		}
		return "a Steam game is running"
	case idle.CodeFullScreen:
		if program != "" {
			return shortReason("full screen: " + program)
		}
		return "a full-screen window is open"
	case idle.CodePresentation:
		return "presentation mode"
	case idle.CodeGPUInUse:
		return "another program is using the GPU"
	case idle.CodeIdleUnknown:
		return "cannot tell whether you are away"
	case idle.CodeSchedule:
		return "outside your serving hours"
	case idle.CodeTooHot:
		return "the GPU is too hot"
	case idle.CodePowerCap:
		return "the GPU draws more than your limit"
	case idle.CodeVRAMLow:
		return "video memory is short"
	}
	return shortReason(r.Text)
}

// explainNote turns an idle-policy note (a fact that does not stop
// serving) into a "Why not earning?" row, by its code.
func explainNote(n idle.Reason) why {
	w := why{Code: n.Code, Level: whyInfo, Title: "Note", Detail: n.Text}
	switch n.Code {
	case idle.CodeControllersUnreadable:
		w.Title = "Can't read game controllers"
		w.Detail = "Cocoon may not read your game controllers, so a game played with one can look like you are away."
		w.Fix = "Add yourself to the input group (sudo usermod -aG input $USER), then log out and in again."
	}
	return w
}
