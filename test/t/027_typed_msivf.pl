# msivf over the element types other than vec: hvec (hvec_l2_ops,
# hvec_cosine_ops) recall at default settings and exact at full probes on
# clustered data; binary quantization (an expression index on
# binary_quantize(emb)::bvec(n), bvec_hamming_ops) reranked by the float
# distance against the exact float answer on 384-d points of a low
# intrinsic dimension, and bvec_jaccard_ops; then the
# hvec and bvec indexes on a streaming standby (wal_consistency_checking =
# all) and after kill -9 under inserts.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use msivf_common;

# --- recall on 20,000 clustered 64-d hvec points ----------------------

my $node = PostgreSQL::Test::Cluster->new('typed');
$node->init;
$node->append_conf('postgresql.conf', "maintenance_work_mem = 64MB\n");
$node->start;

my $dims = 64;
$node->safe_psql('postgres', msivf_common::setup_sql($dims, 60, 0.27, '<->', 'hvec'));
$node->safe_psql('postgres', msivf_common::blob_rows_sql('items', 1, 20000, $dims));
$node->safe_psql('postgres', q{
	CREATE INDEX items_hl2 ON items USING msivf (emb hvec_l2_ops);
	CREATE INDEX items_hcos ON items USING msivf (emb hvec_cosine_ops);
});
is($node->safe_psql('postgres', q{
	LOAD 'machinesoup';
	SELECT current_setting('machinesoup.probes') || ' ' || current_setting('machinesoup.target_recall');
}), '0 0.95', 'default probes and target recall');

for my $case (['<->', 'items_hl2', 'L2'], ['<=>', 'items_hcos', 'cosine'])
{
	my ($op, $index, $name) = @$case;
	$node->safe_psql('postgres', msivf_common::knn_sql($op));
	like($node->safe_psql('postgres', qq{
		SET enable_seqscan = off;
		EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY emb $op (SELECT q FROM queries WHERE qid = 1) LIMIT 10;
	}), qr/Index Scan using $index on items/, "hvec $name: ORDER BY $op uses $index");
	note("hvec $name lists, probes: " . $node->safe_psql('postgres',
		"SELECT lists || ' ' || probes FROM msivf_index_info('$index')"));
	# knn() raises an error unless the plan scans an msivf index
	my $r = $node->safe_psql('postgres', 'SELECT recall(10)');
	cmp_ok($r, '>=', 0.9, "hvec $name recall\@10 at default settings: $r");
	my $lists = msivf_common::lists_of($node, 'postgres', $index);
	is($node->safe_psql('postgres', "SET machinesoup.probes = $lists; SELECT mismatches(10)"),
		'0', "hvec $name at full probes ($lists lists): exact");
}

# --- binary quantization and rerank ------------------------------------

# Sign bits rank neighbours by angle: on the blobs above (centres far from
# the origin, so most bits are the blob's own) 100 candidates hold only
# about half of the true top 10.  Points like real embeddings instead
# (026_msivf_highd.pl's model: clustered 12-d latent points mapped into
# 384 dims, zero-centred), generated from a fixed seed in one session.
my $bdims = 384;
$node->safe_psql('postgres', 'CREATE DATABASE bq');
$node->safe_psql('bq', msivf_common::setup_sql($bdims, 1, 0.5) . 'DROP TABLE queries;'
	  . "CREATE TABLE queries (qid int, q vec($bdims));");
$node->safe_psql('bq', 'SELECT setseed(0.61);'
	  . msivf_common::latent_setup_sql($bdims, 12)
	  . msivf_common::latent_rows_sql('items', 'id', 'emb', 1, 20000, $bdims, 0)
	  . msivf_common::latent_rows_sql('queries', 'qid', 'q', 1, 100, $bdims, 0));
$node->safe_psql('bq', qq{
	CREATE INDEX items_bq ON items USING msivf ((binary_quantize(emb)::bvec($bdims)) bvec_hamming_ops);
	CREATE INDEX items_jac ON items USING msivf ((binary_quantize(emb)::bvec($bdims)) bvec_jaccard_ops);
	ANALYZE items;
});
# 100 candidates by Hamming distance through the index, reranked by L2;
# the exact answer by l2_distance(), which no index serves
my $bq = qq{
	SELECT round(avg(cardinality(ARRAY(SELECT unnest(a.got) INTERSECT SELECT unnest(w.want))))::numeric / 10, 3)
	  FROM queries q,
		LATERAL (SELECT array_agg(id) AS got FROM
				 (SELECT id FROM (SELECT id, emb FROM items
								  ORDER BY binary_quantize(emb)::bvec($bdims) <~> binary_quantize(q.q)
								  LIMIT 100) c
				  ORDER BY emb <-> q.q LIMIT 10) s) a,
		LATERAL (SELECT array_agg(id) AS want FROM
				 (SELECT id FROM items ORDER BY l2_distance(emb, q.q) LIMIT 10) s) w
};
like($node->safe_psql('bq', "SET enable_seqscan = off; EXPLAIN (COSTS OFF) $bq"),
	qr/Index Scan using items_bq on items/, 'binary quantization: the candidates come from the bvec index');
