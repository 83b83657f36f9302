#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages Cocoon Desktop needs to build, run and
# test. Idempotent: it only calls apt-get when something is missing.
set -euo pipefail
pkgs=(
  gcc g++ pkg-config make git ca-certificates
  # Fyne (cgo, OpenGL, X11)
  libgl1-mesa-dev libx11-dev libxcursor-dev libxrandr-dev libxinerama-dev libxi-dev libxxf86vm-dev
  # Ollama's llama.cpp headers that the Go module zip leaves out
  nlohmann-json3-dev libstb-dev
  # the Windows build of the app, cross-compiled in the tests; its installer (NSIS) and the
  # listing of it (7z); Wine runs both in the Windows tests
  gcc-mingw-w64-x86-64 nsis p7zip-full wine64
  # real-window tests and screenshots
  xvfb xauth x11-utils xdotool imagemagick dbus dbus-x11
  # a StatusNotifierWatcher (status-notifier-watcher) for the DBus tray test
  haskell-status-notifier-item-utils
  # a software Vulkan device (lavapipe) for the Vulkan backend test without a GPU
  mesa-vulkan-drivers
)
# Node.js runs the real TON wallet contract (@ton/sandbox) in the payout tests.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  pkgs+=(nodejs npm)
fi
missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "installing Debian packages: ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
if ! { $sudo apt-get update -qq && $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
  cat "$log" >&2; rm -f "$log"; exit 1
fi
rm -f "$log"
