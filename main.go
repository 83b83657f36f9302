package main

import (
	"os"

	"github.com/cocoon-desktop/cocoon-desktop/internal/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:])) }
