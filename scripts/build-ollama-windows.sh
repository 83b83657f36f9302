#!/usr/bin/env bash
# Cross-builds Ollama for Windows (amd64) from the same Go module as scripts/build-ollama.sh,
# with mingw-w64's posix-threads compilers, into the user cache dir (idempotent):
#
#   <cache>/ollama-v0.17.4-windows/bin/ollama.exe     (CPU backend, compiled in via cgo)
#   <cache>/ollama-v0.17.4-windows/done               stamp: what was built, by which recipe
#
# Prints the path of ollama.exe on its last line; progress goes to stderr. Installs the Debian
# packages it needs (root, or sudo): g++-mingw-w64-x86-64-posix (llama.cpp needs std::thread,
# which the win32-threads flavour lacks), nlohmann-json3-dev, libstb-dev.
# Why each step: docs/packaging.md, "Ollama for Windows".
set -euo pipefail
OLLAMA_VERSION="${OLLAMA_VERSION:-0.17.4}"
# Bump when the recipe below changes, so cached builds of the old recipe are rebuilt.
RECIPE=1
here="$(cd "$(dirname "$0")" && pwd)"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/cocoon-desktop/ollama-v${OLLAMA_VERSION}-windows"
bin="$cache/bin/ollama.exe"
stamp="$cache/done"
want="ollama=$OLLAMA_VERSION recipe=$RECIPE goos=windows goarch=amd64 backend=cpu"

built() { [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -s "$bin" ]; }
# The cached case: no apt, no go; two file tests.
if built; then echo "$bin"; exit 0; fi

mkdir -p "$cache"
# One build at a time (make test and make dist may run together).
exec 9>"$cache/lock"
flock 9
if built; then echo "$bin"; exit 0; fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
missing=()
for p in g++-mingw-w64-x86-64-posix gcc-mingw-w64-x86-64-posix nlohmann-json3-dev libstb-dev; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}" >&2
  log=$(mktemp)
  if ! { $sudo apt-get -o DPkg::Lock::Timeout=600 update -qq &&
         DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
           --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
    cat "$log" >&2; rm -f "$log"; exit 1
  fi
  rm -f "$log"
fi

# The cross compiler must not see all of /usr/include (glibc's headers would shadow mingw's):
# a small include dir holds only links to the two header-only libraries the module zip leaves
# out, and the miniaudio stand-in.
inc="$cache/include"
rm -rf "$inc"; mkdir -p "$inc"
ln -s /usr/include/nlohmann "$inc/nlohmann"
ln -s /usr/include/stb "$inc/stb"
ln -s "$here/ollama-stub/miniaudio" "$inc/miniaudio"

echo "cross-building Ollama v${OLLAMA_VERSION} for Windows (mingw-w64 posix; about 9 minutes on 2 cores, once)..." >&2
start=$(date +%s)
# The build prints nothing for minutes; show that it is alive.
( while sleep 30; do echo "  ...still compiling Ollama for Windows ($(( $(date +%s) - start ))s)" >&2; done ) &
ticker=$!
trap 'kill $ticker 2>/dev/null || true' EXIT
# `go install` refuses GOBIN for a cross build; with its own GOPATH (the module cache kept
# where it is) it installs into <GOPATH>/bin/windows_amd64/.
gopath="$cache/gopath"
modcache="$(go env GOMODCACHE)"
GOPATH="$gopath" GOMODCACHE="$modcache" \
GOOS=windows GOARCH=amd64 CGO_ENABLED=1 \
CC=x86_64-w64-mingw32-gcc-posix CXX=x86_64-w64-mingw32-g++-posix \
CGO_CPPFLAGS="-I$inc -I$inc/stb ${CGO_CPPFLAGS:-}" \
  go install -trimpath \
    -ldflags "-s -w -X github.com/ollama/ollama/version.Version=${OLLAMA_VERSION}" \
    "github.com/ollama/ollama@v${OLLAMA_VERSION}" >&2
kill $ticker 2>/dev/null || true
mkdir -p "$cache/bin"
install -m 0755 "$gopath/bin/windows_amd64/ollama.exe" "$bin"
rm -rf "$gopath"
echo "$want" > "$stamp"
echo "built Ollama for Windows in $(( $(date +%s) - start ))s: $bin ($(du -h "$bin" | cut -f1))" >&2
echo "$bin"
