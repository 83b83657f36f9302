//go:build !linux

// Command cocoon-crash runs the crash-safety harness; it needs Linux (/proc, Pdeathsig).
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "cocoon-crash: Linux only (it reads /proc and uses Pdeathsig)")
	os.Exit(2)
}
