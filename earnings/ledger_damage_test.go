package earnings

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestDamagedLedger damages a real ledger file in the ways disks and people
// do, and checks that Open says so in words (ErrDamaged / ErrMissing) and
// never panics, and that a healthy file still opens.
func TestDamagedLedger(t *testing.T) {
	// One ledger with 300 receipts, copied for each case.
	good := filepath.Join(t.TempDir(), "ledger.db")
	l := openTest(t, good, Options{ProxyKey: proxyPub})
	for i := int64(1); i <= 300; i++ {
		if _, err := l.Credit(src(fmt.Sprintf("job-%d", i), i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	orig, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	pageSize := os.Getpagesize()
	tests := []struct {
		name      string
		damage    func(b []byte) []byte // nil: delete the file
		mustExist bool
		want      error // nil: opens fine
	}{
		{name: "healthy", damage: func(b []byte) []byte { return b }, mustExist: true},
		{name: "half truncated", damage: func(b []byte) []byte { return b[:len(b)/2] }, want: ErrDamaged},
		{name: "truncated into the meta pages", damage: func(b []byte) []byte { return b[:pageSize/2] }, want: ErrDamaged},
		{name: "zeroed meta pages", damage: func(b []byte) []byte {
			for i := 0; i < 2*pageSize; i++ {
				b[i] = 0
			}
			return b
		}, want: ErrDamaged},
		{name: "zeroed root and data pages", damage: func(b []byte) []byte {
			for i := 2 * pageSize; i < len(b); i++ {
				b[i] = 0
			}
			return b
		}, want: ErrDamaged},
		{name: "bit flips in every data page", damage: func(b []byte) []byte {
			for p := 4; p*pageSize+64 < len(b); p++ {
				b[p*pageSize+16] ^= 0xff // inside the page header
			}
			return b
		}, want: ErrDamaged},
		{name: "empty file where a ledger was", damage: func([]byte) []byte { return nil }, mustExist: true, want: ErrMissing},
		{name: "deleted where a ledger was", mustExist: true, want: ErrMissing},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "ledger.db")
			if tc.damage != nil {
				if err := os.WriteFile(path, tc.damage(append([]byte(nil), orig...)), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			l, err := Open(path, Options{ProxyKey: proxyPub, MustExist: tc.mustExist})
			if tc.want == nil {
				if err != nil {
					t.Fatalf("healthy ledger: %v", err)
				}
				if b, err := l.Balance(); err != nil || b.Jobs != 300 {
					t.Fatalf("balance %+v, %v", b, err)
				}
				l.Close()
				return
			}
			if !errors.Is(err, tc.want) {
				if l != nil {
					l.Close()
				}
				t.Fatalf("Open = %v, want %v", err, tc.want)
			}
			t.Logf("%v", err)
		})
	}
}