note('bvec lists, probes: ' . $node->safe_psql('bq',
	"SELECT lists || ' ' || probes FROM msivf_index_info('items_bq')"));
my $r = $node->safe_psql('bq', "SET enable_seqscan = off; $bq");
cmp_ok($r, '>=', 0.9, "binary quantization + rerank recall\@10 at default settings: $r");

# bvec distances are small integers: compare the distances, not the ids
my $bits = "binary_quantize(emb)::bvec($bdims)";
for my $case (['<~>', 'items_bq', 'Hamming'], ['<%>', 'items_jac', 'Jaccard'])
{
	my ($op, $index, $name) = @$case;
	my $lists = msivf_common::lists_of($node, 'bq', $index);
	is($node->safe_psql('bq', qq{
		SET machinesoup.probes = $lists;
		SELECT mismatches_of('items', '$bits', '$op', 'binary_quantize(q.q)', 10, true);
	}), '0', "bvec $name at full probes ($lists lists): exact distances");
}
$node->stop;

# --- a streaming standby ------------------------------------------------

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', "wal_consistency_checking = 'all'\n");
$primary->start;
$primary->backup('bk');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'bk', has_streaming => 1);
$standby->start;

# items (hvec) and bitems: float values, their bits in a column and in an
# expression index
$primary->safe_psql('postgres', msivf_common::setup_sql(48, 20, 0.13, '<->', 'hvec'));
$primary->safe_psql('postgres', msivf_common::blob_rows_sql('items', 1, 3000, 48));
my $copy_bits = sub {
	my ($from, $to) = @_;
	return "INSERT INTO bitems SELECT id, emb::vec, binary_quantize(emb)::bvec(48) FROM items "
	  . "WHERE id BETWEEN $from AND $to;";
};
$primary->safe_psql('postgres', q{
	CREATE TABLE bitems (id int PRIMARY KEY, emb vec(48), b bvec(48));
} . $copy_bits->(1, 3000) . q{
	CREATE INDEX items_hl2 ON items USING msivf (emb hvec_l2_ops) WITH (lists = 30);
	CREATE INDEX items_hcos ON items USING msivf (emb hvec_cosine_ops);
	CREATE INDEX bitems_ham ON bitems USING msivf ((binary_quantize(emb)::bvec(48)) bvec_hamming_ops) WITH (lists = 20);
	CREATE INDEX bitems_jac ON bitems USING msivf (b bvec_jaccard_ops);
});
# inserts after the build, deletes and VACUUM, inserts into freed space
$primary->safe_psql('postgres', msivf_common::blob_rows_sql('items', 3001, 1500, 48) . $copy_bits->(3001, 4500));
$primary->safe_psql('postgres', q{
	DELETE FROM items WHERE id % 4 = 0;
	DELETE FROM bitems WHERE id % 3 = 0;
	VACUUM items;
	VACUUM bitems;
});
$primary->safe_psql('postgres', msivf_common::blob_rows_sql('items', 10001, 500, 48) . $copy_bits->(10001, 10500));
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));

# [table, key, operator, query key, index, ties (compare distances)]
my @typed = (
	['items', 'emb', '<->', 'q.q', 'items_hl2', 0],
	['items', 'emb', '<=>', 'q.q', 'items_hcos', 0],
	['bitems', 'binary_quantize(emb)::bvec(48)', '<~>', 'binary_quantize(q.q)', 'bitems_ham', 1],
	['bitems', 'b', '<%>', 'binary_quantize(q.q)', 'bitems_jac', 1],
);
for my $t (@typed)
{
	my ($tbl, $key, $op, $qkey, $index, $ties) = @$t;
	my $args = "'$tbl', '$key', '$op', '$qkey', 10";
	my $lists = msivf_common::lists_of($primary, 'postgres', $index);
	like($standby->safe_psql('postgres', qq{
		SET enable_seqscan = off;
		EXPLAIN (COSTS OFF) SELECT id FROM $tbl ORDER BY $key $op (SELECT $qkey FROM queries q LIMIT 1) LIMIT 10;
	}), qr/Index Scan using $index on $tbl/, "standby: ORDER BY $op on $tbl uses $index");
	for my $probes (0, $lists)
	{
		my $sql = "SET machinesoup.probes = $probes; SELECT answers_of($args)";
		my $p = $primary->safe_psql('postgres', $sql);
		ok(length($p) > 100, "primary answers through $index (probes $probes)");
		is($standby->safe_psql('postgres', $sql), $p, "standby answers like the primary through $index (probes $probes)");
	}
	is($standby->safe_psql('postgres', "SET machinesoup.probes = $lists; SELECT mismatches_of($args, " . ($ties ? 'true' : 'false') . ')'),
		'0', "standby full-probe answers through $index are exact");
}
$standby->stop;
$primary->stop;

