package app

import "github.com/cocoon-desktop/cocoon-desktop/idle"

// trayReason is a pause reason in a few words for the tray's menu line,
// chosen by its code (and program name), never by parsing the policy's
// English text. Codes without words of their own fall back to the text's
// first clause.
func trayReason(r idle.Reason) string {
	program := ""
	if len(r.Programs) > 0 {
		program = r.Programs[0]
	}
	switch r.Code {
	case idle.CodeOwnerActive:
		// Its text counts the seconds since the last input: a menu line
		// that changed every poll re-sent the whole menu.
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
	case idle.CodePresentation:
		return "presentation mode"
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
