# msivf growth: an index built on an empty table, fed in 10 batches, splits
# its lists online (msivfsplit.c).  Recall at default settings with the
# index scan asserted in the plan, before and after VACUUM recalibrates;
# exact answers at full probes after an immediate stop in the middle of
# the splits, and after one in the middle of a VACUUM freeing the old
# chains; freed pages reused; and a streaming replica (with
# wal_consistency_checking) answering as the primary does.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use msivf_common;
use IPC::Run;
use Time::HiRes qw(usleep);

my $dims = 48;
my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', "wal_consistency_checking = 'generic'");
# the test runs VACUUM itself, at the points it checks
$primary->append_conf('postgresql.conf', 'autovacuum = off');
$primary->start;
# a slot keeps the WAL the standby has not received: the primary is
# killed mid-VACUUM below and would otherwise recycle it on restart
$primary->safe_psql('postgres', "SELECT pg_create_physical_replication_slot('standby_slot')");
$primary->backup('bk');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'bk', has_streaming => 1);
$standby->append_conf('postgresql.conf', "primary_slot_name = 'standby_slot'");
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

# VACUUM measures the calibration again on the lists there are now
is($primary->safe_psql('postgres',
		"SELECT calibrated_lists FROM msivf_index_growth('items_grow')"),
	'1', 'built empty: never calibrated');
$primary->safe_psql('postgres', 'VACUUM items');
is($primary->safe_psql('postgres', q{
	SELECT calibrated_lists = lists, leaked_pages, freed_pages > 0
	FROM msivf_index_growth('items_grow')}),
	't|0|t', 'VACUUM recalibrated on the grown lists and freed every old chain');
is($primary->safe_psql('postgres', q{
	SELECT calibration_queries > 0 AND probes = calibrated_probes AND probes < lists
	FROM msivf_index_info('items_grow')}),
	't', 'the probes come from the new curve');
$recall = $primary->safe_psql('postgres', 'SELECT recall(10)');
cmp_ok($recall, '>=', 0.9, "recall\@10 at default settings after VACUUM ($recall)");

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

# a slow VACUUM freeing the old chains, killed midway
my $old_pages = $primary->safe_psql('postgres',
	"SELECT leaked_pages + freed_pages FROM msivf_index_growth('items_grow')");
my $leaked0 = $primary->safe_psql('postgres',
	"SELECT leaked_pages FROM msivf_index_growth('items_grow')");
cmp_ok($leaked0, '>', 0, "old chains wait for VACUUM ($leaked0 pages)");
$primary->safe_psql('postgres', 'CHECKPOINT');
my ($vout, $verr) = ('', '');
my $vacuum = IPC::Run::start(
	[
		'psql', '-X', '-h', $primary->host, '-p', $primary->port, '-d', 'postgres',
		'-c', 'SET vacuum_cost_delay = 100', '-c', 'SET vacuum_cost_limit = 100',
		'-c', 'VACUUM items'
	],
	'>', \$vout, '2>', \$verr);
# killed once a fifth of the old pages are freed (so that some of those
# records have reached the WAL on disk), before the rest are
my $step = int($leaked0 / 5) || 1;
my $midway = '';
for (my $i = 0; $i < 1200; $i++)
{
	$midway = $primary->safe_psql('postgres',
		"SELECT leaked_pages || ' ' || freed_pages FROM msivf_index_growth('items_grow')");
	my ($l, $f) = split / /, $midway;
	last if $l > 0 && $l <= $leaked0 - $step;
	usleep(50_000);
}
my $pid = $primary->{_pid};
$primary->kill9;
eval { $vacuum->finish; };
usleep(100_000) while kill(0, $pid);
sleep(1);
$primary->start;
my ($l1, $f1) = split / /, $primary->safe_psql('postgres',
	"SELECT leaked_pages || ' ' || freed_pages FROM msivf_index_growth('items_grow')");
cmp_ok($l1, '<', $leaked0, "the crash came after VACUUM began freeing ($midway)");
cmp_ok($l1, '>', 0, 'and before it had freed every old chain');
is($l1 + $f1, $old_pages, 'every old-chain page is freed or still waiting, none lost or twice');
$n = $primary->safe_psql('postgres', 'SELECT count(*) FROM items');
is($primary->safe_psql('postgres', q{
	SET enable_seqscan = off; SET machinesoup.probes = 32768;
	SELECT count(*) || ' ' || count(DISTINCT id) FROM (
		SELECT id FROM items
		ORDER BY emb <-> (SELECT q FROM queries WHERE qid = 2) LIMIT 1000000) s}),
	"$n $n", 'after the crash during VACUUM every row is found once at full probes');
is($primary->safe_psql('postgres',
		'SET machinesoup.probes = 32768; SELECT mismatches(10)'),
	'0', 'exact order after the crash during VACUUM');
$primary->safe_psql('postgres', 'VACUUM items');
is($primary->safe_psql('postgres', q{
	SELECT leaked_pages || ' ' || freed_pages || ' ' || free_pages
	FROM msivf_index_growth('items_grow')}),
	"0 $old_pages $old_pages", 'the next VACUUM frees the rest, each page once');

# freed pages are reused (after a later transaction and VACUUM) before the
# index grows
$primary->safe_psql('postgres', 'SELECT txid_current()');
$primary->safe_psql('postgres', 'VACUUM items');
my $pages = $primary->safe_psql('postgres', "SELECT pages FROM msivf_index_growth('items_grow')");
$primary->safe_psql('postgres', msivf_common::blob_rows_sql('items', 50001, 3000, $dims));
my ($pages2, $free2) = split / /, $primary->safe_psql('postgres',
	"SELECT pages || ' ' || free_pages FROM msivf_index_growth('items_grow')");
cmp_ok($free2, '<', $old_pages,
	"new pages of lists and splits are freed pages ($free2 of $old_pages left, the index grew from $pages to $pages2 pages)");
cmp_ok($pages2 - $pages, '<', $old_pages - $free2, 'the index grew by fewer pages than it reused');
is($primary->safe_psql('postgres',
		'SET machinesoup.probes = 32768; SELECT mismatches(10)'),
	'0', 'exact after the reuse');
$primary->safe_psql('postgres', 'VACUUM items');
$recall = $primary->safe_psql('postgres', 'SELECT recall(10)');
cmp_ok($recall, '>=', 0.9, "recall\@10 at default settings at the end ($recall)");

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
my $growth = q{SELECT lists, calibrated_lists, pages, leaked_pages, freed_pages, free_pages
	FROM msivf_index_growth('items_grow')};
is($standby->safe_psql('postgres', $growth), $primary->safe_psql('postgres', $growth),
	'the replica has the same lists, calibration and freed pages');

done_testing();
