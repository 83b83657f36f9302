#!/usr/bin/env bash
# Screenshot of the Earnings tab's On chain panel (docs/settlement.md): the
# real window (GLFW under Xvfb) over a fake core in TestLayout's
# "settlement" state (app/settlement_view_test.go): signed, claimable,
# claimed with its Tonviewer link, and the escrow's balance against what it
# owes. The layout helper is the one of scripts/screenshot-layout.sh.
# usage: scripts/screenshot-settlement.sh [OUTDIR]   (default docs/screenshots)
set -euo pipefail
out="${1:-docs/screenshots}"
mkdir -p "$out"
work=$(mktemp -d)
cleanup() {
  if [ -n "${helper:-}" ]; then kill "$helper" 2>/dev/null || true; wait "$helper" 2>/dev/null || true; fi
  if [ -n "${xvfb:-}" ]; then kill "$xvfb" 2>/dev/null || true; wait "$xvfb" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
"${GO:-go}" test -c -o "$work/app.test" ./app/

display=":$(( 250 + RANDOM % 50 ))"
Xvfb "$display" -screen 0 2560x1440x24 -nolisten tcp >"$work/xvfb.log" 2>&1 &
xvfb=$!
for _ in $(seq 100); do xdpyinfo -display "$display" >/dev/null 2>&1 && break; sleep 0.05; done
export DISPLAY="$display"

size=1280x900
mkfifo "$work/in"
COCOON_LAYOUT_HELPER=settlement COCOON_LAYOUT_SIZE="$size" dbus-run-session -- "$work/app.test" <"$work/in" >"$work/out" 2>"$work/err" &
helper=$!
exec 3>"$work/in"
for _ in $(seq 300); do grep -q '^ready' "$work/out" 2>/dev/null && break; sleep 0.1; done
grep -q '^ready' "$work/out" || { echo "the window never got ready"; cat "$work/err"; exit 1; }
wid=$(xdotool search --onlyvisible --name "^Cocoon Desktop$" | head -1)
xdotool windowmove "$wid" 0 0
echo "tab 1" >&3
for _ in $(seq 100); do grep -q '^tab 1$' "$work/out" && break; sleep 0.05; done
sleep 0.8
import -display "$display" -window "$wid" "$out/earnings-settlement.png"
echo "saved $out/earnings-settlement.png"
echo quit >&3
exec 3>&-
wait "$helper" || true
helper=""
