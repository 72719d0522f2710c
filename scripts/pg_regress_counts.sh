# Sourced by scripts/test.sh and scripts/test_deb.sh: counts the suites a
# pg_regress log reports passed and failed.
#
# pg_regress_counts LOG: prints "PASSED FAILED".  pg_regress lines look
# like "test vec_io ... ok  12 ms" (PostgreSQL 15) or "ok 1 - vec_io  12 ms"
# (16+).
pg_regress_counts() {
	echo "$(grep -Ec '^((test +| +)[A-Za-z0-9_-]+ +\.\.\. ok|ok [0-9]+ +[-+] )' "$1")" \
		"$(grep -Ec '^((test +| +)[A-Za-z0-9_-]+ +\.\.\. FAILED|not ok [0-9]+ +[-+] )' "$1")"
}
