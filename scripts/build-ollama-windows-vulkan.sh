#!/usr/bin/env bash
# EXPERIMENT (not in make dist; docs/packaging.md says how it went): cross-builds Ollama's
# Vulkan backend for Windows with mingw-w64 from the same source scripts/build-ollama-gpu.sh
# prepares, into <cache>/ollama-v0.17.4-windows/lib/ollama/{ggml-base.dll,vulkan/ggml-vulkan.dll}
# (Ollama on Windows loads backends from <dir of ollama.exe>/lib/ollama).
#   - the Vulkan loader's import library (vulkan-1.dll) is made with dlltool from a .def
#     listing the loader's exported vk* functions (read from the Vulkan headers);
#   - a CMake toolchain file for the mingw-w64 posix compilers; ggml builds its shader
#     generator for the host itself when cross-compiling;
#   - libgcc, libstdc++ and winpthread linked statically, so the DLLs need nothing but
#     Windows' own DLLs and the GPU driver's vulkan-1.dll.
# Idempotent (stamp file); progress on stderr; prints the lib/ollama dir on its last line.
set -euo pipefail
OLLAMA_VERSION="${OLLAMA_VERSION:-0.17.4}"
JOBS="${JOBS:-2}"
RECIPE=2
here="$(cd "$(dirname "$0")" && pwd)"
base="${XDG_CACHE_HOME:-$HOME/.cache}/cocoon-desktop"
cache="$base/ollama-v${OLLAMA_VERSION}-windows"
lib="$cache/lib/ollama"
work="$cache/vulkan-build"
stamp="$work/done"
want="ollama=$OLLAMA_VERSION recipe=$RECIPE backend=vulkan goos=windows"
built() { [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -f "$lib/vulkan/ggml-vulkan.dll" ]; }
if built; then echo "$lib"; exit 0; fi
mkdir -p "$work"
exec 9>"$work/lock"
flock 9
if built; then echo "$lib"; exit 0; fi

# The Linux Vulkan build prepares the source copy (with the feature-test shaders) and the newer
# Vulkan headers; reuse both (a no-op when it is cached).
OLLAMA_VERSION="$OLLAMA_VERSION" bash "$here/build-ollama-gpu.sh" vulkan >/dev/null
gpu="$base/ollama-v${OLLAMA_VERSION}/gpu-build"
hdr="$gpu/vulkan-headers/usr/include"
# A copy of its own: Ollama's CMakeLists asks for install(RUNTIME_DEPENDENCIES), which CMake
# refuses when cross-compiling (only `cmake --install` uses it; the DLLs are copied by hand).
src="$work/src"
if [ ! -f "$src/.copied" ]; then
  rm -rf "$src"; cp -r "$gpu/src-v$OLLAMA_VERSION" "$src"; chmod -R u+w "$src"
  sed -i -E '/^[[:space:]]*RUNTIME_DEPENDENCIES[[:space:]]*$/d; /^[[:space:]]*PRE_(IN|EX)CLUDE_REGEXES/d' "$src/CMakeLists.txt"
  touch "$src/.copied"
fi
[ -f "$hdr/vulkan/vulkan_core.h" ] || { echo "no Vulkan headers at $hdr" >&2; exit 1; }

# The loader's import library: every core vk* function the headers declare.
{
  echo "LIBRARY vulkan-1.dll"
  echo "EXPORTS"
  grep -ohE 'VKAPI_ATTR [^;(]*VKAPI_CALL vk[A-Za-z0-9]+' "$hdr/vulkan/vulkan_core.h" "$hdr/vulkan/vulkan_win32.h" |
    sed -E 's/.* (vk[A-Za-z0-9]+)$/    \1/' | sort -u
} > "$work/vulkan-1.def"
x86_64-w64-mingw32-dlltool -d "$work/vulkan-1.def" -D vulkan-1.dll -l "$work/libvulkan-1.a"

