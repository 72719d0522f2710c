#!/bin/bash
# Installs what MachineSoup needs from Debian 12 packages (as root) and,
# with --with-citus, Citus from third_party/citus for the tests, then
# builds and installs the extension.  Safe to run again.  The second
# group of packages builds and checks the Debian package and the PGXN
# release (scripts/test_deb.sh, test/dist_check.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
	build-essential clang libclang-rt-dev
	postgresql-15 postgresql-server-dev-15 postgresql-contrib
	libopenblas-dev libopenblas-serial-dev liblz4-dev libpq-dev libipc-run-perl
	python3 nodejs npm
	python3-psycopg python3-psycopg2 python3-numpy python3-sqlalchemy python3-pytest
	dpkg-dev debhelper postgresql-server-dev-all lintian pgxnclient git unzip
)

missing=()
for p in "${PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
# Some machines carry node/npm outside Debian's packages; those do as well.
if command -v node >/dev/null && command -v npm >/dev/null; then
	missing=("${missing[@]/nodejs/}")
	missing=("${missing[@]/npm/}")
fi
missing=($(printf '%s\n' "${missing[@]}" | grep -v '^$' || true))
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "missing packages: ${missing[*]} (run as root to install them)" >&2
		exit 1
	fi
	echo "installing: ${missing[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Citus, for the scale-out test (test/t/080_citus.pl), with --with-citus
# (scripts/test.sh passes it): built from the source release in
# third_party/citus, since Debian packages none.  Without root it is left
# alone and that test skips.  Deployments install Citus from Citus's own
# packages.
if [ "${1:-}" = --with-citus ]; then
	if [ "$(id -u)" = 0 ]; then
		bash third_party/citus/install.sh
	elif [ ! -f "$(pg_config --sharedir)/extension/citus.control" ]; then
		echo "citus: not installed (run as root to install it); its test will be skipped"
	fi
fi

make -s -j"$(nproc)"
make -s install
