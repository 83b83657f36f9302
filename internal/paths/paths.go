// Package paths decides where Cocoon Desktop keeps its data, settings and
// logs: the OS user dirs by default, or one root given by --data-dir or
// $COCOON_DATA_DIR (tests use a temp dir this way).
package paths

import (
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
)

// EnvDataDir overrides every directory with one root.
const EnvDataDir = "COCOON_DATA_DIR"

// Dirs are the directories the app writes to.
type Dirs struct {
	Data   string `json:"data"`   // ledger, keys, managed Ollama and its models
	Config string `json:"config"` // settings
	Logs   string `json:"logs"`
}

// Resolve returns the directories for override (a --data-dir flag value);
// empty override falls back to $COCOON_DATA_DIR, then the OS defaults.
func Resolve(override string) (Dirs, error) {
	if override == "" {
		override = os.Getenv(EnvDataDir)
	}
	if override != "" {
		root, err := filepath.Abs(override)
		if err != nil {
			return Dirs{}, fmt.Errorf("paths: %w", err)
		}
		return Dirs{Data: root, Config: filepath.Join(root, "config"), Logs: filepath.Join(root, "logs")}, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return Dirs{}, fmt.Errorf("paths: no home directory: %w", err)
	}
	cfg, err := os.UserConfigDir()
	if err != nil {
		return Dirs{}, fmt.Errorf("paths: %w", err)
	}
	switch goruntime.GOOS {
	case "windows":
		local := os.Getenv("LOCALAPPDATA")
		if local == "" {
			local = filepath.Join(home, "AppData", "Local")
		}
		return Dirs{
			Data:   filepath.Join(local, "CocoonDesktop"),
			Config: filepath.Join(cfg, "CocoonDesktop"),
			Logs:   filepath.Join(local, "CocoonDesktop", "Logs"),
		}, nil
	case "darwin":
		return Dirs{
			Data:   filepath.Join(home, "Library", "Application Support", "Cocoon Desktop"),
			Config: filepath.Join(cfg, "Cocoon Desktop"),
			Logs:   filepath.Join(home, "Library", "Logs", "Cocoon Desktop"),
		}, nil
	}
	data := os.Getenv("XDG_DATA_HOME")
	if data == "" {
		data = filepath.Join(home, ".local", "share")
	}
	state := os.Getenv("XDG_STATE_HOME")
	if state == "" {
		state = filepath.Join(home, ".local", "state")
	}
	return Dirs{
		Data:   filepath.Join(data, "cocoon-desktop"),
		Config: filepath.Join(cfg, "cocoon-desktop"),
		Logs:   filepath.Join(state, "cocoon-desktop", "logs"),
	}, nil
}

// Create makes every directory, private to the user.
func (d Dirs) Create() error {
	for _, p := range []string{d.Data, d.Config, d.Logs} {
		if err := os.MkdirAll(p, 0o700); err != nil {
			return fmt.Errorf("paths: create %s: %w", p, err)
		}
	}
	return nil
}
