#!/usr/bin/env bash
# A sanity ratio, not a target: the project's Windows Ollama build (cross-built with mingw-w64,
# CPU backend) under Wine vs the Linux build, on the same machine, same model, same settings
# (tokens/s of generation from Ollama's own eval_count/eval_duration; one warm-up, then the median
# of RUNS). Two models from cmd/cocoon-mkmodel: the tiny test model and a larger one of the same
# shape, where the matrix work dominates. Wine needs the test-only ProcessPrng shim
# (internal/winetest/testdata), built into a private prefix here; never shipped.
# usage: COCOON_OLLAMA=<linux ollama> scripts/bench-windows.sh OLLAMA_EXE
set -euo pipefail
win_ollama="$(realpath "$1")"; linux_ollama="${COCOON_OLLAMA:?set COCOON_OLLAMA to the Linux ollama}"
RUNS="${RUNS:-3}"; PREDICT="${PREDICT:-256}"
root="$(cd "$(dirname "$0")/.." && pwd)"
wine=$(command -v wine || command -v wine64 || echo /usr/lib/wine/wine64)
server=$(command -v wineserver || echo /usr/lib/wine/wineserver64)
work=$(mktemp -d)
export WINEPREFIX="$work/prefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml=" DISPLAY=
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  "$server" -k 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
(cd "$root" && "${GO:-go}" build -o "$work/mkmodel" ./cmd/cocoon-mkmodel)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() { for _ in $(seq 600); do curl -sf "http://$1/api/version" >/dev/null && return 0; sleep 0.1; done; echo "no Ollama at $1" >&2; exit 1; }

# tokens_per_s HOST MODEL: median generation speed over RUNS runs after one warm-up.
tokens_per_s() {
  local body="{\"model\":\"$2\",\"prompt\":\"Hello\",\"stream\":false,\"options\":{\"num_predict\":$PREDICT,\"num_thread\":1,\"seed\":1,\"temperature\":0}}"
  curl -sf "http://$1/api/generate" -d "$body" >/dev/null
  for _ in $(seq "$RUNS"); do
    curl -sf "http://$1/api/generate" -d "$body" |
      python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["eval_count"]/(r["eval_duration"]/1e9))'
  done | sort -n | awk '{a[NR]=$1} END {printf "%.0f", a[int((NR+1)/2)]}'
}

register() { # HOST
  "$work/mkmodel" -out "$work/tiny.gguf" -register tiny -host "http://$1" >/dev/null
  "$work/mkmodel" -out "$work/medium.gguf" -f16 -dim 512 -blocks 8 -ffn 1536 -register medium -host "http://$1" >/dev/null
}

lport=$(free_port)
mkdir -p "$work/linux-home"
HOME="$work/linux-home" OLLAMA_HOST="127.0.0.1:$lport" OLLAMA_MODELS="$work/linux-models" \
  "$linux_ollama" serve >"$work/linux.log" 2>&1 & pids+=($!)
wait_up "127.0.0.1:$lport"; register "127.0.0.1:$lport"

"$wine" wineboot --init >/dev/null 2>&1; "$server" -w
x86_64-w64-mingw32-gcc -shared -O2 -o "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll" \
  "$root/internal/winetest/testdata/bcryptprimitives.c" -ladvapi32
wport=$(free_port)
OLLAMA_HOST="127.0.0.1:$wport" OLLAMA_MODELS='C:\models' "$wine" "$win_ollama" serve >"$work/wine.log" 2>&1 & pids+=($!)
wait_up "127.0.0.1:$wport"; register "127.0.0.1:$wport"

printf '%-8s %14s %14s %8s\n' model "linux tok/s" "wine tok/s" ratio
for m in tiny medium; do
  l=$(tokens_per_s "127.0.0.1:$lport" "$m"); w=$(tokens_per_s "127.0.0.1:$wport" "$m")
  printf '%-8s %14s %14s %8s\n' "$m" "$l" "$w" "$(python3 -c "print(f'{$w/$l:.2f}')")"
done
