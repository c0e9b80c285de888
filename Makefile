# Touchpoint: `make demo` shows the whole system on demo data, `make test` runs every test.
# Each target installs what it needs (scripts/deps.sh) and starts the local stack itself.

GO ?= go
export PATH := $(PATH):/usr/sbin

.PHONY: all deps build up down status test cluster-test lint demo demo-site bench clean

all: build

deps:
	@scripts/deps.sh

build: deps
	@cd tracker-js && npm run --silent build
	@cd reports/dashboard && npm run --silent build
	$(GO) build -o bin/ ./cmd/...

up: build
	@scripts/stack.sh up

down:
	@scripts/stack.sh down

status:
	@scripts/stack.sh status

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags cluster ./e2e/
	$(GO) tool staticcheck ./...
	$(GO) tool staticcheck -tags cluster ./e2e/

test: build
	@scripts/test.sh

# A local cluster (two ClickHouse shards of two replicas, three Kafka brokers, two of each
# service), the end-to-end tests on it, a broker and a replica killed under load.
cluster-test: build
	@scripts/cluster.sh test

demo: up
	@bin/demo
	@echo "Demo site with the snippet: make demo-site, then open http://127.0.0.1:8090/"

# The demo site's pages embed the snippet served by the local collector; every click
# lands in ClickHouse and the dashboard like the demo data.
demo-site: up
	@echo "Demo site on http://127.0.0.1:8090/ (Ctrl-C to stop)"
	@cd tracker-js/demo && python3 -m http.server 8090 --bind 127.0.0.1

bench: up
	@scripts/bench.sh

clean: down
	rm -rf bin .stack
