#!/bin/bash
# A/B benchmark of two builds of the extension, for the security issue's
# budget "the hardening costs ms.knn and ms.ingest no more than 5 % over
# 0.3.0, in the same run".
#
#   bash test/bench/hardening_ab.sh [REV_A [REV_B]]        (as root)
#
# REV_A defaults to 0.3.0's last code: the parent of the commit that froze
# sql/machinesoup--0.3.0.sql when 0.4.0 began (that commit changed no code,
# and the parent's generated install script is the frozen one).  REV_B
# defaults to the working tree as it is, uncommitted changes included.
# Each is unpacked from git into a scratch tree under /tmp (git archive: no
# worktree is registered in the repository) and built there, before any
# measuring.  Then ROUNDS rounds, alternating the order (A B, B A, ...):
# for each build, holding /tmp/ms-install.lock (flock) so that nobody
# else's install lands in between, install it, start a fresh throwaway
# cluster (pg_virtualenv), CREATE EXTENSION at that build's own version
# (0.3.0 for A, 0.4.0 for B), load the same data, measure:
#  - knn 100-d cosine (msivf): ms.knn by a role holding a query grant,
#    pgbench -M prepared, one client, SECONDS_PER_RUN seconds, 10-NN of
#    random queries among ROWS_100 points (index rebuilt on the data);
#  - knn 3-d l2 (GiST): the same among ROWS_3 points;
#  - ingest 1 record: ms.ingest of one float32 record (100-d) per call and
#    transaction by a role holding an ingest grant, N_ONE calls;
#  - ingest 64 kB: ms.ingest of 64 kB float32 batches, N_64K calls;
# both ingest workloads into a version whose msivf index is already trained
# (a warm-up loads 11,200 points first).  The cluster runs with
# synchronous_commit = off, so that a commit's WAL flush (the disk's, not
# the extension's) does not dilute the difference, and builds indexes
# without parallel workers: msivf's sampling is seeded, so every round and
# both builds get the same index, and its quality is not one more
# difference between rounds.  Each ms.* workload has an anchor measured
# right after it in the same cluster, the same work without the governance
# layer, run by a superuser: the 100-d query directly on the version's
# partition, and for ingest the same batches stored in a plain bytea
# column (PostgreSQL's LZ4), decoded by ms.proc_float32 and upserted into
# a plain table with a trained msivf index.  Prints per workload
# the median rate of each build, the rounds' range and the ratio B/A of the
# medians, twice: by wall clock, and per second of the server's CPU time
# (what the backends spent, which other load on a shared machine moves
# less); the target is B/A >= 0.95; then, per ms.* workload, its rate over
# its anchor's in each cluster and the B/A of those: the cluster's own
# speed, which other load on a shared machine moves, divided out.
#
#   ROUNDS=5 SECONDS_PER_RUN=5 ROWS_100=50000 ROWS_3=100000 N_ONE=8000 N_64K=800
#
# Leaves the build measured last installed (everyone installs their own
# build before testing, under the same lock).  A benchmark, not a test: the
# CI run does not call it.
set -euo pipefail

ROUNDS=${ROUNDS:-5}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-5}
ROWS_100=${ROWS_100:-50000}
ROWS_3=${ROWS_3:-100000}
N_ONE=${N_ONE:-8000}
N_64K=${N_64K:-800}
LOCK=/tmp/ms-install.lock
REC=408					# one float32 record: int64 id + 100 float32
PER_BATCH=160			# records in a 64 kB batch (65,280 bytes)
WARM_BATCHES=70			# 11,200 points: ms.ingest trains the msivf index

# ---------------------------------------------------------------- measure
# hardening_ab.sh --measure LABEL ROUND VERSION WORKDIR: run as postgres
# inside pg_virtualenv; appends "LABEL ROUND WORKLOAD RATE" lines to
# WORKDIR/results.
if [ "${1:-}" = --measure ]; then
	label=$2 round=$3 version=$4 work=$5
	T=$SECONDS_PER_RUN
	q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
	q <<SQL >/dev/null
