package packaging

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/cocoon-desktop/cocoon-desktop/internal/autostart"
	"github.com/cocoon-desktop/cocoon-desktop/internal/testx"
)

// TestWindowsInstaller builds the NSIS installer with packaging/windows/build-installer.sh
// (stand-ins for the app and Ollama, so it takes seconds; what is under test is the
// installer, and the Wine tests run the real ones) and checks that it holds the app, the
// bundled ollama.exe beside it, the icon and the uninstaller, byte for byte what was
// given, and that its version resource says the version both as text and as the four
// numbers Windows shows.
func TestWindowsInstaller(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the installer is built on Linux")
	}
	for _, tool := range []string{"makensis", "7z"} {
		if _, err := exec.LookPath(tool); err != nil {
			testx.SkipOrFail(t, tool, tool+" not installed (scripts/install-deps.sh installs nsis and p7zip-full)")
		}
	}
	root := repoRoot(t)
	tmp := t.TempDir()
	app := filepath.Join(tmp, "app.exe")
	ollama := filepath.Join(tmp, "ollama-stand-in.exe")
	appBytes := []byte("MZ stand-in for cocoon-desktop.exe " + strings.Repeat("a", 1000))
	ollamaBytes := []byte("MZ stand-in for ollama.exe " + strings.Repeat("o", 1000))
	for p, b := range map[string][]byte{app: appBytes, ollama: ollamaBytes} {
		if err := os.WriteFile(p, b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	const version = "1.2.3-rc1"
	setup := filepath.Join(tmp, "out", "cocoon-desktop-"+version+"-setup.exe")
	cmd := exec.Command("bash", "packaging/windows/build-installer.sh", version, app, ollama, setup)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GO="+filepath.Join(runtime.GOROOT(), "bin", "go"))
	log, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("build-installer.sh: %v\n%s", err, log)
	}
	if !strings.Contains(string(log), "ollama.exe") {
		t.Errorf("build-installer.sh did not list the contents:\n%s", log)
	}

	t.Run("contents", func(t *testing.T) {
		list := run(t, "7z", "l", "-slt", setup)
		paths := map[string]bool{}
		for _, line := range strings.Split(list, "\n") {
			if p, ok := strings.CutPrefix(strings.TrimSpace(line), "Path = "); ok {
				paths[p] = true
			}
		}
		for _, want := range []string{"cocoon-desktop.exe", "ollama.exe", "cocoon-desktop.ico", "uninstall.exe"} {
			if !paths[want] {
				t.Errorf("installer lacks %s; 7z listing:\n%s", want, list)
			}
		}
		dir := filepath.Join(tmp, "x")
		run(t, "7z", "x", "-o"+dir, setup, "cocoon-desktop.exe", "ollama.exe", "cocoon-desktop.ico")
		for name, want := range map[string][]byte{"cocoon-desktop.exe": appBytes, "ollama.exe": ollamaBytes} {
			got, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s in the installer is not the file given (%d bytes, want %d)", name, len(got), len(want))
			}
		}
		ico, err := os.ReadFile(filepath.Join(dir, "cocoon-desktop.ico"))
		if err != nil {
			t.Fatal(err)
		}
		if len(ico) < 6 || binary.LittleEndian.Uint16(ico[2:]) != 1 || binary.LittleEndian.Uint16(ico[4:]) != 4 {
			t.Errorf("cocoon-desktop.ico is not a 4-image icon: % x", ico[:min(len(ico), 6)])
		}
	})

	t.Run("version info", func(t *testing.T) {
		exe, err := os.ReadFile(setup)
		if err != nil {
			t.Fatal(err)
		}
		for key, want := range map[string]string{"ProductVersion": version, "FileVersion": version, "ProductName": "Cocoon Desktop"} {
			if got := versionString(exe, key); got != want {
				t.Errorf("version resource %s = %q, want %q", key, got, want)
			}
		}
		ms, ls, ok := fixedProductVersion(exe)
		if !ok {
			t.Fatal("no VS_FIXEDFILEINFO in the installer")
		}
		if ms != 1<<16|2 || ls != 3<<16|0 {
			t.Errorf("fixed product version %d.%d.%d.%d, want 1.2.3.0", ms>>16, ms&0xffff, ls>>16, ls&0xffff)
		}
	})
}

