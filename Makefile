# dqtest's build. dqtest ships one node image per C dqlite version, each
# compiled inside a Debian root (build/rootfs.sh) with the host's Go
# toolchain, so the host only needs Go, Docker and debootstrap (installed on
# demand):
#
#   dqlite   Debian root  go-dqlite  build tag  node image
#   1.18.1   trixie       v2         -          dqtest-node:1.18.1
#   1.18.7   sid          v3         dqlite_v3  dqtest-node:1.18.7 (default; also dqtest-node:latest)
#
# `make image` builds every version's image; `make image DQLITE=1.18.7` one.
# bin/dqtest, the CLI on the host, is the default version's build.
SHELL := /bin/bash
DQLITE_VERSIONS := 1.18.1 1.18.7
DQLITE_DEFAULT := 1.18.7
DQLITE ?=
SUITE_1.18.1 := trixie
SUITE_1.18.7 := sid
ROOTFS_1.18.1 := /var/cache/dqtest/rootfs
ROOTFS_1.18.7 := /var/cache/dqtest/rootfs-sid
TAGS_1.18.1 :=
TAGS_1.18.7 := dqlite_v3
$(foreach v,$(DQLITE),$(if $(SUITE_$(v)),,$(error DQLITE=$(v): dqtest ships node images for $(DQLITE_VERSIONS))))
# The versions `make image` builds, and the one run, matrix, ... use.
IMAGE_VERSIONS := $(or $(DQLITE),$(DQLITE_VERSIONS))
RUN_DQLITE := $(or $(firstword $(DQLITE)),$(DQLITE_DEFAULT))
# ROOTFS is the trixie root (go-dqlite v2) where make test runs the whole
# suite; ROOTFS_SID the sid root (go-dqlite v3) where it runs node's tests again.
ROOTFS ?= $(ROOTFS_1.18.1)
ROOTFS_SID ?= $(ROOTFS_1.18.7)
SCENARIO ?= scenarios/default.yaml
IMAGE ?= dqtest-node:$(RUN_DQLITE)
BASE_IMAGE ?= dqtest-base:$(SUITE_$(RUN_DQLITE))
GO_TAGS := libsqlite3 netgo osusergo
GO_LDFLAGS := -linkmode external -extldflags -static -X main.version=$(shell git describe --always --dirty 2>/dev/null || echo dev)
GO_SOURCES := $(shell find . -name '*.go' -not -path './bin/*' -not -path './runs/*') go.mod go.sum
INROOT := DQTEST_ROOTFS=$(ROOTFS) build/inroot.sh
INROOT_SID := DQTEST_ROOTFS=$(ROOTFS_SID) build/inroot.sh
TEST_FLAGS ?= -count=1 -timeout 20m
export TESTCONTAINERS_RYUK_DISABLED := true
# Docker image builds are CPU-heavy: never two at once, whatever -j says.
.NOTPARALLEL:

.PHONY: all run test unit bench bench-go image rootfs clean matrix shutdown hunt

all: image

## run: the main job: a default scenario against a real 3-node cluster.
run: image-$(RUN_DQLITE) bin/dqtest
	bin/dqtest run --image $(IMAGE) $(SCENARIO)

