// Package wineapp holds only tests: the shipped Windows program, exactly as a
// gamer gets it (the real app cross-built with mingw-w64, the bundled
// Windows Ollama, the NSIS installer), installed and run under Wine in a
// private prefix (internal/winetest): doctor, a paid job end to end on the
// local network, single instance, upgrade in place and uninstall. Skipped,
// saying why, without wine64, mingw-w64 or makensis; failed instead under
// COCOON_REQUIRE_WINE=1 (make test sets it).
package wineapp
