#!/usr/bin/env bash
# The first-run wizard under Xvfb: steps 1 (GPU), 2 (model: the Dashboard's
# model list code, drawn once), 3 (benchmark) and 5 (when to share) of a
# fresh data dir, into OUT/onboarding-N.png. "Next" is clicked where the
# wizard puts it in the default 1180×720 window.
# usage: scripts/screenshot-wizard.sh BINARY OUT
set -euo pipefail
bin="$(realpath "$1")"; out="$2"
work=$(mktemp -d); display=":$(( 270 + RANDOM % 20 ))"
source "$(dirname "$0")/lib/procgroups.sh" # cleanup: each process group, the last started first
setsid Xvfb "$display" -screen 0 1366x768x24 -nolisten tcp >/dev/null 2>&1 & groups+=($!)
for _ in $(seq 100); do xdpyinfo -display "$display" >/dev/null 2>&1 && break; sleep 0.05; done
export DISPLAY="$display"
HOME="$work/home" setsid "$bin" --data-dir "$work/data" --api-addr 127.0.0.1:0 >"$work/app.log" 2>&1 & groups+=($!)
wid=$(timeout 60 xdotool search --sync --onlyvisible --name "^Cocoon Desktop$" | head -1)
[ -n "$wid" ] || { echo "window never appeared"; cat "$work/app.log"; exit 1; }
sleep 6 # Ollama, the built-in model, the GPU step's first render
shot() { import -display "$display" -window "$wid" "$out/onboarding-$1.png"; echo "saved $out/onboarding-$1.png"; }
next() { xdotool mousemove --window "$wid" 930 623 click 1; sleep "$1"; }
shot 1
next 3; shot 2
next 8; shot 3 # the benchmark runs the model up to 3 times
next 2; next 2; shot 5
