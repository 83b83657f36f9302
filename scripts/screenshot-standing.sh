#!/usr/bin/env bash
# Screenshots of a new worker's standing at a real network (docs/trust.md):
# a real cocoon-proxy on loopback with its trust policy on (earnings held 72h,
# 10 check jobs to be trusted, a daily cap) and canaries checked against a
# reference Ollama of its own; the real app under Xvfb joins it with
# --network/--proxy-key, serves a few client requests and a few canaries, and
# its Earnings and "Why not earning?" tabs are taken while it is still new.
# usage: scripts/screenshot-standing.sh BINARY OUTDIR
set -euo pipefail
bin="$(realpath "$1")"
out="$(realpath "${2:-docs/screenshots}")"
: "${COCOON_OLLAMA:?COCOON_OLLAMA must point to the ollama binary (make screenshot sets it)}"
cd "$(dirname "$0")/.."
mkdir -p "$out"
work=$(mktemp -d)
. scripts/lib/procgroups.sh # groups, cleanup at exit, freeaddr

# The operator's reference Ollama, with the tiny model the app seeds in its
# own (the same weights, seed 1) in a models directory of its own: the
# proxy pins canaries to the weights digest (package modeldigest), which
# does not depend on the directory (a created model's manifest digest does).
refaddr=$(freeaddr)
models="$work/ref-models"
mkdir -p "$work/ref-home" "$models" "$work/data"
HOME="$work/ref-home" OLLAMA_MODELS="$models" OLLAMA_HOST="$refaddr" \
  setsid "$COCOON_OLLAMA" serve >"$work/ref-ollama.log" 2>&1 & groups+=($!)
for _ in $(seq 300); do curl -fsS "http://$refaddr/api/version" >/dev/null 2>&1 && break; sleep 0.1; done
"${GO:-go}" build -o "$work/cocoon-proxy" ./cmd/cocoon-proxy
"${GO:-go}" run ./cmd/cocoon-mkmodel -out "$work/tiny.gguf" -seed 1 -register cocoon-tiny -host "http://$refaddr" >/dev/null

# The proxy: trust on (new workers' earnings held 72 h and capped at 1 TON a
# day until 10 check jobs pass), a canary every 20 s to each worker, its
# token counts from the reference's models directory.
apiaddr=$(freeaddr); workeraddr=$(freeaddr)
apikey="cocoon-shot-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
adminkey="admin-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
mkdir -p "$work/proxy"
cat >"$work/proxy/proxy.json" <<EOF
{
  "api_addr": "$apiaddr",
  "worker_addr": "$workeraddr",
  "data_dir": "data",
  "models": {"cocoon-tiny": {"price_prompt": 20000, "price_completion": 80000}},
  "api_keys": [{"key": "$apikey", "name": "screenshots"}],
  "admin_key": "$adminkey",
  "trust": {"hold_period": "72h", "canaries_to_trust": 10, "new_daily_cap": 1000000000},
  "canary": {"reference_ollama": "http://$refaddr", "min_per_period": 3, "period": "1m", "max_delay": "2s"},
  "metering": {"ollama_models": "$models"}
}
EOF
chmod 600 "$work/proxy/proxy.json"
proxykey=$("$work/cocoon-proxy" -config "$work/proxy/proxy.json" -print-key)
setsid "$work/cocoon-proxy" -config "$work/proxy/proxy.json" >"$work/proxy.log" 2>&1 & groups+=($!)
for _ in $(seq 300); do curl -fsS "http://$apiaddr/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fsS "http://$apiaddr/healthz" >/dev/null || { echo "the proxy did not come up"; cat "$work/proxy.log"; exit 1; }
status() { curl -fsS "http://$apiaddr/v1/status" -H "Authorization: Bearer $adminkey"; }

