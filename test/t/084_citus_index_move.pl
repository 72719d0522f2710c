# A version's msivf index survives a shard move (issue 15b).  On Citus a
# version's msivf index is built when the version is created, empty, on
# the distributed table (so on every shard) and grows its lists as rows
# arrive; Citus recreates a distributed table's indexes on a moved shard.
# Loaded past 10,000 points by routed calls (run on the org's worker), the
# org's shard moved to the other worker: the index is on the shard there,
# the worker's plan uses it, and ms.knn answers as before the move.  Its
# recall after growing from empty is measured against the exact answer.
# Versions of other element types, and of 1536 and 2048 dimensions, have
# theirs from the start too (2048: one list, rebuilt on the org's shard at
# 10,000 points, and moved with it).
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use citus_common;

citus_common::skip_unless_installed();
my ($coord, @workers) = citus_common::start_cluster('cx_');
sub as { my ($node, $role, $db) = @_; return (connstr => $node->connstr($db // 'postgres') . " user=$role") }
sub node_of_port { my ($port) = @_; return (grep { $_->port == $port } @workers)[0] }

# autovacuum's analyze comes within a second of a change (see the move)
$_->safe_psql('postgres', 'ALTER SYSTEM SET autovacuum_naptime = 1; SELECT pg_reload_conf()') for @workers;
$coord->safe_psql('postgres', 'CREATE ROLE cx_sci LOGIN');
$coord->safe_psql('postgres', 'SELECT ms.enable_citus()');
my $org = 'acme';
$coord->safe_psql('postgres', qq{
	SELECT ms.create_model('$org', 'm', 100, 'cosine');
	SELECT ms.create_version('$org', 'm', 'v1');
	SELECT ms.promote('$org', 'm', 'v1');
	SELECT ms.grant('cx_sci', p, '$org', 'm') FROM unnest('{query,stage}'::text[]) p;
});
my $vid = $coord->safe_psql('postgres', qq{SELECT version_id FROM ms.versions WHERE org = '$org'});
my $shard = $coord->safe_psql('postgres', "SELECT get_shard_id_for_distribution_column('ms.points_$vid', '$org')");
my $rshard = $coord->safe_psql('postgres', "SELECT get_shard_id_for_distribution_column('ms.raw_batches', '$org')");
my $port_of = sub {
	$coord->safe_psql('postgres', qq{SELECT n.nodeport FROM pg_dist_placement p JOIN pg_dist_node n USING (groupid)
		WHERE p.shardid = $shard});
};
my $from = node_of_port($port_of->());
my $to = $from == $workers[0] ? $workers[1] : $workers[0];
is($coord->safe_psql('postgres', qq{SELECT a.amname FROM pg_class c JOIN pg_am a ON a.oid = c.relam
	WHERE c.relname = 'points_${vid}_embedding'}), 'msivf', 'the version has its msivf index from its creation');

# 12,000 points around 400 centres, spread wide (recall is not easy),
# loaded by routed upserts of 3,000 (constant arguments: each call goes
# whole to the org's worker)
my @chunks = grep { $_ ne '' } split /\n/, $coord->safe_psql('postgres', q{
	SELECT setseed(0.17);
	CREATE TEMP TABLE centre AS
		SELECT c, (SELECT array_agg((random() - 0.5)::real) FROM generate_series(1, 100 + 0 * c)) v
		  FROM generate_series(0, 399) c;
	SELECT array_agg(i ORDER BY i)::text || '|' ||
		   array_agg((SELECT array_agg(round((x + (random() - 0.5) * 0.8)::numeric, 3)::real)
					  FROM unnest(v) x)::vec::text ORDER BY i)::text
	  FROM generate_series(1, 12000) i JOIN centre ON c = i % 400
	 GROUP BY (i - 1) / 3000 ORDER BY (i - 1) / 3000});
is(scalar(@chunks), 4, 'four batches of points');
for my $chunk (@chunks)
{
	my ($ids, $vecs) = split /\|/, $chunk;
	$coord->safe_psql('postgres', qq{SELECT ms.upsert_points('$org', 'm', 'v1', '$ids'::bigint[], '$vecs'::vec[])},
		as($coord, 'cx_sci'));
}
is($from->safe_psql('postgres', 'SELECT count(*) FROM ms.points_' . "${vid}_$shard"), '12000',
	'the points are in the org\'s shard on its worker');
ok($from->safe_psql('postgres', "SELECT sum(calls) FROM pg_stat_statements WHERE query ~ '^SELECT .*ms\\.upsert_points\\('") >= 4,
	'the loads ran on that worker');
my $idx = "points_${vid}_embedding_$shard";
my $index_on = sub {
	my ($node) = @_;
	return $node->safe_psql('postgres', qq{SET citus.show_shards_for_app_name_prefixes = '*';
		SELECT a.amname || ' ' || (i.indrelid = 'ms.points_${vid}_$shard'::regclass)
		  FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam
		 WHERE c.relname = '$idx'});
};
is($index_on->($from), 'msivf true', 'the org\'s shard has the msivf index');
ok($from->safe_psql('postgres', qq{SET citus.show_shards_for_app_name_prefixes = '*'; SELECT lists FROM msivf_index_info('ms.$idx')}) > 1,
	'which has grown lists as the points arrived');

# queries: 20 of the points, moved off a little
my @queries = grep { $_ ne '' } split /\n/, $from->safe_psql('postgres', qq{
	SELECT setseed(0.5);
	SELECT (SELECT array_agg(x + ((random() - 0.5) * 0.05)::real) FROM unnest(embedding::real[]) x)::vec
	  FROM ms.points_${vid}_$shard WHERE point_id % 600 = 7 ORDER BY point_id});
is(scalar(@queries), 20, 'twenty queries');
my $plan = sub {
	my ($node) = @_;
	return $node->safe_psql('postgres', qq{EXPLAIN (COSTS OFF) SELECT point_id FROM ms.points_$vid
		WHERE org = '$org' ORDER BY embedding <=> '$queries[0]' LIMIT 10});
};
like($plan->($from), qr/Index Scan using $idx/, 'the worker\'s plan for the org\'s kNN uses it');

# the answers at default probes, their recall against the exact answers,
# and at full probes (ms.knn reads the role's setting wherever it runs)
my $answers = sub {
	return [ map {
		$coord->safe_psql('postgres', qq{SELECT string_agg(point_id::text, ',') FROM ms.knn('$org', 'm', '$_', 10)},
			as($coord, 'cx_sci'))
	} @queries ];
};
my @exact = map {
	$from->safe_psql('postgres', qq{SET enable_indexscan = off; SELECT string_agg(point_id::text, ',')
		FROM (SELECT point_id FROM ms.points_${vid}_$shard ORDER BY embedding <=> '$_' LIMIT 10) e})
} @queries;
my $recall = sub {
	my ($got) = @_;
	my ($hit, $all) = (0, 0);
	for my $i (0 .. $#queries)
	{
		my %truth = map { $_ => 1 } split /,/, $exact[$i];
		$all += scalar(keys %truth);
		$hit += grep { $truth{$_} } split /,/, $got->[$i];
	}
	return $hit / $all;
};
# An index grown from empty has no calibration of its probes until a
# VACUUM measures one (msivf's README, "Growth"), which autovacuum runs
# as rows are inserted: the recall at default probes before it depends on
# whether it has run yet.
my $r = $recall->($answers->());
diag(sprintf('recall@10 of the index grown from empty, default probes, before a VACUUM: %.3f', $r));
$from->safe_psql('postgres', "VACUUM ms.points_${vid}_$shard");
$r = $recall->($answers->());
diag(sprintf('recall@10 of the index grown from empty, default probes, after a VACUUM: %.3f', $r));
ok($r >= 0.9, 'once vacuumed, its recall@10 at default probes is at least 0.9');
$coord->safe_psql('postgres', 'ALTER ROLE cx_sci SET machinesoup.probes = 32768');
my $before = join("\n", @{ $answers->() });
is($before, join("\n", @exact), 'at full probes ms.knn answers exactly');

# the move: the raw batches' shard, which takes the co-located points along
$coord->safe_psql('postgres', sprintf(
	q{SELECT citus_move_shard_placement(%s, '%s', %d, '%s', %d, shard_transfer_mode := 'block_writes')},
	$rshard, $from->host, $from->port, $to->host, $to->port));
is($port_of->(), $to->port, 'the org\'s shard moved to the other worker');
is($index_on->($to), 'msivf true', 'the msivf index is on the shard there');
# The moved shard has no statistics until it is analyzed: then a planner
# that takes org = '...' for a few rows of the shard (rather than all of
# them) sorts them.  Autovacuum analyzes the copied rows soon after.
ok($to->poll_query_until('postgres',
	"SELECT pg_stat_get_last_autoanalyze_time('ms.points_${vid}_$shard'::regclass) IS NOT NULL"),
	'autovacuum analyzes the moved shard');
like($plan->($to), qr/Index Scan using $idx/, 'and that worker\'s plan uses it');
is(join("\n", @{ $answers->() }), $before, 'ms.knn answers as before the move (full probes)');
$coord->safe_psql('postgres', 'ALTER ROLE cx_sci RESET machinesoup.probes');
$r = $recall->($answers->());
diag(sprintf('recall@10 after the move (the index rebuilt on the new worker), default probes: %.3f', $r));
ok($r >= 0.9, 'and at default probes with a recall@10 of at least 0.9');
is($to->safe_psql('postgres', qq{SET citus.show_shards_for_app_name_prefixes = '*'; SELECT count(*) FROM pg_class WHERE relname = 'points_${vid}_$shard'}), '1',
	'the points are there');

# a load after the move goes on into the moved index
$coord->safe_psql('postgres', qq{SELECT ms.upsert_points('$org', 'm', 'v1', '{20001}', ARRAY['$queries[0]']::vec[])},
	as($coord, 'cx_sci'));
like($coord->safe_psql('postgres', qq{SELECT string_agg(point_id::text, ',') FROM ms.knn('$org', 'm', '$queries[0]', 1)},
	as($coord, 'cx_sci')), qr/^20001$/, 'a point loaded after the move is found through the index');

# float16 and bit versions get theirs from the start too, and grow them,
# as does a float32 version of 1536 dimensions (whose growth pages hold a
# new list's centroid alone)
for my $m (['h', 40, 'l2', 'float16', 2000], ['b', 64, 'hamming', 'bit', 2000], ['w', 1536, 'l2', 'float32', 400])
{
	my ($model, $dims, $metric, $etype, $npoints) = @$m;
	$coord->safe_psql('postgres', qq{
		SELECT ms.create_model('$org', '$model', $dims, '$metric', '$etype');
		SELECT ms.create_version('$org', '$model', 'v1');
		SELECT ms.promote('$org', '$model', 'v1');
		SELECT ms.grant('cx_sci', p, '$org', '$model') FROM unnest('{query,stage}'::text[]) p;});
	my $v = $coord->safe_psql('postgres', qq{SELECT version_id FROM ms.versions WHERE org = '$org' AND model = '$model'});
	is($coord->safe_psql('postgres', qq{SELECT a.amname FROM pg_class c JOIN pg_am a ON a.oid = c.relam
		WHERE c.relname = 'points_${v}_embedding'}), 'msivf', "the $etype version has its msivf index from its creation");
	my ($ids, $vecs) = split /\|/, $coord->safe_psql('postgres', qq{
		SELECT array_agg(i ORDER BY i)::text || '|' ||
			   array_agg((SELECT array_agg(sin(i * j)::real) FROM generate_series(1, $dims) j)::vec::text ORDER BY i)::text
		  FROM generate_series(1, $npoints) i});
	$coord->safe_psql('postgres', qq{SELECT ms.upsert_points('$org', '$model', 'v1', '$ids'::bigint[], '$vecs'::vec[])},
		as($coord, 'cx_sci'));
	my $q = $coord->safe_psql('postgres', qq{SELECT (SELECT array_agg(sin(77 * j)::real) FROM generate_series(1, $dims) j)::vec});
	is($coord->safe_psql('postgres', qq{SELECT count(*) FILTER (WHERE point_id = 77 AND distance = 0) FROM ms.knn('$org', '$model', '$q', 5)},
		as($coord, 'cx_sci')), '1', "a routed kNN of the $etype version finds its point");
	my $vs = $coord->safe_psql('postgres', "SELECT get_shard_id_for_distribution_column('ms.points_$v', '$org')");
	my $e = $to->safe_psql('postgres', qq{SELECT embedding::text FROM ms.points_${v}_$vs WHERE point_id = 77});
	# the plan is judged on statistics, not on whether autovacuum got there first
	$to->safe_psql('postgres', "ANALYZE ms.points_${v}_$vs");
	like($to->safe_psql('postgres', qq{EXPLAIN (COSTS OFF) SELECT point_id FROM ms.points_$v WHERE org = '$org'
		ORDER BY embedding @{[ $etype eq 'bit' ? '<~>' : '<->' ]} '$e' LIMIT 1}),
		qr/Index Scan using points_${v}_embedding_$vs/, "the worker's plan uses its index");
	next unless $model eq 'w';
	cmp_ok($to->safe_psql('postgres', "SELECT lists FROM msivf_index_info('ms.points_${v}_embedding_$vs')"), '>', 1,
		'the 1536-d index grew its lists');
	# the org's shards moved back: the wide version's index goes along
	$coord->safe_psql('postgres', sprintf(
		q{SELECT citus_move_shard_placement(%s, '%s', %d, '%s', %d, shard_transfer_mode := 'block_writes')},
		$rshard, $to->host, $to->port, $from->host, $from->port));
	is($from->safe_psql('postgres', qq{SET citus.show_shards_for_app_name_prefixes = '*';
		SELECT a.amname FROM pg_class c JOIN pg_am a ON a.oid = c.relam
		WHERE c.relname = 'points_${v}_embedding_$vs'}), 'msivf', 'a move keeps the 1536-d version\'s index');
	$from->safe_psql('postgres', "ANALYZE ms.points_${v}_$vs");
	like($from->safe_psql('postgres', qq{EXPLAIN (COSTS OFF) SELECT point_id FROM ms.points_$v WHERE org = '$org'
		ORDER BY embedding <-> '$e' LIMIT 1}),
		qr/Index Scan using points_${v}_embedding_$vs/, 'which the new worker\'s plan uses');
	is($coord->safe_psql('postgres', qq{SELECT count(*) FILTER (WHERE point_id = 77 AND distance = 0) FROM ms.knn('$org', '$model', '$q', 5)},
		as($coord, 'cx_sci')), '1', 'and a routed kNN there finds its point');
}

# Wider than 2,034 dimensions an msivf index cannot grow its lists (a new
# list's centroid must fit a page): the version has its index from its
# creation all the same, one list on every shard, and the routed load that
# takes the org past 10,000 points rebuilds the org's shard's copy, which a
# move then carries (Citus builds it again on the copied rows).
my $wide = 2048;
$coord->safe_psql('postgres', qq{
	SELECT ms.create_model('$org', 'x', $wide, 'l2');
	SELECT ms.create_version('$org', 'x', 'v1');
	SELECT ms.promote('$org', 'x', 'v1');
	SELECT ms.grant('cx_sci', p, '$org', 'x') FROM unnest('{query,stage}'::text[]) p;});
my $xv = $coord->safe_psql('postgres', qq{SELECT version_id FROM ms.versions WHERE org = '$org' AND model = 'x'});
my $xs = $coord->safe_psql('postgres', "SELECT get_shard_id_for_distribution_column('ms.points_$xv', '$org')");
my $xidx = "points_${xv}_embedding_$xs";
is($coord->safe_psql('postgres', qq{SELECT a.amname FROM pg_class c JOIN pg_am a ON a.oid = c.relam
	WHERE c.relname = 'points_${xv}_embedding'}), 'msivf', "the $wide-d version has its msivf index from its creation");
my $xnode = node_of_port($port_of->());
my $xother = $xnode == $workers[0] ? $workers[1] : $workers[0];
my $xlists = sub {
	my ($node) = @_;
	return $node->safe_psql('postgres', "SELECT lists FROM msivf_index_info('ms.$xidx')");
};
# 10,000 points around 50 centres of small integers (short literals),
# loaded by routed upserts of 2,000
$coord->safe_psql('postgres', qq{CREATE TABLE wide_points AS
	SELECT i, (SELECT array_agg(((c * 37 + j * 11) % 10 + floor(random() * 3) - 1)::real)
			   FROM generate_series(1, $wide + 0 * i) j)::vec v
	  FROM (SELECT setseed(0.31)) s, generate_series(1, 10000) i, LATERAL (SELECT i % 50 AS c) k});
my $load_wide = sub {
	my ($lo, $hi) = @_;
	for (my $b = $lo; $b < $hi; $b += 2000)
	{
		my ($ids, $vecs) = split /\|/, $coord->safe_psql('postgres', qq{
			SELECT array_agg(i ORDER BY i)::text || '|' || array_agg(v::text ORDER BY i)::text
			  FROM wide_points WHERE i > $b AND i <= $b + 2000});
		$coord->safe_psql('postgres', qq{SELECT ms.upsert_points('$org', 'x', 'v1', '$ids'::bigint[], '$vecs'::vec[])},
			as($coord, 'cx_sci'));
	}
};
$load_wide->(0, 8000);
is($xlists->($xnode), '1', "below 10,000 points the $wide-d shard's index keeps the one list it was built with");
$load_wide->(8000, 10000);
cmp_ok($xlists->($xnode), '>', 1, 'the routed load that takes the org past 10,000 points rebuilds it with lists');
my ($xq, $xe) = split /\|/, $coord->safe_psql('postgres', 'SELECT i || \'|\' || v::text FROM wide_points WHERE i = 4321');
my $xplan = sub {
	my ($node) = @_;
	$node->safe_psql('postgres', "ANALYZE ms.points_${xv}_$xs");
	return $node->safe_psql('postgres', qq{EXPLAIN (COSTS OFF) SELECT point_id FROM ms.points_$xv WHERE org = '$org'
		ORDER BY embedding <-> '$xe' LIMIT 10});
};
like($xplan->($xnode), qr/Index Scan using $xidx/, 'the worker\'s plan uses it');
# at full probes the index's distances are the exact ones (ids may tie)
my $xexact = $xnode->safe_psql('postgres', qq{SET enable_indexscan = off;
	SELECT string_agg(round(d::numeric, 3)::text, ',' ORDER BY d) FROM (SELECT embedding <-> '$xe' d
	  FROM ms.points_${xv}_$xs WHERE org = '$org' ORDER BY 1 LIMIT 10) e});
my $xknn = sub {
	$coord->safe_psql('postgres', 'ALTER ROLE cx_sci SET machinesoup.probes = 32768');
	my $got = $coord->safe_psql('postgres', qq{SELECT string_agg(point_id::text, ',' ORDER BY distance, point_id) FILTER (WHERE distance = 0) || ' ' ||
			   string_agg(round(distance::numeric, 3)::text, ',' ORDER BY distance)
		  FROM ms.knn('$org', 'x', '$xe', 10)}, as($coord, 'cx_sci'));
	$coord->safe_psql('postgres', 'ALTER ROLE cx_sci RESET machinesoup.probes');
	return $got;
};
is($xknn->(), "$xq $xexact", 'ms.knn finds the point and the exact distances at full probes');
$coord->safe_psql('postgres', sprintf(
	q{SELECT citus_move_shard_placement(%s, '%s', %d, '%s', %d, shard_transfer_mode := 'block_writes')},
	$rshard, $xnode->host, $xnode->port, $xother->host, $xother->port));
is($port_of->(), $xother->port, 'the org\'s shards moved again');
cmp_ok($xlists->($xother), '>', 1, "the $wide-d index moved with them, with its lists");
like($xplan->($xother), qr/Index Scan using $xidx/, 'the new worker\'s plan uses it');
is($xknn->(), "$xq $xexact", 'and ms.knn answers as before the move');
# retrained through the coordinator (Citus sends the REINDEX to every shard)
$coord->safe_psql('postgres', qq{SELECT ms.reindex_version('$org', 'x', 'v1')}, as($coord, 'cx_sci'));
cmp_ok($xlists->($xother), '>', 1, 'ms.reindex_version on the coordinator rebuilds the org\'s shard\'s index');
is($xknn->(), "$xq $xexact", 'which answers as before');

$_->stop for reverse ($coord, @workers);
done_testing();
