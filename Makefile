# Custos: the two quick-start commands are `make demo` and `make test`.
GO      ?= go
PKGS    ?= ./...
FUZZTIME ?= 10s

.PHONY: all build demo test vet services fuzz bench clean

all: build

build:
	$(GO) build -o bin/custos ./cmd/custos

## demo: run the whole system on a synthetic airline (Ctrl-C to stop)
demo:
	$(GO) run ./cmd/custos demo

## test: start/install the services the tests need, then vet and run every test
test: services vet
	CUSTOS_REQUIRE_SERVICES=1 $(GO) test -count=1 -timeout 15m $(PKGS)

vet:
	$(GO) vet $(PKGS)

services:
	bash scripts/services.sh

## fuzz: run each fuzz target for FUZZTIME (corpora live in testdata/fuzz)
fuzz:
	bash scripts/fuzz.sh $(FUZZTIME)

## bench: run the benchmarks in bench/ and print their results
bench: services
	bash bench/run.sh

clean:
	rm -rf bin
