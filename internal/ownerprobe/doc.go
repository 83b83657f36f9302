// Command ownerprobe prints what the Windows owner-priority sources see
// (idle.WindowsOwner over the real Win32 calls: the Steam game from the
// registry, XInput controllers, the full-screen state) as one JSON object.
// It exists for tests: cross-built with GOOS=windows and run under Wine by
// wine_test.go, it checks the real registry and DLL calls, which the idle
// package's own tests replace with fakes. On other systems it says so and
// exits 2.
package main