SET client_min_messages = warning;
CREATE EXTENSION machinesoup VERSION '$version';
CREATE ROLE bench_consumer LOGIN PASSWORD '${PGPASSWORD:-bench}';
CREATE ROLE bench_producer LOGIN PASSWORD '${PGPASSWORD:-bench}';
SELECT setseed(0.42);
SELECT ms.create_model('bench', m, d, metric)
  FROM (VALUES ('m100', 100, 'cosine'), ('m3', 3, 'l2'), ('f32', 100, 'l2')) c(m, d, metric);
SELECT ms.create_version('bench', 'm100', 'v1'), ms.create_version('bench', 'm3', 'v1'),
	   ms.create_version('bench', 'f32', 'v1', 'ms.proc_float32(bytea,integer)');
SELECT ms.promote('bench', m, 'v1') FROM unnest('{m100,m3,f32}'::text[]) m;
SELECT ms.grant('bench_consumer', 'query', 'bench', m) FROM unnest('{m100,m3}'::text[]) m;
SELECT ms.grant('bench_producer', 'ingest', 'bench', 'f32');
-- points and queries: uniform in [0, 1000)^dims
CREATE TEMP TABLE src AS
	SELECT m, i AS id, (SELECT array_agg(random() * 1000) FROM generate_series(1, d) WHERE i > 0)::vec AS v
	  FROM (VALUES ('m100', 100, $ROWS_100), ('m3', 3, $ROWS_3)) c(m, d, n), generate_series(1, n) i;
SELECT sum(ms.upsert_points('bench', m, 'v1', ids, vecs))
  FROM (SELECT m, array_agg(id) ids, array_agg(v) vecs FROM src GROUP BY m, id / 5000) b;
CREATE TABLE bench_q (model text, id int, v vec, PRIMARY KEY (model, id));
INSERT INTO bench_q SELECT m, i, (SELECT array_agg(random() * 1000) FROM generate_series(1, d) WHERE i > 0)::vec
  FROM (VALUES ('m100', 100), ('m3', 3)) c(m, d), generate_series(1, 1000) i;
GRANT SELECT ON bench_q TO bench_consumer;
-- the float32 batches: one file of records with distinct ids, cut into
-- 64 kB batches (the first WARM_BATCHES for the warm-up) and, after them,
-- one-record batches
CREATE TABLE ab_64k (i int PRIMARY KEY, data bytea);
CREATE TABLE ab_one (i int PRIMARY KEY, data bytea);
ALTER TABLE ab_64k ALTER COLUMN data SET STORAGE EXTERNAL;
INSERT INTO ab_64k SELECT i, pg_read_binary_file('$work/f32.bin', i::bigint * $REC * $PER_BATCH, $REC * $PER_BATCH)
  FROM generate_series(0, $WARM_BATCHES + $N_64K + 50 - 1) i;
INSERT INTO ab_one SELECT i, pg_read_binary_file('$work/f32.bin',
		($WARM_BATCHES + $N_64K + 50)::bigint * $REC * $PER_BATCH + i::bigint * $REC, $REC)
  FROM generate_series(0, $N_ONE + 200 - 1) i;
CREATE SEQUENCE ab_64k_pick MINVALUE 0 START $WARM_BATCHES;
CREATE SEQUENCE ab_one_pick MINVALUE 0 START 0;
GRANT SELECT ON ab_64k, ab_one TO bench_producer;
GRANT USAGE ON SEQUENCE ab_64k_pick, ab_one_pick TO bench_producer;
SQL
	# the versions' indexes trained on all their points, as in use
	q -At -c "SELECT format('REINDEX TABLE ms.points_%s;', version_id) FROM ms.versions WHERE model IN ('m100', 'm3')" |
		q >/dev/null
	q -c "VACUUM ANALYZE" >/dev/null
	# warm-up load of the ingest version, as its producer: its msivf index comes
	PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 -U bench_producer \
		-c "SELECT count(ms.ingest('bench', 'f32', data)) FROM (SELECT data FROM ab_64k WHERE i < $WARM_BATCHES ORDER BY i) b" >/dev/null
	# the anchor of the ingest workloads: what ms.ingest stores and indexes,
	# done directly by a superuser on plain tables (raw bytes kept with
	# PostgreSQL's own LZ4, records decoded by the same built-in processor,
	# upserted into a table with a trained msivf index), on the same
	# batches in the same order
	q <<SQL >/dev/null
