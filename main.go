// Command cocoon-desktop is the Cocoon Desktop app: a tray app that rents an
// idle NVIDIA GPU to an AI-inference network. All the work is in internal/cli
// and the packages it drives; main stays thin.
package main

import (
	"os"

	"github.com/cocoon-desktop/cocoon-desktop/internal/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:])) }
