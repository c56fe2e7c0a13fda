# dqtest's build. Everything that needs C dqlite 1.18.1 is compiled inside a
# Debian trixie root (build/rootfs.sh) with the host's Go toolchain, so the
# host only needs Go, Docker and debootstrap (installed on demand).
SHELL := /bin/bash
ROOTFS ?= /var/cache/dqtest/rootfs
SCENARIO ?= scenarios/default.yaml
IMAGE ?= dqtest-node:latest
BASE_IMAGE ?= dqtest-base:trixie
GO_TAGS := libsqlite3 netgo osusergo
GO_LDFLAGS := -linkmode external -extldflags -static -X main.version=$(shell git describe --always --dirty 2>/dev/null || echo dev)
GO_SOURCES := $(shell find . -name '*.go' -not -path './bin/*' -not -path './runs/*') go.mod go.sum
INROOT := DQTEST_ROOTFS=$(ROOTFS) build/inroot.sh
TEST_FLAGS ?= -count=1 -timeout 20m
export TESTCONTAINERS_RYUK_DISABLED := true

.PHONY: all run test unit bench bench-go image rootfs clean matrix shutdown hunt

all: image

## run: the main job: a default scenario against a real 3-node cluster.
run: image
	bin/dqtest run --image $(IMAGE) $(SCENARIO)

## test: every test, Docker integration tests included.
test: image
	$(INROOT) go vet -tags "$(GO_TAGS)" ./...
	$(INROOT) go test -tags "$(GO_TAGS)" $(TEST_FLAGS) ./...

## matrix: the dqlite team's matrix, 3 workloads x 13 nemesis combinations,
## 60 s a cell, each on a fresh cluster (under an hour; not part of test).
MATRIX_FLAGS ?= --workloads append,bank,set --time-limit 60s
matrix: image
	bin/dqtest matrix --image $(IMAGE) $(MATRIX_FLAGS)

## shutdown: the shutdown scenarios (stop modes, dqlite's stop-path bugs)
## in each stop mode: the scenario x stop mode table of docs/shutdown.md.
## About 12 min; not part of test.
SHUTDOWN_SCENARIOS ?= $(wildcard scenarios/shutdown-*.yaml)
shutdown: image
	@for mode in guarded unguarded bypass; do \
	  bin/dqtest run --image $(IMAGE) --stop-mode $$mode $(SHUTDOWN_SCENARIOS); \
	done; true

## hunt: rare shutdown races (dqlite#855, #857, PR 762) hunted with
## --repeat: every run must stay valid; a crash found fails with its
## evidence. About 20 min at the default REPEAT; not part of test.
REPEAT ?= 8
hunt: image
	bin/dqtest run --image $(IMAGE) --repeat $(REPEAT) $(wildcard scenarios/hunt-*.yaml)

## bench: the README's benchmark figures (not part of test, about 15 min):
## dqtest's clients against a plain go-dqlite driver loop on one 3-node
## cluster, the checker benchmarks as size -> time, and the default
## scenario's time to verdict, cold and warm; medians of several runs.
## Writes the README's Benchmarks section and docs/benchmarks.md
## (cmd/dqtest-bench; BENCH_FLAGS passes it flags, e.g. -only checkers).
BENCH_FLAGS ?=
bench: image
	DQTEST_ROOTFS=$(ROOTFS) DQTEST_BASE_IMAGE=$(BASE_IMAGE) go run ./cmd/dqtest-bench -image $(IMAGE) -binary bin/dqtest $(BENCH_FLAGS)

## bench-go: every go benchmark in the tree, -count 5 (not part of test).
bench-go: rootfs
	$(INROOT) go test -tags "$(GO_TAGS)" -run '^$$' -bench . -benchmem -count 5 ./...

rootfs: $(ROOTFS)/.dqtest-ready

$(ROOTFS)/.dqtest-ready:
	DQTEST_ROOTFS=$(ROOTFS) build/rootfs.sh

bin/dqtest: $(ROOTFS)/.dqtest-ready $(GO_SOURCES)
	@mkdir -p bin
	go mod download
	$(INROOT) go build -tags "$(GO_TAGS)" -ldflags "$(GO_LDFLAGS)" -o bin/dqtest ./cmd/dqtest 2> >(grep -v -e 'statically linked applications' -e 'in function' >&2)

image: bin/dqtest
	DQTEST_ROOTFS=$(ROOTFS) DQTEST_IMAGE=$(IMAGE) DQTEST_BASE_IMAGE=$(BASE_IMAGE) build/image.sh bin/dqtest

clean:
	rm -rf bin
