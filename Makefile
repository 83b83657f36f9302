# Cocoon Desktop. `make run` runs the app, `make test` runs every test;
# both install what they need first (idempotent, cached after the first run).
SHELL := /bin/bash
GO ?= go
BIN := bin/cocoon-desktop
VERSION ?= 0.1.0
LDFLAGS := -s -w -X github.com/cocoon-desktop/cocoon-desktop/internal/cli.Version=$(VERSION)
OLLAMA = $(shell bash scripts/build-ollama.sh)
OLLAMA_WINDOWS = $(shell bash scripts/build-ollama-windows.sh)
# go-nvml's header marks old NVML calls deprecated; cgo would print pages of
# warnings for calls the bindings merely declare. One set of flags for build,
# run and test, so `make run` after `make test` reuses the build cache.
export CGO_CFLAGS ?= -O2 -g -Wno-deprecated-declarations
# -race also turns on checkptr, which third-party unsafe code fails on amd64
# without being wrong there: tonutils-go's TL serializer (pointer arithmetic)
# and bbolt's consistency check (unaligned inline buckets). The race detector
# stays on; only checkptr is off.
RACE_FLAGS := -gcflags=all=-d=checkptr=0
# no_emoji: Fyne without its bundled colour-emoji font. No text of the app
# has an emoji, and Fyne parsed the 4 MB font into the heap once per text
# style for as long as the app ran: without it the idle app holds ~12 MB
# less hidden and ~20 MB less shown (docs/BENCHMARKS.md, idle cost). An
# emoji in outside text (a model's name) falls back to the system's fonts.
export GOTAGS ?= no_emoji

.PHONY: dist-check run test deps ollama build vet doctor screenshot bench bench-escrow crash clean tonsandbox mutants
.PHONY: dist ollama-vulkan ollama-cuda ollama-windows screenshot-windows

deps:
	@bash scripts/install-deps.sh

ollama: deps
	@bash scripts/build-ollama.sh >/dev/null

## ollama-vulkan / ollama-cuda: Ollama's GPU backends from the same source, installed beside the
## cached binary in Ollama's layout (lib/ollama/vulkan, lib/ollama/cuda_v11); cached after the first build
ollama-vulkan: deps
	@bash scripts/build-ollama-gpu.sh vulkan >/dev/null

ollama-cuda: deps
	@bash scripts/build-ollama-gpu.sh cuda >/dev/null

## ollama-windows: Ollama for Windows (CPU backend) cross-built with mingw-w64, bundled by the
## installer; cached in ~/.cache/cocoon-desktop/ollama-v0.17.4-windows after the first build
ollama-windows: deps
	@bash scripts/build-ollama-windows.sh >/dev/null

build: deps
	$(GO) build -tags "$(GOTAGS)" -ldflags "$(LDFLAGS)" -o $(BIN) .

## run: the app on this machine (local network, managed Ollama, built-in tiny model)
run: ollama build
	COCOON_OLLAMA="$(OLLAMA)" ./$(BIN) $(ARGS)

doctor: ollama build
	COCOON_OLLAMA="$(OLLAMA)" ./$(BIN) doctor $(ARGS)

vet: deps
	$(GO) vet -tags "$(GOTAGS)" ./...

## test: vet + every test with the race detector, against a real Ollama (with its Vulkan backend on a
## software Vulkan device when there is no GPU), a real OCI registry and the real TON wallet contract
## (COCOON_REQUIRE_ALL=1: a test missing a tool fails, naming it, instead of skipping; docs/TESTING.md)
test: ollama ollama-vulkan ollama-windows vet tonsandbox
	COCOON_OLLAMA="$(OLLAMA)" COCOON_OLLAMA_WINDOWS="$(OLLAMA_WINDOWS)" COCOON_REQUIRE_ALL=1 COCOON_REQUIRE_TON_SANDBOX=1 COCOON_REQUIRE_VULKAN=1 COCOON_REQUIRE_WINE=1 $(GO) test -tags "$(GOTAGS)" -race $(RACE_FLAGS) -count=1 -timeout 30m ./...

