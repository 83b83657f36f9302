package cli

import "github.com/cocoon-desktop/cocoon-desktop/idle"

// controllerWarnings says when game controllers cannot be read: a game
// played with one would then look like the owner is away.
func controllerWarnings() []string {
	g := idle.NewGamerSources()
	defer g.Close()
	if g.Controllers == nil {
		return nil
	}
	if _, err := g.Controllers.ControllerIdle(); err != nil {
		return []string{err.Error()}
	}
	return nil
}
