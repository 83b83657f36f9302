package worker

import "testing"

func TestEstimateGPUTokensPerSec(t *testing.T) {
	const gb = 1_000_000_000
	tests := []struct {
		name  string
		card  string
		bytes int64
		want  float64
		ok    bool
	}{
		{"4090, 2 GB model", "NVIDIA GeForce RTX 4090", 2 * gb, 252, true},
		{"4070 Ti is not a 4070", "NVIDIA GeForce RTX 4070 Ti", 1 * gb, 252, true},
		{"4070", "NVIDIA GeForce RTX 4070", 1 * gb, 252, true},
		{"3060", "NVIDIA GeForce RTX 3060", 1 * gb, 180, true},
		{"H200 NVL", "NVIDIA H200 NVL", 4 * gb, 600, true},
		{"unknown card", "NVIDIA Quadro P400", gb, 0, false},
		{"unknown size", "NVIDIA GeForce RTX 4090", 0, 0, false},
		{"too small for the rule", "NVIDIA GeForce RTX 4090", 600_000, 0, false},
	}
	for _, tc := range tests {
		got, ok := EstimateGPUTokensPerSec(tc.card, tc.bytes)
		if ok != tc.ok || got != tc.want {
			t.Errorf("%s: = %v, %v; want %v, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}
