#!/usr/bin/env bash
# The real-GPU check: proves on a Linux machine with an NVIDIA GPU and driver
# that the GPU does the work. Two steps, because such a machine may have no
# network and no Go, but has CUDA's compiler and CMake:
#
#   scripts/gpu-check.sh prepare [DIR]   here (a build machine): writes DIR (default
#                                        .gpu-check/, ~25 MB): the app, the Ollama binary and
#                                        the tiny-model writer (xz), and Ollama's ggml source
#   scripts/gpu-check.sh run [DIR] [OUT] there: one unattended run, under 10 minutes;
#                                        figures to OUT/gpu-check.md (default DIR/out)
#
# What run does, each step timed and logged:
#   1. NVML detection through the app (doctor --json) with the CPU-only Ollama: the GPU is
#      found, and the app warns that the model runs on the CPU (runs_on "cpu", no GPU backend).
#   2. Builds Ollama's CUDA backend from the same v0.17.4 source for this card's architecture
#      only (nvcc; preset "CUDA 13" or "CUDA 12" by the toolkit's major version), in Ollama's
#      layout beside the binary.
#   3. doctor --json again: runs_on "gpu", backend CUDA, the model in VRAM.
#   4. Tokens/s on the GPU vs the CPU for the tiny model and a synthesized ~2 GB model.
#   5. Pause → VRAM free, as the app does it (unload with keep_alive 0, then NVML until no
#      Ollama process holds VRAM): p50/p95 over 20 pauses.
#   6. SIGKILL the app while it serves on the GPU, 5 times: no ollama process may survive.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
mode="${1:-}"
OLLAMA_VERSION="${OLLAMA_VERSION:-0.17.4}"

prepare() {
  local dir="${1:-$here/.gpu-check}"
  mkdir -p "$dir"
  local ollama
  ollama="$(bash "$here/scripts/build-ollama.sh")"
  echo "building the app and cocoon-mkmodel..." >&2
  (cd "$here" && CGO_CFLAGS="${CGO_CFLAGS:--O2 -g -Wno-deprecated-declarations}" \
    go build -tags no_emoji -trimpath -ldflags "-s -w" -o "$dir/cocoon-desktop" . &&
    go build -trimpath -ldflags "-s -w" -o "$dir/cocoon-mkmodel" ./cmd/cocoon-mkmodel)
  cp "$ollama" "$dir/ollama"
  xz -T0 -6 -f "$dir/cocoon-desktop" "$dir/ollama" "$dir/cocoon-mkmodel"
  local src
  src="$(cd "$here" && go mod download -json "github.com/ollama/ollama@v${OLLAMA_VERSION}" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  tar -C "$src" -czf "$dir/ggml-src.tgz" CMakeLists.txt CMakePresets.json ml/backend/ggml/ggml
  cp "$here/scripts/gpu-check.sh" "$dir/"
  du -sh "$dir" >&2
  echo "$dir"
}

