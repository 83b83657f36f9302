package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// bktUsageDaily holds each API key's usage by UTC day and model, written in
// RecordJob's transaction: key digest | 0 | YYYY-MM-DD | 0 | model →
// DailyUsage JSON. Days sort as text, so a date range is one cursor walk.
var bktUsageDaily = []byte("usage_daily")

// DayLayout is the date form of GET /v1/usage and DailyUsage.Date.
const DayLayout = "2006-01-02"

// MaxUsageDays bounds one GET /v1/usage range.
const MaxUsageDays = 366

// ErrBadUsageRange: a usage query's from/to is malformed, reversed or too long.
var ErrBadUsageRange = errors.New("bad usage date range")

// DailyUsage is what one API key used of one model on one UTC day. Its
// counters saturate at math.MaxInt64 rather than fail a job.
type DailyUsage struct {
	Date             string `json:"date"` // YYYY-MM-DD, UTC
	Model            string `json:"model"`
	Requests         int64  `json:"requests"`
	PromptTokens     int64  `json:"prompt_tokens"`
	CompletionTokens int64  `json:"completion_tokens"`
	Cost             int64  `json:"cost"` // nanoTON charged (before commission)
}

func dailyUsageKey(keyDigest, day, model string) []byte {
	k := make([]byte, 0, len(keyDigest)+len(day)+len(model)+2)
	k = append(append(append(k, keyDigest...), 0), day...)
	return append(append(k, 0), model...)
}

// addDailyUsage adds a credited job to its key's day (inside RecordJob's
// transaction, so usage and receipts never disagree).
func addDailyUsage(tx *bolt.Tx, j JobRecord) error {
	b, err := tx.CreateBucketIfNotExists(bktUsageDaily)
	if err != nil {
		return fmt.Errorf("proxy store: usage by day: %w", err)
	}
	day := j.Time.UTC().Format(DayLayout)
	k := dailyUsageKey(j.KeyDigest, day, j.Model)
	var d DailyUsage
	if _, err := getJSON(b, k, &d); err != nil {
		return err
	}
	d.Date, d.Model = day, j.Model
	addSaturating(&d.Requests, 1)
	addSaturating(&d.PromptTokens, j.PromptTokens)
	addSaturating(&d.CompletionTokens, j.CompletionTokens)
	addSaturating(&d.Cost, j.Gross)
	return putJSON(b, k, d)
}

// DailyUsage returns an API key's usage (by its digest) on the UTC days
// from..to (YYYY-MM-DD, both included), by day then model.
func (s *BoltStore) DailyUsage(ctx context.Context, keyDigest, from, to string) ([]DailyUsage, error) {
	out := []DailyUsage{}
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bktUsageDaily)
		if b == nil {
			return nil // no job credited since the bucket came
		}
		c := b.Cursor()
		start := dailyUsageKey(keyDigest, from, "")
		end := append(dailyUsageKey(keyDigest, to, ""), 0xff) // past every model of day to
		for k, v := c.Seek(start); k != nil && bytes.Compare(k, end) < 0; k, v = c.Next() {
			var d DailyUsage
			if err := json.Unmarshal(v, &d); err != nil {
				return fmt.Errorf("proxy store: usage by day %q: %w", k, err)
			}
			out = append(out, d)
		}
		return nil
	})
	return out, err
}

// usageRangeError is a bad usage range, naming the query parameter at fault.
type usageRangeError struct {
	param string
	err   error
}

func (e *usageRangeError) Error() string { return e.err.Error() }
func (e *usageRangeError) Unwrap() error { return e.err }

// usageRange parses GET /v1/usage's from and to: each YYYY-MM-DD, to
// defaulting to today (UTC) and from to to; at most MaxUsageDays days. Its
// errors wrap ErrBadUsageRange in a *usageRangeError.
func usageRange(from, to string, now time.Time) (string, string, error) {
	if to == "" {
		to = now.UTC().Format(DayLayout)
	}
	if from == "" {
		from = to
	}
	t, err := time.Parse(DayLayout, to) // first: a bad to must not be blamed on from, its default
	if err != nil {
		return "", "", &usageRangeError{"to", fmt.Errorf("%w: to %q is not a date YYYY-MM-DD", ErrBadUsageRange, truncateStr(to, 32))}
	}
	f, err := time.Parse(DayLayout, from)
	if err != nil {
		return "", "", &usageRangeError{"from", fmt.Errorf("%w: from %q is not a date YYYY-MM-DD", ErrBadUsageRange, truncateStr(from, 32))}
	}
	if t.Before(f) {
		return "", "", &usageRangeError{"to", fmt.Errorf("%w: to %s is before from %s", ErrBadUsageRange, to, from)}
	}
	if days := int(t.Sub(f).Hours()/24) + 1; days > MaxUsageDays {
		return "", "", &usageRangeError{"from", fmt.Errorf("%w: %d days, at most %d", ErrBadUsageRange, days, MaxUsageDays)}
	}
	return from, to, nil
}

// EmbeddingPrice is the model's price per embedded input token.
func (m ModelPrice) EmbeddingPrice() int64 {
	if m.PriceEmbedding != nil {
		return *m.PriceEmbedding
	}
	return m.PricePrompt
}