cat > "$work/mingw.cmake" <<'EOF'
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(CMAKE_C_COMPILER x86_64-w64-mingw32-gcc-posix)
set(CMAKE_CXX_COMPILER x86_64-w64-mingw32-g++-posix)
set(CMAKE_RC_COMPILER x86_64-w64-mingw32-windres)
set(CMAKE_FIND_ROOT_PATH /usr/x86_64-w64-mingw32)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
EOF

# ggml builds its shader generator with the host compilers; the module zip lacks its own
# host-toolchain.cmake.in, so the host toolchain is given.
printf 'set(CMAKE_C_COMPILER gcc)\nset(CMAKE_CXX_COMPILER g++)\n' > "$work/host.cmake"

build="$work/build"
stage="$work/stage"
log="$work/build.log"
echo "cross-building Ollama's Vulkan backend for Windows (-j$JOBS; log: $log)..." >&2
start=$(date +%s)
( while sleep 30; do
    pct=$(grep -v 'shaders-gen' "$log" 2>/dev/null | grep -o '^\[ *[0-9]*%\]' | tail -n1 | tr -d '[] ' || true)
    echo "  ...still building the Windows Vulkan backend ($(( $(date +%s) - start ))s${pct:+, $pct})" >&2
  done ) &
ticker=$!
trap 'kill $ticker 2>/dev/null || true' EXIT
# ggml-vulkan is a MODULE library, ggml-base a SHARED one: both flag sets.
# --exclude-libs: a DLL must not re-export the static runtimes (ggml-vulkan would then see
# _Unwind_Resume twice, from libgcc and from ggml-base's exports).
static="-static-libgcc -static-libstdc++ -Wl,--exclude-libs,libgcc.a:libgcc_eh.a:libstdc++.a:libwinpthread.a -Wl,-Bstatic -lwinpthread -Wl,-Bdynamic"
if ! {
  cmake -S "$src" -B "$build" --preset Vulkan "-DCMAKE_TOOLCHAIN_FILE=$work/mingw.cmake" \
    "-DCMAKE_INSTALL_PREFIX=$stage" "-DVulkan_INCLUDE_DIR=$hdr" "-DVulkan_LIBRARY=$work/libvulkan-1.a" \
    -DVulkan_GLSLC_EXECUTABLE=/usr/bin/glslc -DGGML_NATIVE=OFF "-DGGML_VULKAN_SHADERS_GEN_TOOLCHAIN=$work/host.cmake" \
    "-DCMAKE_SHARED_LINKER_FLAGS=$static" "-DCMAKE_MODULE_LINKER_FLAGS=$static" &&
  cmake --build "$build" --target ggml-base ggml-vulkan -j "$JOBS"
} >"$log" 2>&1; then
  kill $ticker 2>/dev/null || true
  tail -n 40 "$log" >&2
  echo "the Windows Vulkan backend FAILED after $(( $(date +%s) - start ))s (log: $log)" >&2
  exit 1
fi
kill $ticker 2>/dev/null || true
mkdir -p "$lib/vulkan"
# mingw names them lib*.dll. ggml looks for backends named ggml-<name>*.dll on Windows, and
# the Vulkan DLL imports libggml-base.dll by that name.
install -m 0644 "$build/lib/ollama/libggml-base.dll" "$lib/libggml-base.dll"
install -m 0644 "$build/lib/ollama/libggml-vulkan.dll" "$lib/vulkan/ggml-vulkan.dll"
x86_64-w64-mingw32-strip "$lib/libggml-base.dll" "$lib/vulkan/ggml-vulkan.dll"
# libstdc++ pulls in winpthread as a DLL despite -Bstatic: ship it beside the backend (Ollama puts
# lib/ollama/vulkan on the runner's PATH).
install -m 0644 /usr/x86_64-w64-mingw32/lib/libwinpthread-1.dll "$lib/vulkan/"
echo "imports of ggml-vulkan.dll: $(x86_64-w64-mingw32-objdump -p "$lib/vulkan/ggml-vulkan.dll" | sed -n 's/.*DLL Name: //p' | tr '\n' ' ')" >&2
echo "$want" > "$stamp"
echo "built the Windows Vulkan backend in $(( $(date +%s) - start ))s: $(du -sh "$lib" | cut -f1)" >&2
echo "$lib"
