#!/usr/bin/env bash
# Benchmarks of the desktop app (apart from the tests): start to window, and
# idle RSS / CPU with an attached Ollama, under Xvfb. Prints the figures and
# writes them to docs/BENCHMARKS.md with the machine they ran on.
# usage: scripts/bench.sh BINARY
set -euo pipefail
bin="$(realpath "$1")"
runs="${BENCH_RUNS:-5}"
idle_secs="${BENCH_IDLE_SECS:-30}"
ollama="${COCOON_OLLAMA:?COCOON_OLLAMA must point to the ollama binary (make bench sets it)}"
work=$(mktemp -d)
display=":$(( 140 + RANDOM % 50 ))"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

Xvfb "$display" -screen 0 1366x768x24 -nolisten tcp >/dev/null 2>&1 & pids+=($!)
for _ in $(seq 100); do xdpyinfo -display "$display" >/dev/null 2>&1 && break; sleep 0.05; done
export DISPLAY="$display"

# The owner's own Ollama, which the app attaches to.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
HOME="$work/ollama" OLLAMA_HOST="127.0.0.1:$port" OLLAMA_MODELS="$work/ollama/models" "$ollama" serve >/dev/null 2>&1 & pids+=($!)
for _ in $(seq 200); do curl -fs "http://127.0.0.1:$port/api/version" >/dev/null && break; sleep 0.05; done

# app_pid SESSION: the app's pid under its private dbus-run-session.
app_pid() { for _ in $(seq 200); do p=$(pgrep -P "$1" -x cocoon-desktop || true); [ -n "$p" ] && { echo "$p"; return; }; sleep 0.05; done; echo "app not found" >&2; exit 1; }

# 1. start → window shown, median of $runs cold-ish starts (the data dir is new each time).
times=()
for i in $(seq "$runs"); do
  start=$(date +%s%N)
  dbus-run-session -- "$bin" --data-dir "$work/d$i" --ollama "127.0.0.1:$port" >/dev/null 2>&1 & session=$!
  timeout 60 xdotool search --sync --onlyvisible --name "^Cocoon Desktop$" >/dev/null
  times+=($(( ($(date +%s%N) - start) / 1000000 )))
  kill "$(app_pid $session)"; wait "$session" 2>/dev/null || true
done
sorted=($(printf '%s\n' "${times[@]}" | sort -n))
median=${sorted[$(( runs / 2 ))]}
echo "start → window: median ${median} ms over $runs runs (${times[*]})"

# 2. idle RSS and CPU with every part running (window, GPU sampler, Ollama attached).
dbus-run-session -- "$bin" --data-dir "$work/idle" --ollama "127.0.0.1:$port" >/dev/null 2>&1 & pids+=($!)
app=$(app_pid $!); pids+=($app)
timeout 60 xdotool search --sync --onlyvisible --name "^Cocoon Desktop$" >/dev/null
sleep 10 # let start-up work (model seeding, first refresh) finish
hz=$(getconf CLK_TCK)
ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
t0=$(ticks "$app"); s0=$(date +%s%N)
sleep "$idle_secs"
t1=$(ticks "$app"); s1=$(date +%s%N)
rss_kb=$(awk '/VmRSS/{print $2}' "/proc/$app/status")
cpu=$(python3 -c "print(f'{100*($t1-$t0)/$hz/(($s1-$s0)/1e9):.2f}')")
rss_mb=$(( rss_kb / 1024 ))
# Baseline in the same run: an idle Xvfb-hosted xterm-like X client is not
# available everywhere, so the baseline is the attached Ollama server itself.
o_rss_kb=$(awk '/VmRSS/{print $2}' "/proc/${pids[1]}/status")
echo "idle over ${idle_secs}s: RSS ${rss_mb} MB, CPU ${cpu}% of one core (Ollama server alone: RSS $(( o_rss_kb / 1024 )) MB)"

