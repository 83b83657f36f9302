package idle

import (
	"testing"
	"time"
)

func TestTickIdle(t *testing.T) {
	const max = ^uint32(0)
	tests := []struct {
		name      string
		now, last uint32
		want      time.Duration
	}{
		{"just now", 5000, 5000, 0},
		{"five seconds", 10_000, 5_000, 5 * time.Second},
		{"across the 49.7-day wrap", 1_000, max - 999, 2 * time.Second},
		{"wrap exactly at zero", 0, max, time.Millisecond},
		{"input newer than now (race)", 5_000, 5_010, 0},
		{"input newer than now, across the wrap", max - 5, 3, 0},
		{"24 days idle", 24 * 86_400_000, 0, 24 * 24 * time.Hour},
		{"largest representable", 1 << 31, 0, (1 << 31) * time.Millisecond},
	}
	for _, tc := range tests {
		if got := tickIdle(tc.now, tc.last); got != tc.want {
			t.Errorf("%s: tickIdle(%d, %d) = %v, want %v", tc.name, tc.now, tc.last, got, tc.want)
		}
	}
}

func TestFullScreenState(t *testing.T) {
	want := map[uint32]bool{
		0: false, qunsNotPresent: false, qunsBusy: true, qunsRunningD3DFullScreen: true,
		qunsPresentationMode: true, qunsAcceptsNotifications: false, qunsQuietTime: false, qunsApp: false, 99: false,
	}
	for s, w := range want {
		if got := fullScreenState(s); got != w {
			t.Errorf("fullScreenState(%d) = %v, want %v", s, got, w)
		}
	}
}