CREATE TABLE anchor_raw (id bigserial PRIMARY KEY, data bytea COMPRESSION lz4);
CREATE TABLE anchor_points (point_id bigint PRIMARY KEY, embedding vec(100) NOT NULL, payload jsonb);
INSERT INTO anchor_points SELECT p.* FROM ab_64k b, ms.proc_float32(b.data, 100) p WHERE b.i < $WARM_BATCHES;
CREATE INDEX ON anchor_points USING msivf (embedding vec_l2_ops);
CREATE SEQUENCE anchor_64k_pick MINVALUE 0 START $WARM_BATCHES;
CREATE SEQUENCE anchor_one_pick MINVALUE 0 START 0;
VACUUM ANALYZE anchor_points;
SQL
	q -At -F ' ' <<'SQL' | sed "s/^/  $label round $round: /"
SELECT 'extension ' || extversion FROM pg_extension WHERE extname = 'machinesoup';
SELECT v.model || ': ' || count(p.*) || ' points, index ' ||
	   coalesce((SELECT string_agg(am.amname, ',') FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
				   JOIN pg_am am ON am.oid = c.relam
				  WHERE i.indrelid = format('ms.points_%s', v.version_id)::regclass AND am.amname <> 'btree'), 'none')
  FROM ms.versions v LEFT JOIN ms.points p USING (version_id) GROUP BY v.model, v.version_id ORDER BY 1;
SQL

	for m in m100 m3; do
		cat >"$work/knn_$m.sql" <<SQL
\set i random(1, 1000)
SELECT * FROM ms.knn('bench', '$m', (SELECT v FROM bench_q WHERE model = '$m' AND id = :i), 10);
SQL
	done
	# the query ms.knn runs on the version's partition, run directly by a
	# superuser: what the same cluster does without the governance layer
	part=$(q -At -c "SELECT format('ms.points_%s', version_id) FROM ms.versions WHERE model = 'm100'")
	cat >"$work/direct_m100.sql" <<SQL
\set i random(1, 1000)
SELECT p.point_id, p.embedding <=> (SELECT v FROM bench_q WHERE model = 'm100' AND id = :i), p.payload
  FROM $part p ORDER BY p.embedding <=> (SELECT v FROM bench_q WHERE model = 'm100' AND id = :i) LIMIT 10;
SQL
	q -At -c "EXPLAIN (COSTS OFF) $(sed -n 2,3p "$work/direct_m100.sql" | sed 's/:i/1/g')" |
		sed -n "s/^ *\(->  \)\?\(.*Scan.* on points_[0-9]*\).*/  $label round $round: direct query: \2/p"
	echo "SELECT ms.ingest('bench', 'f32', data) FROM ab_one WHERE i = (SELECT nextval('ab_one_pick'));" >"$work/ingest_one.sql"
	echo "SELECT ms.ingest('bench', 'f32', data) FROM ab_64k WHERE i = (SELECT nextval('ab_64k_pick'));" >"$work/ingest_64k.sql"
	for b in one 64k; do
		cat >"$work/direct_$b.sql" <<SQL
WITH b AS (SELECT data FROM ab_$b WHERE i = (SELECT nextval('anchor_${b}_pick'))),
	 r AS (INSERT INTO anchor_raw (data) SELECT data FROM b)
INSERT INTO anchor_points SELECT p.* FROM b, ms.proc_float32(b.data, 100) p
	ON CONFLICT (point_id) DO UPDATE SET embedding = excluded.embedding, payload = excluded.payload;