# Baseline in the same run: the same core headless (no window), same Ollama.
"$bin" --headless --no-start --data-dir "$work/headless" --ollama "127.0.0.1:$port" >/dev/null 2>&1 & hl=$!; pids+=($hl)
sleep 10
t0=$(ticks "$hl"); s0=$(date +%s%N)
sleep "$idle_secs"
t1=$(ticks "$hl"); s1=$(date +%s%N)
hl_rss_mb=$(( $(awk '/VmRSS/{print $2}' "/proc/$hl/status") / 1024 ))
hl_cpu=$(python3 -c "print(f'{100*($t1-$t0)/$hz/(($s1-$s0)/1e9):.2f}')")
anon_mb=$(( $(awk '/^Anonymous/{print $2}' "/proc/$app/smaps_rollup") / 1024 ))
llvm_mb=$(( $(pmap -x "$app" | awk '/libLLVM/{s+=$3} END{print s+0}') / 1024 ))
echo "headless core baseline: RSS ${hl_rss_mb} MB, CPU ${hl_cpu}%; GUI anonymous memory ${anon_mb} MB, Mesa LLVM mapped ${llvm_mb} MB"

# 3. Idle cost where the app lives: sharing on and waiting for the owner to leave, window shown
# and then hidden in the tray (a private bus with a tray host; scripts/bench-idle.sh).
# It runs alone, as the app does in the field (one instance): the window and the headless core
# above map the same program and GL libraries, and the kernel keeps a page another process
# maps, so a hidden app could give back only its share of them (135 MB hidden, against 109 MB alone).
kill "$app" "$hl" 2>/dev/null || true
for p in "$app" "$hl"; do for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done; done
echo "running scripts/bench-idle.sh (shown, then hidden in the tray)..."
idle_line=$(BENCH_IDLE_SECS="${BENCH_IDLE_TRAY_SECS:-60}" bash "$(dirname "$0")/bench-idle.sh" "$bin" 2>&1 | tee /dev/stderr | tail -1)
# "idle: shown 0.84% 180 MB hidden 0.21% 165 MB"
read -r _ _ shown_cpu shown_rss _ _ hidden_cpu hidden_rss _ <<< "$idle_line"
shown_cpu=${shown_cpu%\%}; hidden_cpu=${hidden_cpu%\%}
load_avg=$(cut -d' ' -f1-3 /proc/loadavg)

# The job path, the owner's priority and the proxy at scale (Go harness).
echo "running cmd/cocoon-bench (job path, pauses, 1,000 workers)..."
jobpath=$(cd "$(dirname "$0")/.." && go run ./cmd/cocoon-bench)
echo "$jobpath"
# The same relay at a real model's pace (a few hundred tokens/s), without its section header.
jobpath_small=$(cd "$(dirname "$0")/.." && go run ./cmd/cocoon-bench -parts throughput -model small | tail -n +3)
echo "$jobpath_small"
echo "running the routing benchmark..."
route=$(cd "$(dirname "$0")/.." && go test ./network/proxy -run '^$' -bench 'RouteDecision(Scan)?$' -benchtime 2000x -count 3 | \
  awk '/^BenchmarkRouteDecision/ { split($1, a, "/"); k = (a[1] ~ /Scan$/) ? "scan" : "index"; split(a[2], b, "="); sub(/-[0-9]+$/, "", b[2])
         v[b[2], k] = v[b[2], k] (v[b[2], k] == "" ? "" : ", ") sprintf("%.1f µs", $3 / 1000); n[b[2]] = 1 }
       END { for (x in n) print x " | " v[x, "scan"] " | " v[x, "index"] " |" }' | sort -n | sed 's/^/| /')
echo "$route"

