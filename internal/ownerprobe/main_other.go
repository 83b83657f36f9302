//go:build !windows

package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "ownerprobe: Windows only (build it with GOOS=windows)")
	os.Exit(2)
}
