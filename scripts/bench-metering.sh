#!/usr/bin/env bash
# Metering figures (network/proxy/metering, docs/trust.md): what the proxy's
# own token count costs per 1,000 tokens, and the relay ratio (through the
# proxy and a worker vs raw Ollama) with metering off and on in the same
# run, so metering is seen not to cost throughput. Prints them and rewrites
# the "Metering" section of docs/BENCHMARKS.md.
# usage: scripts/bench-metering.sh   (COCOON_OLLAMA must point to ollama)
set -euo pipefail
: "${COCOON_OLLAMA:?COCOON_OLLAMA must point to the ollama binary (make bench sets it)}"
cd "$(dirname "$0")/.."
echo "running the metering benchmarks..."
out=$(go test ./network/proxy/metering -run '^$' -bench '^BenchmarkMeter' -benchtime 200x -count 3)
per1k() { echo "$out" | awk -v n="$1" '$1 ~ "^"n"(-[0-9]+)?$" { for (i = 2; i <= NF; i++) if ($(i+1) == "ns/1000tokens") v = v (v == "" ? "" : ", ") sprintf("%.2f", $i / 1e6) } END { print v " ms" }'; }
load=$(echo "$out" | awk '$1 ~ /^BenchmarkMeterLoad(-[0-9]+)?$/ { for (i = 2; i <= NF; i++) if ($(i+1) == "ns/op") v = v (v == "" ? "" : ", ") sprintf("%.2f", $i / 1e6) } END { print v " ms" }')
# The relay at a real model's pace (the small model, a few hundred tokens/s), interleaved runs.
ratio() {
  go run ./cmd/cocoon-bench -parts throughput -model small -metering="$1" | awk -F'|' '/^\| tokens\/s/ { gsub(/ /, "", $5); print $5 }'
}
runs="${BENCH_METERING_RUNS:-3}"
off=(); on=()
for i in $(seq "$runs"); do
  echo "relay ratio, round $i of $runs (metering off, then on)..."
  off+=("$(ratio false)"); on+=("$(ratio true)")
done
echo "metering cost per 1,000 tokens: text $(per1k BenchmarkMeterText), prompt $(per1k BenchmarkMeterPrompt), byte-pair $(per1k BenchmarkMeterTextBPE); load $load"
echo "relay ratio without metering: ${off[*]}; with: ${on[*]}"
section="<!-- metering: start (scripts/bench-metering.sh) -->
## Metering (network/proxy/metering)

Measured by \`make bench\` (scripts/bench-metering.sh), $(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown), on $(nproc) cores.

| what | figure |
|---|---|
| counting completion text, SentencePiece (the tiny model's vocabulary), per 1,000 tokens, 3 runs | $(per1k BenchmarkMeterText) |
| counting a rendered chat prompt, per 1,000 tokens | $(per1k BenchmarkMeterPrompt) |
| counting text with a byte-pair vocabulary (regex pre-splitting), per 1,000 tokens | $(per1k BenchmarkMeterTextBPE) |
| loading a model's counter (manifest, GGUF vocabulary, template) | ${load} |
| relay ratio (proxy + worker ÷ raw Ollama tokens/s, small model), metering off (no tokenizer: byte bounds only) | ${off[*]} |
| the same, metering on (the model's own tokenizer) | ${on[*]} |

The two relay rows are measured in alternating rounds of the same run; their spread is the machine's noise. The
prompt is counted while the worker works (not before the job is sent) and the completion as it is relayed.
<!-- metering: end -->"
python3 scripts/bench-section.py metering "$section" docs/BENCHMARKS.md
echo "wrote docs/BENCHMARKS.md (Metering)"
