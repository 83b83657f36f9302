package cli

// Fixes the locale before Fyne's lang package reads it (see the package).
import _ "github.com/cocoon-desktop/cocoon-desktop/internal/quietstart"