# The earnings ledger: credit throughput and queries over a large ledger.
jobs="${BENCH_LEDGER_JOBS:-1000000}"
echo "running the ledger benchmarks with ${jobs} jobs (a few minutes)..."
ledger_out=$(cd "$(dirname "$0")/.." && COCOON_BENCH_JOBS="$jobs" go test ./earnings -run '^$' -bench 'Credit|VerifyReceipt|LedgerQueries' -benchtime 2000x -timeout 30m -v 2>&1)
lb() { echo "$ledger_out" | awk -v n="$1" '$1 ~ "^"n"(-[0-9]+)?$" { for (i = 2; i <= NF; i++) if ($(i+1) == "ns/op") { printf "%.3f ms", $i / 1e6; exit } }'; }
lr() { echo "$ledger_out" | awk -v n="$1" '$1 ~ "^"n"(-[0-9]+)?$" { for (i = 2; i <= NF; i++) if ($(i+1) == "receipts/s") { printf "%.0f", $i; exit } }'; }
fill=$(echo "$ledger_out" | grep -o 'filled [0-9]* jobs.*' | head -1)
inuse=$(echo "$ledger_out" | grep -o 'pages in use: .*' | head -1)
perjob=$(echo "$ledger_out" | grep -o 'per job: .*' | head -1)
verify=$(echo "$ledger_out" | grep -o 'Verify of [0-9]* jobs.*' | head -1)
# The file size per job, from the fill line ("..., 151 bytes/job (...)").
ledger_bpj=$(echo "$fill" | grep -o '[0-9]* bytes/job' | head -1 | awk '{print $1}')
ledger_inuse_bpj=$(echo "$inuse" | grep -o '[0-9]* bytes/job' | head -1 | awk '{print $1}')
ledger_table="| ledger file per job after filling ${jobs} jobs | ${ledger_bpj} bytes | ≤ 200 bytes |
| credit throughput, signature check + one fsynced transaction | $(lr BenchmarkCredit/fsync) receipts/s | |
| credit throughput without fsync | $(lr BenchmarkCredit/nosync) receipts/s | |
| balance (O(1) running totals), ${jobs} jobs | $(lb BenchmarkLedgerQueries/Balance) | < 1 ms |
| 30-day chart (daily totals), ${jobs} jobs | $(lb BenchmarkLedgerQueries/Daily30d) | < 50 ms |
| 90-day monthly totals | $(lb BenchmarkLedgerQueries/Monthly90d) | |
| 30 days by model | $(lb BenchmarkLedgerQueries/ByModel30d) | |
| one page of 50 jobs | $(lb BenchmarkLedgerQueries/JobsPage50) | |"
echo "$ledger_table"

# How fast the "Why not earning?" panel follows a status change (every tab re-rendered).
why_ns=$(cd "$(dirname "$0")/.." && go test ./app -run '^$' -bench WhyPanelReaction -benchtime 500x | awk '/^BenchmarkWhyPanelReaction/ { print $3 }')
why_ms=$(python3 -c "print(f'{$why_ns/1e6:.1f}')")
echo "why panel: ${why_ms} ms per status change"

cpu_model=$(awk -F: '/model name/{gsub(/^ /,"",$2); print $2; exit}' /proc/cpuinfo)
machine="$(nproc) cores, ${cpu_model}, $(free -g | awk '/Mem/{print $2}') GiB RAM, $(. /etc/os-release; echo "$PRETTY_NAME"), no GPU (NVML: no driver), Xvfb 1366×768"
verdict() { if python3 -c "import sys; sys.exit(0 if $1 else 1)"; then echo "met"; else echo "**missed**"; fi; }
bench_md=$(mktemp)
cat > "$bench_md" <<MD
# Benchmarks

