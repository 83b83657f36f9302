// Package logging sets up the one log/slog handler of the process: text
// records to a file in the user's log dir (0600) and, optionally, stderr.
//
// Nothing here filters content; callers never log prompts or outputs.
package logging

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

// FileName is the log file inside the log dir.
const FileName = "cocoon-desktop.log"

// maxSize is the size above which the previous log is rotated away at start.
const maxSize = 10 << 20

// ParseLevel turns "debug", "info", "warn" or "error" into a level.
func ParseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.TrimSpace(s))); err != nil {
		return 0, fmt.Errorf("logging: unknown level %q (use debug, info, warn or error)", s)
	}
	return l, nil
}

// Setup opens dir/FileName and installs a handler as slog's default. The
// returned close func flushes and closes the file.
func Setup(dir string, level slog.Level, stderr bool) (*slog.Logger, func() error, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("logging: %w", err)
	}
	path := filepath.Join(dir, FileName)
	if fi, err := os.Stat(path); err == nil && fi.Size() > maxSize {
		_ = os.Rename(path, path+".1")
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("logging: %w", err)
	}
	var w io.Writer = f
	if stderr {
		w = io.MultiWriter(f, os.Stderr)
	}
	logger := slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
	slog.SetDefault(logger)
	return logger, f.Close, nil
}
