#!/usr/bin/env bash
# Screenshots of the warning a GPU owner sees when the model runs on the CPU:
# the real app under Xvfb with --demo-gpu (NVML simulates an RTX 4090) and the
# CPU-only Ollama, after one request through the local network.
# usage: scripts/screenshot-demo-gpu.sh BINARY OUTDIR
set -euo pipefail
bin="$1"; out="${2:-docs/screenshots}"
mkdir -p "$out"
work=$(mktemp -d)
display=":$(( 150 + RANDOM % 50 ))"
Xvfb "$display" -screen 0 1366x768x24 -nolisten tcp >"$work/xvfb.log" 2>&1 &
xvfb=$!
# The app runs in its own process group, so that cleanup ends it and not only dbus-run-session.
cleanup() {
  if [ -n "${app:-}" ]; then kill -- "-$app" 2>/dev/null || true; wait "$app" 2>/dev/null || true; fi
  kill "$xvfb" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
for _ in $(seq 100); do xdpyinfo -display "$display" >/dev/null 2>&1 && break; sleep 0.05; done
export DISPLAY="$display"
setsid dbus-run-session -- "$bin" --demo-gpu --no-attach --data-dir "$work/data" --start --idle-minutes 0.03 --api-addr 127.0.0.1:0 >"$work/app.log" 2>&1 &
app=$!
timeout 60 xdotool search --sync --onlyvisible --name "^Cocoon Desktop$" >/dev/null || { cat "$work/app.log"; exit 1; }
log="$work/data/logs/cocoon-desktop.log"
for _ in $(seq 300); do grep -q "registered the built-in tiny model" "$log" 2>/dev/null && break; sleep 0.1; done
api=""
for _ in $(seq 300); do api=$(grep -o 'api=http://[0-9.:]*/v1' "$log" 2>/dev/null | tail -1 | cut -d= -f2); [ -n "$api" ] && break; sleep 0.1; done
key=$(cat "$work/data/local-network/api-key")
for _ in $(seq 300); do
  curl -fsS "$api/chat/completions" -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
    -d '{"model":"cocoon-tiny","messages":[{"role":"user","content":"Hello"}],"max_tokens":64}' >/dev/null 2>&1 && break
  sleep 0.2
done
sleep "${SCREENSHOT_SETTLE:-3}"
wid=$(xdotool search --onlyvisible --name "^Cocoon Desktop$" | head -1)
import -display "$display" -window "$wid" "$out/gpu-on-cpu-dashboard.png"
echo "saved $out/gpu-on-cpu-dashboard.png"
# The Why tab (the tab row stays where it is whatever the status line says).
xdotool mousemove --window "$wid" 323 125 click 1; sleep 3
import -display "$display" -window "$wid" "$out/gpu-on-cpu-why.png"
echo "saved $out/gpu-on-cpu-why.png"
