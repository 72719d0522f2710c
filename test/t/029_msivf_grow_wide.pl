# msivf growth above 1,017 dimensions, where a growth page holds a new
# list's centroid alone and a split leaves the list it splits with its
# centroid (msivfsplit.c): indexes of 1536 dimensions (cosine) and 1100
# (L2) built on empty tables and fed in batches grow their lists; after a
# VACUUM recalibrates, recall@10 at default settings is at least 0.9, and
# at full probes every answer is exact (the plan asserted to be an msivf
# scan each time).  A streaming replica with wal_consistency_checking
# answers as the primary does, and so does the primary after an
# immediate stop and crash recovery, splits going on after it.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use msivf_common;

my $primary = PostgreSQL::Test::Cluster->new('wide_primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', "wal_consistency_checking = 'generic'\nautovacuum = off\n");
$primary->start;
$primary->backup('bk');
my $standby = PostgreSQL::Test::Cluster->new('wide_standby');
$standby->init_from_backup($primary, 'bk', has_streaming => 1);
$standby->start;

my $full = 'SET machinesoup.probes = 32768; ';
my $answers = q{SET enable_seqscan = off;
	SELECT string_agg(qid || ':' || ids::text, ' ' ORDER BY qid) FROM knn(10, true)};

for my $case ([1536, 6000, '<=>', 'vec_cosine_ops', 1], [1100, 4200, '<->', 'vec_l2_ops', 0])
{
	my ($dims, $rows, $op, $opclass, $unit) = @$case;
	my $db = "wide_$dims";
	$primary->safe_psql('postgres', "CREATE DATABASE $db");
	$primary->safe_psql($db, msivf_common::setup_sql($dims, 1, 0.5, $op));
	$primary->safe_psql($db, msivf_common::latent_setup_sql($dims, 12) . 'TRUNCATE queries;');
	$primary->safe_psql($db, msivf_common::latent_rows_sql('queries', 'qid', 'q', 1, 100, $dims, $unit));
	$primary->safe_psql($db, "CREATE INDEX items_idx ON items USING msivf (emb $opclass)");
	my $batch = $rows / 6;
	for my $b (0 .. 4)
	{
		$primary->safe_psql($db, msivf_common::latent_rows_sql('items', 'id', 'emb', 1 + $b * $batch, $batch, $dims, $unit));
	}
	my $lists = $primary->safe_psql($db, "SELECT lists FROM msivf_index_info('items_idx')");
	cmp_ok($lists, '>=', 5, "$dims-d: an index built empty grew its lists as rows arrived ($lists)");
	$primary->safe_psql($db, 'VACUUM items');
	my $r = $primary->safe_psql($db, 'SELECT recall(10)');
	cmp_ok($r, '>=', 0.9, "$dims-d $op: recall\@10 at default settings after VACUUM: $r");
	is($primary->safe_psql($db, $full . 'SELECT mismatches(10)'), '0',
		"$dims-d $op: at full probes the index gives the exact top 10");

	$primary->wait_for_catchup($standby, 'replay');
	is($standby->safe_psql($db, $full . $answers), $primary->safe_psql($db, $full . $answers),
		"$dims-d: the standby answers as the primary at full probes");
	is($standby->safe_psql($db, $answers), $primary->safe_psql($db, $answers),
		"$dims-d: and at default probes");

	# crash recovery replays the splits; the last batch splits on after it
	my $before = $primary->safe_psql($db, $full . $answers);
	$primary->stop('immediate');
	$primary->start;
	is($primary->safe_psql($db, $full . $answers), $before, "$dims-d: after crash recovery the same answers");
	$primary->safe_psql($db, msivf_common::latent_rows_sql('items', 'id', 'emb', 1 + 5 * $batch, $batch, $dims, $unit));
	my $more = $primary->safe_psql($db, "SELECT lists FROM msivf_index_info('items_idx')");
	cmp_ok($more, '>', $lists, "$dims-d: and it grows on ($lists to $more lists)");
	is($primary->safe_psql($db, $full . 'SELECT mismatches(10)'), '0', "$dims-d: still exact at full probes");
	$primary->wait_for_catchup($standby, 'replay');
	is($standby->safe_psql($db, $full . $answers), $primary->safe_psql($db, $full . $answers),
		"$dims-d: the standby too");
}

$standby->stop;
$primary->stop;
done_testing();
