#!/usr/bin/env bash
# Makes a Debian root file system dqtest builds and runs in: one per C dqlite
# version dqtest ships (bookworm's own libdqlite is too old).
#
#   DQTEST_SUITE=trixie  dqlite 1.18.1, go-dqlite v2   (default root /var/cache/dqtest/rootfs)
#   DQTEST_SUITE=sid     dqlite 1.18.7, go-dqlite v3   (default root /var/cache/dqtest/rootfs-sid)
#
# DQTEST_ROOTFS overrides the directory. Idempotent: a second call finds the
# root ready (its .dqtest-ready file) and returns at once.
#
# The mirror's sid is a frozen snapshot whose Release file has expired: apt in
# that root needs Acquire::Check-Valid-Until=false, which the root keeps in
# /etc/apt/apt.conf.d/99dqtest (debootstrap itself does not check it).
set -euo pipefail
SUITE=${DQTEST_SUITE:-trixie}
case "$SUITE" in
trixie) DEFAULT_ROOT=/var/cache/dqtest/rootfs ;;
*) DEFAULT_ROOT=/var/cache/dqtest/rootfs-$SUITE ;;
esac
ROOT=${DQTEST_ROOTFS:-$DEFAULT_ROOT}
MIRROR=http://deb.debian.org/debian
PKGS=libdqlite-dev,libuv1-dev,liblz4-dev,libxxhash-dev,libsqlite3-dev,gcc,libc6-dev,pkgconf,iptables,iproute2,procps,ca-certificates
if [[ -f "$ROOT/.dqtest-ready" ]]; then exit 0; fi
if ! command -v debootstrap >/dev/null; then
	echo "rootfs: installing debootstrap" >&2
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi
mkdir -p "$(dirname "$ROOT")"
rm -rf "$ROOT.tmp"
echo "rootfs: debootstrap $SUITE into $ROOT (about a minute)" >&2
debootstrap --variant=minbase --include="$PKGS" "$SUITE" "$ROOT.tmp" "$MIRROR" >"$ROOT.log" 2>&1 ||
	{ tail -20 "$ROOT.log" >&2; exit 1; }
if [[ "$SUITE" != trixie ]]; then
	echo 'Acquire::Check-Valid-Until "false";' >"$ROOT.tmp/etc/apt/apt.conf.d/99dqtest"
fi
# What the root carries, for the image labels and `dqtest version`.
pkg=$(chroot "$ROOT.tmp" dpkg-query -W -f '${Version}' libdqlite0 2>/dev/null || chroot "$ROOT.tmp" dpkg-query -W -f '${Version}' 'libdqlite0*' | head -1)
[[ -n "$pkg" ]] || { echo "rootfs: no libdqlite0 package in the $SUITE root" >&2; exit 1; }
[[ -f "$ROOT.tmp/usr/lib/x86_64-linux-gnu/libdqlite.a" ]] || { echo "rootfs: $SUITE's libdqlite-dev ships no libdqlite.a: no static build" >&2; exit 1; }
rm -rf "$ROOT"
mv "$ROOT.tmp" "$ROOT"
printf 'suite=%s\nlibdqlite0=%s\n' "$SUITE" "$pkg" >"$ROOT/.dqtest-ready"
echo "rootfs: $SUITE ready: libdqlite0 $pkg" >&2
