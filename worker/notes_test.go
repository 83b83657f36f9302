package worker

import (
	"testing"

	"github.com/cocoon-desktop/cocoon-desktop/idle"
)

// A controller game is the owner at the computer, like the keyboard: the
// worker says "waiting", not "paused", when that is all that holds it.
func TestOnlyWaitingForIdle(t *testing.T) {
	cases := []struct {
		name    string
		reasons []idle.Reason
		want    bool
	}{
		{"keyboard", []idle.Reason{{Code: idle.CodeOwnerActive}}, true},
		{"controller", []idle.Reason{{Code: idle.CodeControllerActive}}, true},
		{"keyboard and controller", []idle.Reason{{Code: idle.CodeOwnerActive}, {Code: idle.CodeControllerActive}}, true},
		{"a Steam game", []idle.Reason{{Code: idle.CodeSteamGame}}, false},
		{"controller and full screen", []idle.Reason{{Code: idle.CodeControllerActive}, {Code: idle.CodeFullScreen}}, false},
	}
	for _, tc := range cases {
		if got := onlyWaitingForIdle(tc.reasons); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
