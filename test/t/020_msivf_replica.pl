# A streaming replica of a database with msivf indexes answers the same
# queries as the primary: every page change is WAL-logged, and replays to
# the very page the primary wrote (wal_consistency_checking: the standby
# compares each replayed page with the primary's full image), row inserts
# and ms.ingest's batch inserts alike.
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
$primary->append_conf('postgresql.conf', "wal_consistency_checking = 'generic'");
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

# ms.ingest: a batch's entries go in a list at a time (msivf_insert_batch),
# into one list (an index built empty) and into trained lists; each
# version's partition has that msivf index alone
$primary->safe_psql('postgres', q{
	SELECT ms.create_model('tap', 'm', 48);
	SELECT ms.create_version('tap', 'm', 'one');
	SELECT ms.create_version('tap', 'm', 'l2');
	CREATE FUNCTION batch_csv(first int, n int) RETURNS bytea LANGUAGE sql AS $$
		SELECT convert_to(string_agg(id || ',' || trim(both '[]' FROM emb::text), E'\n' ORDER BY id), 'UTF8')
		  FROM items WHERE id >= first AND id < first + n
	$$;
});
my %part;
for my $label ('one', 'l2')
{
	$part{$label} = $primary->safe_psql('postgres',
		"SELECT format('ms.points_%s', version_id) FROM ms.versions WHERE org = 'tap' AND label = '$label'");
}
$primary->safe_psql('postgres', qq{
	DROP INDEX $part{one}_embedding, $part{l2}_embedding;
	CREATE INDEX tap_one ON $part{one} USING msivf (embedding vec_l2_ops);
	SELECT ms.ingest('tap', 'm', batch_csv(1, 1500), l) FROM unnest('{one,l2}'::text[]) l;
	CREATE INDEX tap_l2 ON $part{l2} USING msivf (embedding vec_l2_ops) WITH (lists = 12);
	SELECT ms.ingest('tap', 'm', batch_csv(1501, 700), l) FROM unnest('{one,l2}'::text[]) l;
	SELECT ms.ingest('tap', 'm', batch_csv(2201, 700), l) FROM unnest('{one,l2}'::text[]) l;
	-- small batches, a few entries per list: several lists' pages to a record
	SELECT ms.ingest('tap', 'm', batch_csv(s, 40), l)
	  FROM generate_series(2901, 3861, 40) s, unnest('{one,l2}'::text[]) l;
});
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

for my $label ('one', 'l2')
{
	my $knn = "SELECT string_agg(q.qid || ':' || array_to_string(array("
	  . "SELECT point_id FROM $part{$label} ORDER BY embedding <-> q.q LIMIT 10), ','), ' ' ORDER BY q.qid) "
	  . "FROM queries q WHERE q.qid <= 20";
	my $by_index = "SET machinesoup.probes = 12; SET enable_seqscan = off; $knn";
	like($primary->safe_psql('postgres', "SET enable_seqscan = off; EXPLAIN (COSTS OFF) "
		  . "SELECT point_id FROM $part{$label} ORDER BY embedding <-> (SELECT q FROM queries LIMIT 1) LIMIT 10"),
		qr/Index Scan using tap_$label/, "ingested points are found through tap_$label");
	my $s = $standby->safe_psql('postgres', $by_index);
	is($s, $primary->safe_psql('postgres', $by_index), "standby answers like the primary (tap_$label)");
	is($s, $primary->safe_psql('postgres', "SET enable_indexscan = off; SET enable_bitmapscan = off; $knn"),
		"standby full-probe answers are exact (tap_$label)");
	is($standby->safe_psql('postgres', "SET machinesoup.probes = 12; SET enable_seqscan = off; "
		  . "SELECT count(*), count(DISTINCT point_id) FROM (SELECT point_id FROM $part{$label} "
		  . "ORDER BY embedding <-> (SELECT q FROM queries LIMIT 1)) s"),
		$primary->safe_psql('postgres', "SELECT count(*), count(*) FROM $part{$label}"),
		"every ingested point is in tap_$label on the standby");
}

# with every list probed the standby is exact
is($standby->safe_psql('postgres', 'SET machinesoup.probes = 40; SELECT mismatches(10)'),
	'0', 'standby full-probe answers are exact');

$standby->stop;
$primary->stop;
done_testing();
