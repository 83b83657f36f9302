#!/usr/bin/env bash
# Idle cost of the desktop app where it spends its life: the real app under
# Xvfb with a tray host (a private DBus session with a StatusNotifierWatcher),
# sharing switched on and waiting for the owner to go away. It measures CPU
# (from /proc/PID/stat, user+system over BENCH_IDLE_SECS) and RSS (VmRSS)
# with the window shown, then closes the window the way a window manager
# does (it hides into the tray) and measures again. The app's own Ollama is
# a separate process and not counted.
# It runs as whoever runs it: root may page out the system libraries' pages,
# another user only unmaps those (internal/memtrim), so say which it was.
# Last, it shows the window again with a second launch and times it.
# Prints one line per phase and, last,
# "idle: shown CPU% RSS_MB hidden CPU% RSS_MB reshow MS ms".
# usage: scripts/bench-idle.sh BINARY
set -euo pipefail
bin="$(realpath "$1")"
secs="${BENCH_IDLE_SECS:-60}"
settle="${BENCH_IDLE_SETTLE:-15}"
root="$(cd "$(dirname "$0")/.." && pwd)"
work=$(mktemp -d)
display=":$(( 200 + RANDOM % 50 ))"
pids=()
cleanup() {
  for ((i=${#pids[@]}-1; i>=0; i--)); do kill "${pids[$i]}" 2>/dev/null || true; done
  wait 2>/dev/null || true; rm -rf "$work"
}
trap cleanup EXIT

Xvfb "$display" -screen 0 1366x768x24 -nolisten tcp >/dev/null 2>&1 & pids+=($!)
for _ in $(seq 100); do xdpyinfo -display "$display" >/dev/null 2>&1 && break; sleep 0.05; done
export DISPLAY="$display"
(cd "$root" && go build -o "$work/wmclose" ./internal/wmclose)

# A private session bus with a tray host, as a desktop has.
dbus-daemon --session --nofork --address="unix:path=$work/bus" >/dev/null 2>&1 & pids+=($!)
for _ in $(seq 100); do [ -S "$work/bus" ] && break; sleep 0.05; done
export DBUS_SESSION_BUS_ADDRESS="unix:path=$work/bus"
status-notifier-watcher >/dev/null 2>&1 & pids+=($!)
sleep 1

HOME="$work/home" "$bin" --data-dir "$work/data" ${BENCH_IDLE_ARGS---start} --api-addr 127.0.0.1:0 >"$work/app.log" 2>&1 & app=$!; pids+=($app)
wid=$(timeout 60 xdotool search --sync --onlyvisible --name "^Cocoon Desktop$" | head -1)
[ -n "$wid" ] || { echo "window never appeared"; cat "$work/app.log"; exit 1; }
grep -q "system tray" "$work/data/logs/cocoon-desktop.log" 2>/dev/null && grep "system tray" "$work/data/logs/cocoon-desktop.log" | head -1 >&2 || true

hz=$(getconf CLK_TCK)
ticks() { awk '{print $14+$15}' "/proc/$app/stat"; }
rss_mb() { awk '/VmRSS/{printf "%d", $2/1024}' "/proc/$app/status"; }
# rss_parts: "anon A MB, files F MB" (files: mapped libraries, Mesa's LLVM among them, which the
# kernel can drop and re-read; anon: the Go heap, C allocations, GL buffers), and the PSS (pages
# another process maps too — Xvfb's own Mesa, the Ollama guard that is this program — counted by share).
rss_parts() {
  local mesa; mesa=$(pmap -x "$app" | awk '/libLLVM|swrast|libgallium|dri/ {s+=$3} END {printf "%d", s/1024}')
  local pss; pss=$(awk '/^Pss:/{printf "%d", $2/1024}' "/proc/$app/smaps_rollup")
  awk -v mesa="$mesa" -v pss="$pss" '/RssAnon/{a=$2} /RssFile/{f=$2} /RssShmem/{s=$2} END{printf "anon %d MB, files %d MB of which Mesa %d MB, shared %d MB; PSS %d MB", a/1024, f/1024, mesa, s/1024, pss}' "/proc/$app/status"
}
# measure NAME: CPU% over $secs and RSS at the end.
measure() {
  local t0 s0 t1 s1
  t0=$(ticks); s0=$(date +%s%N)
  sleep "$secs"
  t1=$(ticks); s1=$(date +%s%N)
  cpu=$(python3 -c "print(f'{100*($t1-$t0)/$hz/(($s1-$s0)/1e9):.2f}')")
  rss=$(rss_mb)
  echo "$1 over ${secs} s: CPU ${cpu}% of one core, RSS ${rss} MB ($(rss_parts))" >&2
}

echo "running as $(id -un); the binary is owned by $(stat -c %U "$bin")" >&2
sleep "$settle" # start-up work: Ollama, the built-in model, the first renders
measure "window shown"; shown_cpu=$cpu; shown_rss=$rss

"$work/wmclose" "$wid"
for _ in $(seq 100); do xdotool search --onlyvisible --name "^Cocoon Desktop$" >/dev/null 2>&1 || break; sleep 0.1; done
if xdotool search --onlyvisible --name "^Cocoon Desktop$" >/dev/null 2>&1; then echo "the window did not hide" >&2; exit 1; fi
kill -0 "$app" || { echo "the app quit instead of hiding (no tray host?)" >&2; cat "$work/app.log" >&2; exit 1; }
# Hidden for a minute the app naps its long naps (a tray app's usual life): measure that.
sleep "${BENCH_IDLE_HIDDEN_SETTLE:-65}"
measure "hidden in the tray"; hidden_cpu=$cpu; hidden_rss=$rss

# Shown again the way a second launch (or the tray's Open) does it: a hidden
# window gave memory back (the GL libraries' pages among it), so this is
# what that costs the owner.
s0=$(date +%s%N)
HOME="$work/home" "$bin" --data-dir "$work/data" >/dev/null 2>&1 &
timeout 60 xdotool search --sync --onlyvisible --name "^Cocoon Desktop$" >/dev/null || { echo "the window did not show again" >&2; exit 1; }
reshow_ms=$(( ($(date +%s%N) - s0) / 1000000 ))
echo "shown again by a second launch after ${reshow_ms} ms, RSS then $(rss_mb) MB" >&2
echo "idle: shown ${shown_cpu}% ${shown_rss} MB hidden ${hidden_cpu}% ${hidden_rss} MB reshow ${reshow_ms} ms"
