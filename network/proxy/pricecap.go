package proxy

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// A client caps the price it accepts: the request field
// "max_coefficient_milli" or the header X-Cocoon-Max-Coefficient-Milli
// (an integer, the worker's price multiplier × 1000, 1..100000; with both,
// the lower applies). The job then only goes to workers whose coefficient
// is at or below the cap; when none is available the 503 says the cap.

// PriceCapHeader is the request header of a client's price cap.
const PriceCapHeader = "X-Cocoon-Max-Coefficient-Milli"

// PriceCapField is the request body field of a client's price cap.
const PriceCapField = "max_coefficient_milli"

// parsePriceCap returns a request's price cap (0: none) from its header
// value and body field (nil: absent).
func parsePriceCap(header string, field *int64) (int64, error) {
	var capMilli int64
	if field != nil {
		if *field < 1 || *field > protocolMaxCoeff {
			return 0, bad(PriceCapField, "%s must be 1..%d (the price multiplier × 1000)", PriceCapField, protocolMaxCoeff)
		}
		capMilli = *field
	}
	if h := strings.TrimSpace(header); h != "" {
		v, err := strconv.ParseInt(h, 10, 64)
		if err != nil || v < 1 || v > protocolMaxCoeff {
			return 0, bad(PriceCapField, "header %s must be an integer 1..%d (the price multiplier × 1000)", PriceCapHeader, protocolMaxCoeff)
		}
		if capMilli == 0 || v < capMilli {
			capMilli = v
		}
	}
	return capMilli, nil
}

// requestPriceCap reads a request's price cap.
func requestPriceCap(r *http.Request, field *int64) (int64, error) {
	return parsePriceCap(r.Header.Get(PriceCapHeader), field)
}

// noWorkerMessage is the 503's message when no worker took a job.
func noWorkerMessage(model string, maxCoef int64) string {
	if maxCoef > 0 {
		return fmt.Sprintf("no worker at or below your price cap (%s %d) is available for model %s right now; retry later or raise the cap",
			PriceCapField, maxCoef, truncateStr(model, 64))
	}
	return "no worker is available for model " + truncateStr(model, 64) + " right now; retry later"
}
