package escrow

import (
	"fmt"
	"regexp"
	"strconv"
)

// exitCodeInError matches the exit code in a refused external message's
// error: "exit code 102" (internal/tonsandbox) or "exitcode=102" (the
// liteserver's text for a message it would not relay).
var exitCodeInError = regexp.MustCompile(`(?i)exit ?code[= ](-?\d+)`)

// RefusalExitCode is the contract's exit code in the error a chain gave for
// a refused claim (one that matches ton.ErrMessageRejected), if the error
// says it.
func RefusalExitCode(err error) (int, bool) {
	if err == nil {
		return 0, false
	}
	m := exitCodeInError.FindStringSubmatch(err.Error())
	if m == nil {
		return 0, false
	}
	n, convErr := strconv.Atoi(m[1])
	if convErr != nil {
		return 0, false
	}
	return n, true
}

// ExitCodeText says what an exit code of the escrow means, for an owner or
// an operator.
func ExitCodeText(code int) string {
	switch code {
	case ExitBadSignature:
		return "the voucher is not signed by this escrow's proxy key"
	case ExitWrongEscrow:
		return "the voucher is for another escrow"
	case ExitNothingToClaim:
		return "nothing to claim: the escrow has already paid this total"
	case ExitUnderfunded:
		return "the escrow does not hold enough to pay this now; the claim can be sent again after it is topped up"
	case ExitBadVoucher:
		return "not a voucher this escrow reads"
	case ExitNotOperator:
		return "only the escrow's operator may do this"
	case ExitNoWithdrawal:
		return "no withdrawal is announced"
	case ExitWithdrawalLocked:
		return "the announced withdrawal is still time-locked"
	case ExitNothingToWithdraw:
		return "nothing above the reserve to withdraw"
	case ExitBadAmount:
		return "the amount must be more than zero"
	case ExitUnknownOp:
		return "not an operation of the escrow"
	}
	return fmt.Sprintf("exit code %d", code)
}
