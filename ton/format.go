package ton

import (
	"fmt"
	"strings"
)

// Format formats nanoTON as TON for people: up to 9 decimals, trailing
// zeros cut ("1.5", "0.000000001", "12"). CSV export keeps all 9 decimals.
func Format(nano int64) string {
	neg := nano < 0
	u := uint64(nano)
	if neg {
		u = uint64(-nano)
	}
	s := fmt.Sprintf("%d.%09d", u/1_000_000_000, u%1_000_000_000)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if neg {
		s = "-" + s
	}
	return s
}
