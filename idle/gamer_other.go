//go:build !linux && !windows

package idle

// NewGamerSources returns no sources: this OS has none yet.
func NewGamerSources() GamerSources { return GamerSources{Close: func() error { return nil }} }
