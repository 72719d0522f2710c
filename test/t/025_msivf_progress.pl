# An msivf build reports its progress in pg_stat_progress_create_index: its
# phases by name, and the tuples it has assigned out of the table's.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use msivf_common;

my $node = PostgreSQL::Test::Cluster->new('progress');
$node->init;
$node->start;
$node->safe_psql('postgres', msivf_common::setup_sql(64, 20, 0.55));
$node->safe_psql('postgres', msivf_common::blob_rows_sql('items', 1, 100000, 64));

is( $node->safe_psql('postgres', q{
		SELECT string_agg(coalesce(pg_indexam_progress_phasename(a.oid, n), '-'), ',' ORDER BY n)
		  FROM pg_am a, generate_series(1, 6) n WHERE a.amname = 'msivf'}),
	'initializing,sampling table,training centroids,assigning tuples,writing index,-',
	'the build phases have names');

# the build in one session, a poller in another: a fresh view of the
# progress every millisecond until the build is over
$node->safe_psql('postgres', 'CREATE TABLE seen (phase text, tuples_done bigint, tuples_total bigint)');
my ($out, $err) = ('', '');
my $build = IPC::Run::start(
	[
		'psql', '-X', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('postgres'),
		# (a moment first, for the poller to be polling)
		'-c', 'SET max_parallel_maintenance_workers = 0', '-c', 'SELECT pg_sleep(0.5)',
		'-c', 'CREATE INDEX items_msivf ON items USING msivf (emb vec_l2_ops) WITH (lists = 300)'
	],
	'>', \$out, '2>', \$err);
$node->safe_psql('postgres', q{
	DO $$
	DECLARE
		r record;
		started boolean := false;
	BEGIN
		FOR i IN 1..60000 LOOP
			PERFORM pg_stat_clear_snapshot();
			SELECT p.phase, p.tuples_done, p.tuples_total INTO r
			  FROM pg_stat_progress_create_index p WHERE p.relid = 'items'::regclass;
			IF FOUND THEN
				started := true;
				INSERT INTO seen VALUES (r.phase, r.tuples_done, r.tuples_total);
			ELSIF started THEN
				EXIT;
			END IF;
			PERFORM pg_sleep(0.001);
		END LOOP;
	END $$;
});
$build->finish;
is($err, '', 'the build succeeded');

my $phases = $node->safe_psql('postgres', q{
	SELECT string_agg(phase, ',' ORDER BY first) FROM (
		SELECT phase, min(ctid) AS first FROM seen
		 WHERE phase LIKE 'building index: %' GROUP BY phase) p});
note "phases seen: $phases";
like($phases, qr/building index: (sampling table|training centroids|assigning tuples|writing index)/,
	'msivf phases show while it builds');
unlike($phases, qr/writing index.*(sampling table|training centroids|assigning tuples)/,
	'in their order');
is( $node->safe_psql('postgres', q{
		SELECT count(*) FROM seen
		 WHERE phase IN ('building index: assigning tuples', 'building index: writing index')
		   AND (tuples_total <> 100000 OR tuples_done > tuples_total)}),
	'0', 'tuples done count up to the table\'s 100000 rows');
is( $node->safe_psql('postgres', q{
		SELECT coalesce(bool_and(tuples_done >= prev), true) FROM (
			SELECT tuples_done, lag(tuples_done, 1, 0::bigint) OVER (ORDER BY ctid) AS prev
			  FROM seen WHERE phase = 'building index: assigning tuples') s}),
	't', 'and only up');

$node->stop;
done_testing();