## mutants: the mutation check (not part of test): each scripts/mutants/*.mutant, a small breaking
## change, applied alone to a scratch copy; its tests must fail ("killed"); a mutant that passes them
## "SURVIVED" and the target fails; see docs/TESTING.md. `make mutants ARGS="bill-zero"` runs one
mutants: ollama tonsandbox
	COCOON_OLLAMA="$(OLLAMA)" bash scripts/mutants.sh $(ARGS)

# tonsandbox: the npm packages of the TON sandbox (@ton/sandbox, pinned by its lock file)
tonsandbox: deps
	@bash internal/tonsandbox/install.sh

## screenshot: the real window under Xvfb into docs/screenshots/
screenshot: ollama build
	COCOON_OLLAMA="$(OLLAMA)" bash scripts/screenshot.sh ./$(BIN) docs/screenshots
	COCOON_OLLAMA="$(OLLAMA)" bash scripts/screenshot-demo-gpu.sh ./$(BIN) docs/screenshots
	COCOON_OLLAMA="$(OLLAMA)" bash scripts/screenshot-damaged-ledger.sh ./$(BIN) docs/screenshots
	COCOON_OLLAMA="$(OLLAMA)" GO="$(GO)" bash scripts/screenshot-standing.sh ./$(BIN) docs/screenshots
	GO="$(GO)" bash scripts/screenshot-layout.sh docs/screenshots
	COCOON_OLLAMA="$(OLLAMA)" GO="$(GO)" bash scripts/screenshot-join.sh ./$(BIN) docs/screenshots
	COCOON_OLLAMA="$(OLLAMA)" bash scripts/screenshot-wizard.sh ./$(BIN) docs/screenshots
	COCOON_OLLAMA="$(OLLAMA)" GO="$(GO)" bash scripts/screenshot-tray.sh ./$(BIN) docs/screenshots

## screenshot-windows: the Windows app (cross-built) with the bundled Windows Ollama under Wine +
## Xvfb into docs/screenshots/windows-*.png, checking what Wine can show (scripts/screenshot-windows.sh)
screenshot-windows: ollama-windows
	CGO_ENABLED=1 CC=x86_64-w64-mingw32-gcc GOOS=windows GOARCH=amd64 $(GO) build -tags "$(GOTAGS)" -trimpath -ldflags "$(LDFLAGS) -H windowsgui" -o bin/cocoon-desktop.exe .
	bash scripts/screenshot-windows.sh bin/cocoon-desktop.exe "$(OLLAMA_WINDOWS)" docs/screenshots

## bench: benchmarks; prints figures and updates docs/BENCHMARKS.md
bench: ollama ollama-windows build
	COCOON_OLLAMA="$(OLLAMA)" bash scripts/bench.sh ./$(BIN)
	COCOON_OLLAMA="$(OLLAMA)" bash scripts/bench-windows.sh "$(OLLAMA_WINDOWS)"

## bench-escrow: only the escrow's gas per claim (part of bench), into docs/BENCHMARKS.md
bench-escrow: tonsandbox
	GO="$(GO)" bash scripts/bench-escrow.sh

## crash: the crash-safety harness at full size (internal/crashtest): proxy and two headless workers as
## processes under load, 20 worker / 20 proxy / 10 Ollama SIGKILLs; prints the figures, puts them in
## docs/BENCHMARKS.md after a clean run, exits 1 on any disagreement (about 3-4 minutes on 2 cores)
crash: ollama
	COCOON_OLLAMA="$(OLLAMA)" $(GO) run ./cmd/cocoon-crash -update docs/BENCHMARKS.md $(ARGS)

## dist: release artifacts into dist/ (Linux tar.gz + .deb with the bundled Ollama and its Vulkan
## backend, Windows .exe and its NSIS installer with the bundled Windows Ollama when mingw-w64 is
## installed, SHA256SUMS); `make dist CUDA=1` also
## builds and bundles the CUDA 11 backend (long the first time); see packaging/dist.sh
CUDA ?= 0
dist: ollama ollama-vulkan ollama-windows $(if $(filter 1,$(CUDA)),ollama-cuda)
	VERSION="$(VERSION)" GO="$(GO)" CUDA="$(CUDA)" bash packaging/dist.sh

clean:
	rm -rf bin dist

## dist-check: apt-install the .deb in a fresh Debian (debootstrap; root) and run its doctor
dist-check: dist
	bash packaging/check-deb.sh
