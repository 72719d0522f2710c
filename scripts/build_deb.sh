#!/bin/bash
# Builds the Debian package postgresql-15-machinesoup_<version>_amd64.deb
# (and its -dbgsym companion) with dpkg-buildpackage, in a clean copy of the
# tree: the files git knows about, committed or not, and nothing it
# ignores, so no build product of the working tree gets in.  No network,
# no root.  Leaves the .deb files, .changes and .buildinfo in the directory
# given (default: the top of the tree) and prints the .deb's path last.
#
# Needs dpkg-dev, debhelper, postgresql-server-dev-all, libopenblas-dev,
# libopenblas-serial-dev and liblz4-dev; scripts/setup.sh installs them.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=$(cd "${1:-.}" && pwd)

version=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" machinesoup.control)
BUILD=$(mktemp -d /tmp/machinesoup-deb.XXXXXX)
trap 'rm -rf "$BUILD"' EXIT
SRC="$BUILD/machinesoup-$version"
mkdir "$SRC"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	# A file deleted in the working tree but not yet in git's index is
	# left out rather than failing the copy.
	git ls-files -z --cached --others --exclude-standard |
		while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
		tar --null -T - -cf - | tar -C "$SRC" -xf -
else
	# No git: everything but the fuzz corpus; debian/rules clean (the first
	# thing dpkg-buildpackage does) removes the build products.
	tar --exclude=./.git --exclude=./test/fuzz/corpus -cf - . | tar -C "$SRC" -xf -
fi

(cd "$SRC" && dpkg-buildpackage --no-sign -b)

shopt -s nullglob
products=("$BUILD"/*.deb "$BUILD"/*.changes "$BUILD"/*.buildinfo)
mv -f "${products[@]}" "$OUT"/
deb=("$OUT"/postgresql-*-machinesoup_"$version"_*.deb)
[ ${#deb[@]} -gt 0 ] || { echo "build_deb.sh: no package was built" >&2; exit 1; }
echo "${deb[@]}"
