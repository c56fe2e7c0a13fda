#!/usr/bin/env bash
# Builds the node image from bin/dqtest. The base image is imported from the
# trixie root once and kept; the node image is rebuilt only when the binary
# changed (its digest is a label).
set -euo pipefail
ROOT=${DQTEST_ROOTFS:-/var/cache/dqtest/rootfs}
BASE=${DQTEST_BASE_IMAGE:-dqtest-base:trixie}
IMAGE=${DQTEST_IMAGE:-dqtest-node:latest}
BIN=${1:-bin/dqtest}
if ! docker image inspect "$BASE" >/dev/null 2>&1; then
	echo "image: importing $BASE from $ROOT" >&2
	# The binary is static: compilers, headers and static archives stay out.
	tar --numeric-owner -C "$ROOT" \
		--exclude=./usr/lib/gcc --exclude=./usr/libexec/gcc --exclude=./usr/include \
		--exclude='./usr/lib/x86_64-linux-gnu/*.a' --exclude=./usr/share/doc --exclude=./usr/share/man \
		--exclude=./var/cache/apt --exclude=./.dqtest-ready -c . | docker import - "$BASE" >/dev/null
fi
SUM=$(sha256sum "$BIN" | cut -c1-16)
if [[ "$(docker image inspect -f '{{index .Config.Labels "dqtest.binary"}}' "$IMAGE" 2>/dev/null || true)" == "$SUM" ]]; then
	exit 0
fi
CTX=$(mktemp -d)
trap 'rm -rf "$CTX"' EXIT
cp "$BIN" "$CTX/dqtest"
cp build/Dockerfile "$CTX/Dockerfile"
echo "image: building $IMAGE" >&2
docker build -q --label "dqtest.binary=$SUM" --build-arg BASE="$BASE" -t "$IMAGE" "$CTX" >/dev/null
