# Recall of msivf with default settings (calibrated probes for
# machinesoup.target_recall): at build, after inserting 50 % more rows, and
# after deleting a third plus VACUUM; a filtered query fills its LIMIT; a
# cursor pages through every row exactly once.  The same recall checks for
# L1 (vec_l1_ops).
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use msivf_common;

my $node = PostgreSQL::Test::Cluster->new('recall');
$node->init;
$node->append_conf('postgresql.conf', "maintenance_work_mem = 64MB\n");
$node->start;

my $dims = 64;
$node->safe_psql('postgres', msivf_common::setup_sql($dims, 60, 0.33));
$node->safe_psql('postgres', msivf_common::blob_rows_sql('items', 1, 20000, $dims));
# the assignment pass with parallel workers gives the same index as alone
$node->safe_psql('postgres', 'ALTER TABLE items SET (parallel_workers = 2)');
my ($ret, $out, $err) = $node->psql('postgres', q{
	SET max_parallel_maintenance_workers = 2;
	SET client_min_messages = debug1;
	CREATE INDEX items_par ON items USING msivf (emb vec_l2_ops);
});
is($ret, 0, 'parallel build succeeds');
like($err, qr/assignment with [12] parallel workers/, 'the build used parallel workers');
$node->safe_psql('postgres', 'SET max_parallel_maintenance_workers = 0; CREATE INDEX items_l2 ON items USING msivf (emb vec_l2_ops)');
is($node->safe_psql('postgres', q{
	SELECT (SELECT string_agg(x::text, ',') FROM msivf_index_info('items_par') x) =
		   (SELECT string_agg(x::text, ',') FROM msivf_index_info('items_l2') x)}),
	't', 'same shape and calibration in parallel and alone');
($ret, $out, $err) = $node->psql('postgres', q{
	SET max_parallel_maintenance_workers = 2;
	SET client_min_messages = debug1;
	REINDEX INDEX CONCURRENTLY items_par;
});
is($ret, 0, 'REINDEX CONCURRENTLY with parallel workers succeeds');
like($err, qr/assignment with [12] parallel workers/, 'REINDEX CONCURRENTLY used parallel workers');
is($node->safe_psql('postgres', q{SET machinesoup.probes = 1000; DROP INDEX items_l2; SELECT mismatches(10)}),
	'0', 'the parallel-built index holds every row (full probes exact)');
$node->safe_psql('postgres', q{
	DROP INDEX items_par;
	SET max_parallel_maintenance_workers = 0;
	CREATE INDEX items_l2 ON items USING msivf (emb vec_l2_ops);
});

my $info = $node->safe_psql('postgres',
	"SELECT lists || ' ' || probes FROM msivf_index_info('items_l2')");
note("lists, probes: $info");

my $r = $node->safe_psql('postgres', 'SELECT recall(10)');
cmp_ok($r, '>=', 0.9, "recall\@10 at build: $r");

$node->safe_psql('postgres', msivf_common::blob_rows_sql('items', 20001, 10000, $dims));
$r = $node->safe_psql('postgres', 'SELECT recall(10)');
cmp_ok($r, '>=', 0.9, "recall\@10 after inserting 50 % more rows: $r");

$node->safe_psql('postgres', 'DELETE FROM items WHERE id % 3 = 0; VACUUM items;');
$r = $node->safe_psql('postgres', 'SELECT recall(10)');
cmp_ok($r, '>=', 0.9, "recall\@10 after deleting a third and VACUUM: $r");

# a filter that keeps 1 row in 200 still gets its full LIMIT
my $filtered = $node->safe_psql('postgres', q{
	SET enable_seqscan = off;
	SELECT count(*) FROM (SELECT id FROM items WHERE id % 200 = 1
		ORDER BY emb <-> (SELECT q FROM queries WHERE qid = 1) LIMIT 25) s;
});
is($filtered, '25', 'a selective filter returns a full LIMIT');
my $plan = $node->safe_psql('postgres', q{
	SET enable_seqscan = off;
	EXPLAIN (COSTS OFF) SELECT id FROM items WHERE id % 200 = 1
		ORDER BY emb <-> (SELECT q FROM queries WHERE qid = 1) LIMIT 25;
});
like($plan, qr/Index Scan using items_l2/, 'the filtered query uses the index');

# pagination with a cursor: every row exactly once
my $total = $node->safe_psql('postgres', 'SELECT count(*) FROM items');
my $pages = int($total / 1000) + 2;
my $fetches = "FETCH 1000 FROM c;\n" x $pages;
$out = $node->safe_psql('postgres', qq{
	BEGIN;
	SET LOCAL enable_seqscan = off;
	DECLARE c CURSOR FOR SELECT id FROM items ORDER BY emb <-> (SELECT q FROM queries WHERE qid = 2);
	$fetches
	COMMIT;
});
my @ids = grep { /^\d+$/ } split /\n/, $out;
my %seen;
$seen{$_}++ for @ids;
is(scalar(@ids), $total, "the cursor returned $total rows");
is(scalar(keys %seen), $total, 'each row exactly once');

# L1 (vec_l1_ops) in a database of its own: knn() orders by <+> there and
# fails unless the plan scans an msivf index
$node->safe_psql('postgres', 'CREATE DATABASE l1');
$node->safe_psql('l1', msivf_common::setup_sql($dims, 60, 0.33, '<+>'));
$node->safe_psql('l1', msivf_common::blob_rows_sql('items', 1, 20000, $dims));
$node->safe_psql('l1', 'CREATE INDEX items_l1 ON items USING msivf (emb vec_l1_ops)');
like($node->safe_psql('l1', q{
	SET enable_seqscan = off;
	EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY emb <+> (SELECT q FROM queries WHERE qid = 1) LIMIT 10;
}), qr/Index Scan using items_l1/, 'ORDER BY <+> uses the vec_l1_ops index');
note('L1 lists, probes: ' . $node->safe_psql('l1',
	"SELECT lists || ' ' || probes || ' ' || metric FROM msivf_index_info('items_l1')"));
$r = $node->safe_psql('l1', 'SELECT recall(10)');
cmp_ok($r, '>=', 0.9, "L1 recall\@10 at build: $r");
is($node->safe_psql('l1', 'SET machinesoup.probes = 1000; SELECT mismatches(10)'),
	'0', 'L1 at full probes: exact');
$node->safe_psql('l1', msivf_common::blob_rows_sql('items', 20001, 10000, $dims));
$r = $node->safe_psql('l1', 'SELECT recall(10)');
cmp_ok($r, '>=', 0.9, "L1 recall\@10 after inserting 50 % more rows: $r");
$node->safe_psql('l1', 'DELETE FROM items WHERE id % 3 = 0; VACUUM items;');
$r = $node->safe_psql('l1', 'SELECT recall(10)');
cmp_ok($r, '>=', 0.9, "L1 recall\@10 after deleting a third and VACUUM: $r");

$node->stop;
done_testing();
