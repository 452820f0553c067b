# Quick start: `make run` (the chat example on the embedded emulator) and
# `make test` (every test: Go with -race, then the Node and browser suites).
GO          ?= go
# staticcheck is pinned by the tool directive in go.mod.
STATICCHECK ?= $(GO) tool staticcheck
# ADDR (host:port) overrides the address; without it the chat listens on
# 127.0.0.1:7071, or 127.0.0.1:$PORT when PORT is set.
ADDR        ?=

.PHONY: run test test-go test-js lint bench fuzz emulator js-deps build clean

# Built, then exec'd, rather than `go run`: the first build says it is
# working, and Ctrl+C reaches the chat alone, which exits 0, so make does not
# report an error.
run: js-deps
	@echo "building examples/chat (the first build compiles the dependencies and can take a minute)..."
	@$(GO) build -o bin/chat ./examples/chat
	@exec bin/chat $(if $(ADDR),-addr $(ADDR)) $(if $(ENDPOINTS),-endpoints $(ENDPOINTS))

emulator:
	$(GO) run ./cmd/signalr-emulator

test: test-go test-js

test-go:
	$(GO) test -race -count=1 ./...

# The Node suites spawn the Go programs built into bin/.
test-js: js-deps build
	cd js && npm test

build:
	$(GO) build -o bin/ ./cmd/... ./examples/... ./internal/cmd/...

js-deps: js/node_modules/.package-lock.json

js/node_modules/.package-lock.json: js/package.json js/package-lock.json
	cd js && npm ci --no-audit --no-fund

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...

# Every Fuzz* target in the module, FUZZTIME each (CI runs this too; the
# seeds alone run in test-go). Prints the executions per target.
FUZZTIME ?= 5s
fuzz:
	GO=$(GO) FUZZTIME=$(FUZZTIME) ./scripts/fuzz.sh

# Every benchmark, each a same-run ratio over interleaved rounds (see
# BENCHMARKS.md); a few minutes in all. FANOUT_CLIENTS=10000 (with
# FANOUT_MESSAGES=100) measures the fan-out at 10,000 clients, which takes
# several minutes more.
# PersistentVsREST runs bin/signalr-emulator in its own process: build first.
bench: build
	$(GO) test -run '^$$' -bench 'NegotiateHTTP' -benchtime 20000x .
	$(GO) test -run '^$$' -bench 'OutputVsBareLoop' -benchtime 40960x .
	$(GO) test -run '^$$' -bench 'UpstreamRatio' -benchmem -cpu 1 .
	$(GO) test -run '^$$' -bench 'HubVsHandleFunc' -benchmem -cpu 1 .
	$(GO) test -run '^$$' -bench 'InvokeRoundTrip' -benchtime 4000x .
	$(GO) test -run '^$$' -bench 'FeedCost$$|FeedCostPerSend' -benchtime 1x ./emulator
	$(GO) test -run '^$$' -bench 'MultiEndpointBroadcast' -benchtime 8000x .
	$(GO) test -run '^$$' -bench 'PersistentVsREST' -benchtime 1x .
	$(GO) test -run '^$$' -bench 'NegotiatePending' -benchtime 20000x ./emulator
	FANOUT_LOCKSTEP=1 $(GO) test -run '^$$' -bench 'Fanout$$|FanoutLatency' -benchtime 1x -timeout 30m ./emulator
	$(GO) test -run '^$$' -bench 'IdleConnections' -benchtime 1x ./emulator

clean:
	rm -rf bin js/node_modules
