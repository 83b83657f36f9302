package app

import (
	"testing"

	"github.com/cocoon-desktop/cocoon-desktop/idle"
	"github.com/cocoon-desktop/cocoon-desktop/worker"
)

// BenchmarkWhyPanelReaction measures what a status change costs the window
// before the "Why not earning?" panel shows it: the re-render of every tab
// from the new Status (the event hop before it is a channel send). `make
// bench` reports it against the 1 s target; tests never time anything.
func BenchmarkWhyPanelReaction(b *testing.B) {
	core := newFakeCore(servingStatus())
	v, _, _ := newTestView(b, core)
	serving := servingStatus()
	paused := servingStatus()
	paused.State = worker.StatePaused
	paused.Reasons = []idle.Reason{{Code: idle.CodeGPUInUse, Text: "Cyberpunk2077.exe (6.0 GB) is using the GPU"}}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		st := serving
		if i%2 == 0 {
			st = paused
		}
		v.refresh(st)
		if (i%2 == 0) != (whyRowFor(v, idle.CodeGPUInUse) != nil) {
			b.Fatal("the panel did not follow the status")
		}
	}
}
