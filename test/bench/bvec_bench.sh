#!/bin/bash
# bvec distance benchmark (issue 16): ns per row of sum(a <~> q) over 1M
# random 1024-bit rows, for bvec at every SIMD level this CPU has, against
# pgvector 0.8.6's <~> on bit(1024) and PostgreSQL's own bit_count(a # q),
# each on its own table, one core (no parallel workers), cache warm.  Also
# sum(a <%> q) (Jaccard) for bvec and pgvector.  Figures are medians of 5
# runs after a warm-up; ratios are against bvec at the best level.
#
# Needs the installed extension and pgvector: run under the install lock,
#   flock /tmp/ms-install.lock sh -c 'make -s install && bash test/bench/bvec_bench.sh'
# ROWS=100000 for a quick run.
set -euo pipefail
cd "$(dirname "$0")/../.."

ROWS=${ROWS:-1000000}
[ -e "$(pg_config --pkglibdir)/vector.so" ] || bash /work/shared/anchors/install-pgvector.sh
RUNAS=()
[ "$(id -u)" = 0 ] && RUNAS=(runuser -u postgres --)

"${RUNAS[@]}" pg_virtualenv -o shared_buffers=1GB -- psql -X -q -v ON_ERROR_STOP=1 -v rows="$ROWS" -f - <<'SQL'
\pset footer off
SET max_parallel_workers_per_gather = 0;
SET jit = off;
\o /dev/null
CREATE EXTENSION machinesoup;
CREATE EXTENSION vector;
CREATE EXTENSION pg_prewarm;

-- 1024 random bits a row: 8 md5s of 128 bits each, as hex
CREATE TABLE t_bit AS
SELECT ('x' || md5(i::text) || md5((i + 1e7)::text) || md5((i + 2e7)::text) || md5((i + 3e7)::text)
			|| md5((i + 4e7)::text) || md5((i + 5e7)::text) || md5((i + 6e7)::text)
			|| md5((i + 7e7)::text))::bit(1024) AS a
  FROM generate_series(1, :rows) i;
CREATE TABLE t_bvec AS SELECT a::bvec(1024) AS a FROM t_bit;
VACUUM FREEZE ANALYZE;
SELECT sum(pg_prewarm(c.oid)) FROM pg_class c
 WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 't');

-- median wall time (ms) of reps runs after one warm-up
CREATE FUNCTION bench_ms(sql text, reps int) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE
	t0 timestamptz;
	times float8[] := '{}';
BEGIN
	EXECUTE sql;
	FOR i IN 1 .. reps LOOP
		t0 := clock_timestamp();
		EXECUTE sql;
		times := times || extract(epoch FROM clock_timestamp() - t0) * 1000;
	END LOOP;
	RETURN (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x) FROM unnest(times) x);
END $$;

CREATE TABLE results (variant text, op text, ms float8, answer float8);
SELECT a AS qbit FROM t_bit LIMIT 1 OFFSET 12345 \gset
CREATE FUNCTION run_case(variant text, op text, sql text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	answer float8;
BEGIN
	EXECUTE sql INTO answer;
	INSERT INTO results VALUES (variant, op, bench_ms(sql, 5), answer);
END $$;

-- every level this CPU has; an unsupported one is refused by the setting
DO $$
DECLARE
	lvl text;
	q text := (SELECT a::text FROM t_bit LIMIT 1 OFFSET 12345);
BEGIN
	FOREACH lvl IN ARRAY ARRAY['scalar', 'avx2', 'avx512'] LOOP
		BEGIN
			PERFORM set_config('machinesoup.simd', lvl, false);
		EXCEPTION WHEN invalid_parameter_value THEN
			CONTINUE;
		END;
		PERFORM run_case('bvec ' || lvl, 'hamming',
						 format('SELECT sum(a <~> %L::bvec) FROM t_bvec', q));
		PERFORM run_case('bvec ' || lvl, 'jaccard',
						 format('SELECT sum(a <%%> %L::bvec) FROM t_bvec', q));
	END LOOP;
END $$;
RESET machinesoup.simd;
SELECT run_case('pgvector bit <~>', 'hamming', format('SELECT sum(a <~> %L::bit(1024)) FROM t_bit', :'qbit'));
SELECT run_case('pgvector bit <%>', 'jaccard', format('SELECT sum(a <%%> %L::bit(1024)) FROM t_bit', :'qbit'));
SELECT run_case('bit_count(a # q)', 'hamming', format('SELECT sum(bit_count(a # %L::bit(1024))) FROM t_bit', :'qbit'));
-- the executor's own cost per row: the same scan and sum of a constant
SELECT run_case('sum(1.0) (scan only)', '-', 'SELECT sum(1.0::float8) FROM t_bvec');

\o
\echo
SELECT :rows AS rows_of_1024_bits, version() AS server \gx
SELECT variant, op, round((ms * 1e6 / :rows)::numeric, 1) AS ns_per_row,
	   round((ms / min(ms) FILTER (WHERE variant LIKE 'bvec%') OVER (PARTITION BY op))::numeric, 2)
		   AS vs_best_bvec,
	   answer
  FROM results ORDER BY op, ms;
-- pgvector's Jaccard of two all-zero bit strings, against bvec's 0
SELECT B'0000' <%> B'0000' AS pgvector_zero_zero, '0000'::bvec <%> '0000'::bvec AS bvec_zero_zero;
SQL
