#!/usr/bin/env bash
# Canary figures (network/proxy, docs/trust.md): the canaries' share of an
# honest worker's time at the default rate, and the false-positive rate of
# an honest worker over hundreds of canaries against a real Ollama. Prints
# them and rewrites the "Canary jobs" section of docs/BENCHMARKS.md.
# usage: scripts/bench-canary.sh   (COCOON_OLLAMA must point to ollama)
set -euo pipefail
: "${COCOON_OLLAMA:?COCOON_OLLAMA must point to the ollama binary (make bench sets it)}"
cd "$(dirname "$0")/.."
jobs="${BENCH_CANARY_JOBS:-1000}"
echo "running the canary overhead benchmark (${jobs} client jobs)..."
out=$(go test ./network/proxy -run '^$' -bench '^BenchmarkCanaryOverhead$' -benchtime "${jobs}x" -timeout 30m)
line=$(echo "$out" | grep '^BenchmarkCanaryOverhead')
metric() { echo "$line" | awk -v u="$1" '{ for (i = 2; i <= NF; i++) if ($i == u) { print $(i-1); exit } }'; }
echo "running the honest-worker canaries..."
honest=$(go test ./network/proxy -run '^TestCanaryHonestWorker$' -count=1 -v -timeout 30m | grep -o '[0-9]* canaries in .*' | head -1)
echo "$line"
echo "$honest"
section="<!-- canary: start (scripts/bench-canary.sh) -->
## Canary jobs (network/proxy)

Measured by \`make bench\` (scripts/bench-canary.sh), $(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown), on $(nproc) cores.

| what | figure |
|---|---|
| canaries' share of an honest worker's busy time, default share ($(metric canaries) canaries after ${jobs} client jobs of the corpus's prompts, tiny model) | $(metric canary-%)% |
| the same as share × (mean canary ÷ mean client job): $(metric canary-ms) ms ÷ $(metric client-ms) ms | $(metric expected-%)% |
| an honest worker (a second real Ollama, prompts in batches of 7 tokens against 512) | ${honest} |

The per-period minimum adds its canaries (default 6 an hour) whatever the traffic: about 6 × the mean canary time
per hour on an idle worker. Each reference answer costs the proxy's own Ollama one generation per corpus entry and
model digest (cached).
<!-- canary: end -->"
python3 - "$section" docs/BENCHMARKS.md <<'PY'
import sys, re
section, path = sys.argv[1], sys.argv[2]
old = open(path).read()
pat = re.compile(r"<!-- canary: start.*?<!-- canary: end -->", re.S)
new = pat.sub(lambda m: section, old) if pat.search(old) else old.rstrip("\n") + "\n\n" + section + "\n"
open(path, "w").write(new)
PY
echo "wrote docs/BENCHMARKS.md (Canary jobs)"
