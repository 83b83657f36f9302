package proxy

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"testing"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/receipt"
)

// TestDailyUsage: each credited job lands in its key's UTC day and model,
// in the receipt's transaction (a replayed job adds nothing); a range
// returns exactly its days of that key, across a reopen of the store.
func TestDailyUsage(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	sign := func(r receipt.Receipt) receipt.Signed { return receipt.Sign(key, r) }
	s, err := OpenBoltStore(dir, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	day := func(d int, hour int) time.Time { return time.Date(2026, 11, d, hour, 30, 0, 0, time.UTC) }
	job := func(id, k, model string, at time.Time, prompt, completion int64) JobRecord {
		j := testJob(id, "w1", prompt, completion)
		j.KeyDigest, j.KeyName, j.Model, j.Time = KeyDigest(k), k, model, at
		return j
	}
	for _, j := range []JobRecord{
		job("j1", "a", "m1", day(1, 0), 10, 1),
		job("j2", "a", "m1", day(1, 23), 5, 2),
		job("j1", "a", "m1", day(1, 23), 10, 1), // replayed: counted once
		job("j3", "a", "m2", day(1, 12), 1, 1),
		job("j4", "a", "m1", day(3, 1), 7, 0),
		job("j5", "b", "m1", day(1, 5), 100, 100),
		// 23:30 UTC-5 is the next UTC day.
		job("j6", "a", "m1", time.Date(2026, 11, 3, 23, 30, 0, 0, time.FixedZone("x", -5*3600)), 2, 2),
	} {
		if _, _, err := s.RecordJob(ctx, j, sign); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = OpenBoltStore(dir, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	gross := func(p, c int64) int64 { g, _ := receipt.Amount(p, c, 100, 1000, 1000, 0); return g }
	tests := []struct {
		name, key, from, to string
		want                []DailyUsage
	}{
		{"one day, two models", "a", "2026-11-01", "2026-11-01", []DailyUsage{
			{Date: "2026-11-01", Model: "m1", Requests: 2, PromptTokens: 15, CompletionTokens: 3, Cost: gross(10, 1) + gross(5, 2)},
			{Date: "2026-11-01", Model: "m2", Requests: 1, PromptTokens: 1, CompletionTokens: 1, Cost: gross(1, 1)},
		}},
		{"a range skips empty days", "a", "2026-11-02", "2026-11-04", []DailyUsage{
			{Date: "2026-11-03", Model: "m1", Requests: 1, PromptTokens: 7, Cost: gross(7, 0)},
			{Date: "2026-11-04", Model: "m1", Requests: 1, PromptTokens: 2, CompletionTokens: 2, Cost: gross(2, 2)},
		}},
		{"the other key sees only its own", "b", "2026-11-01", "2026-11-30", []DailyUsage{
			{Date: "2026-11-01", Model: "m1", Requests: 1, PromptTokens: 100, CompletionTokens: 100, Cost: gross(100, 100)},
		}},
		{"a key that never used", "c", "2026-11-01", "2026-11-30", []DailyUsage{}},
		{"before any use", "a", "2026-10-01", "2026-10-31", []DailyUsage{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.DailyUsage(ctx, KeyDigest(tc.key), tc.from, tc.to)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("%d rows %+v, want %+v", len(got), got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("row %d = %+v, want %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
}
