#!/usr/bin/env bash
# Runs the real app under Xvfb with a fresh data dir, waits for its window and
# for the model list, and saves a screenshot. Prints how long the window took.
# usage: scripts/screenshot.sh BINARY OUTDIR
set -euo pipefail
bin="$1"; out="${2:-docs/screenshots}"
mkdir -p "$out"
work=$(mktemp -d)
display=":$(( 90 + RANDOM % 50 ))"
Xvfb "$display" -screen 0 1366x768x24 -nolisten tcp >"$work/xvfb.log" 2>&1 &
xvfb=$!
cleanup() { kill "${app:-}" 2>/dev/null || true; wait "${app:-}" 2>/dev/null || true; kill $xvfb 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
for _ in $(seq 100); do xdpyinfo -display "$display" >/dev/null 2>&1 && break; sleep 0.05; done
export DISPLAY="$display"
# A private DBus session without a tray host: the app must run with its window only
# (dbus-run-session also keeps Fyne from auto-launching a bus that outlives it).
start=$(date +%s%N)
# --start with a short idle time: Xvfb has no user, so the worker serves within seconds.
dbus-run-session -- "$bin" --data-dir "$work/data" --start --idle-minutes 0.03 --api-addr 127.0.0.1:0 >"$work/app.log" 2>&1 &
app=$!
if ! timeout 60 xdotool search --sync --onlyvisible --name "^Cocoon Desktop$" >/dev/null 2>&1; then
  echo "window never appeared"; cat "$work/app.log"; exit 1
fi
shown=$(( ($(date +%s%N) - start) / 1000000 ))
echo "window shown ${shown} ms after start"
# Wait until the managed Ollama has the built-in model registered.
for _ in $(seq 300); do grep -q "registered the built-in tiny model\|attached to running ollama" "$work/data/logs/cocoon-desktop.log" 2>/dev/null && break; sleep 0.1; done
# Serve one request through the local network, so the job and its earning show.
api=""
for _ in $(seq 300); do
  api=$(grep -o 'api=http://[0-9.:]*/v1' "$work/data/logs/cocoon-desktop.log" 2>/dev/null | tail -1 | cut -d= -f2)
  grep -q 'state=serving' "$work/data/logs/cocoon-desktop.log" 2>/dev/null && [ -n "$api" ] && break
  sleep 0.1
done
key=$(cat "$work/data/local-network/api-key")
# (Mapping the window counts as input on X, so the first serve may pause and
# resume after the 30 s hysteresis: keep trying for a while.)
for _ in $(seq 300); do
  if curl -fsS "$api/chat/completions" -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
      -d '{"model":"cocoon-tiny","messages":[{"role":"user","content":"Hello"}],"max_tokens":64}' >/dev/null 2>&1; then
    echo "a request went through the local network"; break
  fi
  sleep 0.2
done
sleep "${SCREENSHOT_SETTLE:-3}"
wid=$(xdotool search --onlyvisible --name "^Cocoon Desktop$" | head -1)
import -display "$display" -window "$wid" "$out/main-window.png"
echo "saved $out/main-window.png"
# The Earnings tab, with the receipt that request earned. (Moving the pointer
# counts as the owner coming back: the worker pauses, as it should.)
# The tab row stays where it is whatever the status line says.
xdotool mousemove --window "$wid" 198 125 click 1
sleep 2
import -display "$display" -window "$wid" "$out/earnings.png"
echo "saved $out/earnings.png"
# The other tabs.
xdotool mousemove --window "$wid" 323 125 click 1
sleep 2
import -display "$display" -window "$wid" "$out/why-not-earning.png"
echo "saved $out/why-not-earning.png"
xdotool mousemove --window "$wid" 457 125 click 1
sleep 2
import -display "$display" -window "$wid" "$out/settings.png"
echo "saved $out/settings.png"
