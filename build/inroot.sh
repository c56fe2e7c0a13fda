#!/usr/bin/env bash
# Runs a command inside the trixie root with the host's Go toolchain, module
# and build caches, the source tree and the Docker socket bind-mounted. The
# mounts live in a private mount namespace, so they vanish with the command.
# Usage: build/inroot.sh CMD [ARGS...]   (runs in the current directory)
set -euo pipefail
ROOT=${DQTEST_ROOTFS:-/var/cache/dqtest/rootfs}
[[ -f "$ROOT/.dqtest-ready" ]] || { echo "inroot: no root at $ROOT; run build/rootfs.sh" >&2; exit 2; }
GOROOT=$(go env GOROOT)
GOMODCACHE=$(go env GOMODCACHE)
GOCACHE=$(go env GOCACHE)
SRC=$(pwd -P)
export GOFLAGS="${GOFLAGS:-$(go env GOFLAGS)}" GOPROXY="${GOPROXY:-$(go env GOPROXY)}" GOSUMDB="${GOSUMDB:-$(go env GOSUMDB)}"
mkdir -p "$GOMODCACHE" "$GOCACHE"
export DQTEST_IN_ROOT=1 INROOT_ROOT="$ROOT" INROOT_GOROOT="$GOROOT" INROOT_MOD="$GOMODCACHE" INROOT_CACHE="$GOCACHE" INROOT_SRC="$SRC"
exec unshare --mount --propagation private -- bash -c '
set -e
bindm() { mkdir -p "$INROOT_ROOT$2"; mount --bind "$1" "$INROOT_ROOT$2"; }
# A private /tmp first, so sources or caches below /tmp are bound on top of it.
mkdir -p "$INROOT_ROOT/tmp" && mount -t tmpfs tmpfs "$INROOT_ROOT/tmp"
bindm /proc /proc; bindm /sys /sys; bindm /dev /dev; bindm /dev/pts /dev/pts
bindm "$INROOT_GOROOT" "$INROOT_GOROOT"; bindm "$INROOT_MOD" "$INROOT_MOD"; bindm "$INROOT_CACHE" "$INROOT_CACHE"
bindm "$INROOT_SRC" "$INROOT_SRC"
# In the root /var/run is a symlink to the absolute /run, which outside the
# chroot resolves to the host /run: mount the socket into the run dir of the root.
sockdir=/var/run; [[ -L "$INROOT_ROOT/var/run" ]] && sockdir=/run
if [[ -S /var/run/docker.sock ]]; then mkdir -p "$INROOT_ROOT$sockdir"; touch "$INROOT_ROOT$sockdir/docker.sock"; mount --bind /var/run/docker.sock "$INROOT_ROOT$sockdir/docker.sock"; fi
cp -L /etc/resolv.conf "$INROOT_ROOT/etc/resolv.conf" 2>/dev/null || true
# The host may trust extra CAs (an egress proxy): let the root trust the same.
if [[ -f /etc/ssl/certs/ca-certificates.crt ]]; then mkdir -p "$INROOT_ROOT/etc/ssl/certs"; cp -L /etc/ssl/certs/ca-certificates.crt "$INROOT_ROOT/etc/ssl/certs/ca-certificates.crt"; fi
cd "$INROOT_SRC"
exec chroot "$INROOT_ROOT" /usr/bin/env -C "$INROOT_SRC" PATH="$INROOT_GOROOT/bin:/usr/sbin:/usr/bin:/sbin:/bin" HOME=/root GOMODCACHE="$INROOT_MOD" GOCACHE="$INROOT_CACHE" GOPATH=/root/go GOFLAGS="$GOFLAGS" GOPROXY="$GOPROXY" GOSUMDB="$GOSUMDB" CI="${CI:-}" TESTCONTAINERS_RYUK_DISABLED=true CGO_ENABLED=1 CGO_LDFLAGS="-ldqlite -luv -llz4 -lxxhash -lsqlite3 -lm -lpthread" DQTEST_IN_ROOT=1 "$@"
' inroot "$@"
