package ollama

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Which Ollama executable a managed Ollama runs, in Status.Source. An
// attached Ollama (one already answering) is ModeAttached and has no source.
const (
	SourceEnv        = "COCOON_OLLAMA"    // the path in $COCOON_OLLAMA
	SourceOfficial   = "official"         // the owner's install of ollama.com's Ollama (it has CUDA)
	SourceBundled    = "bundled"          // the one shipped beside cocoon-desktop
	SourcePath       = "PATH"             // found on $PATH
	SourceCached     = "cached build"     // scripts/build-ollama.sh's build, for development
	SourceConfigured = "configured"       // Config.Binary, given by the caller
	officialSubdir   = "Programs\\Ollama" // under %LOCALAPPDATA%, where OllamaSetup.exe installs per user
)

// binaryLookups are the outside facts FindBinary reads, a seam so that the
// order of the search can be tested for either OS on any machine.
type binaryLookups struct {
	windows      bool
	getenv       func(string) string
	executable   func() (string, error)
	isExecutable func(string) bool
	lookPath     func(string) (string, error)
	cachedBuild  func() string
}

func osLookups() binaryLookups {
	return binaryLookups{
		windows:      isWindows,
		getenv:       os.Getenv,
		executable:   os.Executable,
		isExecutable: isExecutable,
		lookPath:     exec.LookPath,
		cachedBuild:  CachedBuildPath,
	}
}

// FindBinary looks for an ollama executable: $COCOON_OLLAMA; on Windows the
// official install (%LOCALAPPDATA%\Programs\Ollama\ollama.exe), which has
// the CUDA backend ours lacks; the one bundled next to this program; $PATH;
// the cached build of scripts/build-ollama.sh.
func FindBinary() (string, error) {
	p, _, err := findBinary(osLookups())
	return p, err
}

// FindBinarySource is FindBinary that also says which kind of Ollama it
// found (SourceEnv, SourceOfficial, ...).
func FindBinarySource() (path, source string, err error) {
	return findBinary(osLookups())
}

func findBinary(l binaryLookups) (path, source string, err error) {
	name := "ollama"
	join := filepath.Join
	if l.windows {
		name = "ollama.exe"
		// Windows paths are joined with \ even when the search is tested on Linux.
		join = func(elem ...string) string { return strings.Join(elem, `\`) }
	}
	var tried []string
	try := func(p, src string) bool {
		if p == "" {
			return false
		}
		if l.isExecutable(p) {
			path, source = p, src
			return true
		}
		tried = append(tried, p)
		return false
	}
	if try(l.getenv("COCOON_OLLAMA"), SourceEnv) {
		return path, source, nil
	}
	if l.windows {
		if dir := l.getenv("LOCALAPPDATA"); dir != "" && try(join(dir, officialSubdir, name), SourceOfficial) {
			return path, source, nil
		}
	}
	if exe, err := l.executable(); err == nil {
		dir := filepath.Dir(exe)
		if l.windows {
			dir = "."
			if i := strings.LastIndexAny(exe, `\/`); i >= 0 {
				dir = exe[:i]
			}
		}
		if try(join(dir, name), SourceBundled) {
			return path, source, nil
		}
	}
	if p, err := l.lookPath(name); err == nil {
		return p, SourcePath, nil
	}
	tried = append(tried, "$PATH")
	if try(l.cachedBuild(), SourceCached) {
		return path, source, nil
	}
	return "", "", fmt.Errorf("%w (looked in %s; install Ollama or run `make ollama`)", ErrOllamaNotFound, strings.Join(tried, ", "))
}
