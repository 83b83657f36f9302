#!/usr/bin/env bash
# The Windows app's window under Wine + Xvfb (docs/screenshots/windows-main.png), and what Wine can
# show of the rest of the Windows desktop: no console window for the bundled ollama.exe, single
# instance (the window hidden, a second launch shows it again), Wine's stand-in system tray.
# Wine needs the test-only ProcessPrng shim (internal/winetest/testdata; never shipped), built into
# this run's private prefix. Fails (non-zero) when a check fails.
# usage: scripts/screenshot-windows.sh APP_EXE OLLAMA_EXE [OUTDIR]   (default docs/screenshots)
set -euo pipefail
app_exe="$(realpath "$1")"; ollama_exe="$(realpath "$2")"; out="$(realpath -m "${3:-docs/screenshots}")"
root="$(cd "$(dirname "$0")/.." && pwd)"
mkdir -p "$out"
wine=$(command -v wine || command -v wine64 || echo /usr/lib/wine/wine64)
server=$(command -v wineserver || echo /usr/lib/wine/wineserver64)
work=$(mktemp -d)
export WINEPREFIX="$work/prefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
cleanup() {
  "$server" -k 2>/dev/null || true
  if [ -n "${xvfb:-}" ]; then kill "$xvfb" 2>/dev/null || true; wait "$xvfb" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "screenshot-windows: FAIL: $*" >&2; exit 1; }

DISPLAY= "$wine" wineboot --init >/dev/null 2>&1
"$server" -w
x86_64-w64-mingw32-gcc -shared -O2 -o "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll" \
  "$root/internal/winetest/testdata/bcryptprimitives.c" -ladvapi32
# The installed layout: ollama.exe beside the app is the bundled one.
inst="$WINEPREFIX/drive_c/Cocoon"
mkdir -p "$inst"; cp "$app_exe" "$inst/cocoon-desktop.exe"; cp "$ollama_exe" "$inst/ollama.exe"

display=":$(( 250 + RANDOM % 40 ))"
Xvfb "$display" -screen 0 1280x800x24 -nolisten tcp >/dev/null 2>&1 & xvfb=$!
for _ in $(seq 100); do xdpyinfo -display "$display" >/dev/null 2>&1 && break; sleep 0.05; done
export DISPLAY="$display"
"$wine" "$inst/cocoon-desktop.exe" >"$work/app.out" 2>&1 &
wid=$(timeout 120 xdotool search --sync --onlyvisible --name "^Cocoon Desktop$" | head -1)
[ -n "$wid" ] || fail "no Cocoon Desktop window within 120 s"
log=$(ls "$WINEPREFIX"/drive_c/users/*/AppData/Local/CocoonDesktop/Logs/cocoon-desktop.log 2>/dev/null | head -1 || true)
for _ in $(seq 600); do
  log=$(ls "$WINEPREFIX"/drive_c/users/*/AppData/Local/CocoonDesktop/Logs/cocoon-desktop.log 2>/dev/null | head -1 || true)
  [ -n "$log" ] && grep -q 'worker registered' "$log" && break; sleep 0.1
done
grep -q 'worker registered' "$log" || fail "the app did not reach the local network within 60 s"
sleep 2 # let the window draw the network's state
import -window "$wid" "$out/windows-onboarding.png"
echo "saved $out/windows-onboarding.png"
# "Skip setup" (bottom left of the first-run dialog): the dashboard.
xdotool mousemove --window "$wid" 256 623 click 1
sleep 2
import -window "$wid" "$out/windows-main.png"
echo "saved $out/windows-main.png"

# The bundled Ollama is a console program: it must run without a console window.
for w in $(xdotool search --onlyvisible --name 'ollama\.exe' 2>/dev/null); do
  fail "a visible console window for ollama.exe ($(xdotool getwindowname "$w"))"
done
echo "ok: no console window for ollama.exe"

# Single instance: a second launch finds the first (over the loopback port), asks it to show its
# window and exits; still one window. (Hiding the window first cannot be done here: Wine has no
# window manager to minimise to, and taskkill's WM_CLOSE ends the app rather than hiding it.)
"$wine" "$inst/cocoon-desktop.exe" >"$work/second.out" 2>&1 || fail "the second launch failed: $(cat "$work/second.out")"
grep -q "already running; showing its window" "$work/second.out" || fail "the second launch said: $(cat "$work/second.out")"
[ "$(xdotool search --onlyvisible --name "^Cocoon Desktop$" | wc -l)" = 1 ] || fail "not exactly one window after a second launch"
grep -q "cocoon-desktop starting" "$log" || fail "no start line in the log"
echo "ok: a second launch found the first and exited; one window"

# The tray: Wine has no StatusNotifier/XEmbed host here; it shows its own "Wine System Tray" window.
if xdotool search --onlyvisible --name '^Wine System Tray$' >/dev/null 2>&1; then
  echo "tray: Wine's stand-in tray window is shown (the icon is added; Wine draws it without a desktop tray host)"
else
  echo "tray: no tray window under Wine"
fi
