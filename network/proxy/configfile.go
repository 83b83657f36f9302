package proxy

import (
	"errors"
	"fmt"
	"os"
	"runtime"
)

// ErrConfigReadable means a config file holding secrets (API keys or the
// admin key in clear) can be read by users other than its owner.
var ErrConfigReadable = errors.New("proxy config: holds secrets and is readable by others")

// checkConfigFileMode refuses a config file that holds secrets in clear
// (api_keys[].key, admin_key) while its group or others may read it: anyone
// on the host could then spend the app developers' credit or read the
// admin status. Digests (key_sha256, admin_key_sha256) are not secrets. The
// wallet seed is a separate file, checked where it is read. Windows has no
// such mode bits; its ACLs are the owner's to set.
func checkConfigFileMode(path string, f *os.File, cfg Config) error {
	if runtime.GOOS == "windows" || !holdsSecrets(cfg) {
		return nil
	}
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("proxy config %s: %w", path, err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("%w: %s (mode %v) has API or admin keys in clear; run `chmod 600 %s`, or store key_sha256 and admin_key_sha256 digests instead",
			ErrConfigReadable, path, perm, path)
	}
	return nil
}

func holdsSecrets(cfg Config) bool {
	if cfg.AdminKey != "" {
		return true
	}
	for _, k := range cfg.APIKeys {
		if k.Key != "" {
			return true
		}
	}
	return false
}