SQL
	done
	# The server's CPU time: the postmaster's own and that of its children
	# it has reaped (utime, stime, cutime, cstime of /proc/PID/stat, in
	# clock ticks).  pgbench's backend is reaped when pgbench disconnects,
	# so the difference across a run is that backend's CPU time (plus what
	# any other exited child used meanwhile), a figure that another
	# process's load on the machine moves far less than wall time.
	postmaster=$(head -1 "$(q -At -c 'SHOW data_directory')/postmaster.pid")
	ticks=$(getconf CLK_TCK)
	server_cpu() { awk '{ print $14 + $15 + $16 + $17 }' "/proc/$postmaster/stat"; }
	# run USER PGBENCH-ARGS...: prints "TPS TRANSACTIONS CPU-TICKS"
	# ("tps = 1234.5 (without initial connection time)")
	run() {
		local before out
		before=$(server_cpu)
		out=$(pgbench -n -M prepared -c 1 -U "$@" 2>&1 | tee -a "$work/pgbench.log")
		sleep 0.3				# the postmaster reaps the backend
		echo "$(echo "$out" | sed -n 's/^tps = \([0-9.]*\) .*/\1/p')" \
			"$(echo "$out" | sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p')" \
			"$(($(server_cpu) - before))"
	}
	# record WORKLOAD "TPS TRANSACTIONS CPU-TICKS": two lines of results,
	# the wall rate and the rate per second of server CPU
	record() {
		set -- "$1" $2
		[ -n "${4:-}" ] && [ "$4" -gt 0 ] ||
			{ echo "$label round $round: $1 measured nothing (see $work/pgbench.log)" >&2; exit 1; }
		local per_cpu_s
		per_cpu_s=$(awk -v n="$3" -v t="$4" -v hz="$ticks" 'BEGIN { printf "%.1f", n * hz / t }')
		echo "$label $round $1 $2" >>"$work/results"
		echo "$label $round $1 $per_cpu_s" >>"$work/results-cpu"
		echo "  $label round $round: $1 $2/s, $per_cpu_s per server CPU second"
	}
	run bench_consumer -T 1 -f "$work/knn_m100.sql" >/dev/null
	record "knn-100d-cosine-msivf" "$(run bench_consumer -T "$T" -f "$work/knn_m100.sql")"
	run postgres -T 1 -f "$work/direct_m100.sql" >/dev/null
	record "knn-100d-direct-msivf" "$(run postgres -T "$T" -f "$work/direct_m100.sql")"
	run bench_consumer -T 1 -f "$work/knn_m3.sql" >/dev/null
	record "knn-3d-l2-gist" "$(run bench_consumer -T "$T" -f "$work/knn_m3.sql")"
	run bench_producer -t 200 -f "$work/ingest_one.sql" >/dev/null
	record "ingest-1-record" "$(run bench_producer -t "$N_ONE" -f "$work/ingest_one.sql")"
	run bench_producer -t 50 -f "$work/ingest_64k.sql" >/dev/null
	record "ingest-64kB-float32" "$(run bench_producer -t "$N_64K" -f "$work/ingest_64k.sql")"
	run postgres -t 200 -f "$work/direct_one.sql" >/dev/null
	record "ingest-1-direct" "$(run postgres -t "$N_ONE" -f "$work/direct_one.sql")"
	run postgres -t 50 -f "$work/direct_64k.sql" >/dev/null
	record "ingest-64kB-direct" "$(run postgres -t "$N_64K" -f "$work/direct_64k.sql")"
	exit 0
fi

