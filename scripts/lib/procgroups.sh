# Sourced by the screenshot scripts that start real processes (the app, a
# proxy): each runs in a process group of its own (setsid; the caller
# appends its pid to groups), so that cleanup ends it with its children
# (Ollama's runners, the managed Ollama); the last started is ended first
# (the app before its proxy). Expects $work, a scratch dir removed at exit.
groups=()
cleanup() {
  local i
  for (( i = ${#groups[@]} - 1; i >= 0; i-- )); do
    kill -TERM -- "-${groups[i]}" 2>/dev/null || true
    wait "${groups[i]}" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
# freeaddr prints a free loopback address.
freeaddr() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print("127.0.0.1:%d" % s.getsockname()[1])'; }
