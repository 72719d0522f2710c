# msivf growth: an index built on an empty table, fed in 10 batches, splits
# its lists online (msivfsplit.c).  Recall at default settings with the
# index scan asserted in the plan, exact answers at full probes after an
# immediate stop in the middle of the splits, and a streaming replica
# (with wal_consistency_checking) answering as the primary does.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use msivf_common;

my $dims = 48;
my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', "wal_consistency_checking = 'generic'");
$primary->start;
$primary->backup('bk');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'bk', has_streaming => 1);
$standby->start;

$primary->safe_psql('postgres', msivf_common::setup_sql($dims, 40, 0.23));
$primary->safe_psql('postgres',
	'CREATE INDEX items_grow ON items USING msivf (emb vec_l2_ops)');
is($primary->safe_psql('postgres', "SELECT lists FROM msivf_index_info('items_grow')"),
	'1', 'built on an empty table: one list');

# ten batches of 2,000 rows
for my $b (0 .. 9)
{
	$primary->safe_psql('postgres',
		msivf_common::blob_rows_sql('items', 1 + $b * 2000, 2000, $dims));
}
my $lists = $primary->safe_psql('postgres', "SELECT lists FROM msivf_index_info('items_grow')");
cmp_ok($lists, '>=', 20, "the lists grew with the data ($lists)");
my $recall = $primary->safe_psql('postgres', 'SELECT recall(10)');
cmp_ok($recall, '>=', 0.9, "recall\@10 at default settings after the last batch ($recall)");
is($primary->safe_psql('postgres',
		'SET machinesoup.probes = 32768; SELECT mismatches(10)'),
	'0', 'exact at full probes');

# four clients insert, lists split, and the postmaster is killed midway
$primary->safe_psql('postgres', 'CREATE SEQUENCE more_ids START 100000; CHECKPOINT');
my $script = "$PostgreSQL::Test::Utils::tmp_check/msivf_grow.sql";
open my $fh, '>', $script or die;
print $fh qq{
INSERT INTO items (id, emb)
	SELECT nextval('more_ids'), (SELECT array_agg(a[j] + ((random() + random() + random() - 1.5) * 1.5)::real ORDER BY j)
		FROM generate_series(1, $dims) j)::vec
	FROM generate_series(1, 20) g JOIN blob_centers ON c = 1 + (g * 7) % 40;
};
close $fh;
my $before = $primary->safe_psql('postgres', "SELECT lists FROM msivf_index_info('items_grow')");
my $rows = msivf_common::crash_under_load($primary, $script, 'SELECT count(*) FROM items', 36000);
my $after = $primary->safe_psql('postgres', "SELECT lists FROM msivf_index_info('items_grow')");
cmp_ok($after, '>', $before, "lists split under the concurrent inserts ($before to $after, $rows rows)");
my $n = $primary->safe_psql('postgres', 'SELECT count(*) FROM items');
is($primary->safe_psql('postgres', q{
	SET enable_seqscan = off; SET machinesoup.probes = 32768;
	SELECT count(*) || ' ' || count(DISTINCT id) FROM (
		SELECT id FROM items
		ORDER BY emb <-> (SELECT q FROM queries WHERE qid = 1) LIMIT 1000000) s}),
	"$n $n", 'after the crash every row is found once at full probes');
is($primary->safe_psql('postgres',
		'SET machinesoup.probes = 32768; SELECT mismatches(10)'),
	'0', 'exact order after the crash');
# and it keeps growing after recovery
$primary->safe_psql('postgres', msivf_common::blob_rows_sql('items', 40001, 4000, $dims));
is($primary->safe_psql('postgres',
		'SET machinesoup.probes = 32768; SELECT mismatches(10)'),
	'0', 'exact after more splits');

# the replica answers as the primary
$primary->wait_for_catchup($standby, 'replay');
my $sql = q{SET enable_seqscan = off; SET machinesoup.probes = 32768;
	SELECT string_agg(ids::text, ';' ORDER BY qid) FROM knn(10, true)};
my $sql_default = q{SET enable_seqscan = off;
	SELECT string_agg(ids::text, ';' ORDER BY qid) FROM knn(10, true)};
is($standby->safe_psql('postgres', $sql), $primary->safe_psql('postgres', $sql),
	'the replica answers as the primary at full probes');
is($standby->safe_psql('postgres', $sql_default), $primary->safe_psql('postgres', $sql_default),
	'the replica answers as the primary at default settings');

done_testing();