# ---------------------------------------------------------------- driver
[ "$(id -u)" = 0 ] || { echo "hardening_ab.sh: run as root (it installs each build)" >&2; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)
top=$(git -C "$here" rev-parse --show-toplevel)
scratch=$(mktemp -d /tmp/ms-hardening-ab.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
chmod 711 "$scratch"		# postgres reads $work below
work=$scratch/work
mkdir -p "$work"
. "$here/ab_builds.sh"
ab_builds hardening_ab.sh "$top" "$scratch" "${1:-}" "${2:-}"
ver() { if [ "$1" = a ]; then echo "$ver_a"; else echo "$ver_b"; fi; }

# float32 records with distinct ids (little-endian int64 + 100 float32),
# vectors drawn from a fixed pool: enough for the warm-up, the 64 kB
# batches and the one-record batches of one round
python3 - "$work/f32.bin" $(((WARM_BATCHES + N_64K + 50) * PER_BATCH + N_ONE + 200)) <<'PY'
import random, struct, sys
random.seed(20241205)
pool = [struct.pack("<100f", *[random.uniform(-1, 1) for _ in range(100)]) for _ in range(4096)]
with open(sys.argv[1], "wb") as f:
    for i in range(int(sys.argv[2])):
        f.write(struct.pack("<q", 1000000 + i) + pool[i % len(pool)])
PY
cp "$here/hardening_ab.sh" "$work/"
chown -R postgres "$work"
cd "$work"

echo "$desc_a (extension $ver_a)"
echo "$desc_b (extension $ver_b)"
for r in $(seq 1 "$ROUNDS"); do
	if [ $((r % 2)) = 1 ]; then order="a b"; else order="b a"; fi
	for t in $order; do
		v=$(ver $t)
		flock "$LOCK" sh -c "make -s -C '$scratch/$t' install >/dev/null &&
			runuser -u postgres -- env SECONDS_PER_RUN=$SECONDS_PER_RUN ROWS_100=$ROWS_100 ROWS_3=$ROWS_3 \
				N_ONE=$N_ONE N_64K=$N_64K \
				pg_virtualenv -o shared_preload_libraries=machinesoup -o shared_buffers=512MB \
				-o synchronous_commit=off -o jit=off -o max_parallel_maintenance_workers=0 \
				bash '$work/hardening_ab.sh' --measure ${t^^} $r '$v' '$work'" 2>&1 |
			grep -v "^Creating new PostgreSQL cluster\|^Dropping cluster" || true
		grep -q "^${t^^} $r ingest-64kB-direct" "$work/results" ||
			{ echo "hardening_ab.sh: round $r of ${t^^} did not finish" >&2; exit 1; }
	done
done

python3 - "$work" "$ROUNDS" <<'PY'
import statistics, sys
work, rounds = sys.argv[1], sys.argv[2]
def table(file, title, per):
    rates = {}
    for line in open(f"{work}/{file}"):
        build, rnd, workload, rate = line.split()
        rates.setdefault(workload, {}).setdefault(build, []).append(float(rate))
    units = {"knn": "queries", "ingest-1-record": "calls", "ingest-64kB-float32": "batches",
             "ingest-1-direct": "calls", "ingest-64kB-direct": "batches"}
    print()
    print(title)
    print(f"{'workload':<22} {'unit':<16} {'A median':>9} {'A range':>15} {'B median':>9} {'B range':>15} {'B/A':>6}  target")
    for w in ("knn-100d-cosine-msivf", "knn-100d-direct-msivf", "knn-3d-l2-gist", "ingest-1-record",
              "ingest-1-direct", "ingest-64kB-float32", "ingest-64kB-direct"):
        a, b = rates[w]["A"], rates[w]["B"]
        ma, mb = statistics.median(a), statistics.median(b)
        unit = (units["knn"] if w.startswith("knn") else units[w]) + per
        ratio = mb / ma
        print(f"{w:<22} {unit:<16} {ma:>9.0f} {min(a):>7.0f}-{max(a):<7.0f} {mb:>9.0f} {min(b):>7.0f}-{max(b):<7.0f} "
              f"{ratio:>6.3f}  {'met' if ratio >= 0.95 else 'MISSED'}")
print(f"\nMedian of {rounds} rounds per build (rounds alternate A B / B A; each a fresh cluster); target B/A >= 0.95")
table("results", "Wall clock: pgbench's rate", "/s")
table("results-cpu", "Server CPU: calls per second of the server's CPU time (its backends')", "/cpu-s")

# Within each cluster: each ms.* workload's rate over its anchor's (the
# same work done directly, measured right after it): what the governance
# layer costs in each build, with the cluster's own speed divided out.
rates = {}
for line in open(f"{work}/results"):
    build, rnd, workload, rate = line.split()
    rates.setdefault((build, rnd), {})[workload] = float(rate)
print()
print("Within each cluster: the ms.* call's rate / the same work done directly (its anchor)")
print(f"{'':<22} {'A median':>9} {'A range':>13} {'B median':>9} {'B range':>13} {'B/A':>6}  target")
for name, w, anchor in (("ms.knn / direct", "knn-100d-cosine-msivf", "knn-100d-direct-msivf"),
                        ("ingest 1 / direct", "ingest-1-record", "ingest-1-direct"),
                        ("ingest 64kB / direct", "ingest-64kB-float32", "ingest-64kB-direct")):
    share = {b: [r[w] / r[anchor] for (build, _), r in sorted(rates.items()) if build == b] for b in "AB"}
    ma, mb = statistics.median(share["A"]), statistics.median(share["B"])
    print(f"{name:<22} {ma:>9.3f} {min(share['A']):>6.3f}-{max(share['A']):<6.3f} {mb:>9.3f} "
          f"{min(share['B']):>6.3f}-{max(share['B']):<6.3f} {mb / ma:>6.3f}  {'met' if mb / ma >= 0.95 else 'MISSED'}")
PY
