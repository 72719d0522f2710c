# Sourced by the A/B benchmarks (hardening_ab.sh, ingest_callgrind.sh):
# unpacks and builds the two builds they compare.
#
# ab_builds NAME TOP SCRATCH [REV_A [REV_B]]: REV_A defaults to 0.3.0's
# last code, the parent of the commit that froze sql/machinesoup--0.3.0.sql
# when 0.4.0 began (that commit changed no code); REV_B to the working tree
# of TOP as it is, uncommitted changes included.  Each is unpacked from git
# into SCRATCH/a and SCRATCH/b (git archive: no worktree is registered in
# the repository) and built there.  Sets desc_a, desc_b (one line each
# saying what was built), ver_a and ver_b (their default_version); NAME
# prefixes the error messages.
ab_builds() {
	local name=$1 top=$2 scratch=$3 rev_a rev_b= frozen dirty t
	if [ -n "${4:-}" ]; then
		rev_a=$(git -C "$top" rev-parse --verify "$4^{commit}")
	else
		frozen=$(git -C "$top" log --diff-filter=A --format=%H -1 -- sql/machinesoup--0.3.0.sql)
		[ -n "$frozen" ] || { echo "$name: no commit adds sql/machinesoup--0.3.0.sql; give REV_A" >&2; exit 1; }
		rev_a=$(git -C "$top" rev-parse --verify "$frozen^")
	fi
	[ -z "${5:-}" ] || rev_b=$(git -C "$top" rev-parse --verify "$5^{commit}")

	mkdir -p "$scratch/a" "$scratch/b"
	git -C "$top" archive "$rev_a" | tar -x -C "$scratch/a"
	desc_a="A = $(git -C "$top" log -1 --format='%h %s' "$rev_a" | cut -c1-90)"
	if [ -n "$rev_b" ]; then
		git -C "$top" archive "$rev_b" | tar -x -C "$scratch/b"
		desc_b="B = $(git -C "$top" log -1 --format='%h %s' "$rev_b" | cut -c1-90)"
	else
		(cd "$top" && git ls-files -z -co --exclude-standard | tar --null -T - -cf -) | tar -x -C "$scratch/b"
		dirty=$(git -C "$top" status --porcelain | wc -l)
		desc_b="B = working tree of $top at $(git -C "$top" log -1 --format=%h) with $dirty changed file(s)"
	fi
	for t in a b; do
		echo "building $t ..."
		make -s -C "$scratch/$t" -j"$(nproc)" 2>&1 | grep -E "error|warning" || true
		[ -e "$scratch/$t/machinesoup.so" ] || { echo "$name: build $t failed" >&2; exit 1; }
	done
	ver_a=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" "$scratch/a/machinesoup.control")
	ver_b=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" "$scratch/b/machinesoup.control")
}
