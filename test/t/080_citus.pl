# MachineSoup on a Citus cluster: a coordinator and two workers on this
# machine.  A table with vec and vbox columns, distributed by org, with
# GiST and msivf indexes on its shards, answers every query exactly as the
# same table does on one node (a plain local copy on the coordinator):
# kNN through the shards' indexes (msivf probing every list, which is
# exact), radius and box queries, sum(vec) and avg(vec) (combined from
# partial aggregates of the shards), a co-located join and a join with a
# reference table.  vec_knn_exact and vec_index_recall refuse Citus tables
# with a clear error (their rows are not in the coordinator's table) and
# answer on the shards themselves.  Skipped when Citus is not installed
# (scripts/test.sh installs it, as root, from third_party/citus).
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use citus_common;

citus_common::skip_unless_installed();
my ($coord, @workers) = citus_common::start_cluster('');
my @nodes = ($coord, @workers);
is($coord->safe_psql('postgres',
		"SELECT count(*) FROM pg_dist_node WHERE noderole = 'primary' AND isactive AND groupid > 0"),
	'2', 'two active workers');
# the extension reached every worker, at the coordinator's version
my $version = $coord->safe_psql('postgres',
	"SELECT extversion FROM pg_extension WHERE extname = 'machinesoup'");
for my $w (@workers)
{
	is($w->safe_psql('postgres',
			"SELECT extversion FROM pg_extension WHERE extname = 'machinesoup'"),
		$version, $w->name . ' has machinesoup ' . $version);
}

# The same rows twice: items is distributed by org (4 shards, 2 per
# worker), items_local is an ordinary table on the coordinator.
$coord->safe_psql('postgres', q{
	SET citus.shard_count = 4;
	SELECT setseed(0.42);
	-- emb for GiST, hi for msivf (32 dimensions or more)
	CREATE TABLE items_local (org int, id int, emb vec(8), hi vec(32), b vbox, PRIMARY KEY (org, id));
	INSERT INTO items_local
	SELECT i % 4, i, e, h, vbox(e, 0.25)
	FROM generate_series(1, 4000) i,
		LATERAL (SELECT array_agg((random() * 20 - 10)::real)::vec AS e
				 FROM generate_series(1, 8) WHERE i > 0) x,
		LATERAL (SELECT array_agg((random() * 20 - 10)::real)::vec AS h
				 FROM generate_series(1, 32) WHERE i > 0) y;
	INSERT INTO items_local VALUES (0, 4001, NULL, NULL, NULL);
	-- distributed before it is filled: rows inserted before
	-- create_distributed_table would stay behind in the coordinator's table
	CREATE TABLE items (LIKE items_local INCLUDING ALL);
	SELECT create_distributed_table('items', 'org');
	INSERT INTO items SELECT * FROM items_local;
	CREATE INDEX items_gist ON items USING gist (emb);
	CREATE INDEX items_ivf ON items USING msivf (hi vec_l2_ops) WITH (lists = 8);
	CREATE INDEX items_local_gist ON items_local USING gist (emb);
	CREATE INDEX items_local_ivf ON items_local USING msivf (hi vec_l2_ops) WITH (lists = 8);
	ANALYZE items, items_local;

	-- queries per org, co-located with items
	CREATE TABLE probes_local (org int, qid int, q vec(8), PRIMARY KEY (org, qid));
	INSERT INTO probes_local
	SELECT i % 4, i, (SELECT array_agg((random() * 20 - 10)::real)::vec FROM generate_series(1, 8) WHERE i > 0)
	FROM generate_series(1, 12) i;
	CREATE TABLE probes (LIKE probes_local INCLUDING ALL);
	SELECT create_distributed_table('probes', 'org', colocate_with => 'items');
	INSERT INTO probes SELECT * FROM probes_local;

	-- a small table every node holds whole
	CREATE TABLE anchors_local (name text PRIMARY KEY, v vec(8), b vbox);
	INSERT INTO anchors_local VALUES
		('origin', '[0,0,0,0,0,0,0,0]', vbox('[0,0,0,0,0,0,0,0]', 4)),
		('corner', '[9,9,9,9,9,9,9,9]', vbox('[9,9,9,9,9,9,9,9]', 6)),
		('west', '[-8,0,-8,0,-8,0,-8,0]', vbox('[-8,0,-8,0,-8,0,-8,0]', 5));
	CREATE TABLE anchors (LIKE anchors_local INCLUDING ALL);
	SELECT create_reference_table('anchors');
	INSERT INTO anchors SELECT * FROM anchors_local;
	CREATE INDEX anchors_gist ON anchors USING gist (v);
});
is($coord->safe_psql('postgres', q{
	SELECT string_agg(logicalrelid::text || ':' || partmethod::text, ',' ORDER BY logicalrelid::text)
	FROM pg_dist_partition WHERE logicalrelid::text IN ('items', 'probes', 'anchors')}),
	'anchors:n,items:h,probes:h', 'items and probes are distributed, anchors is a reference table');
