package testx

import (
	"fmt"
	"testing"
)

// recorder stands in for a test, recording whether SkipOrFail skipped or
// failed it (the real Skip and Fatal would end this test).
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper()                   {}
func (r *recorder) Skipf(f string, a ...any)  { r.skipped = fmt.Sprintf(f, a...) }
func (r *recorder) Fatalf(f string, a ...any) { r.failed = fmt.Sprintf(f, a...) }

func TestSkipOrFail(t *testing.T) {
	for _, tc := range []struct {
		name, env  string
		wantFailed bool
	}{
		{"unset skips", "", false},
		{"0 skips", "0", false},
		{"1 fails", "1", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(RequireAllEnv, tc.env)
			r := &recorder{TB: t}
			SkipOrFail(r, "Xvfb", "not on PATH")
			got := r.skipped
			if tc.wantFailed {
				got = r.failed
			}
			if got == "" || (r.skipped != "") == (r.failed != "") {
				t.Fatalf("skipped %q, failed %q; want only %s", r.skipped, r.failed, map[bool]string{true: "failed", false: "skipped"}[tc.wantFailed])
			}
			if want := "missing Xvfb: not on PATH"; len(got) < len(want) || got[:len(want)] != want {
				t.Errorf("message %q does not start with %q", got, want)
			}
		})
	}
}
