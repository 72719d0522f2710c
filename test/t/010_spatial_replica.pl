# Spatial indexes replicate: a streaming replica answers kNN, box and
# dwithin queries through vec_gist_ops and vec_spgist_ops exactly like the
# primary, including changes made after the base backup (replayed from the
# indexes' WAL), and like a sequential scan.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->start;

$primary->safe_psql('postgres', q{
	CREATE EXTENSION machinesoup;
	SELECT setseed(0.25);
	CREATE TABLE g2 (id serial, v vec(2));
	CREATE TABLE s2 (id serial, v vec(2));
	CREATE TABLE g8 (id serial, v vec(8));
	CREATE TABLE s8 (id serial, v vec(8));
	INSERT INTO g2 (v) SELECT ARRAY[random() * 100, random() * 100]::real[]::vec FROM generate_series(1, 5000);
	INSERT INTO s2 (v) SELECT v FROM g2 ORDER BY id;
	INSERT INTO g8 (v) SELECT (SELECT array_agg(round(random() * 4)::real) FROM generate_series(1, 8 + 0 * i))::vec
		FROM generate_series(1, 3000) i;
	INSERT INTO s8 (v) SELECT v FROM g8 ORDER BY id;
	CREATE INDEX g2_idx ON g2 USING gist (v);
	CREATE INDEX s2_idx ON s2 USING spgist (v);
	CREATE INDEX g8_idx ON g8 USING gist (v);
	CREATE INDEX s8_idx ON s8 USING spgist (v);
});

$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->start;

# changes after the backup reach the replica only through WAL: inserts that
# split pages, deletes and VACUUM
$primary->safe_psql('postgres', q{
	INSERT INTO g2 (v) SELECT ARRAY[random() * 100, random() * 100]::real[]::vec FROM generate_series(1, 5000);
	INSERT INTO s2 (v) SELECT v FROM g2 WHERE id > 5000 ORDER BY id;
	INSERT INTO g8 (v) SELECT (SELECT array_agg(round(random() * 4)::real) FROM generate_series(1, 8 + 0 * i))::vec
		FROM generate_series(1, 2000) i;
	INSERT INTO s8 (v) SELECT v FROM g8 WHERE id > 3000 ORDER BY id;
	DELETE FROM g2 WHERE id % 7 = 0;
	DELETE FROM s2 WHERE id % 7 = 0;
	DELETE FROM g8 WHERE id % 5 = 0;
	DELETE FROM s8 WHERE id % 5 = 0;
	VACUUM g2, s2, g8, s8;
});
$primary->wait_for_catchup($standby);

my $index_only = 'SET enable_seqscan = off; SET enable_bitmapscan = on; ';
my $seq_only = 'SET enable_indexscan = off; SET enable_bitmapscan = off; ';

my @queries;
for my $tbl ('g2', 's2')
{
	for my $q ('[50,50]', '[0,0]', '[99.5,3.25]', '[-20,130]')
	{
		push @queries,
		  "SELECT string_agg(d::text, ',') FROM (SELECT v <-> '$q' AS d FROM $tbl ORDER BY v <-> '$q' LIMIT 10) s",
		  "SELECT string_agg(d::text, ',') FROM (SELECT v <-> '$q' AS d FROM $tbl ORDER BY v <-> '$q' LIMIT 200) s",
		  "SELECT string_agg(id::text, ',' ORDER BY id) FROM $tbl WHERE vec_dwithin(v, '$q', 4)";
	}
	push @queries,
	  "SELECT string_agg(id::text, ',' ORDER BY id) FROM $tbl WHERE v <@ '([10,20],[15,40])'",
	  "SELECT string_agg(id::text, ',' ORDER BY id) FROM $tbl WHERE v <@ '([-1,-1],[-0.5,-0.5])'";
}
for my $tbl ('g8', 's8')
{
	for my $q ('[2,2,2,2,2,2,2,2]', '[0,1,2,3,4,0,1,2]')
	{
		push @queries,
		  "SELECT string_agg(d::text, ',') FROM (SELECT v <-> '$q' AS d FROM $tbl ORDER BY v <-> '$q' LIMIT 50) s",
		  "SELECT string_agg(id::text, ',' ORDER BY id) FROM $tbl WHERE vec_dwithin(v, '$q', 2)";
	}
	push @queries,
	  "SELECT string_agg(id::text, ',' ORDER BY id) FROM $tbl WHERE v <@ '([0,0,0,0,0,0,0,0],[2,4,1,4,3,4,4,2])'";
}

for my $sql (@queries)
{
	my $plan = $standby->safe_psql('postgres', $index_only . "EXPLAIN (COSTS OFF) $sql");
	like($plan, qr/Index (Only )?Scan/, "replica uses the index: $sql");
	my $on_primary = $primary->safe_psql('postgres', $index_only . $sql);
	my $on_standby = $standby->safe_psql('postgres', $index_only . $sql);
	my $seqscan = $primary->safe_psql('postgres', $seq_only . $sql);
	isnt($on_standby, '', "non-empty answer: $sql") unless $sql =~ /-0\.5|vec_dwithin\(v, '\[-20,130\]'/;
	is($on_standby, $on_primary, "replica equals primary: $sql");
	is($on_primary, $seqscan, "index equals seqscan: $sql");
}

$standby->stop;
$primary->stop;
done_testing();