// TestInstallerAgreesWithApp checks the facts the installer script shares with the
// app: the login entry is the Run value the app's own toggle writes (so Settings shows
// the installer's choice), and "remove my data" removes the directories internal/paths
// puts the data in, not others.
func TestInstallerAgreesWithApp(t *testing.T) {
	nsi, err := os.ReadFile(filepath.Join(repoRoot(t), "packaging", "windows", "installer.nsi"))
	if err != nil {
		t.Fatal(err)
	}
	defines := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^!define (\w+) "([^"]*)"`).FindAllStringSubmatch(string(nsi), -1) {
		defines[m[1]] = m[2]
	}
	cases := []struct{ name, got, want string }{
		{"Run value name", defines["RUNVALUE"], autostart.Name},
		{"Run key", defines["RUNKEY"], `Software\Microsoft\Windows\CurrentVersion\Run`},
		{"uninstall key", defines["UNINSTKEY"], `Software\Microsoft\Windows\CurrentVersion\Uninstall\CocoonDesktop`},
	}
	for _, tc := range cases {
		if tc.got != tc.want {
			t.Errorf("%s: installer.nsi has %q, want %q", tc.name, tc.got, tc.want)
		}
	}
	// internal/paths on Windows: data and logs under %LOCALAPPDATA%\CocoonDesktop, config
	// under %APPDATA%\CocoonDesktop.
	for _, dir := range []string{`RMDir /r "$LOCALAPPDATA\CocoonDesktop"`, `RMDir /r "$APPDATA\CocoonDesktop"`} {
		if !bytes.Contains(nsi, []byte(dir)) {
			t.Errorf("installer.nsi lacks %s", dir)
		}
	}
	if n := bytes.Count(nsi, []byte("RMDir /r")); n != 2 {
		t.Errorf("installer.nsi has %d recursive removals, want only the two data dirs", n)
	}
	if !regexp.MustCompile(`(?m)^Section /o "un\.Remove my data`).Match(nsi) {
		t.Error(`the uninstaller's "Remove my data" section is not off by default (Section /o)`)
	}
}

func repoRoot(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(wd)
}

// utf16z is s as NUL-terminated UTF-16LE, how version resources store strings.
func utf16z(s string) []byte {
	var b []byte
	for _, u := range append(utf16.Encode([]rune(s)), 0) {
		b = binary.LittleEndian.AppendUint16(b, u)
	}
	return b
}

// versionString finds a StringFileInfo entry: its key, padding to 4 bytes, then the value.
func versionString(exe []byte, key string) string {
	i := bytes.Index(exe, utf16z(key))
	if i < 0 {
		return ""
	}
	j := i + len(utf16z(key))
	for j%4 != 0 && j+1 < len(exe) && exe[j] == 0 && exe[j+1] == 0 {
		j += 2
	}
	var u []uint16
	for ; j+1 < len(exe); j += 2 {
		c := binary.LittleEndian.Uint16(exe[j:])
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	return string(utf16.Decode(u))
}

// fixedProductVersion reads VS_FIXEDFILEINFO's product version (signature 0xFEEF04BD).
func fixedProductVersion(exe []byte) (ms, ls uint32, ok bool) {
	i := bytes.Index(exe, []byte{0xbd, 0x04, 0xef, 0xfe})
	if i < 0 || i+24 > len(exe) {
		return 0, 0, false
	}
	le := binary.LittleEndian
	return le.Uint32(exe[i+16:]), le.Uint32(exe[i+20:]), true
}
