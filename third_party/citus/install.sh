#!/bin/bash
# Builds and installs Citus 13.2.2 (the last Citus release line for
# PostgreSQL 15) into the system PostgreSQL 15, from the upstream source
# tarball beside this script, as root.  Does nothing when that version is
# already installed.  About 5 minutes on 2 cores.
#
# Only the tests use it (test/t/080_citus.pl): Debian 12 has no Citus
# package and the test machines reach no other package source.  Real
# deployments install Citus from Citus's own packages.  The one patch lets
# 13.2.2 build against PostgreSQL 15.20 and later, which export a function
# that Citus's compatibility header also defines.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
ext=$($PG_CONFIG --sharedir)/extension
if [ -f "$ext/citus.control" ] && grep -q "default_version = '13.2-1'" "$ext/citus.control" \
   && [ -f "$($PG_CONFIG --pkglibdir)/citus.so" ]; then
	echo "citus 13.2.2: already installed"; exit 0
fi
[ "$(id -u)" = 0 ] || { echo "citus 13.2.2: not installed (run $0 as root to build and install it)" >&2; exit 1; }
(cd "$here" && sha256sum --quiet -c SHA256SUMS)
need=()
for p in build-essential postgresql-server-dev-15 liblz4-dev libzstd-dev libkrb5-dev libssl-dev \
         libselinux1-dev libxslt1-dev libpam0g-dev libreadline-dev zlib1g-dev; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
work=$(mktemp -d /tmp/citus-build.XXXXXX)
trap 'rm -rf "$work"' EXIT
tar -xzf "$here/citus-13.2.2.tar.gz" -C "$work"
cd "$work/citus-13.2.2"
patch -s -p1 < "$here/pg15-have_createdb_privilege.patch"
./configure -q PG_CONFIG="$PG_CONFIG" --without-libcurl >/dev/null
make -s -j"$(nproc)" >/dev/null 2>&1 || { make 2>&1 | tail -30; exit 1; }
make -s install >/dev/null 2>&1 || { make install 2>&1 | tail -30; exit 1; }
echo "citus 13.2.2: installed"
