# msivf at the widths of sentence and text embeddings, with default
# settings: 20,000 rows of 768 dimensions (L2) and 5,000 unit vectors of
# 1536 dimensions (inner product).  Like real embeddings, the points have a
# high ambient and a low intrinsic dimension: clustered 12-d latent points
# mapped into the wide space by a fixed random linear map, plus a little
# independent noise.  Recall@10 at the calibrated probes is at least 0.9,
# and at full probes the index gives exactly the sequential scan's top 10
# (the plan asserted to be an msivf scan each time).
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use msivf_common;

my $node = PostgreSQL::Test::Cluster->new('highd');
$node->init;
$node->append_conf('postgresql.conf', "maintenance_work_mem = 128MB\n");
$node->start;

my $latent = 12;

for my $case ([768, 20000, '<->', 'vec_l2_ops', 0], [1536, 5000, '<#>', 'vec_ip_ops', 1])
{
	my ($dims, $rows, $op, $opclass, $unit) = @$case;
	my $db = "highd_$dims";
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->safe_psql($db, msivf_common::setup_sql($dims, 1, 0.5, $op));
	$node->safe_psql($db, msivf_common::latent_setup_sql($dims, $latent) . 'TRUNCATE queries;');
	$node->safe_psql($db, msivf_common::latent_rows_sql('items', 'id', 'emb', 1, $rows, $dims, $unit));
	$node->safe_psql($db, msivf_common::latent_rows_sql('queries', 'qid', 'q', 1, 100, $dims, $unit));
	is($node->safe_psql($db, qq{SELECT count(*) FILTER (WHERE vec_dims(emb) = $dims) FROM items}),
		$rows, "$rows rows of $dims dims");

	$node->safe_psql($db, "CREATE INDEX items_idx ON items USING msivf (emb $opclass)");
	my $info = $node->safe_psql($db,
		"SELECT lists || ' lists, ' || probes || ' probes' FROM msivf_index_info('items_idx')");
	note("$dims-d: $info");

	my $r = $node->safe_psql($db, 'SELECT recall(10)');
	cmp_ok($r, '>=', 0.9, "$dims-d $op: recall\@10 at default settings: $r");
	is($node->safe_psql($db, 'SET machinesoup.probes = 32768; SELECT mismatches(10)'), '0',
		"$dims-d $op: at full probes the index gives the exact top 10");
}

$node->stop;
done_testing();
