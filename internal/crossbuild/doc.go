// Package crossbuild holds only a test: it cross-compiles the non-GUI
// packages (everything but app/ and main, which need Fyne and cgo) for
// Windows and macOS with CGO_ENABLED=0, so a change that breaks the
// Windows build of gpu/, idle/, runtime/, network/, earnings/ or worker/
// fails `go test ./...` on Linux.
package crossbuild
