#!/bin/bash
# Compares the SQL objects the extension creates in two revisions: for
# each, builds and installs the tree, creates the extension on a throwaway
# cluster (fresh, and at every older version PostgreSQL can install), and
# dumps its members with pg_dump --schema-only --binary-upgrade.  Prints a
# diff per version and exits 1 when any differs.  For changes that must not
# alter what users get (a restructure, a refactor of the C glue).
#
#   bash scripts/schema_diff.sh REV_A [REV_B]      (as root; REV_B: the
#                                                   working tree)
#
# Installs each build in turn, holding /tmp/ms-install.lock (flock) so that
# no one else's install lands in between; leaves REV_B's installed.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
rev_a=${1:?usage: schema_diff.sh REV_A [REV_B]}
rev_b=${2:-}
[ "$(id -u)" = 0 ] || { echo "schema_diff.sh: run as root (it installs each build)" >&2; exit 1; }

scratch=$(mktemp -d /tmp/schema-diff.XXXXXX)
chmod 755 "$scratch"
trap 'rm -rf "$scratch"' EXIT

# unpack_tree NAME REV: REV's files (the working tree when REV is empty)
unpack_tree()
{
	mkdir -p "$scratch/$1"
	if [ -n "$2" ]; then
		git -C "$top" archive "$2" | tar -C "$scratch/$1" -xf -
	else
		tar -C "$top" --exclude=./.git --exclude=./test/fuzz/corpus -cf - . | tar -C "$scratch/$1" -xf -
	fi
}

# dump_tree NAME: install it and dump the extension at every version
dump_tree()
{
	local tree="$scratch/$1"
	make -s -C "$tree" -j2 >/dev/null
	make -s -C "$tree" install >/dev/null
	mkdir -p "$scratch/$1.dumps"
	chown -R postgres:postgres "$scratch/$1.dumps"
	runuser -u postgres -- pg_virtualenv bash -c '
		set -e
		out=$1
		psql -qXAt -d postgres -c "SELECT version FROM pg_available_extension_versions WHERE name = '"'"'machinesoup'"'"'" |
		while read -r v; do
			createdb "v$v"
			psql -qX -d "v$v" -c "CREATE EXTENSION machinesoup VERSION '"'"'$v'"'"'"
			# OIDs, xids and the random \restrict key differ between runs
			pg_dump --schema-only --binary-upgrade --no-owner -d "v$v" |
				grep -v -e "^--" -e "binary_upgrade_set_next_" -e "relfrozenxid" \
					-e "^WHERE oid = " -e "^\\\\restrict " -e "^\\\\unrestrict " |
				sed "s/'"'"'{[0-9,]*}'"'"'/'"'"'{oids}'"'"'/" > "$out/$v.sql"
		done' sh "$scratch/$1.dumps"
}

unpack_tree a "$rev_a"
unpack_tree b "$rev_b"
status=0
(
	flock 9
	dump_tree a
	dump_tree b
) 9>/tmp/ms-install.lock
for f in "$scratch"/b.dumps/*.sql "$scratch"/a.dumps/*.sql; do
	v=$(basename "$f" .sql)
	[ -e "$scratch/seen.$v" ] && continue
	touch "$scratch/seen.$v"
	if [ ! -e "$scratch/a.dumps/$v.sql" ] || [ ! -e "$scratch/b.dumps/$v.sql" ]; then
		echo "version $v: installable in only one of the two revisions"
		status=1
	elif diff -u "$scratch/a.dumps/$v.sql" "$scratch/b.dumps/$v.sql"; then
		echo "version $v: identical ($(wc -l < "$scratch/b.dumps/$v.sql") lines of schema)"
	else
		status=1
	fi
done
exit $status
