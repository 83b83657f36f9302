#!/usr/bin/env bash
# Screenshots of a damaged earnings ledger and its rebuild, on the real
# window under Xvfb: the app makes a ledger, the ledger's root pages are
# zeroed, the app starts again (it refuses to serve and offers the rebuild),
# Rebuild is pressed, and the app goes on with a new ledger.
# usage: scripts/screenshot-damaged-ledger.sh BINARY OUTDIR
set -euo pipefail
bin="$(realpath "$1")"
out="$(realpath "$2")"
: "${COCOON_OLLAMA:?COCOON_OLLAMA must point to the ollama binary (make screenshot sets it)}"
export PATH="$(dirname "$COCOON_OLLAMA"):$PATH"
work=$(mktemp -d)
display=":$(( 190 + RANDOM % 50 ))"
pids=()
cleanup() { pkill -f -- "--data-dir $work/data" 2>/dev/null || true; for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
Xvfb "$display" -screen 0 1366x768x24 -nolisten tcp >/dev/null 2>&1 & pids+=($!)
for _ in $(seq 100); do xdpyinfo -display "$display" >/dev/null 2>&1 && break; sleep 0.05; done
export DISPLAY="$display"
launch() { dbus-run-session -- "$bin" --data-dir "$work/data" --api-addr 127.0.0.1:0 --start >>"$work/app.log" 2>&1 & session=$!; timeout 60 xdotool search --sync --onlyvisible --name "^Cocoon Desktop$" >/dev/null; }

launch
sleep 3
pkill -f -- "--data-dir $work/data"; wait "$session" || true
# Zero bbolt's meta and root pages: the file no longer opens.
python3 -c "
with open('$work/data/ledger.db', 'r+b') as f:
    f.seek(4096); f.write(bytes(8192))"
launch
sleep 4
wid=$(xdotool search --onlyvisible --name "^Cocoon Desktop$" | head -1)
xdotool mousemove --window "$wid" 889 34 click 1 # Rebuild ledger…
sleep 1.5
import -display "$display" -window "$wid" "$out/ledger-damaged.png"
echo "saved $out/ledger-damaged.png"
xdotool mousemove --window "$wid" 641 472 click 1 # Rebuild (the window stays 1180×720 now; it used to grow to 768)
sleep 6
import -display "$display" -window "$wid" "$out/ledger-rebuilt.png"
echo "saved $out/ledger-rebuilt.png"
ls "$work/data"/ledger.db.damaged-* >/dev/null # the damaged file was kept
