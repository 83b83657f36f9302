#!/usr/bin/env bash
# Installs the built .deb with apt in a fresh, minimal Debian bookworm
# (debootstrap, needs root and Debian's package mirror) and runs the
# installed binary's doctor there. usage: packaging/check-deb.sh [DEB]
set -euo pipefail
deb="$(realpath "${1:-$(ls dist/cocoon-desktop_*_amd64.deb | tail -1)}")"
command -v debootstrap >/dev/null || { apt-get install -y -qq debootstrap >/dev/null; }
root=$(mktemp -d /tmp/cocoon-deb-check.XXXXXX)
cleanup() { umount "$root/proc" 2>/dev/null || true; rm -rf "$root"; }
trap cleanup EXIT
echo "debootstrap bookworm (minbase) into $root..." >&2
debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian >/dev/null
cp "$deb" "$root/tmp/"
mount --bind /proc "$root/proc"
echo "apt install ./$(basename "$deb")..." >&2
chroot "$root" bash -c "export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && apt-get install -y -qq /tmp/$(basename "$deb")" >/dev/null
echo "doctor of the installed binary:" >&2
chroot "$root" bash -c 'HOME=/root cocoon-desktop doctor --data-dir /tmp/cocoon-check'
