#!/usr/bin/env bash
# Builds the Windows installer cocoon-desktop-<v>-setup.exe with NSIS (makensis) from
# packaging/windows/installer.nsi; run by packaging/dist.sh and by packaging's test.
#   usage: build-installer.sh VERSION APP_EXE OLLAMA_EXE OUT_SETUP_EXE
# The icon is made from assets/icon.png at build time (packaging/windows/mkico).
# Prints the installer's size and contents (7z l, when 7z is installed) on stderr.
set -euo pipefail
[ $# -eq 4 ] || { echo "usage: $0 VERSION APP_EXE OLLAMA_EXE OUT_SETUP_EXE" >&2; exit 2; }
abs() { (cd "$(dirname "$1")" && echo "$PWD/$(basename "$1")"); }
mkdir -p "$(dirname "$4")"
version="$1" app="$(abs "$2")" ollama="$(abs "$3")" out="$(abs "$4")"
cd "$(dirname "$0")/../.."
GO="${GO:-go}"
command -v makensis >/dev/null 2>&1 || {
  echo "build-installer: makensis not installed (apt-get install nsis; scripts/install-deps.sh does)" >&2; exit 1; }
for f in "$app" "$ollama"; do [ -s "$f" ] || { echo "build-installer: no file $f" >&2; exit 1; }; done
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$GO" run ./packaging/windows/mkico assets/icon.png "$work/cocoon-desktop.ico"
# VIProductVersion wants four numbers: 0.1.0-rc1 -> 0.1.0.0.
vi="$(printf '%s' "$version" | sed -E 's/[^0-9.].*$//').0"
makensis -V2 -NOCD \
  -DVERSION="$version" -DVIVERSION="$vi" \
  -DAPPEXE="$app" -DOLLAMAEXE="$ollama" \
  -DICON="$work/cocoon-desktop.ico" -DOUTFILE="$out" \
  packaging/windows/installer.nsi >&2
echo "build-installer: $out ($(du -h "$out" | cut -f1))" >&2
if command -v 7z >/dev/null 2>&1; then
  7z l "$out" | sed -n '/^---/,/^---/p' | sed 's/^/  /' >&2
fi