# (Citus hides shards from catalog queries unless told otherwise)
my $shows_shards = 'SET citus.override_table_visibility = off;';
is($workers[0]->safe_psql('postgres', qq{$shows_shards SELECT count(*) FROM pg_class WHERE relname ~ '^items_ivf_[0-9]+\$'})
	 + $workers[1]->safe_psql('postgres', qq{$shows_shards SELECT count(*) FROM pg_class WHERE relname ~ '^items_ivf_[0-9]+\$'}),
	4, 'every shard of items has its msivf index');

# Session settings reach the workers' connections only as SET LOCAL in a
# transaction, with citus.propagate_set_commands = 'local'.
sub in_txn
{
	my ($settings, $sql) = @_;
	return "SET citus.propagate_set_commands = 'local'; BEGIN; $settings $sql; COMMIT;";
}

# $sql with TBL, PROBES, ANCHORS naming the distributed tables and then the
# local ones: both answers must be equal (and not empty).
sub same_answer
{
	my ($name, $sql, $settings) = @_;
	$settings //= '';
	my %dist = (TBL => 'items', PROBES => 'probes', ANCHORS => 'anchors');
	my %local = (TBL => 'items_local', PROBES => 'probes_local', ANCHORS => 'anchors_local');
	(my $d = $sql) =~ s/\b(TBL|PROBES|ANCHORS)\b/$dist{$1}/g;
	(my $l = $sql) =~ s/\b(TBL|PROBES|ANCHORS)\b/$local{$1}/g;
	my $got = $coord->safe_psql('postgres', in_txn($settings, $d));
	my $want = $coord->safe_psql('postgres', in_txn($settings, $l));
	isnt($want, '', "$name: the single-node answer is not empty");
	is($got, $want, "$name: distributed answer equals the single-node one");
	return $got;
}

# the plan of the distributed query, worker side included
sub dist_plan
{
	my ($sql, $settings, $options) = @_;
	$settings //= '';
	$options //= 'COSTS OFF';
	return $coord->safe_psql('postgres',
		in_txn($settings, "EXPLAIN ($options) $sql"));
}

my @queries = ('[0,0,0,0,0,0,0,0]', '[5,-5,5,-5,5,-5,5,-5]', '[9.5,9.5,9.5,9.5,9.5,9.5,9.5,9.5]');
my $gist_only = 'SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off;';
my $ivf_exact = 'SET LOCAL enable_seqscan = off; SET LOCAL machinesoup.probes = 8;';

# kNN: ORDER BY ... LIMIT runs on every shard's index, merged on the
# coordinator
like(dist_plan("SELECT id FROM items ORDER BY emb <-> '$queries[0]' LIMIT 10", $gist_only),
	qr/Index Scan using items_gist_\d+ on items_\d+/, 'kNN plan: each shard reads its GiST index');
