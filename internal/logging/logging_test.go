package logging

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/cocoon-desktop/cocoon-desktop/internal/testx"
)

// TestFullDiskStillReachesStderr writes log records through the tee to
// /dev/full (every write fails with ENOSPC, as on a full disk): each record
// still reaches stderr, and FileError says why the file has none.
func TestFullDiskStillReachesStderr(t *testing.T) {
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		testx.SkipOrFail(t, "/dev/full", err.Error())
	}
	defer full.Close()
	var stderr bytes.Buffer
	log := slog.New(slog.NewTextHandler(&tee{file: &fileWriter{f: full}, other: &stderr}, nil))
	log.Info("first", "k", 1)
	log.Warn("second", "k", 2)
	if got := stderr.String(); !strings.Contains(got, "msg=first") || !strings.Contains(got, "msg=second") {
		t.Fatalf("stderr got %q", got)
	}
	if err := FileError(); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("FileError = %v, want ENOSPC", err)
	}
	// Space comes back: the error clears.
	var file bytes.Buffer
	slog.New(slog.NewTextHandler(&tee{file: &fileWriter{f: &file}, other: &stderr}, nil)).Info("third")
	if err := FileError(); err != nil || !strings.Contains(file.String(), "msg=third") {
		t.Fatalf("after space returns: FileError %v, file %q", err, file.String())
	}
}
