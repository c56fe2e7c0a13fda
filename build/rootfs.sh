#!/usr/bin/env bash
# Makes the Debian trixie root file system dqtest builds and runs in
# (ENVIRONMENT.md: bookworm's libdqlite is too old). Idempotent: a second call
# finds the root ready and returns at once.
set -euo pipefail
ROOT=${DQTEST_ROOTFS:-/var/cache/dqtest/rootfs}
PKGS=libdqlite-dev,libuv1-dev,liblz4-dev,libxxhash-dev,libsqlite3-dev,gcc,libc6-dev,pkgconf,iptables,iproute2,procps,ca-certificates
if [[ -f "$ROOT/.dqtest-ready" ]]; then exit 0; fi
if ! command -v debootstrap >/dev/null; then
	echo "rootfs: installing debootstrap" >&2
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi
mkdir -p "$(dirname "$ROOT")"
rm -rf "$ROOT.tmp"
echo "rootfs: debootstrap trixie into $ROOT (about a minute)" >&2
debootstrap --variant=minbase --include="$PKGS" trixie "$ROOT.tmp" http://deb.debian.org/debian >"$ROOT.log" 2>&1 ||
	{ tail -20 "$ROOT.log" >&2; exit 1; }
rm -rf "$ROOT"
mv "$ROOT.tmp" "$ROOT"
touch "$ROOT/.dqtest-ready"
