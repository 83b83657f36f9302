package worker

import (
	"strings"
)

// memoryBandwidthGBs is the memory bandwidth (GB/s, the makers' figures) of
// common NVIDIA cards, for the one estimate the app makes without measuring:
// how fast a model would generate on this card when it runs on the CPU
// instead. Generating a token reads every weight once, so a card's speed is
// bound by its bandwidth over the model's size. Longer names come first so
// that "RTX 4070 Ti" is not read as "RTX 4070".
var memoryBandwidthGBs = []struct {
	name string
	gbs  float64
}{
	{"RTX 5090", 1792}, {"RTX 5080", 960}, {"RTX 5070 Ti", 896}, {"RTX 5070", 672}, {"RTX 5060 Ti", 448}, {"RTX 5060", 448},
	{"RTX 4090", 1008}, {"RTX 4080 SUPER", 736}, {"RTX 4080", 717}, {"RTX 4070 Ti SUPER", 672}, {"RTX 4070 Ti", 504},
	{"RTX 4070 SUPER", 504}, {"RTX 4070", 504}, {"RTX 4060 Ti", 288}, {"RTX 4060", 272},
	{"RTX 3090 Ti", 1008}, {"RTX 3090", 936}, {"RTX 3080 Ti", 912}, {"RTX 3080", 760}, {"RTX 3070 Ti", 608},
	{"RTX 3070", 448}, {"RTX 3060 Ti", 448}, {"RTX 3060", 360}, {"RTX 3050", 224},
	{"RTX 2080 Ti", 616}, {"RTX 2080 SUPER", 496}, {"RTX 2080", 448}, {"RTX 2070 SUPER", 448}, {"RTX 2070", 448},
	{"RTX 2060 SUPER", 448}, {"RTX 2060", 336}, {"GTX 1660 Ti", 288}, {"GTX 1660", 192}, {"GTX 1080 Ti", 484}, {"GTX 1080", 320},
	{"H200", 4800}, {"H100", 3350}, {"A100", 2039}, {"L40S", 864}, {"L4", 300}, {"A10", 600},
}

// bandwidthEfficiency is the share of the bandwidth that generation reaches
// in practice (llama.cpp on consumer cards: roughly 50–70 %); the lower end,
// so the estimate does not promise too much.
const bandwidthEfficiency = 0.5

// minEstimateBytes is the smallest model the bandwidth rule holds for:
// below it, per-token overheads (kernel launches, sampling) dominate and
// the rule would promise absurd speeds.
const minEstimateBytes = 256 << 20

// EstimateGPUTokensPerSec estimates how many tokens per second a model of
// modelBytes would generate on the named card, from its memory bandwidth.
// ok is false for a card not in the table or a model too small (or of
// unknown size) for the rule: the app then shows no estimate rather than a
// made-up one.
func EstimateGPUTokensPerSec(card string, modelBytes int64) (tps float64, ok bool) {
	if modelBytes < minEstimateBytes {
		return 0, false
	}
	name := strings.ToUpper(card)
	for _, c := range memoryBandwidthGBs {
		if strings.Contains(name, strings.ToUpper(c.name)) {
			return bandwidthEfficiency * c.gbs * 1e9 / float64(modelBytes), true
		}
	}
	return 0, false
}