Measured by \`make bench\` (scripts/bench.sh); never by the tests. Latest run: $(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown).

Machine: ${machine}.

## Desktop app

| what | figure | target | |
|---|---|---|---|
| start → window shown (median of ${runs}, new data dir each) | ${median} ms | < 1000 ms | $(verdict "$median < 1000") |
| idle RSS, window + GPU sampler + attached Ollama | ${rss_mb} MB | < 120 MB | $(verdict "$rss_mb < 120") |
| idle CPU over ${idle_secs} s | ${cpu}% of one core | < 1% | $(verdict "$cpu < 1") |
| idle CPU, sharing on and waiting, window shown (${BENCH_IDLE_TRAY_SECS:-60} s, scripts/bench-idle.sh) | ${shown_cpu}% of one core | < 1% | $(verdict "$shown_cpu < 1") |
| idle CPU, the same hidden in the tray | ${hidden_cpu}% of one core | < 0.3% | $(verdict "$hidden_cpu < 0.3") |
| idle RSS, shown / hidden in the tray | ${shown_rss} MB / ${hidden_rss} MB | hidden < 120 MB | $(verdict "$hidden_rss < 120") |
| "Why not earning?" panel follows a status change (all tabs re-rendered, Go benchmark) | ${why_ms} ms | < 1000 ms | $(verdict "$why_ms < 1000") |

Every screen (Dashboard, Earnings, Why not earning?, Settings) is built at start, so the idle figures include them.

Baselines in the same run: the same core headless (no window) held ${hl_rss_mb} MB RSS at ${hl_cpu}% CPU;
the attached Ollama server alone held $(( o_rss_kb / 1024 )) MB.

Where the GUI's cost comes from (measured, not fixed): of the ${rss_mb} MB RSS, ${llvm_mb} MB is Mesa's
LLVM software rasteriser (Xvfb has no GPU; a desktop with a real GL driver does not load it) and
${anon_mb} MB is anonymous memory. The idle CPU is what is left of Fyne's GLFW loop between its naps (docs/design.md,
"Fyne's loop naps"; it polled at 60 Hz before them); the core itself idles at
${hl_cpu}%, since an unchanged GPU snapshot does not wake the UI.
All start times: ${times[*]} ms. Load average when the shown/hidden figures were taken: ${load_avg}.

${jobpath}

At a real model's pace (\`-model small\`):

${jobpath_small}

Routing decision alone (reserve + release in the proxy's scheduler; every tenth worker serves the
model; three runs each, same run): the scan of every worker that routing used before
(\`BenchmarkRouteDecisionScan\`, kept as the tests' oracle) against the per-model routing index
(\`BenchmarkRouteDecision\`). Target: ≤ 5 µs per decision at 100,000 workers.

| connected workers | scan (before) | routing index |
|---|---|---|
${route}

## Earnings ledger (earnings/ledger_bench_test.go)

| what | figure | target |
|---|---|---|
${ledger_table}

Fill: ${fill}.
${inuse}; by bucket, bytes ${perjob}.
${verify}.

On disk per job, schema 1 (each receipt as JSON, full job-id and time indexes) against schema 2 (a
~100-byte binary record keyed by seq, what receipts share stored once, a grouped job-id index, no time
index beyond the few jobs out of seq order: earnings/record.go, order.go), the same fill of ${jobs} jobs:

| | schema 1 | schema 2 |
|---|---|---|
| file | 866 bytes (20-character job ids, 2026-11-25, commit 2418126); 926 bytes (the proxy's 36-character ids the fill uses since, 2026-12-02, commit 3c281f2) | ${ledger_bpj} bytes |
| pages in use | 909 bytes (36-character ids) | ${ledger_inuse_bpj} bytes |

Migrating a schema-1 ledger of 1,000,000 jobs (926 MB, 36-character ids) to schema 2 took 40 s in one
transaction, peaking at 1.6 GB resident (the old file's mapped pages included), and Open's compaction
then left a 153 MB file (2026-12-02, 2 shared cores).

<!-- end of scripts/bench.sh's part: the sections below are kept as they are -->
MD
# Replace this script's part of docs/BENCHMARKS.md (up to its end marker)
# and keep the sections other tools and people wrote after it.
python3 - "$bench_md" "$(dirname "$0")/../docs/BENCHMARKS.md" <<'PY'
import sys
new, path = open(sys.argv[1]).read(), sys.argv[2]
marker = "<!-- end of scripts/bench.sh's part"
try:
    old = open(path).read()
except FileNotFoundError:
    old = ""
rest = old.split(marker, 1)[1].split("\n", 1)[1] if marker in old else ""
open(path, "w").write(new + rest)
PY
rm -f "$bench_md"
echo "wrote docs/BENCHMARKS.md (its part; the rest kept)"
bash "$(dirname "$0")/bench-canary.sh"
bash "$(dirname "$0")/bench-metering.sh"
bash "$(dirname "$0")/bench-escrow.sh"
