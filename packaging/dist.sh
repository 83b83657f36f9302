#!/usr/bin/env bash
# Builds the release artifacts into dist/ (run by `make dist`; VERSION from the Makefile).
#   dist/cocoon-desktop-<v>-linux-amd64.tar.gz   app + bundled Ollama (with its GPU backends in
#                                                Ollama's layout) + .desktop + icon + README
#   dist/cocoon-desktop_<v>_amd64.deb            the same, installed under /usr (nfpm)
#   dist/cocoon-desktop-<v>-windows-amd64.exe    when mingw-w64 is installed (else skipped, said why)
#   dist/cocoon-desktop-<v>-setup.exe            the Windows installer (NSIS): the .exe + bundled
#                                                Windows Ollama (packaging/windows/installer.nsi)
#   dist/SHA256SUMS
# Environment: CUDA=1 also builds and bundles Ollama's CUDA 11 backend (long; see
# scripts/build-ollama-gpu.sh); the Vulkan backend is always bundled. DIST_DIR (default dist)
# is where the artifacts go; WINDOWS=0 skips the Windows .exe; APP_BINARY packs that file as
# the app instead of building it; GZIP_LEVEL (default 9) for the tarball (the packaging test
# uses these four to take seconds, not minutes).
# Tools come from the Go module proxy at pinned versions (go run pkg@version), so the
# project's go.mod does not grow: nfpm for the .deb, go-winres for the .exe's icon/version.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION="${VERSION:?set VERSION}"
GO="${GO:-go}"
GOTAGS="${GOTAGS-no_emoji}" # as `make build` (Makefile: no_emoji)
NFPM="github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2"
WINRES="github.com/tc-hib/go-winres@v0.3.3"
MODULE="github.com/cocoon-desktop/cocoon-desktop"
LDFLAGS="-s -w -X $MODULE/internal/cli.Version=$VERSION"
OLLAMA_VERSION="${OLLAMA_VERSION:-0.17.4}"
# Reproducible timestamps (tar, gzip, deb): the last commit's time unless given.
SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}"
export SOURCE_DATE_EPOCH

dist="${DIST_DIR:-dist}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$dist"
rm -f "$dist"/cocoon-desktop[-_]"$VERSION"* "$dist/SHA256SUMS"

# --- Linux: the app, built like `make build` but into the staging dir -----------------
stage="$work/cocoon-desktop-$VERSION-linux-amd64"
mkdir -p "$stage/share/applications" "$stage/share/icons/hicolor/256x256/apps" "$stage/share/cocoon-desktop"
if [ -n "${APP_BINARY:-}" ]; then
  # The packaging test packs a stand-in app: what it checks is the bundled Ollama and its backends.
  echo "dist: using the prebuilt app $APP_BINARY (APP_BINARY)" >&2
  install -m 0755 "$APP_BINARY" "$stage/cocoon-desktop"
else
  echo "dist: building cocoon-desktop $VERSION (linux/amd64)" >&2
  CGO_ENABLED=1 GOOS=linux GOARCH=amd64 "$GO" build -tags "$GOTAGS" -trimpath -ldflags "$LDFLAGS" -o "$stage/cocoon-desktop" .
fi

# The bundled Ollama: the project's own build (scripts/build-ollama.sh, cached in the
# user cache dir), in Ollama's own layout, bin/ollama + lib/ollama/<backend>/, because Ollama
# finds its GPU backends at <dir of its resolved executable>/../lib/ollama. The `ollama` next to
# the app, where runtime.FindBinary looks after $COCOON_OLLAMA, is a relative symlink to bin/ollama
# (Ollama resolves it, so lib/ollama is still found).
ollama="$(OLLAMA_VERSION="$OLLAMA_VERSION" bash scripts/build-ollama.sh | tail -n1)"
[ -x "$ollama" ] || { echo "dist: no Ollama build at $ollama" >&2; exit 1; }
mkdir -p "$stage/bin" "$stage/lib/ollama"
install -m 0755 "$ollama" "$stage/bin/ollama"
ln -s bin/ollama "$stage/ollama"

# GPU backends (scripts/build-ollama-gpu.sh, cached): Vulkan always, CUDA 11 with CUDA=1.
backends=(vulkan)
if [ "${CUDA:-0}" = "1" ]; then backends+=(cuda); fi
bundled=()
for b in "${backends[@]}"; do
  echo "dist: Ollama's $b backend (scripts/build-ollama-gpu.sh $b; cached after the first build)" >&2
  libdir="$(OLLAMA_VERSION="$OLLAMA_VERSION" bash scripts/build-ollama-gpu.sh "$b" | tail -n1)"
  case "$b" in vulkan) sub=vulkan ;; cuda) sub=cuda_v11 ;; esac
  [ -d "$libdir/$sub" ] || { echo "dist: no $b backend in $libdir/$sub" >&2; exit 1; }
  cp -P "$libdir"/libggml-base.so* "$stage/lib/ollama/"
  cp -RP "$libdir/$sub" "$stage/lib/ollama/"
  bundled+=("$b (lib/ollama/$sub: $(du -sh "$stage/lib/ollama/$sub" | cut -f1))")
