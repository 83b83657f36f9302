#!/usr/bin/env bash
# Screenshots of the real window (GLFW under Xvfb) at 1024×640 and 1920×1080,
# every tab, in states of TestLayout (app/layout_test.go): the app's test
# binary shows the window over a fake core in that state (COCOON_LAYOUT_HELPER,
# app/layout_shots_test.go) and this script takes each tab with ImageMagick.
# It also shows a tooltip: the pointer rests on the cut status line.
# usage: scripts/screenshot-layout.sh [OUTDIR]   (default docs/screenshots)
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

# The screen is larger than the window: the window is moved to its corner.
display=":$(( 200 + RANDOM % 50 ))"
Xvfb "$display" -screen 0 2560x1440x24 -nolisten tcp >"$work/xvfb.log" 2>&1 &
xvfb=$!
for _ in $(seq 100); do xdpyinfo -display "$display" >/dev/null 2>&1 && break; sleep 0.05; done
export DISPLAY="$display"

tabs=(dashboard earnings why-not-earning networks settings)

# shoot STATE SIZE FILE-PREFIX TAB-INDEX... : one run of the window in STATE at SIZE.
shoot() {
  local state="$1" size="$2" prefix="$3"; shift 3
  mkfifo "$work/in"
  COCOON_LAYOUT_HELPER="$state" COCOON_LAYOUT_SIZE="$size" dbus-run-session -- "$work/app.test" <"$work/in" >"$work/out" 2>"$work/err" &
  helper=$!
  exec 3>"$work/in"
  for _ in $(seq 300); do grep -q '^ready' "$work/out" 2>/dev/null && break; sleep 0.1; done
  grep -q '^ready' "$work/out" || { echo "the window never got ready ($state)"; cat "$work/err"; exit 1; }
  local wid
  wid=$(xdotool search --onlyvisible --name "^Cocoon Desktop$" | head -1)
  xdotool windowmove "$wid" 0 0
  local geom
  geom=$(xdotool getwindowgeometry "$wid" | grep -o 'Geometry: [0-9x]*' | cut -d' ' -f2)
  [ "$geom" = "$size" ] || { echo "the window is $geom, not $size"; exit 1; }
  for i in "$@"; do
    if [ "$i" = bottom ]; then # scroll the tab shown to its end
      echo bottom >&3
      for _ in $(seq 100); do grep -q '^bottom$' "$work/out" && break; sleep 0.05; done
      sleep 0.5
      import -display "$display" -window "$wid" "$out/$prefix-scrolled.png"
      echo "saved $out/$prefix-scrolled.png"
      continue
    fi
    if [ "$i" = tip ]; then # rest the pointer on the status line (its words are cut)
      xdotool mousemove --window "$wid" 300 82; sleep 1.5
      import -display "$display" -window "$wid" "$out/$prefix-tooltip.png"
      echo "saved $out/$prefix-tooltip.png"
      xdotool mousemove 2500 1400
      continue
    fi
    echo "tab $i" >&3
    for _ in $(seq 100); do grep -q "^tab $i\$" "$work/out" && break; sleep 0.05; done
    sleep 0.5
    import -display "$display" -window "$wid" "$out/$prefix-${tabs[$i]}.png"
    echo "saved $out/$prefix-${tabs[$i]}.png"
    # Nothing the tab shows may have grown the window.
    geom=$(xdotool getwindowgeometry "$wid" | grep -o 'Geometry: [0-9x]*' | cut -d' ' -f2)
    [ "$geom" = "$size" ] || { echo "the window grew to $geom on tab $i ($state)"; exit 1; }
  done
  echo quit >&3
  exec 3>&-
  wait "$helper" || true
  helper=""
  rm -f "$work/in" "$work/out"
}

for size in 1024x640 1920x1080; do
  # Every tab, paused for several reasons (the status line cut, with a tooltip).
  shoot "paused, several reasons" "$size" "layout-$size" 0 1 2 3 4 tip
  # The states that used to widen the window most.
  shoot "errors" "$size" "layout-$size-errors" 0
  shoot "long model names" "$size" "layout-$size-long-names" 0 bottom
  shoot "big numbers" "$size" "layout-$size-big-numbers" 1
  shoot "settings problems" "$size" "layout-$size-settings-problems" 4
  shoot "networks, preview" "$size" "layout-$size-networks-preview" 3
done
