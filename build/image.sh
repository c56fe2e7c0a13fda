#!/usr/bin/env bash
# Builds a node image from a static dqtest binary: the binary on a base image
# imported from a Debian root (build/rootfs.sh), labelled with the versions
# the binary was built with (`dqtest version --labels`: C dqlite package,
# the library's self-reported version, go-dqlite).
#
# No Dockerfile builder is used: Docker's classic builder prints a deprecation
# notice, BuildKit needs the buildx plugin (not in bookworm's packages), and
# the image is one file and some settings on top of the base. So the image is
# made through the Engine API's create / copy / commit (docker create, docker
# cp, docker commit --change), which gives the same layered image. The
# settings are build/Dockerfile's; keep the two in step.
#
#   DQTEST_ROOTFS      the root the base is imported from
#   DQTEST_BASE_IMAGE  the base image's name (dqtest-base:trixie, dqtest-base:sid)
#   DQTEST_IMAGE       the node image's name (dqtest-node:1.18.7)
#   DQTEST_ALSO_TAG    further names for the same image (dqtest-node:latest)
#
# The base is imported once per root and kept (re-imported when the root was
# made again); the node image is rebuilt only when the binary changed (its
# digest is a label).
set -euo pipefail
ROOT=${DQTEST_ROOTFS:-/var/cache/dqtest/rootfs}
BASE=${DQTEST_BASE_IMAGE:-dqtest-base:trixie}
IMAGE=${DQTEST_IMAGE:-dqtest-node:latest}
ALSO=${DQTEST_ALSO_TAG:-}
BIN=${1:-bin/dqtest}
[[ -f "$ROOT/.dqtest-ready" ]] || { echo "image: no root at $ROOT; run build/rootfs.sh" >&2; exit 2; }
[[ -x "$BIN" ]] || { echo "image: no binary $BIN" >&2; exit 2; }

label() { docker image inspect -f "{{index .Config.Labels \"$2\"}}" "$1" 2>/dev/null || true; }

ROOTID="$(stat -c %Y "$ROOT/.dqtest-ready")-$(md5sum <"$ROOT/.dqtest-ready" | cut -c1-8)"
if [[ "$(label "$BASE" dqtest.rootfs)" != "$ROOTID" ]]; then
	echo "image: importing $BASE from $ROOT" >&2
	# The binary is static: compilers, headers and static archives stay out.
	tar --numeric-owner -C "$ROOT" \
		--exclude=./usr/lib/gcc --exclude=./usr/libexec/gcc --exclude=./usr/include \
		--exclude='./usr/lib/x86_64-linux-gnu/*.a' --exclude=./usr/share/doc --exclude=./usr/share/man \
		--exclude=./var/cache/apt --exclude=./var/lib/apt/lists --exclude=./.dqtest-ready -c . |
		docker import --change "LABEL dqtest.rootfs=$ROOTID" - "$BASE" >/dev/null
fi

# The binary's versions, as labels. A binary that does not know them fails here.
LABELS=$("$BIN" version --labels)
SUM=$(sha256sum "$BIN" | cut -c1-16)
# FORMAT changes whenever this script makes a different image from the same
# binary and base, so images made by an older script are made again.
FORMAT=commit-1
if [[ "$(label "$IMAGE" dqtest.binary)" != "$SUM" || "$(label "$IMAGE" dqtest.base)" != "$ROOTID" ||
	"$(label "$IMAGE" dqtest.image-format)" != "$FORMAT" ]]; then
	echo "image: building $IMAGE" >&2
	CTX=$(mktemp -d)
	cid=
	trap 'rm -rf "$CTX"; [[ -z "$cid" ]] || docker rm -f "$cid" >/dev/null 2>&1 || true' EXIT
	mkdir -m 0755 "$CTX/dqtest"
	cid=$(docker create "$BASE" /usr/local/bin/dqtest)
	docker cp "$BIN" "$cid:/usr/local/bin/dqtest"
	docker cp "$CTX/dqtest" "$cid:/var/lib/"
	changes=(
		--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
		--change 'ENV DQTEST_IN_CONTAINER=1'
		--change 'EXPOSE 9001 8080'
		--change 'ENTRYPOINT ["/usr/local/bin/dqtest", "node"]'
		--change 'CMD []'
		--change "LABEL dqtest.binary=$SUM"
		--change "LABEL dqtest.base=$ROOTID"
		--change "LABEL dqtest.image-format=$FORMAT"
	)
	while IFS= read -r l; do
		[[ -n "$l" ]] && changes+=(--change "LABEL $l")
	done <<<"$LABELS"
	docker commit -m "dqtest build/image.sh: static binary on $BASE, no builder" "${changes[@]}" "$cid" "$IMAGE" >/dev/null
fi
for t in $ALSO; do
	docker tag "$IMAGE" "$t"
done
