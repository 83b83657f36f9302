#!/usr/bin/env bash
# Builds one of Ollama's GPU backends from the same Ollama module source that
# scripts/build-ollama.sh builds the binary from, with Ollama's own CMake presets,
# and installs it in Ollama's layout beside that binary:
#
#   <cache>/ollama-v0.17.4/bin/ollama                        (scripts/build-ollama.sh)
#   <cache>/ollama-v0.17.4/lib/ollama/libggml-base.so*
#   <cache>/ollama-v0.17.4/lib/ollama/vulkan/libggml-vulkan.so   (vulkan)
#   <cache>/ollama-v0.17.4/lib/ollama/cuda_v11/libggml-cuda.so   (cuda, + cuBLAS/cudart)
#
# Ollama (ml.LibOllamaPath) looks for lib/ollama at <dir of the resolved executable>/../lib/ollama
# and loads every lib/ollama/<name>/*ggml-* it finds there (Vulkan only with OLLAMA_VULKAN=1).
#
# usage: scripts/build-ollama-gpu.sh [vulkan|cuda]     (default vulkan)
# Idempotent and cached in the user cache dir: when the libraries are there it does
# nothing. Progress goes to stderr; the last line of stdout is the lib/ollama dir.
# Installs the Debian packages it needs (root, or sudo):
#   vulkan: cmake glslc libvulkan-dev; plus the Vulkan headers of Debian trixie's
#           libvulkan-dev (bookworm's 1.3.239 are too old for ggml-vulkan.cpp), downloaded with
#           a private apt state dir into the cache (bookworm's own apt setup is not touched).
#   cuda:   nvidia-cuda-toolkit (CUDA 11.8, bookworm non-free: a separate sources file adds the
#           non-free component when the package has no candidate) and g++-11 as nvcc's host
#           compiler; without an NVIDIA driver package, a file-less stub package for the driver
#           library names the toolkit depends on (see below).
set -euo pipefail
backend="${1:-vulkan}"
OLLAMA_VERSION="${OLLAMA_VERSION:-0.17.4}"
JOBS="${JOBS:-2}"
# Bump when the recipe below changes, so cached builds of the old recipe are rebuilt.
RECIPE=1

cache="${XDG_CACHE_HOME:-$HOME/.cache}/cocoon-desktop/ollama-v${OLLAMA_VERSION}"
lib="$cache/lib/ollama"
work="$cache/gpu-build"
case "$backend" in
  vulkan) preset="Vulkan"; runner="vulkan"; target="ggml-vulkan"; component="Vulkan" ;;
  cuda) preset="CUDA 11"; runner="cuda_v11"; target="ggml-cuda"; component="CUDA" ;;
  *) echo "usage: $0 [vulkan|cuda]" >&2; exit 2 ;;
esac
stamp="$work/$backend.done"
want="ollama=$OLLAMA_VERSION recipe=$RECIPE backend=$backend"

built() {
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] &&
    [ -f "$lib/$runner/lib$target.so" ] && [ -f "$lib/libggml-base.so" ]
}
# The cached case: no apt, no cmake, no go; a few file tests.
if built; then echo "$lib"; exit 0; fi

