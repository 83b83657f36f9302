package escrowtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/xssnick/tonutils-go/tvm/cell"

	"github.com/cocoon-desktop/cocoon-desktop/internal/tonsandbox"
	"github.com/cocoon-desktop/cocoon-desktop/ton/escrow"
)

// FromSourceEnv, set to 1, makes Deploy use the contract compiled now from
// ton/escrow/contract/escrow.tolk instead of the checked-in escrow.boc:
// `make mutants` sets it for the contract's mutants, which change the
// source. (TestCodeMatchesSource keeps the two the same otherwise.)
const FromSourceEnv = "COCOON_ESCROW_FROM_SOURCE"

var fromSource struct {
	once sync.Once
	code *cell.Cell
	err  error
}

// Code is the contract code Deploy uses: escrow.Code(), or the source
// compiled now under FromSourceEnv=1.
func Code() (*cell.Cell, error) {
	if os.Getenv(FromSourceEnv) != "1" {
		return escrow.Code(), nil
	}
	fromSource.once.Do(func() {
		_, file, _, ok := runtime.Caller(0)
		if !ok {
			fromSource.err = fmt.Errorf("escrowtest: cannot locate the contract source")
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		c, err := tonsandbox.CompileTolk(ctx, filepath.Join(filepath.Dir(file), "..", "contract", "escrow.tolk"))
		fromSource.code, fromSource.err = c.Code, err
	})
	return fromSource.code, fromSource.err
}
