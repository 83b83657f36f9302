#!/usr/bin/env bash
# Screenshots of what the tray changes: the tray menu with today's earnings
# (drawn by Fyne from the real menu, app/tray_shot_test.go) and, without a
# tray host, the question asked when the window is closed while sharing (the
# real app under Xvfb, the close sent as a window manager sends it).
# usage: scripts/screenshot-tray.sh BINARY [OUTDIR]   (default docs/screenshots)
set -euo pipefail
bin="$(realpath "$1")"; out="$(realpath -m "${2:-docs/screenshots}")"
mkdir -p "$out"
root="$(cd "$(dirname "$0")/.." && pwd)"
work=$(mktemp -d)
cleanup() {
  if [ -n "${app:-}" ]; then kill "$app" 2>/dev/null || true; wait "$app" 2>/dev/null || true; fi
  if [ -n "${xvfb:-}" ]; then kill "$xvfb" 2>/dev/null || true; wait "$xvfb" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
(cd "$root" && COCOON_TRAY_SHOT="$out/tray-menu.png" "${GO:-go}" test ./app -run '^TestTrayMenuShot$' -count=1 >/dev/null)
echo "saved $out/tray-menu.png"

display=":$(( 200 + RANDOM % 50 ))"
Xvfb "$display" -screen 0 1366x768x24 -nolisten tcp >/dev/null 2>&1 & xvfb=$!
for _ in $(seq 100); do xdpyinfo -display "$display" >/dev/null 2>&1 && break; sleep 0.05; done
export DISPLAY="$display"
(cd "$root" && "${GO:-go}" build -o "$work/wmclose" ./internal/wmclose)
# A private bus without a tray host: closing the window asks while sharing.
dbus-run-session -- env HOME="$work/home" "$bin" --data-dir "$work/data" --start --api-addr 127.0.0.1:0 >"$work/app.log" 2>&1 & app=$!
wid=$(timeout 60 xdotool search --sync --onlyvisible --name "^Cocoon Desktop$" | head -1)
for _ in $(seq 300); do grep -q 'state=waiting\|state=serving' "$work/data/logs/cocoon-desktop.log" 2>/dev/null && break; sleep 0.1; done
sleep 2
"$work/wmclose" "$wid"
sleep 1.5
import -display "$display" -window "$wid" "$out/close-while-sharing.png"
echo "saved $out/close-while-sharing.png"