# --- kill -9 under inserts ----------------------------------------------

my $crash = PostgreSQL::Test::Cluster->new('crash');
$crash->init;
$crash->append_conf('postgresql.conf', "max_connections = 20\n");
$crash->start;
$crash->safe_psql('postgres', msivf_common::setup_sql(32, 10, 0.23, '<->', 'hvec'));
$crash->safe_psql('postgres', msivf_common::blob_rows_sql('items', 1, 2000, 32));
$crash->safe_psql('postgres', q{
	CREATE TABLE bitems (id int PRIMARY KEY, emb vec(32), b bvec(32));
	INSERT INTO bitems SELECT id, emb::vec, binary_quantize(emb)::bvec(32) FROM items;
	CREATE SEQUENCE more_ids START 1000000;
	ALTER TABLE items ALTER id SET DEFAULT nextval('more_ids');
	ALTER TABLE bitems ALTER id SET DEFAULT nextval('more_ids');
	CREATE INDEX items_hl2 ON items USING msivf (emb hvec_l2_ops) WITH (lists = 16);
	CREATE INDEX items_hcos ON items USING msivf (emb hvec_cosine_ops) WITH (lists = 16);
	CREATE INDEX bitems_ham ON bitems USING msivf ((binary_quantize(emb)::bvec(32)) bvec_hamming_ops) WITH (lists = 16);
	CREATE INDEX bitems_jac ON bitems USING msivf (b bvec_jaccard_ops) WITH (lists = 16);
	CHECKPOINT;
});
my $script = "$PostgreSQL::Test::Utils::tmp_check/typed_crash.sql";
open my $fh, '>', $script or die;
print $fh q{
INSERT INTO items (emb)
	SELECT (SELECT array_agg((random() * 20 - 10)::real) FROM generate_series(1, 32) WHERE g > 0)::vec
	FROM generate_series(1, 5) g;
INSERT INTO bitems (emb, b)
	SELECT v, binary_quantize(v)::bvec(32)
	FROM (SELECT (SELECT array_agg((random() * 20 - 10)::real) FROM generate_series(1, 32) WHERE g > 0)::vec AS v
		  FROM generate_series(1, 5) g) s;
DELETE FROM bitems WHERE id = 1 + (random() * 1999)::int;
};
close $fh;
my $rows = msivf_common::crash_under_load($crash, $script, 'SELECT count(*) FROM items', 4000);
ok($rows > 2000, "concurrent inserts ran ($rows rows before the crash)");

my @crashed = (
	['items', 'emb', '<->', 'q.q', 'items_hl2', 0],
	['items', 'emb', '<=>', 'q.q', 'items_hcos', 0],
	['bitems', 'binary_quantize(emb)::bvec(32)', '<~>', 'binary_quantize(q.q)', 'bitems_ham', 1],
	['bitems', 'b', '<%>', 'binary_quantize(q.q)', 'bitems_jac', 1],
);
for my $t (@crashed)
{
	my ($tbl, $key, $op, $qkey, $index, $ties) = @$t;
	my $lists = msivf_common::lists_of($crash, 'postgres', $index);
	# an index scan over every list returns exactly the rows of the table
	is($crash->safe_psql('postgres', qq{
		SET enable_seqscan = off;
		SET machinesoup.probes = $lists;
		CREATE TEMP TABLE via_index AS
			SELECT id FROM $tbl ORDER BY $key $op (SELECT $qkey FROM queries q WHERE qid = 1) OFFSET 0;
		SELECT (SELECT count(*) FROM via_index) - (SELECT count(*) FROM $tbl) || ' ' ||
			(SELECT count(*) FROM (SELECT id FROM $tbl EXCEPT SELECT id FROM via_index) a) || ' ' ||
			(SELECT count(*) FROM (SELECT id FROM via_index EXCEPT SELECT id FROM $tbl) b);
	}), '0 0 0', "after recovery $index returns every committed row, once");
	like($crash->safe_psql('postgres', qq{
		SET enable_seqscan = off;
		EXPLAIN (COSTS OFF) SELECT id FROM $tbl ORDER BY $key $op (SELECT $qkey FROM queries q LIMIT 1) LIMIT 10;
	}), qr/Index Scan using $index on $tbl/, "after recovery ORDER BY $op on $tbl uses $index");
	is($crash->safe_psql('postgres', "SET machinesoup.probes = $lists; "
		  . "SELECT mismatches_of('$tbl', '$key', '$op', '$qkey', 10, " . ($ties ? 'true' : 'false') . ')'),
		'0', "after recovery full-probe answers through $index equal a sequential scan's");
}
$crash->stop;

done_testing();
