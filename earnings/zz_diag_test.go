package earnings

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestZZDiag(t *testing.T) {
	path := filepath.Join(t.TempDir(), "l.db")
	l := openTest(t, path, Options{})
	fillLedger(t, l, benchJobs(), time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), false)
	fi, _ := os.Stat(path)
	t.Logf("file %d", fi.Size())
	l.db.View(func(tx *bolt.Tx) error {
		t.Logf("tx.Size %d", tx.Size())
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			s := b.Stats()
			t.Logf("%-20s keys %8d leaf pages %6d alloc %10d inuse %10d branch alloc %d", name, s.KeyN, s.LeafPageN, s.LeafAlloc, s.LeafInuse, s.BranchAlloc)
			return nil
		})
	})
	st := l.db.Stats()
	t.Logf("free pages %d pending %d freealloc %d freelist inuse %d", st.FreePageN, st.PendingPageN, st.FreeAlloc, st.FreelistInuse)
}