done
chmod -R u+rwX,go+rX,go-w "$stage/bin" "$stage/lib"
echo "dist: GPU backends bundled: ${bundled[*]}" >&2
if [ "${CUDA:-0}" != "1" ]; then
  echo "dist: GPU backends not built: cuda (make dist CUDA=1 builds and bundles it)" >&2
fi

install -m 0644 packaging/linux/cocoon-desktop.desktop "$stage/share/applications/"
install -m 0644 assets/icon.png "$stage/share/icons/hicolor/256x256/apps/cocoon-desktop.png"
install -m 0644 packaging/linux/cocoon-desktop-autostart.desktop "$stage/share/cocoon-desktop/"
sed -e "s/@VERSION@/$VERSION/g" -e "s/@OLLAMA_VERSION@/$OLLAMA_VERSION/g" \
  packaging/linux/README.txt > "$stage/README.txt"
chmod 0644 "$stage/README.txt"

tarball="$dist/cocoon-desktop-$VERSION-linux-amd64.tar.gz"
tar -C "$work" --sort=name --owner=0 --group=0 --numeric-owner \
    --mtime="@$SOURCE_DATE_EPOCH" --mode='u+rwX,go+rX,go-w' \
    -cf - "$(basename "$stage")" | gzip -n -"${GZIP_LEVEL:-9}" > "$tarball"
echo "dist: $tarball" >&2

# --- Debian package (nfpm) ------------------------------------------------------------
deb="$dist/cocoon-desktop_${VERSION}_amd64.deb"
VERSION="$VERSION" STAGE="$stage" "$GO" run "$NFPM" package \
  --config packaging/nfpm.yaml --packager deb --target "$deb" >&2
echo "dist: $deb" >&2

# --- Windows (needs the mingw-w64 C cross compiler for Fyne's cgo) ----------------------
if [ "${WINDOWS:-}" = "0" ]; then
  echo "dist: skipped the Windows .exe (WINDOWS=0)" >&2
elif command -v x86_64-w64-mingw32-gcc >/dev/null 2>&1; then
  exe="$dist/cocoon-desktop-$VERSION-windows-amd64.exe"
  echo "dist: building cocoon-desktop $VERSION (windows/amd64, mingw-w64)" >&2
  # -H windowsgui: no console window at login; CLI subcommands print only when redirected.
  CGO_ENABLED=1 CC=x86_64-w64-mingw32-gcc GOOS=windows GOARCH=amd64 \
    "$GO" build -tags "$GOTAGS" -trimpath -ldflags "$LDFLAGS -H windowsgui" -o "$work/cocoon-desktop.exe" .
  # Icon, manifest and version info patched into the PE (no .syso left in the source tree).
  winver="$(printf '%s' "$VERSION" | sed -E 's/[^0-9.].*$//').0"
  "$GO" run "$WINRES" patch --in packaging/windows/winres.json --no-backup \
    --product-version "$winver" --file-version "$winver" "$work/cocoon-desktop.exe" >&2
  install -m 0755 "$work/cocoon-desktop.exe" "$exe"
  echo "dist: $exe (the app alone; the installer below bundles Ollama)" >&2
  # The installer: the app + the project's Windows Ollama build (CPU backend; cached,
  # scripts/build-ollama-windows.sh), per user, with an uninstaller (packaging/windows).
  if command -v makensis >/dev/null 2>&1; then
    winollama="$(OLLAMA_VERSION="$OLLAMA_VERSION" bash scripts/build-ollama-windows.sh | tail -n1)"
    bash packaging/windows/build-installer.sh "$VERSION" "$work/cocoon-desktop.exe" "$winollama" \
      "$dist/cocoon-desktop-$VERSION-setup.exe"
  else
    echo "dist: SKIPPED the Windows installer: makensis is not installed (apt-get install nsis;" >&2
    echo "      make dist installs it through scripts/install-deps.sh)." >&2
  fi
else
  echo "dist: SKIPPED the Windows .exe: Fyne needs cgo, and cross-compiling it needs the mingw-w64" >&2
  echo "      C compiler (x86_64-w64-mingw32-gcc), which is not installed." >&2
  echo "      apt-get install gcc-mingw-w64-x86-64, then run make dist again." >&2
fi

# --- Checksums --------------------------------------------------------------------------
( cd "$dist" && sha256sum cocoon-desktop[-_]"$VERSION"* > SHA256SUMS )
echo "dist: $dist/SHA256SUMS" >&2
ls -l "$dist" >&2
