package proxy

import (
	"encoding/json"
	"errors"
	"testing"
	"time"
)

// FuzzEndpointRequests: whatever body an app developer sends to
// /v1/completions or /v1/embeddings, parsing never panics, every refusal
// names what is wrong, and every accepted request makes a job the protocol
// accepts (a worker would never refuse it as malformed).
func FuzzEndpointRequests(f *testing.F) {
	for _, s := range []string{
		`{"model":"tiny","prompt":"Once upon"}`,
		`{"model":"tiny","prompt":["a"],"max_tokens":5,"temperature":0.5,"top_p":1,"seed":3,"stream":true,"stream_options":{"include_usage":true}}`,
		`{"model":"tiny","prompt":[1,2]}`,
		`{"model":"tiny","prompt":"a","echo":true}`,
		`{"model":"tiny","input":"hello"}`,
		`{"model":"tiny","input":["a","b"],"encoding_format":"base64"}`,
		`{"model":"tiny","input":[[1]]}`,
		`{"model":"tiny","input":"a","dimensions":null}`,
		`[]`, `null`, `{"model":1}`, "{\"model\":\"t\",\"prompt\":\"\xff\"}",
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, body []byte, embed bool) {
		fields := CompletionFields
		if embed {
			fields = EmbeddingFields
		}
		_, err := checkFields(body, fields)
		if err == nil {
			var job struct {
				ok  bool
				err error
			}
			if embed {
				var req embeddingRequest
				if json.Unmarshal(body, &req) != nil {
					return
				}
				j, format, err := req.toJob()
				if err == nil {
					if format != encodingFloat && format != encodingBase64 {
						t.Fatalf("encoding format %q accepted", format)
					}
					j.JobID, j.Deadline = "job-1", 1
					job.ok, job.err = true, j.Validate()
				} else {
					job.err = err
				}
			} else {
				var req completionRequest
				if json.Unmarshal(body, &req) != nil {
					return
				}
				j, err := req.toJob()
				if err == nil {
					j.JobID, j.Deadline = "job-1", 1
					job.ok, job.err = true, j.Validate()
				} else {
					job.err = err
				}
			}
			if job.ok && job.err != nil {
				t.Fatalf("accepted %q but the job is invalid: %v", body, job.err)
			}
			err = job.err
		}
		if err != nil {
			var br *badRequest
			if !errors.As(err, &br) || br.msg == "" {
				t.Fatalf("refusal %v of %q names nothing", err, body)
			}
		}
	})
}

// FuzzUsageRange: any from/to query is a valid range of at most
// MaxUsageDays days, or ErrBadUsageRange.
func FuzzUsageRange(f *testing.F) {
	f.Add("2026-01-01", "2026-01-31")
	f.Add("", "")
	f.Add("2026-02-30", "x")
	f.Add("2020-01-01", "2026-01-01")
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, from, to string) {
		a, b, err := usageRange(from, to, now)
		if err != nil {
			var re *usageRangeError
			if !errors.Is(err, ErrBadUsageRange) || !errors.As(err, &re) || (re.param != "from" && re.param != "to") {
				t.Fatalf("error %v is not ErrBadUsageRange naming from or to", err)
			}
			return
		}
		fa, err1 := time.Parse(DayLayout, a)
		fb, err2 := time.Parse(DayLayout, b)
		if err1 != nil || err2 != nil || fb.Before(fa) || fb.Sub(fa) >= MaxUsageDays*24*time.Hour {
			t.Fatalf("range %q..%q accepted from %q..%q", a, b, from, to)
		}
	})
}
