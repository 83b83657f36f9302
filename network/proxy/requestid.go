package proxy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math"
	"net/http"
	"time"
)

// Every API answer carries a request id in RequestIDHeader, errors
// included: the client's own (when it sent a usable one) or one the proxy
// made, so a developer can quote it and the operator find the request's
// log lines (each carries request_id). A 429 or 503 always says when to
// retry (Retry-After), and each request of a rate-limited key reports the
// key's OpenAI-style x-ratelimit-* headers.

// RequestIDHeader is the request id's header, in and out.
const RequestIDHeader = "X-Request-Id"

// MaxRequestIDLength caps a client's request id; a longer one is replaced.
const MaxRequestIDLength = 128

// defaultRetryAfter is the Retry-After of a 429 or 503 whose handler named
// none: a worker or a slot usually frees up within a second.
const defaultRetryAfter = "1"

type requestIDKey struct{}

// validRequestID accepts 1..MaxRequestIDLength characters of letters,
// digits and -_.:/+= (UUIDs, ULIDs, OpenTelemetry and cloud trace ids):
// nothing that could break a header or a log line.
func validRequestID(s string) bool {
	if len(s) == 0 || len(s) > MaxRequestIDLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-', c == '_', c == '.', c == ':', c == '/', c == '+', c == '=':
		default:
			return false
		}
	}
	return true
}

func newRequestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return "req_" + hex.EncodeToString(b)
}

// requestID is the id of the request ctx belongs to ("" outside one).
func requestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// statusWriter records the status and adds Retry-After to a 429 or 503
// that lacks one. Unwrap keeps http.ResponseController's deadlines and
// flushes working through it.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
		if (code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable) && s.Header().Get("Retry-After") == "" {
			s.Header().Set("Retry-After", defaultRetryAfter)
		}
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.WriteHeader(http.StatusOK)
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// withRequestID gives each API request its id (echoed before the handler
// writes anything) and logs one line per request with it.
func (p *Proxy) withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(RequestIDHeader)
		if !validRequestID(id) {
			id = newRequestID()
		}
		w.Header().Set(RequestIDHeader, id)
		sw := &statusWriter{ResponseWriter: w}
		start := time.Now()
		next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id)))
		p.log.Info("api request", "request_id", id, "method", r.Method, "path", truncateStr(r.URL.Path, 64),
			"status", sw.status, "ms", time.Since(start).Milliseconds())
	})
}

// setRateHeaders reports the key's request rate limit as OpenAI does:
// the limit per minute, the requests left now, and how long until the
// bucket is full again. A key without a limit gets none. The proxy does
// not limit tokens, so there are no -tokens headers.
func (k *apiKeyState) setRateHeaders(h http.Header) {
	if k.rate == 0 {
		return
	}
	k.mu.Lock()
	tokens := k.tokens
	k.mu.Unlock()
	reset := time.Duration((k.burst - tokens) / k.rate * float64(time.Second)).Round(time.Millisecond)
	h.Set("X-Ratelimit-Limit-Requests", fmt.Sprint(int64(k.burst)))
	h.Set("X-Ratelimit-Remaining-Requests", fmt.Sprint(int64(math.Max(0, math.Floor(tokens)))))
	h.Set("X-Ratelimit-Reset-Requests", reset.String())
}