mkdir -p "$work"
# One build per backend at a time (make test and make dist may run together).
exec 9>"$work/$backend.lock"
flock 9
if built; then echo "$lib"; exit 0; fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
apt_get() { $sudo apt-get -o DPkg::Lock::Timeout=600 "$@"; }
# ensure_pkgs PKG...: apt-get install what is not installed yet (like scripts/install-deps.sh).
ensure_pkgs() {
  local missing=() p
  for p in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$p")
    fi
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing Debian packages: ${missing[*]}" >&2
  local log; log=$(mktemp)
  if ! { apt_get update -qq && apt_get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
    cat "$log" >&2; rm -f "$log"; return 1
  fi
  rm -f "$log"
}

# --- the Ollama module source (read-only in the module cache) -> a writable copy -------------
srcmod="$(go mod download -json "github.com/ollama/ollama@v${OLLAMA_VERSION}" |
  sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
[ -f "$srcmod/CMakeLists.txt" ] || { echo "no Ollama v$OLLAMA_VERSION module source (go mod download failed?)" >&2; exit 1; }
src="$work/src-v$OLLAMA_VERSION"
if [ ! -f "$src/.copied" ]; then
  rm -rf "$src"; mkdir -p "$src/ml/backend/ggml"
  # What Ollama's own Dockerfile copies for its backend builds.
  cp "$srcmod/CMakeLists.txt" "$srcmod/CMakePresets.json" "$src/"
  cp -r "$srcmod/ml/backend/ggml/ggml" "$src/ml/backend/ggml/"
  chmod -R u+w "$src"
  touch "$src/.copied"
fi

cmake_args=()
case "$backend" in
vulkan)
  ensure_pkgs cmake make g++ glslc libvulkan-dev
  # (1) The module zip leaves out the feature-test shaders. CMake counts any glslc error other
  # than "extension not supported" as support, so without them it turns on cooperative-matrix
  # shaders that Debian's glslc cannot compile. With them, detection is right.
  ft="$src/ml/backend/ggml/ggml/src/ggml-vulkan/vulkan-shaders/feature-tests"
  mkdir -p "$ft"
  for t in coopmat:GL_KHR_cooperative_matrix coopmat2:GL_NV_cooperative_matrix2 \
           integer_dot:GL_EXT_integer_dot_product bfloat16:GL_EXT_bfloat16; do
    [ -f "$ft/${t%%:*}.comp" ] ||
      printf '#version 460\n#extension %s : require\nvoid main() {}\n' "${t#*:}" > "$ft/${t%%:*}.comp"
  done
  # (2) Newer Vulkan headers: Debian trixie's libvulkan-dev, fetched with a private apt
  # config and state (sources, lists, archives in the cache dir) and unpacked with dpkg -x.
  hdr="$work/vulkan-headers"
  if [ ! -f "$hdr/usr/include/vulkan/vulkan.hpp" ]; then
    apt="$work/apt-trixie"
    mkdir -p "$apt/lists/partial" "$apt/archives/partial" "$apt/etc/preferences.d" "$apt/etc/sources.list.d"
    cat > "$apt/etc/sources.list" <<'EOF'
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main
EOF
    aptopts=(-o "Dir::Etc::SourceList=$apt/etc/sources.list" -o "Dir::Etc::SourceParts=$apt/etc/sources.list.d"
             -o "Dir::Etc::Preferences=$apt/etc/preferences" -o "Dir::Etc::PreferencesParts=$apt/etc/preferences.d"
             -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache::Archives=$apt/archives"
             -o "Dir::Cache::pkgcache=" -o "Dir::Cache::srcpkgcache="
             -o "APT::Architectures=$(dpkg --print-architecture)" -o Acquire::Languages=none -o APT::Sandbox::User=root)
    echo "fetching Debian trixie's Vulkan headers (libvulkan-dev) into $hdr..." >&2
    log=$(mktemp)
    if ! { apt-get "${aptopts[@]}" update -qq &&
           (cd "$apt/archives" && rm -f libvulkan-dev_*.deb && apt-get "${aptopts[@]}" download libvulkan-dev); } >"$log" 2>&1; then
      cat "$log" >&2; rm -f "$log"; exit 1
    fi
    rm -f "$log"
    rm -rf "$hdr.tmp" && dpkg -x "$apt/archives"/libvulkan-dev_*.deb "$hdr.tmp"
    [ -f "$hdr.tmp/usr/include/vulkan/vulkan.hpp" ] || { echo "no vulkan.hpp in trixie's libvulkan-dev" >&2; exit 1; }
    rm -rf "$hdr" && mv "$hdr.tmp" "$hdr"
    rm -rf "$apt/lists" "$apt/archives"  # the headers are all we keep
  fi
  cmake_args+=("-DVulkan_INCLUDE_DIR=$hdr/usr/include")
  ;;
cuda)
  policy="$(apt-cache policy nvidia-cuda-toolkit 2>/dev/null || true)"
  if ! dpkg-query -W -f='${Status}' nvidia-cuda-toolkit 2>/dev/null | grep -q "install ok installed" &&
     ! grep -q 'Candidate: [0-9]' <<<"$policy"; then
    # Reach bookworm's non-free component (same archive host) without touching the existing sources.
    echo "adding Debian's non-free component (for nvidia-cuda-toolkit) in /etc/apt/sources.list.d/cocoon-desktop-non-free.sources" >&2
    $sudo tee /etc/apt/sources.list.d/cocoon-desktop-non-free.sources >/dev/null <<'EOF'
# Added by cocoon-desktop's scripts/build-ollama-gpu.sh cuda: nvidia-cuda-toolkit (CUDA 11.8).
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: non-free
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  fi
  # nvidia-cuda-toolkit depends on the driver's libcuda.so.1 and libnvidia-ml.so.1 (Debian's come
  # with nvidia-support from contrib and GLX diversions of Mesa's libGL/libEGL). Building needs
  # neither: the toolkit links against its own stubs (stubs/libcuda.so), and the users' driver
  # provides libcuda.so.1 at run time. Without a driver package, a file-less local package
  # provides the two names, so the toolkit installs and the machine's GL stays as it is.
  if ! dpkg-query -W -f='${Status}\n' libcuda1 libnvidia-tesla-cuda1 cocoon-desktop-cuda-build-stub 2>/dev/null |
       grep -q "install ok installed"; then
    stub="$work/cuda-build-stub"
    mkdir -p "$stub/pkg/DEBIAN"
    cat > "$stub/pkg/DEBIAN/control" <<'EOF'
