// Package gputest provides fake NVML libraries (go-nvml's mock) that behave
// like real cards, for tests and demos of packages above gpu/ on machines
// without an NVIDIA driver.
//
// go-nvml needs cgo and builds only on Linux, so the fakes exist only there
// (build tag linux && cgo); elsewhere this package is empty.
package gputest
