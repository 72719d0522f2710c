# kill -9 of the postmaster while several clients insert into a table with
# an msivf index: after crash recovery the index holds every committed row.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use msivf_common;

my $node = PostgreSQL::Test::Cluster->new('crash');
$node->init;
$node->append_conf('postgresql.conf', "max_connections = 20\n");
$node->start;

$node->safe_psql('postgres', msivf_common::setup_sql(32, 10, 0.22));
$node->safe_psql('postgres', msivf_common::blob_rows_sql('items', 1, 3000, 32));
$node->safe_psql('postgres', q{
	CREATE SEQUENCE more_ids START 1000000;
	ALTER TABLE items ALTER id SET DEFAULT nextval('more_ids');
	CREATE INDEX items_l2 ON items USING msivf (emb vec_l2_ops) WITH (lists = 20);
	CHECKPOINT;
});

# four clients insert (and now and then delete) until the crash
my $script = "$PostgreSQL::Test::Utils::tmp_check/msivf_crash.sql";
open my $fh, '>', $script or die;
print $fh q{
INSERT INTO items (emb)
	SELECT (SELECT array_agg((random() * 20 - 10)::real) FROM generate_series(1, 32) WHERE g > 0)::vec
	FROM generate_series(1, 5) g;
};
close $fh;
my $rows = msivf_common::crash_under_load($node, $script, 'SELECT count(*) FROM items', 6000);
ok($rows > 3000, "concurrent inserts ran ($rows rows before the crash)");

my $committed = $node->safe_psql('postgres', 'SELECT count(*) FROM items');
ok($committed >= $rows, "rows counted before the crash survived ($committed >= $rows)");

# an index scan over every list returns exactly the rows of the table
my $check = q{
	SET enable_seqscan = off;
	SET machinesoup.probes = 20;
	CREATE TEMP TABLE via_index AS
		SELECT id FROM items ORDER BY emb <-> (SELECT q FROM queries WHERE qid = 1) OFFSET 0;
	SELECT (SELECT count(*) FROM via_index) || ' ' ||
		(SELECT count(*) FROM (SELECT id FROM items EXCEPT SELECT id FROM via_index) a) || ' ' ||
		(SELECT count(*) FROM (SELECT id FROM via_index EXCEPT SELECT id FROM items) b);
};
is($node->safe_psql('postgres', $check), "$committed 0 0",
	'after recovery the index returns every committed row, once');
is($node->safe_psql('postgres', 'SET machinesoup.probes = 20; SELECT mismatches(10)'),
	'0', 'full-probe answers after recovery are exact');

# the index keeps working: inserts and vacuum after recovery
$node->safe_psql('postgres', msivf_common::blob_rows_sql('items', 5000000, 500, 32));
$node->safe_psql('postgres', 'DELETE FROM items WHERE id % 5 = 0; VACUUM items;');
is($node->safe_psql('postgres', 'SET machinesoup.probes = 20; SELECT mismatches(10)'),
	'0', 'inserts and VACUUM after recovery keep the index exact');

$node->stop;
done_testing();