Package: cocoon-desktop-cuda-build-stub
Version: 535-1
Architecture: all
Maintainer: Cocoon Desktop <cocoon-desktop@users.noreply.github.com>
Provides: libcuda.so.1 (= 535), libnvidia-ml.so.1 (= 535)
Description: lets nvidia-cuda-toolkit install without the NVIDIA driver (build only)
 Installed by cocoon-desktop's scripts/build-ollama-gpu.sh cuda on machines without
 an NVIDIA driver package: provides the names libcuda.so.1 and libnvidia-ml.so.1 that
 the CUDA toolkit depends on, ships no files. Programs built with the toolkit still
 need a real NVIDIA driver to run.
EOF
    dpkg-deb --root-owner-group --build "$stub/pkg" "$stub/cocoon-desktop-cuda-build-stub.deb" >/dev/null
    echo "installing cocoon-desktop-cuda-build-stub (stands in for the NVIDIA driver's libcuda.so.1 in the toolkit's dependencies)" >&2
    log=$(mktemp)
    if ! apt_get install -y -qq "$stub/cocoon-desktop-cuda-build-stub.deb" >"$log" 2>&1; then
      cat "$log" >&2; rm -f "$log"; exit 1
    fi
    rm -f "$log"
  fi
  ensure_pkgs cmake make g++ g++-11 nvidia-cuda-toolkit
  # nvcc 11.8 rejects bookworm's g++-12 as host compiler. clang-14 is accepted but compiles
  # against g++-12's libstdc++, whose <map> nvcc's front end cannot parse ("expression contains
  # unexpanded parameter pack '_Args'" in stl_map.h); g++-11 brings its own libstdc++ headers.
  # Turing, Ampere and Ada as machine code, plus PTX for newer GPUs (the driver JIT-compiles it).
  cmake_args+=(-DCMAKE_CUDA_COMPILER=/usr/bin/nvcc -DCMAKE_CUDA_HOST_COMPILER=/usr/bin/g++-11
               "-DCMAKE_CUDA_ARCHITECTURES=${CUDA_ARCHITECTURES:-75-real;86-real;89-real;89-virtual}")
  ;;
esac

# --- configure, build the two targets, install in Ollama's layout ------------------------------
build="$work/build-$backend"
log="$work/$backend.log"
echo "building Ollama's $backend backend (preset \"$preset\", -j$JOBS; log: $log)..." >&2
start=$(date +%s)
# Prints nothing for minutes; show that it is alive, with the build's own percentage.
( while sleep 30; do
    pct=$(grep -v 'shaders-gen' "$log" 2>/dev/null | grep -o '^\[ *[0-9]*%\]' | tail -n1 | tr -d '[] ' || true)
    echo "  ...still building the $backend backend ($(( $(date +%s) - start ))s${pct:+, $pct})" >&2
  done ) &
ticker=$!
trap 'kill $ticker 2>/dev/null || true' EXIT
# The install prefix is set at configure time: Ollama's CMakeLists computes its install dir
# (<prefix>/lib/ollama/<runner>) from it then, so `cmake --install --prefix` would not move it.
stage="$work/stage-$backend"
if ! {
  cmake -S "$src" -B "$build" --preset "$preset" "-DCMAKE_INSTALL_PREFIX=$stage" "${cmake_args[@]}" &&
  cmake --build "$build" --target ggml-base "$target" -j "$JOBS" &&
  rm -rf "$stage" &&
  cmake --install "$build" --component "$component" --strip
} >"$log" 2>&1; then
  kill $ticker 2>/dev/null || true
  tail -n 60 "$log" >&2
  echo "building the $backend backend FAILED after $(( $(date +%s) - start ))s (log: $log)" >&2
  exit 1
fi
kill $ticker 2>/dev/null || true

# Ollama's CPU component installs ggml-base (and CPU variants the Go build already has) into
# lib/ollama; install only ggml-base, stripped, as the CPU component would. Every backend build
# brings the same ggml-base; the lock keeps two builds from installing it at once.
exec 8>"$work/install.lock"
flock 8
mkdir -p "$lib/$runner"
rm -f "$lib"/libggml-base.so*
cp -P "$build"/lib/ollama/libggml-base.so* "$lib/"
for f in "$lib"/libggml-base.so*; do [ -L "$f" ] || strip --strip-unneeded "$f"; done
rm -rf "$lib/$runner"
mv "$stage/lib/ollama/$runner" "$lib/$runner"
echo "$want" > "$stamp"
echo "built Ollama's $backend backend in $(( $(date +%s) - start ))s: $(cd "$lib" && ls -d libggml-base.so* "$runner"/* | tr '\n' ' ')" >&2
echo "$lib"
