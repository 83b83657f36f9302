//go:build !linux

package app

// guardSessionBus does nothing outside Linux: no session bus is started there.
func guardSessionBus() string { return "" }
