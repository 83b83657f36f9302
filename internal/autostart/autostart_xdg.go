//go:build !windows && !darwin

package autostart

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Dir is the XDG autostart directory: $XDG_CONFIG_HOME/autostart, or
// ~/.config/autostart.
func Dir() (string, error) {
	if x := os.Getenv("XDG_CONFIG_HOME"); x != "" && filepath.IsAbs(x) {
		return filepath.Join(x, "autostart"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("autostart: %w", err)
	}
	return filepath.Join(home, ".config", "autostart"), nil
}

// File is the desktop entry's path.
func File() (string, error) {
	d, err := Dir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, Name+".desktop"), nil
}

// Enable writes the autostart entry running exe (made absolute) with
// --start. It rewrites the file only when its content changes.
func Enable(exe string) error {
	if exe == "" {
		return errors.New("autostart: empty executable path")
	}
	abs, err := filepath.Abs(exe)
	if err != nil {
		return fmt.Errorf("autostart: %w", err)
	}
	path, err := File()
	if err != nil {
		return err
	}
	content := []byte(desktopEntry(abs))
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, content) {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("autostart: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, content, 0o644); err != nil {
		return fmt.Errorf("autostart: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("autostart: %w", err)
	}
	return nil
}

// Disable removes the autostart entry; no entry is not an error.
func Disable() error {
	path, err := File()
	if err != nil {
		return err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("autostart: %w", err)
	}
	return nil
}

// Enabled reports whether the entry exists and is not switched off
// (Hidden=true or X-GNOME-Autostart-enabled=false, as desktop settings
// tools write).
func Enabled() bool {
	path, err := File()
	if err != nil {
		return false
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if (k == "Hidden" && v == "true") || (k == "X-GNOME-Autostart-enabled" && v == "false") {
			return false
		}
	}
	return true
}

func desktopEntry(exe string) string {
	return "[Desktop Entry]\n" +
		"Type=Application\n" +
		"Name=Cocoon Desktop\n" +
		"Comment=Rent your idle NVIDIA GPU to an AI-inference network\n" +
		"Exec=" + execArg(exe) + " " + StartArg + "\n" +
		"Icon=org.cocoondesktop.app\n" +
		"Terminal=false\n" +
		"Categories=Utility;\n" +
		"X-GNOME-Autostart-enabled=true\n" +
		"X-GNOME-Autostart-Delay=10\n"
}

// execArg quotes one Exec argument as the Desktop Entry spec says: inside
// double quotes, `"`, "`", `$` and `\` are backslash-escaped; `%` is doubled
// (field codes); then the whole value gets the string escaping of `\`.
func execArg(s string) string {
	s = strings.ReplaceAll(s, "%", "%%")
	if !strings.ContainsAny(s, " \t\n\"'\\><~|&;$*?#()`=") {
		return s
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"', '`', '$', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	// String-level escaping of the key's value: every backslash doubles.
	return strings.ReplaceAll(b.String(), `\`, `\\`)
}

// Supported reports whether this system has an autostart the app can set.
func Supported() bool { return true }