display=":$(( 250 + RANDOM % 50 ))"
setsid Xvfb "$display" -screen 0 1280x800x24 -nolisten tcp >"$work/xvfb.log" 2>&1 & groups+=($!)
for _ in $(seq 100); do xdpyinfo -display "$display" >/dev/null 2>&1 && break; sleep 0.05; done
export DISPLAY="$display"

# The app, with a payout address already set (as the first-run wizard would),
# its own managed Ollama (--no-attach) and a short idle time (Xvfb has no user).
echo '{"payout_address": "UQBnpOUoBy7TBuejGYV83KZB-J_qqf7eupIs1XuqjtjpN3W7"}' >"$work/data/settings.json"
chmod 600 "$work/data/settings.json"
setsid dbus-run-session -- "$bin" --data-dir "$work/data" --no-attach --start --idle-minutes 0.03 \
  --network "wss://$workeraddr/v1/worker" --proxy-key "$proxykey" >"$work/app.log" 2>&1 & groups+=($!)
timeout 60 xdotool search --sync --onlyvisible --name "^Cocoon Desktop$" >/dev/null || { cat "$work/app.log"; exit 1; }
wid=$(xdotool search --onlyvisible --name "^Cocoon Desktop$" | head -1)
log="$work/data/logs/cocoon-desktop.log"
serving() { grep -c 'msg=state .*state=serving' "$log" 2>/dev/null || true; }
for _ in $(seq 1200); do [ "$(serving)" -gt 0 ] && break; sleep 0.1; done
[ "$(serving)" -gt 0 ] || { echo "the app never served"; tail -30 "$log"; exit 1; }

# A few client requests through the proxy. (Mapping the window counts as
# input on X, so the first serve may pause and resume after the 30 s
# hysteresis: keep trying for a while.)
sent=0
for _ in $(seq 300); do
  if curl -fsS "http://$apiaddr/v1/chat/completions" -H "Authorization: Bearer $apikey" -H 'Content-Type: application/json' \
      -d '{"model":"cocoon-tiny","messages":[{"role":"user","content":"Write a short poem about a cocoon."}],"max_tokens":64}' >/dev/null 2>&1; then
    sent=$((sent + 1)); [ "$sent" -ge 5 ] && break
  else
    sleep 0.5
  fi
done
[ "$sent" -ge 5 ] || { echo "only $sent requests went through"; tail -30 "$work/proxy.log"; exit 1; }
echo "$sent requests went through the proxy"

# Wait for three passed check jobs; the worker is still new (10 needed).
trust() { status | jq -r '.workers[0].trust // {} | "\(.level // "none") \(.canaries_passed // 0) \(.canaries_failed // 0) \(.held // 0)"' || echo "none 0 0 0"; }
for _ in $(seq 480); do
  read -r level passed failed held <<<"$(trust)"
  [ "$passed" -ge 3 ] && break
  sleep 0.5
done
echo "trust: $level, $passed check jobs passed, $failed failed, $held nanoTON held"
[ "$level" = new ] && [ "$passed" -ge 3 ] && [ "$failed" = 0 ] && [ "$held" -gt 0 ] || { echo "no standing to show"; tail -30 "$work/proxy.log"; exit 1; }

# shoot X Y FILE: click a tab (the tab row stays where it is), wait until
# the worker serves again after that input, and take the window.
shoot() {
  local before
  before=$(serving)
  xdotool mousemove --window "$wid" "$1" "$2" click 1
  xdotool mousemove 1270 790 # out of the window: no tooltip
  for _ in $(seq 900); do [ "$(serving)" -gt "$before" ] && break; sleep 0.1; done
  sleep "${SCREENSHOT_SETTLE:-3}"
  read -r level passed _ _ <<<"$(trust)"
  [ "$level" = new ] || { echo "the worker is $level, no longer new"; exit 1; }
  import -display "$display" -window "$wid" "$3"
  echo "saved $3 ($passed check jobs passed)"
}
shoot 198 125 "$out/earnings-standing.png"
shoot 323 125 "$out/why-standing.png"
