//go:build windows

package autostart

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"golang.org/x/sys/windows/registry"
)

const runKey = `Software\Microsoft\Windows\CurrentVersion\Run`

// Enable sets the HKCU Run value to `"exe" --start`.
func Enable(exe string) error {
	if exe == "" {
		return errors.New("autostart: empty executable path")
	}
	abs, err := filepath.Abs(exe)
	if err != nil {
		return fmt.Errorf("autostart: %w", err)
	}
	k, _, err := registry.CreateKey(registry.CURRENT_USER, runKey, registry.QUERY_VALUE|registry.SET_VALUE)
	if err != nil {
		return fmt.Errorf("autostart: %w", err)
	}
	defer k.Close()
	cmd := `"` + abs + `" ` + StartArg
	if old, _, err := k.GetStringValue(Name); err == nil && old == cmd {
		return nil
	}
	if err := k.SetStringValue(Name, cmd); err != nil {
		return fmt.Errorf("autostart: %w", err)
	}
	return nil
}

// Disable deletes the Run value; no value is not an error.
func Disable() error {
	k, err := registry.OpenKey(registry.CURRENT_USER, runKey, registry.SET_VALUE)
	if errors.Is(err, registry.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("autostart: %w", err)
	}
	defer k.Close()
	if err := k.DeleteValue(Name); err != nil && !errors.Is(err, registry.ErrNotExist) {
		return fmt.Errorf("autostart: %w", err)
	}
	return nil
}

// Enabled reports whether the Run value exists and is not empty.
func Enabled() bool {
	k, err := registry.OpenKey(registry.CURRENT_USER, runKey, registry.QUERY_VALUE)
	if err != nil {
		return false
	}
	defer k.Close()
	v, _, err := k.GetStringValue(Name)
	return err == nil && strings.TrimSpace(v) != ""
}

// Supported reports whether this system has an autostart the app can set.
func Supported() bool { return true }
