//go:build linux

package idle

// NewGamerSources returns the Linux sources: game controllers under
// /dev/input (full screen comes from the X11 source; Steam for Linux is
// not read yet).
func NewGamerSources() GamerSources {
	c := NewControllers()
	return GamerSources{Controllers: c, Close: c.Close}
}
