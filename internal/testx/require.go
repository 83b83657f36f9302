package testx

import (
	"os"
	"testing"
)

// RequireAllEnv names the environment variable that, set to 1 (as `make
// test` does), turns every skip for a missing tool into a failure: CI must
// never pass by quietly not running a test.
const RequireAllEnv = "COCOON_REQUIRE_ALL"

// RequireAll reports whether COCOON_REQUIRE_ALL=1.
func RequireAll() bool { return os.Getenv(RequireAllEnv) == "1" }

// SkipOrFail skips the test because what (a tool, a device, a permission)
// is missing, saying why; under COCOON_REQUIRE_ALL=1 it fails the test
// instead, naming the missing piece.
func SkipOrFail(tb testing.TB, what, why string) {
	tb.Helper()
	if RequireAll() {
		tb.Fatalf("missing %s: %s (%s=1 requires it)", what, why, RequireAllEnv)
		return
	}
	tb.Skipf("missing %s: %s", what, why)
}
