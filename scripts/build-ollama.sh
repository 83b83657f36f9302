#!/usr/bin/env bash
# Builds Ollama from the Go module proxy into the user cache dir (idempotent).
# Prints the path of the binary on its last line. The recipe and why each step
# is needed: docs/design.md, "Building Ollama".
set -euo pipefail
OLLAMA_VERSION="${OLLAMA_VERSION:-0.17.4}"
here="$(cd "$(dirname "$0")" && pwd)"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/cocoon-desktop/ollama-v${OLLAMA_VERSION}"
bin="$cache/bin/ollama"
if [ -x "$bin" ] && "$bin" --version >/dev/null 2>&1; then
  echo "$bin"; exit 0
fi
mkdir -p "$cache/bin"
echo "building Ollama v${OLLAMA_VERSION} from the Go module proxy (about 8 minutes on 2 cores, once)..." >&2
start=$(date +%s)
# The build prints nothing for minutes; show that it is alive.
( while sleep 30; do echo "  ...still compiling Ollama ($(( $(date +%s) - start ))s)" >&2; done ) &
ticker=$!
trap 'kill $ticker 2>/dev/null || true' EXIT
GOBIN="$cache/bin" \
CGO_ENABLED=1 \
CGO_CPPFLAGS="-I$here/ollama-stub -I/usr/include/stb ${CGO_CPPFLAGS:-}" \
  go install -trimpath \
    -ldflags "-s -w -X github.com/ollama/ollama/version.Version=${OLLAMA_VERSION}" \
    "github.com/ollama/ollama@v${OLLAMA_VERSION}" >&2
kill $ticker 2>/dev/null || true
echo "built Ollama in $(( $(date +%s) - start ))s" >&2
"$bin" --version >&2 || true
echo "$bin"
