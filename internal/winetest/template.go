package winetest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// TemplateEnv, set to 0, makes every prefix with wineboot instead of copying
// the cached template (to measure the cold case).
const TemplateEnv = "COCOON_WINE_TEMPLATE"

// fromTemplate fills dir with a copy of an initialised prefix cached under
// ~/.cache/cocoon-desktop/wine-prefix-<wine version>, made once (under a
// lock, so parallel test packages boot it once). Measured on a 2-core
// machine: wineboot --init ~16 s, the copy (~700 MB) 4–7 s. False when
// there is no usable cache dir; then the caller runs wineboot itself.
func (p *Prefix) fromTemplate(dir string) bool {
	p.t.Helper()
	if os.Getenv(TemplateEnv) == "0" {
		return false
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return false
	}
	ver, err := exec.Command(p.Wine, "--version").Output()
	if err != nil {
		return false
	}
	name := "wine-prefix-" + strings.NewReplacer(" ", "_", "/", "_").Replace(strings.TrimSpace(string(ver)))
	tmpl := filepath.Join(cache, "cocoon-desktop", name)
	if err := os.MkdirAll(filepath.Dir(tmpl), 0o755); err != nil {
		return false
	}
	lock, err := os.OpenFile(tmpl+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return false
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return false
	}
	if _, err := os.Stat(filepath.Join(tmpl, "system.reg")); err != nil {
		if err := p.bootTemplate(tmpl); err != nil {
			p.t.Logf("winetest: no template prefix (%v); booting this one", err)
			return false
		}
	}
	if out, err := exec.Command("cp", "-a", "--reflink=auto", tmpl, dir).CombinedOutput(); err != nil {
		p.t.Fatalf("winetest: copy the template prefix: %v\n%s", err, out)
	}
	return true
}

// bootTemplate runs wineboot into a scratch dir beside tmpl and renames it
// into place once Wine has written the registry (its wineserver has exited).
func (p *Prefix) bootTemplate(tmpl string) error {
	scratch := fmt.Sprintf("%s.tmp-%d", tmpl, os.Getpid())
	_ = os.RemoveAll(scratch)
	env := append(HostEnv(), "WINEPREFIX="+scratch, "WINEDEBUG=-all", "WINEDLLOVERRIDES=mscoree,mshtml=", "DISPLAY=")
	for _, args := range [][]string{{p.Wine, "wineboot", "--init"}, {p.server, "-w"}} {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Env = env
		out, err := os.CreateTemp("", "wineboot-*")
		if err != nil {
			return err
		}
		cmd.Stdout, cmd.Stderr = out, out // files, not pipes: see Try
		cmd.WaitDelay = 10 * time.Second
		err = cmd.Run()
		out.Close()
		os.Remove(out.Name())
		if err != nil {
			_ = os.RemoveAll(scratch)
			return fmt.Errorf("%v: %w", args[1:], err)
		}
	}
	return os.Rename(scratch, tmpl)
}