## test: every test, Docker integration tests included, built with go-dqlite
## v2 in the trixie root; then the node package's tests (and vet) again built
## with go-dqlite v3 against dqlite 1.18.7 in the sid root.
test: image
	go mod tidy -diff
	go run github.com/rhysd/actionlint/cmd/actionlint@v1.7.12 .github/workflows/*.yml
	$(INROOT) go vet -tags "$(GO_TAGS)" ./...
	$(INROOT) go test -tags "$(GO_TAGS)" $(TEST_FLAGS) ./...
	$(INROOT_SID) go vet -tags "$(GO_TAGS) dqlite_v3" ./node/... ./cmd/dqtest/
	$(INROOT_SID) go test -tags "$(GO_TAGS) dqlite_v3" $(TEST_FLAGS) ./node/
	@# A second Docker engine (one in a network namespace of its own, reached
	@# as a remote one; one beside the first for a two-engine matrix) needs
	@# dockerd, which the build root lacks: these run on the host (no cgo).
	go test $(TEST_FLAGS) -run 'TestRemoteEngine|TestDockerHostSpreads' ./harness/docker/ ./matrix/

## unit: the tests that need no Docker (-short: the Docker tests skip),
## in a minute or two; make test runs everything.
unit: rootfs
	$(INROOT) go vet -tags "$(GO_TAGS)" ./...
	$(INROOT) go test -tags "$(GO_TAGS)" -short $(TEST_FLAGS) ./...

## matrix: the dqlite team's matrix, 3 workloads x 13 nemesis combinations,
## 60 s a cell, each on a fresh cluster (under an hour; not part of test).
## SHARD=k/N runs one shard of it, PARALLEL=P cells at once (docs/matrix.md).
# Known liveness bug (docs/findings/leader-unresponsive-after-disk-full.md):
# after its disk fills, a node may never answer again; the cells that showed
# it on 1.18.1 or 1.18.7 are marked, so the matrix gates on everything else
# (a marked cell that passes says so; its findings are still listed).
DISK_STUCK := former leader never answers after its disk is freed: docs/findings/leader-unresponsive-after-disk-full.md
MATRIX_MARKS ?= $(foreach c,bank/disk set/disk set/pause+disk bank/partition+disk bank/pause+disk append/partition+disk set/partition+disk,--expect-fail '$(c)=$(DISK_STUCK)')
MATRIX_FLAGS ?= --workloads append,bank,set --time-limit 60s $(MATRIX_MARKS)
matrix: image-$(RUN_DQLITE) bin/dqtest
	bin/dqtest matrix --image $(IMAGE) $(MATRIX_FLAGS) $(if $(SHARD),--shard $(SHARD)) $(if $(PARALLEL),--parallel $(PARALLEL))

## shutdown: the shutdown scenarios (stop modes, dqlite's stop-path bugs)
## in each stop mode: the scenario x stop mode table of docs/shutdown.md.
## About 12 min; not part of test.
SHUTDOWN_SCENARIOS ?= $(wildcard scenarios/shutdown-*.yaml)
shutdown: image-$(RUN_DQLITE) bin/dqtest
	@for mode in guarded unguarded bypass; do \
	  bin/dqtest run --image $(IMAGE) --stop-mode $$mode $(SHUTDOWN_SCENARIOS); \
	done; true

## hunt: rare shutdown races (dqlite#855, #857, PR 762) hunted with
## --repeat: every run must stay valid; a crash found fails with its
## evidence. About 20 min at the default REPEAT; not part of test.
REPEAT ?= 8
hunt: image-$(RUN_DQLITE) bin/dqtest
	bin/dqtest run --image $(IMAGE) --repeat $(REPEAT) $(wildcard scenarios/hunt-*.yaml)

## bench: the README's benchmark figures (not part of test, about 15 min):
## dqtest's clients against a plain go-dqlite driver loop on one 3-node
## cluster, the checker benchmarks as size -> time, and the default
## scenario's time to verdict, cold and warm; medians of several runs.
## Writes the README's Benchmarks section and docs/benchmarks.md
## (cmd/dqtest-bench; BENCH_FLAGS passes it flags, e.g. -only checkers).
BENCH_FLAGS ?=
bench: image-$(RUN_DQLITE) bin/dqtest
	DQTEST_ROOTFS=$(ROOTFS_$(RUN_DQLITE)) DQTEST_BASE_IMAGE=$(BASE_IMAGE) go run ./cmd/dqtest-bench -image $(IMAGE) -binary bin/dqtest $(BENCH_FLAGS)

## bench-go: every go benchmark in the tree, -count 5 (not part of test).
bench-go: rootfs
	$(INROOT) go test -tags "$(GO_TAGS)" -run '^$$' -bench . -benchmem -count 5 ./...

## rootfs: the Debian roots of the versions being built.
rootfs: $(foreach v,$(IMAGE_VERSIONS),$(ROOTFS_$(v))/.dqtest-ready)

# A root is made once (cold). While debootstrap runs, mostly waiting on the
# network, the host downloads the modules and compiles every cgo-free package
# into the Go build cache, which the build in the root then reuses (the cgo
# packages fail here, harmlessly: the host has no dqlite.h).
define ROOT_RULE
$(ROOTFS_$(1))/.dqtest-ready:
	( go mod download && go build -tags "$(GO_TAGS)" ./... ) >/dev/null 2>&1 & \
	DQTEST_SUITE=$(SUITE_$(1)) DQTEST_ROOTFS=$(ROOTFS_$(1)) build/rootfs.sh; rc=$$$$?; wait; exit $$$$rc
endef
$(foreach v,$(DQLITE_VERSIONS),$(eval $(call ROOT_RULE,$(v))))

# One static binary per dqlite version, built in its root with its go-dqlite
# (build tag), and told the root's libdqlite0 package version.
.SECONDEXPANSION:
bin/dqlite-%/dqtest: $$(ROOTFS_$$*)/.dqtest-ready $(GO_SOURCES)
	@mkdir -p $(@D)
	go mod download
	DQTEST_ROOTFS=$(ROOTFS_$*) build/inroot.sh go build -tags "$(GO_TAGS) $(TAGS_$*)" \
	  -ldflags "$(GO_LDFLAGS) -X github.com/dqtest/dqtest/node.dqlitePackage=$$(chroot $(ROOTFS_$*) dpkg-query -W -f='$${Version}' libdqlite0)" \
	  -o $@ ./cmd/dqtest 2> >(grep -v -e 'statically linked applications' -e 'in function' >&2)

# Kept: make would delete them as intermediate files of the image-% chain.
.PRECIOUS: bin/dqlite-%/dqtest

# A copy renamed into place: a bin/dqtest that is running stays intact.
bin/dqtest: bin/dqlite-$(DQLITE_DEFAULT)/dqtest
	cp $< $@.tmp && mv -f $@.tmp $@

## image: the node images of IMAGE_VERSIONS (every version; DQLITE=1.18.7
## for one), and bin/dqtest when the default version is among them.
image: $(addprefix image-,$(IMAGE_VERSIONS)) $(if $(filter $(DQLITE_DEFAULT),$(IMAGE_VERSIONS)),bin/dqtest)

image-%: bin/dqlite-%/dqtest
	DQTEST_ROOTFS=$(ROOTFS_$*) DQTEST_IMAGE=dqtest-node:$* DQTEST_BASE_IMAGE=dqtest-base:$(SUITE_$*) \
	  DQTEST_ALSO_TAG="$(if $(filter $*,$(DQLITE_DEFAULT)),dqtest-node:latest)" build/image.sh $<

clean:
	rm -rf bin
