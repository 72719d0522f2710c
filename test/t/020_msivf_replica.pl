# A streaming replica of a database with msivf indexes answers the same
# queries as the primary: every page change is WAL-logged.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use msivf_common;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->start;
$primary->backup('bk');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'bk', has_streaming => 1);
$standby->start;

$primary->safe_psql('postgres', msivf_common::setup_sql(48, 20, 0.11));
$primary->safe_psql('postgres', msivf_common::blob_rows_sql('items', 1, 4000, 48));
$primary->safe_psql('postgres', q{
	CREATE INDEX items_l2 ON items USING msivf (emb vec_l2_ops) WITH (lists = 40);
	CREATE TABLE items_cos AS SELECT * FROM items;
	CREATE INDEX items_cos_idx ON items_cos USING msivf (emb vec_cosine_ops);
});
# inserts (new pages), deletes and VACUUM (compaction) after the build
$primary->safe_psql('postgres', msivf_common::blob_rows_sql('items', 4001, 2000, 48));
$primary->safe_psql('postgres', q{
	DELETE FROM items WHERE id % 4 = 0;
	VACUUM items;
});
$primary->safe_psql('postgres', msivf_common::blob_rows_sql('items', 100000, 500, 48));
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));

my $answers = q{
	SET enable_seqscan = off;
	SELECT string_agg(qid || ':' || array_to_string(ids, ','), ' ' ORDER BY qid) FROM knn(10, true);
};
for my $probes (40, 0)
{
	my $sql = "SET machinesoup.probes = $probes; $answers";
	my $p = $primary->safe_psql('postgres', $sql);
	my $s = $standby->safe_psql('postgres', $sql);
	ok(length($p) > 100, "primary answers (probes $probes)");
	is($s, $p, "standby answers like the primary (probes $probes)");
}
my $cos = q{
	SET enable_seqscan = off;
	SELECT string_agg(id::text, ',') FROM (SELECT id FROM items_cos ORDER BY emb <=> (SELECT q FROM queries WHERE qid = 5) LIMIT 20) s;
};
is($standby->safe_psql('postgres', $cos), $primary->safe_psql('postgres', $cos),
	'cosine index: standby answers like the primary');

# with every list probed the standby is exact
is($standby->safe_psql('postgres', 'SET machinesoup.probes = 40; SELECT mismatches(10)'),
	'0', 'standby full-probe answers are exact');

$standby->stop;
$primary->stop;
done_testing();
