# Cocoon Desktop. `make run` runs the app, `make test` runs every test;
# both install what they need first (idempotent, cached after the first run).
SHELL := /bin/bash
GO ?= go
BIN := bin/cocoon-desktop
VERSION ?= 0.1.0
LDFLAGS := -s -w -X github.com/cocoon-desktop/cocoon-desktop/internal/cli.Version=$(VERSION)
OLLAMA = $(shell bash scripts/build-ollama.sh)
# go-nvml's header marks old NVML calls deprecated; cgo would print pages of
# warnings for calls the bindings merely declare. One set of flags for build,
# run and test, so `make run` after `make test` reuses the build cache.
export CGO_CFLAGS ?= -O2 -g -Wno-deprecated-declarations

.PHONY: dist-check run test deps ollama build vet doctor screenshot bench clean tonsandbox
.PHONY: dist

deps:
	@bash scripts/install-deps.sh

ollama: deps
	@bash scripts/build-ollama.sh >/dev/null

build: deps
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) .

## run: the app on this machine (local network, managed Ollama, built-in tiny model)
run: ollama build
	COCOON_OLLAMA="$(OLLAMA)" ./$(BIN) $(ARGS)

doctor: ollama build
	COCOON_OLLAMA="$(OLLAMA)" ./$(BIN) doctor $(ARGS)

vet: deps
	$(GO) vet ./...

## test: vet + every test with the race detector, against a real Ollama, a real OCI registry and the real TON wallet contract
test: ollama vet tonsandbox
	COCOON_OLLAMA="$(OLLAMA)" COCOON_REQUIRE_TON_SANDBOX=1 $(GO) test -race -count=1 -timeout 30m ./...

# tonsandbox: the npm packages of the TON sandbox (@ton/sandbox, pinned by its lock file)
tonsandbox: deps
	@bash internal/tonsandbox/install.sh

## screenshot: the real window under Xvfb into docs/screenshots/
screenshot: ollama build
	COCOON_OLLAMA="$(OLLAMA)" bash scripts/screenshot.sh ./$(BIN) docs/screenshots

## bench: benchmarks; prints figures and updates docs/BENCHMARKS.md
bench: ollama build
	COCOON_OLLAMA="$(OLLAMA)" bash scripts/bench.sh ./$(BIN)

## dist: release artifacts into dist/ (Linux tar.gz + .deb with the bundled Ollama, Windows .exe
## when mingw-w64 is installed, SHA256SUMS); see packaging/dist.sh
dist: ollama
	VERSION="$(VERSION)" GO="$(GO)" bash packaging/dist.sh

clean:
	rm -rf bin dist

## dist-check: apt-install the .deb in a fresh Debian (debootstrap; root) and run its doctor
dist-check: dist
	bash packaging/check-deb.sh
