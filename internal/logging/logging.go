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
	"sync"
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
	var w io.Writer = &fileWriter{f: f}
	if stderr {
		w = &tee{file: w.(*fileWriter), other: os.Stderr}
	}
	logger := slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
	slog.SetDefault(logger)
	return logger, f.Close, nil
}

// fileError is the log file's last write error (nil while writes succeed).
var fileError struct {
	sync.Mutex
	err error
}

// FileError is the log file's last write error, e.g. a full disk; nil once
// a write succeeds again. The app shows it: a log that cannot be written
// must not fail silently.
func FileError() error {
	fileError.Lock()
	defer fileError.Unlock()
	return fileError.err
}

// fileWriter writes to the log file and remembers whether that works.
type fileWriter struct{ f io.Writer }

func (w *fileWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	fileError.Lock()
	fileError.err = err
	fileError.Unlock()
	return n, err
}

// tee writes every record to the file and to other (stderr) independently:
// unlike io.MultiWriter, a failing file (a full disk) does not stop the
// record from reaching stderr.
type tee struct {
	file  io.Writer
	other io.Writer
}

func (t *tee) Write(p []byte) (int, error) {
	_, ferr := t.file.Write(p)
	_, oerr := t.other.Write(p)
	if ferr != nil && oerr != nil {
		return 0, ferr
	}
	return len(p), nil
}
