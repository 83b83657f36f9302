#!/usr/bin/env bash
# Screenshots of joining a network from the app (docs/screenshots/join-*.png):
# a real cocoon-proxy on loopback with a name, two priced models and a
# commission prints its invite (`cocoon-proxy invite -string`); the real app
# under Xvfb at 1024×640, on its local test network, gets the invite pasted
# into the Networks tab: Join shows the proxy's signed preview, "Join <name>"
# moves the worker, and the proxy's /v1/status must then list it.
# usage: scripts/screenshot-join.sh BINARY [OUTDIR]
set -euo pipefail
bin="$(realpath "$1")"
out="$(realpath "${2:-docs/screenshots}")"
: "${COCOON_OLLAMA:?COCOON_OLLAMA must point to the ollama binary (make screenshot sets it)}"
cd "$(dirname "$0")/.."
mkdir -p "$out"
work=$(mktemp -d)
. scripts/lib/procgroups.sh # groups, cleanup at exit, freeaddr

"${GO:-go}" build -o "$work/cocoon-proxy" ./cmd/cocoon-proxy
apiaddr=$(freeaddr); workeraddr=$(freeaddr)
adminkey="admin-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
mkdir -p "$work/proxy" "$work/data"
cat >"$work/proxy/proxy.json" <<JSON
{
  "name": "Friends GPU Network",
  "api_addr": "$apiaddr",
  "worker_addr": "$workeraddr",
  "data_dir": "data",
  "commission_bps": 800,
  "models": {"cocoon-tiny": {"price_prompt": 200, "price_completion": 800},
             "llama3.2:1b": {"price_prompt": 500, "price_completion": 1500}},
  "admin_key": "$adminkey"
}
JSON
chmod 600 "$work/proxy/proxy.json"
invite=$("$work/cocoon-proxy" -config "$work/proxy/proxy.json" invite -string 2>/dev/null)
echo "invite: $invite"
setsid "$work/cocoon-proxy" -config "$work/proxy/proxy.json" >"$work/proxy.log" 2>&1 & groups+=($!)
for _ in $(seq 300); do curl -fsS "http://$apiaddr/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
workers() { curl -fsS "http://$apiaddr/v1/status" -H "Authorization: Bearer $adminkey" | jq '.workers | length'; }

display=":$(( 300 + RANDOM % 50 ))"
setsid Xvfb "$display" -screen 0 1280x800x24 -nolisten tcp >"$work/xvfb.log" 2>&1 & groups+=($!)
for _ in $(seq 100); do xdpyinfo -display "$display" >/dev/null 2>&1 && break; sleep 0.05; done
export DISPLAY="$display"

echo '{"onboarded": true}' >"$work/data/settings.json"
chmod 600 "$work/data/settings.json"
setsid dbus-run-session -- "$bin" --data-dir "$work/data" --no-attach >"$work/app.log" 2>&1 & groups+=($!)
timeout 60 xdotool search --sync --onlyvisible --name "^Cocoon Desktop$" >/dev/null || { cat "$work/app.log"; exit 1; }
wid=$(xdotool search --onlyvisible --name "^Cocoon Desktop$" | head -1)
xdotool windowsize "$wid" 1024 640 windowmove "$wid" 0 0
log="$work/data/logs/cocoon-desktop.log"
for _ in $(seq 600); do grep -q 'network: connected' "$log" 2>/dev/null && break; sleep 0.1; done
sleep 2

click() { xdotool mousemove --window "$wid" "$1" "$2" click 1; xdotool mousemove 1270 790; }
shot() { sleep "${SCREENSHOT_SETTLE:-1.5}"; import -display "$display" -window "$wid" "$out/$1"; echo "saved $out/$1"; }

click "${NETWORKS_TAB_X:-450}" "${TAB_Y:-125}"               # the Networks tab
click "${ENTRY_X:-400}" "${ENTRY_Y:-388}"                     # the invite field
xdotool type --delay 2 "$invite"
shot join-1-paste.png
click "${JOIN_X:-966}" "${ENTRY_Y:-388}"                      # Join: the preview
for _ in $(seq 100); do sleep 0.1; done
shot join-2-preview.png
[ "$(workers)" = 0 ] || { echo "the worker joined before the owner confirmed"; exit 1; }
click "${CONFIRM_X:-800}" "${CONFIRM_Y:-432}"                 # Join Friends GPU Network
for _ in $(seq 300); do [ "$(workers)" = 1 ] && break; sleep 0.1; done
[ "$(workers)" = 1 ] || { echo "the worker never registered on the joined network"; tail -20 "$log"; exit 1; }
shot join-3-joined.png
grep -q '"name": "Friends GPU Network"' "$work/data/settings.json" || { echo "the choice was not saved"; cat "$work/data/settings.json"; exit 1; }
echo "joined: the proxy lists the worker; settings.json remembers the network"
