package worker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/cocoon-desktop/cocoon-desktop/earnings"
)

// TestLedgerGoneOrDamagedIsAnError: once a data dir has had a ledger, a
// deleted, emptied or damaged ledger file stops the core with the reason in
// words; it never starts over at zero or writes into the damaged file.
func TestLedgerGoneOrDamagedIsAnError(t *testing.T) {
	tests := []struct {
		name   string
		change func(path string) error
		want   error
		says   string
	}{
		{"deleted", os.Remove, earnings.ErrMissing, "missing or empty"},
		{"emptied", func(p string) error { return os.Truncate(p, 0) }, earnings.ErrMissing, "missing or empty"},
		{"damaged", func(p string) error {
			return os.WriteFile(p, []byte(strings.Repeat("not a ledger ", 2000)), 0o600)
		}, earnings.ErrDamaged, "damaged"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			first := New(Config{DataDir: dir})
			if first.openErr != nil || first.led() == nil {
				t.Fatalf("a new data dir: %v", first.openErr)
			}
			first.led().Close()
			path := filepath.Join(dir, LedgerFile)
			if err := tc.change(path); err != nil {
				t.Fatal(err)
			}
			c := New(Config{DataDir: dir})
			st := c.Status()
			if st.State != StateError || !strings.Contains(st.Error, tc.says) {
				t.Fatalf("status %s %q, want an error saying %q", st.State, st.Error, tc.says)
			}
			if err := c.Run(context.Background()); !errors.Is(err, tc.want) {
				t.Fatalf("Run = %v, want %v", err, tc.want)
			}
			if fi, err := os.Stat(path); tc.want == earnings.ErrMissing && err == nil && fi.Size() > 0 {
				t.Fatal("a new ledger was made in place of the lost one")
			}
		})
	}
}

// TestDiskFullInStatus: a log that cannot be written for lack of space shows
// in the status in words, and clears when space returns.
func TestDiskFullInStatus(t *testing.T) {
	var logErr error = fmt.Errorf("write log: %w", syscall.ENOSPC)
	c := New(Config{LogError: func() error { return logErr }})
	if d := c.Status().DiskFull; !strings.Contains(d, "disk is full") || !strings.Contains(d, "the log") {
		t.Fatalf("DiskFull = %q", d)
	}
	logErr = nil
	if d := c.Status().DiskFull; d != "" {
		t.Fatalf("after space returned: %q", d)
	}
	logErr = errors.New("permission denied") // not a full disk
	if d := c.Status().DiskFull; d != "" {
		t.Fatalf("another error reads as a full disk: %q", d)
	}
}
