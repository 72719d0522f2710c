# kill -9 of the postmaster while several producers run ms.ingest into one
# version whose partition has an msivf index.  ms.ingest indexes a batch at
# a time (msivf_insert_batch: one directory lock for the batch, several
# list pages to a WAL record), so this is crash recovery of those records
# under concurrency: afterwards the index holds every committed point, once,
# its full-probe answers are exact, and the version keeps taking batches.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use msivf_common;

my $node = PostgreSQL::Test::Cluster->new('ingest_crash');
$node->init;
$node->append_conf('postgresql.conf', "max_connections = 20\n");
$node->start;

$node->safe_psql('postgres', msivf_common::setup_sql(32, 10, 0.33));
$node->safe_psql('postgres', msivf_common::blob_rows_sql('items', 1, 3000, 32));
$node->safe_psql('postgres', q{
	SELECT ms.create_model('tap', 'm', 32);
	SELECT ms.create_version('tap', 'm', 'v1');
	CREATE SEQUENCE point_ids START 1000000;
});
my $part = $node->safe_psql('postgres',
	"SELECT format('ms.points_%s', version_id) FROM ms.versions WHERE org = 'tap' AND label = 'v1'");
# the version's own index at 32 dims is GiST: msivf takes its place, built
# on the first 3000 points
$node->safe_psql('postgres', qq{
	DROP INDEX ${part}_embedding;
	SELECT ms.ingest('tap', 'm',
		(SELECT convert_to(string_agg(id || ',' || trim(both '[]' FROM emb::text), E'\\n'), 'UTF8') FROM items),
		'v1');
	CREATE INDEX tap_msivf ON $part USING msivf (embedding vec_l2_ops) WITH (lists = 20);
	CHECKPOINT;
});

# four producers, each transaction a batch of 30 new points (a point or two
# per list)
my $script = "$PostgreSQL::Test::Utils::tmp_check/msivf_ingest_crash.sql";
open my $fh, '>', $script or die;
print $fh q{
SELECT ms.ingest('tap', 'm',
	(SELECT convert_to(string_agg(nextval('point_ids') || ',' ||
		(SELECT string_agg((random() * 20 - 10)::real::text, ',') FROM generate_series(1, 32) WHERE g > 0),
		E'\n'), 'UTF8')
	   FROM generate_series(1, 30) g),
	'v1');
};
close $fh;
my $rows = msivf_common::crash_under_load($node, $script, "SELECT count(*) FROM $part", 6000);
ok($rows > 3000, "concurrent ingests ran ($rows points before the crash)");

my $committed = $node->safe_psql('postgres', "SELECT count(*) FROM $part");
ok($committed >= $rows, "points counted before the crash survived ($committed >= $rows)");

# every list probed: the index returns exactly the partition's points, and
# its k-NN answers are the exact ones
my $every_point = qq{
	SET enable_seqscan = off;
	SET machinesoup.probes = 20;
	CREATE TEMP TABLE via_index AS
		SELECT point_id FROM $part ORDER BY embedding <-> (SELECT q FROM queries WHERE qid = 1) OFFSET 0;
	SELECT (SELECT count(*) FROM via_index) || ' ' ||
		(SELECT count(*) FROM (SELECT point_id FROM $part EXCEPT SELECT point_id FROM via_index) a) || ' ' ||
		(SELECT count(*) FROM (SELECT point_id FROM via_index EXCEPT SELECT point_id FROM $part) b);
};
my $mismatches = qq{
	CREATE FUNCTION pg_temp.knn(use_index bool) RETURNS TABLE (qid int, ids bigint[])
	LANGUAGE plpgsql AS \$\$
	BEGIN
		PERFORM set_config('enable_seqscan', CASE WHEN use_index THEN 'off' ELSE 'on' END, true);
		PERFORM set_config('enable_indexscan', CASE WHEN use_index THEN 'on' ELSE 'off' END, true);
		PERFORM set_config('enable_bitmapscan', 'off', true);
		RETURN QUERY SELECT q.qid, array(SELECT p.point_id FROM $part p ORDER BY p.embedding <-> q.q LIMIT 10)
					   FROM queries q;
	END \$\$;
	SET machinesoup.probes = 20;
	SELECT count(*) FROM pg_temp.knn(true) a JOIN pg_temp.knn(false) e USING (qid) WHERE a.ids <> e.ids;
};
is($node->safe_psql('postgres', $every_point), "$committed 0 0",
	'after recovery the index returns every committed point, once');
is($node->safe_psql('postgres', $mismatches), '0', 'full-probe answers after recovery are exact');

# the version keeps taking batches, and a VACUUM, after recovery
$node->safe_psql('postgres', "SELECT ms.ingest('tap', 'm', ("
	  . "SELECT convert_to(string_agg((5000000 + g) || ',' || "
	  . "(SELECT string_agg((random() * 20 - 10)::real::text, ',') FROM generate_series(1, 32) WHERE g > 0), "
	  . "E'\\n'), 'UTF8') FROM generate_series(1, 500) g), 'v1')");
$node->safe_psql('postgres', "DELETE FROM $part WHERE point_id % 7 = 0; VACUUM $part;");
$committed = $node->safe_psql('postgres', "SELECT count(*) FROM $part");
is($node->safe_psql('postgres', $every_point), "$committed 0 0",
	'ingest and VACUUM after recovery keep every point in the index');
is($node->safe_psql('postgres', $mismatches), '0', 'and its full-probe answers exact');

$node->stop;
done_testing();
