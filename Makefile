# Ferry — build, test and generate. Every target works on a fresh clone with only Go installed.
SHELL := /usr/bin/env bash
export GOTOOLCHAIN := local

BIN := $(CURDIR)/bin
CONTROLLER_GEN_VERSION := v0.19.0
CONTROLLER_GEN := $(BIN)/controller-gen-$(CONTROLLER_GEN_VERSION)
# golangci-lint runs through go run at a pinned version: built once into Go's build cache, no
# install step. v2.15.0 builds with Go 1.26.
GOLANGCI_LINT := go run github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.15.0
# Fuzz budgets are execution counts, not durations: with a duration, Go 1.26's fuzz coordinator can
# report a spurious "context deadline exceeded" when the deadline races a busy worker
# (golang/go#75804, fixed only in Go 1.27). Each count is a few seconds on 2 cores.
# FUZZTIME=30s (or 10000x) overrides all three.
FUZZTIME_PLAN ?= $(or $(FUZZTIME),200x)
FUZZTIME_EVAL ?= $(or $(FUZZTIME),5000x)
FUZZTIME_EXPR ?= $(or $(FUZZTIME),3000x)
# Tests that need the control plane fail instead of skipping when it is missing.
TESTENV_REQUIRED := FERRY_REQUIRE_TESTBIN=1
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: image all build test unit browser race benchcheck fuzz generate verify lint bench clean testbin demo demo-down load

all: build

## build: the ferry CLI and ferry-controller into ./bin
build:
	go build -ldflags "$(LDFLAGS)" -o $(BIN)/ ./cmd/...

## image: ferry-controller's OCI image, without Docker, as bin/ferry-controller-image.tar (docker load -i)
image:
	go run ./hack/image -o $(BIN)/ferry-controller-image.tar -version $(VERSION) -revision $(shell git rev-parse HEAD 2>/dev/null)

## test: every check and every test (what CI runs)
test: verify unit race benchcheck fuzz

## unit: all Go tests, including envtest and the e2e tests on real apiservers and work agents
unit: testbin browser
	$(TESTENV_REQUIRED) go test -count=1 -timeout 30m ./...

## race: the rendering engine and its callers under the race detector (renders run in parallel)
race:
	go test -race -count=1 ./pkg/cue/... ./pkg/appfile ./pkg/workflow/...

## testbin: build kube-apiserver, kube-controller-manager, etcd and the OCM work agent into .cache/testbin (once per pin)
testbin:
	go run ./hack/testenv build

## browser: Debian's Chromium for the console's browser tests (installed once per machine)
browser:
	bash hack/browser.sh

## fuzz: run each fuzz target for its budget (FUZZTIME=... for a longer run)
fuzz:
	go test -run='^$$' -fuzz='^FuzzParseAndPlan$$' -fuzztime=$(FUZZTIME_PLAN) ./pkg/appfile
	go test -run='^$$' -fuzz='^FuzzEval$$' -fuzztime=$(FUZZTIME_EVAL) ./pkg/cue
	go test -run='^$$' -fuzz='^FuzzExpressions$$' -fuzztime=$(FUZZTIME_EXPR) ./pkg/workflow

## generate: deepcopy functions and CRDs from api/, reference docs from definitions/ and addons/
generate: $(CONTROLLER_GEN)
	$(CONTROLLER_GEN) object paths=./api/...
	$(CONTROLLER_GEN) crd paths=./api/... output:crd:dir=config/crd
	go run ./cmd/ferry def doc --all --dir docs/reference
	go run ./cmd/ferry addon doc --all --dir docs/addons

## verify: generated code is current, gofmt, go vet and golangci-lint are clean, no tracked file over 1 MiB
verify: generate
	@changed=$$(git status --porcelain -- api config docs/reference docs/addons); \
	if [ -n "$$changed" ]; then echo "generated code is stale; run 'make generate' and commit:"; echo "$$changed"; git diff --stat -- api config docs/reference docs/addons; exit 1; fi
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	@big=$$(git ls-files -z | xargs -0 -r du -k --apparent-size 2>/dev/null | awk '$$1 > 1024 {print $$2}'); \
	if [ -n "$$big" ]; then echo "tracked files over 1 MiB (build outputs or binaries?); remove them with git rm --cached:"; echo "$$big"; exit 1; fi
	go vet ./...
	$(GOLANGCI_LINT) run ./...

## lint: golangci-lint alone (.golangci.yml)
lint:
	$(GOLANGCI_LINT) run ./...

## benchcheck: every benchmark once, so none rots (timing belongs to make bench)
benchcheck:
	go test -run='^$$' -bench=. -benchtime=1x ./pkg/appfile ./pkg/cue ./pkg/workflow ./pkg/addon ./pkg/console ./cmd/ferry

## bench: rendering and dry-run benchmarks
bench:
	go test -run='^$$' -bench=. -benchmem ./pkg/appfile ./pkg/cue ./pkg/workflow ./pkg/addon ./pkg/console ./cmd/ferry

$(CONTROLLER_GEN):
	@echo "installing controller-gen $(CONTROLLER_GEN_VERSION) into $(BIN)"
	@mkdir -p $(BIN)
	GOBIN=$(BIN) go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_GEN_VERSION)
	mv $(BIN)/controller-gen $(CONTROLLER_GEN)

clean:
	rm -rf $(BIN)

## demo: the main job end to end on local clusters (hub + staging + prod); KEEP=1 keeps it running
demo:
	go run ./hack/demo

## demo-down: stop a demo kept with KEEP=1
demo-down:
	go run ./hack/demo down

## load: the controller under load against a real API server (make load APPS=10000 LOAD_ARGS="--definition-change 10")
APPS ?= 1000
LOAD_ARGS ?=
load:
	go run ./hack/load --apps $(APPS) $(LOAD_ARGS)
