// Package crossbuild holds only tests: TestCrossBuild cross-compiles the
// non-GUI packages for Windows and macOS with CGO_ENABLED=0, so a change that
// breaks the Windows build of gpu/, idle/, runtime/, network/, earnings/,
// receipt/, ton/ or worker/ fails `go test ./...` on Linux;
// TestWindowsGPUNeedsNoCgo checks that the Windows GPU code needs no cgo; and
// TestWindowsApp builds the whole tray app (Fyne included) for Windows with
// mingw-w64, as `make dist` does.
package crossbuild
