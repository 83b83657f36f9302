//go:build !windows && !darwin

package autostart

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestEnableDisable(t *testing.T) {
	cfg := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", cfg)
	file := filepath.Join(cfg, "autostart", "cocoon-desktop.desktop")
	if f, err := File(); err != nil || f != file {
		t.Fatalf("File() = %q, %v; want %q", f, err, file)
	}
	if Enabled() {
		t.Fatal("enabled before Enable (must be off by default)")
	}
	if err := Disable(); err != nil {
		t.Fatalf("Disable with no entry: %v", err)
	}

	exe := "/opt/cocoon/bin/cocoon-desktop"
	if err := Enable(exe); err != nil {
		t.Fatal(err)
	}
	if !Enabled() {
		t.Fatal("not enabled after Enable")
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	got := string(b)
	for _, want := range []string{
		"[Desktop Entry]\n",
		"\nType=Application\n",
		"\nName=Cocoon Desktop\n",
		"\nExec=/opt/cocoon/bin/cocoon-desktop --start\n",
		"\nX-GNOME-Autostart-enabled=true\n",
		"\nTerminal=false\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("entry lacks %q:\n%s", want, got)
		}
	}
	if !strings.HasPrefix(got, "[Desktop Entry]\n") {
		t.Errorf("entry does not start with its group header:\n%s", got)
	}

	// Idempotent: the same content, the file not rewritten.
	fi1, _ := os.Stat(file)
	old := time.Now().Add(-time.Hour)
	os.Chtimes(file, old, old)
	if err := Enable(exe); err != nil {
		t.Fatal(err)
	}
	fi2, _ := os.Stat(file)
	b2, _ := os.ReadFile(file)
	if string(b2) != got || !fi2.ModTime().Equal(old) || fi1.Size() != fi2.Size() {
		t.Errorf("second Enable rewrote the entry (mtime %v)", fi2.ModTime())
	}
	entries, _ := os.ReadDir(filepath.Dir(file))
	if len(entries) != 1 {
		t.Errorf("autostart dir has %d files, want 1", len(entries))
	}

	// A new executable path replaces the entry.
	if err := Enable("/usr/bin/cocoon-desktop"); err != nil {
		t.Fatal(err)
	}
	b3, _ := os.ReadFile(file)
	if !strings.Contains(string(b3), "\nExec=/usr/bin/cocoon-desktop --start\n") {
		t.Errorf("Exec not updated:\n%s", b3)
	}

	// Switched off by a desktop's settings tool.
	if err := os.WriteFile(file, []byte(strings.Replace(string(b3), "X-GNOME-Autostart-enabled=true", "X-GNOME-Autostart-enabled=false", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if Enabled() {
		t.Error("Enabled with X-GNOME-Autostart-enabled=false")
	}

	if err := Disable(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Errorf("entry still there after Disable: %v", err)
	}
	if Enabled() {
		t.Error("enabled after Disable")
	}
	if err := Disable(); err != nil {
		t.Errorf("second Disable: %v", err)
	}
}

func TestDefaultDir(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", "")
	d, err := Dir()
	if err != nil || d != filepath.Join(home, ".config", "autostart") {
		t.Fatalf("Dir() = %q, %v", d, err)
	}
	t.Setenv("XDG_CONFIG_HOME", "relative/ignored") // the spec: must be absolute
	if d, _ := Dir(); d != filepath.Join(home, ".config", "autostart") {
		t.Errorf("relative XDG_CONFIG_HOME used: %q", d)
	}
	if err := Enable("relative/cocoon"); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(d, "cocoon-desktop.desktop"))
	wd, _ := os.Getwd()
	if !strings.Contains(string(b), "Exec="+filepath.Join(wd, "relative/cocoon")+" --start\n") {
		t.Errorf("relative exe not made absolute:\n%s", b)
	}
}

func TestExecArgQuoting(t *testing.T) {
	for in, want := range map[string]string{
		"/usr/bin/cocoon-desktop":  "/usr/bin/cocoon-desktop",
		"/home/Jo Doe/Apps/cocoon": `"/home/Jo Doe/Apps/cocoon"`,
		`/opt/a$b/c"d`:             `"/opt/a\\$b/c\\"d"`,
		"/opt/100%/cocoon":         "/opt/100%%/cocoon",
		`/weird\path/cocoon`:       `"/weird\\\\path/cocoon"`,
	} {
		if got := execArg(in); got != want {
			t.Errorf("execArg(%q) = %s, want %s", in, got, want)
		}
	}
}
