# The two commands a new user needs: `make run` and `make test`.
SHELL   := bash
.SHELLFLAGS := -eu -o pipefail -c
GO      ?= go
BIN     := bin
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
PORT    ?= 8080
AZURITE_PORT ?= 10000
export TRE_DATA_DIR ?= .tre

.PHONY: build run test test-deps test-integration stress lint vet clean ui ui-if-node bench fuzz

## ui: the web UI (ui/, TypeScript) built into internal/webui/dist/app, which the handler embeds (Node.js 20.19+, npm)
ui:
	scripts/ui.sh build

# ui-if-node builds the UI when Node.js is here, and says how to get it when not.
ui-if-node:
	@scripts/ui.sh --if-node build

## build: the handler binary (bin/tre-handler), static, no cgo; it embeds the UI as last built (make ui)
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/tre-handler ./handlers

## run: build the UI (when Node.js is present) and the handler, and start them locally on the embedded store, with Azurite as the airlock's storage when Node.js is present (Ctrl-C stops both)
run: ui-if-node
	@$(MAKE) --no-print-directory build
	@echo ""
	@echo "  TRE portal and API on http://127.0.0.1:$(PORT) (data in $(TRE_DATA_DIR)/, dev token issuer)"
	@echo "  Open http://127.0.0.1:$(PORT)/ in a browser and use the dev sign-in."
	@echo ""
	@echo "  Or get a token (in another terminal, from this directory):"
	@echo "    TOKEN=\$$($(BIN)/tre-handler token --roles TREAdmin --user alice)"
	@echo "  Then, for example:"
	@echo "    curl -s http://127.0.0.1:$(PORT)/api/health"
	@echo "    curl -s -H \"Authorization: Bearer \$$TOKEN\" http://127.0.0.1:$(PORT)/api/workspace-templates"
	@echo ""
	PORT=$(PORT) AZURITE_PORT=$(AZURITE_PORT) BIN=$(BIN) GO=$(GO) exec scripts/run-local.sh

# The slow suites: the adapters against local protocol servers from npm,
# Azurite (the airlock's storage), the packaging of the deployables, the
# end-to-end walk on the Azure adapters, the web UI in headless Chromium.
# `make test` skips them (one line each says so).
INTEGRATION_PKGS := ./internal/nodetest/... ./internal/cosmos/... ./internal/servicebus/... ./internal/azblobstore/... ./internal/packaging/... ./handlers/
# The packages whose tests involve timing: make stress runs them under load.
STRESS_PKGS := ./internal/processor/ ./internal/faulttest/ ./internal/localrunner/ ./internal/porter/ ./internal/sqlite/ ./internal/lifecycle/ ./internal/firewall/ ./internal/lock/ ./internal/egress/ ./internal/funchost/
STRESS_COUNT ?= 20
TOOL := $(GO) tool -modfile=tools/go.mod

## test: gofmt, vet, the fast tests (a summary line per package; skipped suites say why) and the UI's unit tests (with Node.js)
# -vet=off: make vet ran every analyser just before; go test's own vet pass
# would run part of them again (45 s of a fresh clone's 7 minutes).
test: vet
	$(GO) test -count=1 -vet=off -json ./... | $(GO) run ./internal/testsum
	@scripts/ui.sh test

## test-deps: install the npm packages of the integration suites' protocol servers and browser tests (once per lock file)
test-deps:
	$(GO) run ./internal/nodetest/installdeps

# Where the browser suite saves its screenshots (one per view).
export TRE_UI_SCREENSHOTS ?= $(or $(TMPDIR),/tmp)/tre-ui-screenshots

## test-integration: the slow suites (needs Node.js 20.19+, npm; zip, tar; Debian's chromium for the browser suite)
# (-vet=off: make test vets every package.)
test-integration: test-deps ui
	TRE_INTEGRATION=1 $(GO) test -count=1 -vet=off -json $(INTEGRATION_PKGS) | $(GO) run ./internal/testsum
	@if [ -n "$$(ls -A "$(TRE_UI_SCREENSHOTS)" 2>/dev/null)" ]; then echo "browser screenshots: $(TRE_UI_SCREENSHOTS)"; fi

## stress: the timing-sensitive packages, -race -count=$(STRESS_COUNT), with every core kept busy by another process
stress:
	@echo "loading $$(nproc) cores while the tests run"
	@pids=(); for _ in $$(seq "$$(nproc)"); do (while :; do :; done) & pids+=($$!); done; \
	trap 'kill "$${pids[@]}" 2>/dev/null' EXIT; \
	$(GO) test -race -vet=off -timeout 45m -count=$(STRESS_COUNT) -json $(STRESS_PKGS) | $(GO) run ./internal/testsum

## bench: the figures of docs/PERFORMANCE.md, each beside its floor measured in the same run, with the ratios (about 15 min; needs strace)
BENCH_FLAGS ?=
bench: build
	$(GO) build -o $(BIN)/bare ./cmd/treperf/bare
	$(GO) test -run '^$$' -bench . -benchtime 200x ./handlers ./internal/lifecycle ./internal/auth ./internal/registry
	$(GO) test -run '^$$' -bench . -benchtime 5000x ./internal/sqlite
	$(GO) run ./cmd/treperf $(BENCH_FLAGS) all

## fuzz: every fuzz target for FUZZTIME each (default 8s; FUZZTIME=10m make fuzz to run them longer)
fuzz:
	GO=$(GO) scripts/fuzz.sh

## lint: staticcheck, deadcode, complexity (gocyclo: over 19 fails) and length (funclen: over 79 lines fails) of production functions; prints the top 5 of both
lint:
	$(TOOL) staticcheck ./...
	@dead=$$($(TOOL) deadcode -test ./...); if [ -n "$$dead" ]; then echo "deadcode:"; echo "$$dead"; exit 1; fi
	@echo "most complex functions (limit 19):"; $(TOOL) gocyclo -top 5 -ignore '_test\.go$$' . | sed 's/^/  /'
	$(TOOL) gocyclo -over 19 -ignore '_test\.go$$' .
	$(GO) run ./internal/funclen -over 79 .

vet:
	@unformatted=$$(find . -name '*.go' -not -path '*/node_modules/*' -not -path './.tre/*' | xargs gofmt -l); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

clean:
	rm -rf $(BIN) dist internal/webui/dist/app

.PHONY: package package-processor

## package: the Function App for zip deploy, dist/function-app.zip (host.json, linux/amd64 tre-handler, functions/*/function.json)
package:
	GO=$(GO) VERSION=$(VERSION) scripts/package.sh --out dist handler

## package-processor: the Resource Processor VM package, dist/processor-vm.tar.gz (tre-processor, systemd unit, cloud-init, env template)
package-processor:
	GO=$(GO) VERSION=$(VERSION) scripts/package.sh --out dist processor