# ---------------------------------------------------------------------------------------------
run() {
  local dir out
  dir="$(cd "${1:-$here/.gpu-check}" && pwd)"
  out="${2:-$dir/out}"
  mkdir -p "$out"
  local log="$out/gpu-check.log" md="$out/gpu-check.md"
  : >"$log"
  say() { echo "[$(date +%T)] $*" | tee -a "$log" >&2; }
  fail() { say "FAILED: $*"; echo "FAILED: $*" >>"$md"; exit 1; }
  ms() { echo $(( $(date +%s%N) / 1000000 )); }

  command -v nvidia-smi >/dev/null || fail "no nvidia-smi: this check needs an NVIDIA GPU and its driver"
  local card cc mem driver
  card="$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)"
  cc="$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d .)"
  mem="$(nvidia-smi --query-gpu=memory.total --format=csv,noheader | head -1)"
  driver="$(nvidia-smi --query-gpu=driver_version --format=csv,noheader | head -1)"
  say "GPU: $card, compute $cc, $mem, driver $driver"

  local w="$out/work"
  rm -rf "$w"; mkdir -p "$w/bin" "$w/lib/ollama" "$w/data" "$w/models"
  xz -dc "$dir/ollama.xz" >"$w/bin/ollama"
  xz -dc "$dir/cocoon-desktop.xz" >"$w/bin/cocoon-desktop"
  xz -dc "$dir/cocoon-mkmodel.xz" >"$w/bin/cocoon-mkmodel"
  chmod +x "$w/bin/"*
  export COCOON_OLLAMA="$w/bin/ollama"

  {
    echo "## On a real GPU"
    echo
    echo "Run by \`scripts/gpu-check.sh\` on $(date -u +%F): $card (compute ${cc:0:1}.${cc:1}, $mem), driver $driver,"
    echo "$(nproc) CPU cores, $(uname -sr). The app and Ollama v$OLLAMA_VERSION were built on the build machine;"
    echo "the CUDA backend was built here for this card's architecture only."
    echo
    echo "| what | figure |"
    echo "|---|---|"
  } >"$md"
  row() { echo "| $1 | $2 |" >>"$md"; say "$1: $2"; }

  # 1. NVML detection, with the CPU-only Ollama: the app must warn.
  say "1. doctor with the CPU-only Ollama"
  "$w/bin/cocoon-desktop" doctor --json --no-attach --data-dir "$w/data/cpu" >"$out/doctor-cpu.json" 2>>"$log" || true
  local det
  det="$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); g=d["gpu"]; print(g["state"], "|", ", ".join(x["name"] for x in g.get("devices") or []), "|", d["runs_on"], "|", d["placement"].get("cpu_reason",""))' "$out/doctor-cpu.json")" ||
    fail "doctor --json did not print a report (see $log)"
  say "   $det"
  row "NVML detection (doctor --json), CPU-only Ollama: state / card / runs_on / warning" "$det"

  # 2. The CUDA backend for this architecture.
  say "2. building the CUDA backend for sm_$cc"
  local nvcc cudamajor preset runner src="$w/src" t0
  nvcc="$(command -v nvcc || ls /usr/local/cuda/bin/nvcc 2>/dev/null || true)"
  [ -n "$nvcc" ] || fail "no nvcc"
  # The backend links CUDA's runtime and cuBLAS; the toolkit here has them.
  export LD_LIBRARY_PATH="$(dirname "$(dirname "$nvcc")")/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  cudamajor="$("$nvcc" --version | sed -n 's/.*release \([0-9]*\)\..*/\1/p')"
  case "$cudamajor" in 13) preset="CUDA 13"; runner=cuda_v13 ;; 12) preset="CUDA 12"; runner=cuda_v12 ;;
    11) preset="CUDA 11"; runner=cuda_v11 ;; *) fail "CUDA $cudamajor is not one Ollama v$OLLAMA_VERSION has a preset for" ;; esac
  mkdir -p "$src"; tar -C "$src" -xzf "$dir/ggml-src.tgz"
  t0=$(ms)
  local gen=()
  command -v ninja >/dev/null && gen=(-G Ninja)
  cmake -S "$src" -B "$src/build" --preset "$preset" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_CUDA_COMPILER="$nvcc" -DCMAKE_CUDA_ARCHITECTURES="$cc" -DCMAKE_INSTALL_PREFIX="$w" >>"$log" 2>&1 ||
    fail "cmake configure (see $log)"
  timeout 420 cmake --build "$src/build" --target ggml-cuda ggml-base -j"$(nproc)" >>"$log" 2>&1 ||
    fail "the CUDA backend did not build within 7 minutes (see $log)"
  cmake --install "$src/build" --component CUDA >>"$log" 2>&1 || true
  # Ollama's layout: lib/ollama/libggml-base.so*, lib/ollama/<runner>/libggml-cuda.so.
  mkdir -p "$w/lib/ollama/$runner"
  find "$src/build" -name 'libggml-base.so*' -exec cp -P {} "$w/lib/ollama/" \;
  find "$src/build" -name 'libggml-cuda.so' -exec cp {} "$w/lib/ollama/$runner/" \;
  [ -f "$w/lib/ollama/$runner/libggml-cuda.so" ] || fail "no libggml-cuda.so after the build"
  row "CUDA backend build (preset \"$preset\", sm_$cc only, $(nproc) cores)" "$(( ($(ms) - t0) / 1000 )) s"

  # 3. doctor again: the model must now run on the GPU.
  say "3. doctor with the CUDA backend"
  "$w/bin/cocoon-desktop" doctor --json --no-attach --data-dir "$w/data/gpu" >"$out/doctor-gpu.json" 2>>"$log" || true
  det="$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); p=d["placement"]; print(d["runs_on"], "|", p.get("backend",""), "|", "%.0f%% in VRAM" % (100*p.get("vram_share",0)), "|", d["ollama"].get("gpu_backend",""))' "$out/doctor-gpu.json")" ||
    fail "doctor --json did not print a report"
  row "doctor --json with the CUDA backend: runs_on / backend / VRAM share / Ollama's backend" "$det"
  case "$det" in gpu*) ;; *) fail "the model does not run on the GPU: $det" ;; esac

  # A bare Ollama on loopback for the speed and pause figures.
  local port=$(( 20000 + RANDOM % 20000 )) pid
  start_ollama() { # $1: extra env (e.g. CUDA_VISIBLE_DEVICES=)
    env HOME="$w/data" OLLAMA_HOST="127.0.0.1:$port" OLLAMA_MODELS="$w/models" $1 "$w/bin/ollama" serve >>"$out/ollama.log" 2>&1 &
    pid=$!
    for _ in $(seq 200); do curl -fsS "http://127.0.0.1:$port/api/version" >/dev/null 2>&1 && return 0; sleep 0.1; done
    fail "ollama serve did not answer"
  }
  stop_ollama() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pkill -f "$w/bin/ollama runner" 2>/dev/null || true; }
  api() { curl -fsS "http://127.0.0.1:$port/api/$1" -d "$2"; }
  create() { # $1 name, $2 gguf
    local digest
    digest="sha256:$(sha256sum "$2" | cut -d' ' -f1)"
    curl -fsS -X POST "http://127.0.0.1:$port/api/blobs/$digest" --data-binary "@$2" >/dev/null
    api create "{\"model\":\"$1\",\"files\":{\"m.gguf\":\"$digest\"},\"template\":\"{{ range .Messages }}{{ .Role }}: {{ .Content }}\\n{{ end }}assistant: \",\"stream\":false}" >/dev/null
  }
  tps() { # $1 model → tokens/s of 256 generated tokens (second run: loaded)
    local r
    api generate "{\"model\":\"$1\",\"prompt\":\"hello\",\"stream\":false,\"options\":{\"num_predict\":16}}" >/dev/null
    r="$(api generate "{\"model\":\"$1\",\"prompt\":\"hello\",\"stream\":false,\"options\":{\"num_predict\":256,\"seed\":1}}")"
    python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print("%.0f" % (d["eval_count"]/(d["eval_duration"]/1e9)))' "$r"
  }

  # 4. Tokens/s, GPU vs CPU.
  say "4. tokens/s on the GPU and on the CPU"
  "$w/bin/cocoon-mkmodel" -out "$w/tiny.gguf" -f16 >>"$log"
  t0=$(ms)
  "$w/bin/cocoon-mkmodel" -out "$w/big.gguf" -f16 -dim 2048 -blocks 16 -ffn 8192 >>"$log"
  say "   wrote the big model ($(du -h "$w/big.gguf" | cut -f1)) in $(( ($(ms) - t0) / 1000 )) s"
  local g_tiny g_big c_tiny c_big
  start_ollama ""
  create tiny "$w/tiny.gguf"; create big "$w/big.gguf"
  g_tiny="$(tps tiny)"; g_big="$(tps big)"
  local ps
  ps="$(curl -fsS "http://127.0.0.1:$port/api/ps")"
  say "   loaded: $(python3 -c 'import json,sys; print([(m["name"], m["size"], m["size_vram"]) for m in json.loads(sys.argv[1])["models"]])' "$ps")"
  stop_ollama
  start_ollama "CUDA_VISIBLE_DEVICES="
  c_tiny="$(tps tiny)"; c_big="$(tps big)"
  stop_ollama
  row "tiny model (572 KB): tokens/s GPU vs CPU" "$g_tiny vs $c_tiny"
  row "synthesized model ($(du -h "$w/big.gguf" | cut -f1)): tokens/s GPU vs CPU" "$g_big vs $c_big ($(python3 -c "print('%.1f' % ($g_big/max($c_big,1)))")×)"

  # 5. Pause → VRAM free, measured by NVML: unload (keep_alive 0) as the app does, then poll
  # nvidia-smi (NVML) until no ollama process holds VRAM.
  say "5. pause → VRAM free, 20 times"
  start_ollama ""
  local times=() i t held
  for i in $(seq 20); do
    api generate '{"model":"big","prompt":"hi","stream":false,"options":{"num_predict":4}}' >/dev/null
    t0=$(ms)
    api generate '{"model":"big","keep_alive":0}' >/dev/null
    for _ in $(seq 500); do
      held="$(nvidia-smi --query-compute-apps=pid,process_name,used_memory --format=csv,noheader 2>/dev/null | grep -c ollama || true)"
      [ "$held" = 0 ] && break
      sleep 0.01
    done
    [ "$held" = 0 ] || fail "VRAM still held 5 s after the unload"
    times+=($(( $(ms) - t0 )))
  done
  stop_ollama
  local stats
  stats="$(printf '%s\n' "${times[@]}" | sort -n | python3 -c 'import sys; v=[int(x) for x in sys.stdin]; print("p50 %d ms, p95 %d ms, max %d ms" % (v[len(v)//2], v[int(len(v)*0.95)-1], v[-1]))')"
  row "pause → VRAM free (unload + NVML sees no Ollama process), 20 pauses, big model" "$stats"

  # 6. SIGKILL the app while it serves on the GPU: no ollama may survive.
  say "6. SIGKILL the app 5 times while serving"
  local orphans=0 app round
  for round in $(seq 5); do
    "$w/bin/cocoon-desktop" --headless --no-attach --data-dir "$w/data/kill" --idle-minutes 0.01 --api-addr 127.0.0.1:0 >>"$log" 2>&1 &
    app=$!
    for _ in $(seq 600); do pgrep -f "$w/bin/ollama runner" >/dev/null && break; sleep 0.1; done
    local key apiurl
    for _ in $(seq 300); do apiurl="$(grep -o 'api=http://[0-9.:]*/v1' "$w/data/kill/logs/cocoon-desktop.log" 2>/dev/null | tail -1 | cut -d= -f2)"; [ -n "$apiurl" ] && break; sleep 0.1; done
    key="$(cat "$w/data/kill/local-network/api-key" 2>/dev/null || true)"
    curl -fsS -m 20 "$apiurl/chat/completions" -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
      -d '{"model":"cocoon-tiny","messages":[{"role":"user","content":"hi"}],"max_tokens":8}' >/dev/null 2>&1 || true
    kill -KILL "$app"; wait "$app" 2>/dev/null || true
    for _ in $(seq 100); do pgrep -f "$w/bin/ollama" >/dev/null || break; sleep 0.05; done
    if pgrep -f "$w/bin/ollama" >/dev/null; then
      orphans=$((orphans + 1)); say "   round $round: left $(pgrep -af "$w/bin/ollama" | tr '\n' ';')"
      pkill -KILL -f "$w/bin/ollama" || true
    fi
  done
  row "SIGKILL of the app while serving, 5 rounds: rounds that left an ollama process" "$orphans"
  [ "$orphans" = 0 ] || fail "orphaned ollama processes"
  say "done: $md"
  cat "$md"
  # From a checkout: the figures replace the "On a real GPU" section of docs/BENCHMARKS.md.
  local bench="$here/docs/BENCHMARKS.md"
  if [ -w "$bench" ]; then
    python3 - "$bench" "$md" <<'PY'
import re, sys
bench, md = sys.argv[1], sys.argv[2]
text, new = open(bench).read(), open(md).read().rstrip() + "\n"
head = "## On a real GPU"
if head in text:
    start = text.index(head)
    nxt = text.find("\n## ", start + len(head))
    text = text[:start] + new + (text[nxt + 1:] if nxt >= 0 else "")
else:
    text = text.rstrip() + "\n\n" + new
open(bench, "w").write(text)
PY
    say "updated $bench"
  fi
}

case "$mode" in
  prepare) shift; prepare "$@" ;;
  run) shift; run "$@" ;;
  *) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
