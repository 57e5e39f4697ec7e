# The two commands a new user needs: `make run` and `make test`.
GO      ?= go
BIN     := bin
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
PORT    ?= 8080
export TRE_DATA_DIR ?= .tre

.PHONY: build run test vet clean

## build: the handler binary (bin/tre-handler), static, no cgo
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/tre-handler ./handlers

## run: build and start the API locally on the embedded store (Ctrl-C stops it)
run: build
	@echo ""
	@echo "  TRE API on http://127.0.0.1:$(PORT) (data in $(TRE_DATA_DIR)/, dev token issuer)"
	@echo ""
	@echo "  Get a token (in another terminal, from this directory):"
	@echo "    TOKEN=\$$($(BIN)/tre-handler token --roles TREAdmin --user alice)"
	@echo "  Then, for example:"
	@echo "    curl -s http://127.0.0.1:$(PORT)/api/health"
	@echo "    curl -s -H \"Authorization: Bearer \$$TOKEN\" http://127.0.0.1:$(PORT)/api/workspace-templates"
	@echo ""
	FUNCTIONS_CUSTOMHANDLER_PORT=$(PORT) exec $(BIN)/tre-handler

## test: vet and every test
test: vet
	$(GO) test -count=1 ./...

vet:
	@unformatted=$$(find . -name '*.go' -not -path '*/node_modules/*' -not -path './.tre/*' | xargs gofmt -l); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

clean:
	rm -rf $(BIN) dist

.PHONY: package package-processor

## package: the Function App for zip deploy, dist/function-app.zip (host.json, linux/amd64 tre-handler, functions/*/function.json)
package:
	GO=$(GO) VERSION=$(VERSION) scripts/package.sh --out dist handler

## package-processor: the Resource Processor VM package, dist/processor-vm.tar.gz (tre-processor, systemd unit, cloud-init, env template)
package-processor:
	GO=$(GO) VERSION=$(VERSION) scripts/package.sh --out dist processor