for my $q (@queries)
{
	same_answer("GiST kNN $q", qq{
		SELECT string_agg(org || '/' || id || ':' || round((emb <-> '$q')::numeric, 5), ',' ORDER BY n)
		FROM (SELECT org, id, emb, row_number() OVER () AS n
			  FROM (SELECT * FROM TBL ORDER BY emb <-> '$q' LIMIT 25) s) t}, $gist_only);
}
# one org: the query goes to the one shard that holds it
like(dist_plan("SELECT id FROM items WHERE org = 2 ORDER BY emb <=> '$queries[1]' LIMIT 15"),
	qr/Task Count: 1\n/, 'kNN within one org: one task, on the shard of that org');
same_answer('kNN within one org', qq{
	SELECT string_agg(id::text, ',' ORDER BY n)
	FROM (SELECT id, row_number() OVER () AS n
		  FROM (SELECT id FROM TBL WHERE org = 2 ORDER BY emb <=> '$queries[1]' LIMIT 15) s) t}, $gist_only);

# radius and box
my %radius = ($queries[0] => 9, $queries[1] => 14, $queries[2] => 22);
for my $q (@queries)
{
	same_answer("radius $q", qq{
		SELECT string_agg(id::text, ',' ORDER BY id) FROM TBL WHERE vec_dwithin(emb, '$q', $radius{$q})},
		$gist_only);
}
same_answer('vec in box', q{
	SELECT string_agg(id::text, ',' ORDER BY id) FROM TBL
	WHERE emb <@ vbox('[-5,-5,-5,-5,-5,-5,-5,-5]'::vec, '[5,5,5,5,5,5,5,5]'::vec)}, $gist_only);
same_answer('vbox overlaps vbox', q{
	SELECT string_agg(id::text || b::text, ',' ORDER BY id) FROM TBL
	WHERE b && vbox('[1,1,1,1,1,1,1,1]', 6)}, $gist_only);
like(dist_plan(q{SELECT id FROM items WHERE emb <@ vbox('[-5,-5,-5,-5,-5,-5,-5,-5]'::vec, '[5,5,5,5,5,5,5,5]'::vec)},
		'SET LOCAL enable_seqscan = off;'),
	qr/items_gist_\d+/, 'box plan: each shard reads its GiST index');
same_answer('operators on distributed rows', q{
	SELECT string_agg(concat_ws(' ', id, emb + emb, emb - '[1,1,1,1,1,1,1,1]', emb * emb,
		subvec(emb, 2, 3) || subvec(emb, 1, 1), round((emb <#> '[1,0,0,0,0,0,0,0]')::numeric, 4),
		round((emb <+> '[1,0,0,0,0,0,0,0]')::numeric, 4), vec_dims(emb), emb = emb, b @> emb),
		',' ORDER BY id) FROM TBL WHERE id % 97 = 0});

# SP-GiST on the shards of a 2-d table
$coord->safe_psql('postgres', q{
	SELECT setseed(0.5);
	CREATE TABLE pts_local (org int, id int, v vec(2), PRIMARY KEY (org, id));
	INSERT INTO pts_local SELECT i % 4, i, ARRAY[random() * 100, random() * 100]::real[]::vec
	FROM generate_series(1, 3000) i;
	CREATE TABLE pts (LIKE pts_local INCLUDING ALL);
	SELECT create_distributed_table('pts', 'org', colocate_with => 'items');
	INSERT INTO pts SELECT * FROM pts_local;
	CREATE INDEX pts_sp ON pts USING spgist (v);
	CREATE INDEX pts_local_sp ON pts_local USING spgist (v);
	ANALYZE pts, pts_local;
});
like(dist_plan(q{SELECT id FROM pts ORDER BY v <-> '[50,50]' LIMIT 10}, $gist_only),
	qr/Index Scan using pts_sp_\d+ on pts_\d+/, 'kNN plan: each shard reads its SP-GiST index');
{
	my $sp = $coord->safe_psql('postgres', in_txn($gist_only, q{
		SELECT string_agg(id::text, ',' ORDER BY n) FROM (SELECT id, row_number() OVER () AS n
			FROM (SELECT id FROM pts ORDER BY v <-> '[50,50]' LIMIT 20) s) t}));
	is($sp, $coord->safe_psql('postgres', in_txn($gist_only, q{
		SELECT string_agg(id::text, ',' ORDER BY n) FROM (SELECT id, row_number() OVER () AS n
			FROM (SELECT id FROM pts_local ORDER BY v <-> '[50,50]' LIMIT 20) s) t})),
		'SP-GiST kNN: distributed answer equals the single-node one');
	is($coord->safe_psql('postgres', in_txn($gist_only, q{
		SELECT string_agg(id::text, ',' ORDER BY id) FROM pts WHERE v <@ vbox('[10,10]'::vec, '[30,40]'::vec)})),
		$coord->safe_psql('postgres', in_txn($gist_only, q{
		SELECT string_agg(id::text, ',' ORDER BY id) FROM pts_local WHERE v <@ vbox('[10,10]'::vec, '[30,40]'::vec)})),
		'SP-GiST box query: distributed answer equals the single-node one');
}

# msivf on the 32-d column, probing every list: exact
my @hi_queries = map { my $x = $_; '[' . join(',', map { sprintf('%.2f', sin($x * 7 + $_) * 9) } 1 .. 32) . ']' } 1 .. 3;
like(dist_plan("SELECT id FROM items ORDER BY hi <-> '$hi_queries[0]' LIMIT 10", $ivf_exact),
	qr/Index Scan using items_ivf_\d+ on items_\d+/, 'kNN plan: each shard reads its msivf index');
for my $q (@hi_queries)
{
	same_answer("msivf kNN at full probes", qq{
		SELECT string_agg(org || '/' || id || ':' || round((hi <-> '$q')::numeric, 4), ',' ORDER BY n)
		FROM (SELECT org, id, hi, row_number() OVER () AS n
			  FROM (SELECT * FROM TBL ORDER BY hi <-> '$q' LIMIT 25) s) t}, $ivf_exact);
}

# sum(vec) and avg(vec): each shard aggregates, the coordinator combines
same_answer('sum and avg over the whole table', 'SELECT sum(emb), avg(emb) FROM TBL');
same_answer('sum and avg by org (pushed down whole)', q{
	SELECT string_agg(org || ' ' || s::text || ' ' || a::text, ',' ORDER BY org)
	FROM (SELECT org, sum(emb) AS s, avg(emb) AS a FROM TBL GROUP BY org) t});
same_answer('sum and avg by another column (combined on the coordinator)', q{
	SELECT string_agg(g || ' ' || s::text || ' ' || a::text, ',' ORDER BY g)
	FROM (SELECT id % 3 AS g, sum(emb) AS s, avg(emb) AS a FROM TBL GROUP BY id % 3) t});
same_answer('sum and avg of no rows', q{
	SELECT coalesce(sum(emb)::text, 'null') || coalesce(avg(emb)::text, 'null') FROM TBL WHERE id < 0});
my $agg_plan = dist_plan('SELECT avg(emb) FROM items', '', 'VERBOSE, COSTS OFF');
like($agg_plan, qr/worker_partial_agg/, 'avg(vec): each shard computes a partial state');
like($agg_plan, qr/coord_combine_agg/, 'avg(vec): the coordinator combines the states');

# a co-located join: each probe's org, on the worker that holds it
same_answer('co-located join on org', q{
	SELECT string_agg(p.qid || ':' || n, ',' ORDER BY p.qid)
	FROM PROBES p, LATERAL (SELECT count(*) AS n FROM TBL i
							WHERE i.org = p.org AND vec_dwithin(i.emb, p.q, 10)) c},
	$gist_only);
same_answer('co-located join, nearest item of each probe', q{
	SELECT string_agg(qid || ':' || id, ',' ORDER BY qid)
	FROM (SELECT DISTINCT ON (p.qid) p.qid, i.id
		  FROM PROBES p JOIN TBL i ON i.org = p.org
		  ORDER BY p.qid, i.emb <-> p.q) t});

# a reference table of vecs and boxes, joined with the distributed one
same_answer('kNN on a reference table', q{
	SELECT string_agg(name, ',' ORDER BY v <-> '[1,1,1,1,1,1,1,1]') FROM ANCHORS});
same_answer('join with a reference table', q{
	SELECT string_agg(name || ':' || n || ':' || a::text, ',' ORDER BY name)
	FROM (SELECT a.name, count(*) AS n, avg(i.emb) AS a
		  FROM TBL i JOIN ANCHORS a ON i.emb <@ a.b GROUP BY a.name) t});

# vec_knn_exact and vec_index_recall refuse the shells of Citus tables
sub error_of
{
	my ($node, $sql) = @_;
	my ($stdout, $stderr) = ('', '');
	$node->psql('postgres', "\\set VERBOSITY verbose\n$sql",
		stdout => \$stdout, stderr => \$stderr, on_error_stop => 0);
	return $stderr;
}
my $err = error_of($coord, qq{SELECT * FROM vec_knn_exact('items', 'emb', ARRAY['$queries[0]']::vec[], 5)});
like($err, qr/ERROR:  0A000: vec_knn_exact cannot scan distributed table "items"/,
	'vec_knn_exact on a distributed table: refused, 0A000');
like($err, qr/DETAIL:  The table is managed by Citus: its rows are in shards on the worker nodes/,
	'... saying where the rows are');
like($err, qr/HINT:  Use SELECT \.\.\. ORDER BY emb <-> query LIMIT k/, '... and what to do instead');
like(error_of($coord, qq{SELECT * FROM vec_knn_exact('anchors', 'v', ARRAY['$queries[0]']::vec[], 5)}),
	qr/ERROR:  0A000: vec_knn_exact cannot scan distributed table "anchors"/,
	'vec_knn_exact on a reference table: refused');
like(error_of($coord, qq{SELECT vec_index_recall('items_ivf', ARRAY['$hi_queries[0]']::vec[], 5)}),
	qr/ERROR:  0A000: vec_index_recall cannot scan distributed table "items"/,
	'vec_index_recall on an index of a distributed table: refused');
# a worker holds the shell too (Citus syncs metadata to the workers)
like(error_of($workers[0], qq{SELECT * FROM vec_knn_exact('items', 'emb', ARRAY['$queries[0]']::vec[], 5)}),
	qr/ERROR:  0A000: vec_knn_exact cannot scan distributed table "items"/,
	'vec_knn_exact on the shell on a worker: refused');

# ... and answer on the shards, as the hint says: the merged top k of every
# shard is the single-node answer
my @dists;
for my $w (@workers)
{
	my $shards = $w->safe_psql('postgres', qq{$shows_shards
		SELECT string_agg(relname, ' ') FROM pg_class
		WHERE relname ~ '^items_[0-9]+\$' AND relkind = 'r'});
	for my $shard (split / /, $shards)
	{
		push @dists, split /\n/, $w->safe_psql('postgres', qq{
			SELECT round(distance::numeric, 5)
			FROM vec_knn_exact('$shard', 'emb', ARRAY['$queries[1]']::vec[], 20)});
	}
}
my @merged = (sort { $a <=> $b } @dists)[0 .. 19];
is(join(',', @merged), $coord->safe_psql('postgres', qq{
	SELECT string_agg(d::text, ',' ORDER BY d) FROM (
		SELECT round(distance::numeric, 5) AS d
		FROM vec_knn_exact('items_local', 'emb', ARRAY['$queries[1]']::vec[], 20)) t}),
	'vec_knn_exact on every shard, merged: the single-node answer');

# recall measured on one shard's msivf index, on its worker
my ($shard_ivf) = split /\n/, $workers[0]->safe_psql('postgres',
	qq{$shows_shards SELECT relname FROM pg_class WHERE relname ~ '^items_ivf_[0-9]+\$' ORDER BY 1});
is($workers[0]->safe_psql('postgres', qq{
	SET machinesoup.probes = 8; SET enable_seqscan = off;
	SELECT vec_index_recall('$shard_ivf', ARRAY['$hi_queries[0]', '$hi_queries[2]']::vec[], 10)}),
	'1', 'vec_index_recall of a shard\'s msivf index at full probes: 1');

$_->stop for reverse @nodes;
done_testing();
