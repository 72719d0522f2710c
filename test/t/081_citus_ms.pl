# The ms model store on a Citus cluster (ms.enable_citus): raw batches and
# every version's points distributed by org, co-located, so one org's data
# is on one worker; governance and the audit log on the coordinator.  The
# same script run in a single-node database on the same server gives the
# same answers: kNN (GiST and msivf at full probes), radius and box
# queries, upserts, raw batches read back in an audited session.  Grants
# hold on the cluster as on one node, and the refusals are the same.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

use citus_common;

citus_common::skip_unless_installed();
my ($coord, @workers) = citus_common::start_cluster('ms_');

# roles are cluster-wide on each node; Citus propagates them to the workers
$coord->safe_psql('postgres', q{
	CREATE ROLE cm_sci LOGIN;
	CREATE ROLE cm_other LOGIN;
	CREATE DATABASE single;
});
$coord->safe_psql('single', 'CREATE EXTENSION machinesoup');

# refusals first: not by a tenant, not once a version exists, not without Citus
my ($rc, $out, $err) = $coord->psql('postgres', 'SELECT ms.enable_citus()',
	connstr => $coord->connstr('postgres') . ' user=cm_sci');
like($err, qr/permission denied for function enable_citus/, 'a tenant cannot distribute the store');
($rc, $out, $err) = $coord->psql('single', 'SELECT ms.enable_citus()');
like($err, qr/extension "citus" is not installed in this database/, 'nor can a database without Citus');

$coord->safe_psql('postgres', 'SELECT ms.enable_citus()');
is($coord->safe_psql('postgres', 'SELECT ms._citus_enabled()'), 't',
	'ms.enable_citus() distributes the store');
is($coord->safe_psql('postgres',
	q{SELECT partmethod FROM pg_dist_partition WHERE logicalrelid = 'ms.raw_batches'::regclass}),
	'h', 'raw batches are hash-distributed');

# The same script in both databases.  100-d beta gets an msivf index once
# 10,000 points are in; 3-d acme has GiST from the start.
my $script = q{
	SELECT setseed(0.31);
	SELECT ms.create_model('acme', 'm', 3, 'l2');
	SELECT ms.create_version('acme', 'm', 'v1');
	SELECT ms.promote('acme', 'm', 'v1');
	SELECT ms.create_model('beta', 'm', 100, 'cosine');
	SELECT ms.create_version('beta', 'm', 'v1');
	SELECT ms.promote('beta', 'm', 'v1');
	SELECT ms.grant('cm_sci', 'query', 'acme', 'm');
	SELECT ms.grant('cm_sci', 'raw_read', 'acme', 'm');
	SELECT ms.ingest('acme', 'm', convert_to(string_agg(format('%s,%s,%s,%s', i,
		round((random() * 100)::numeric, 2), round((random() * 100)::numeric, 2),
		round((random() * 100)::numeric, 2)), E'\n' ORDER BY i) || E'\n', 'UTF8'))
	  FROM generate_series(1, 3000) i GROUP BY i / 500;
	SELECT ms.upsert_points('beta', 'm', 'v1', array_agg(i ORDER BY i),
		array_agg((SELECT array_agg((random() - 0.5)::real) FROM generate_series(1, 100 + 0 * i))::vec ORDER BY i))
	  FROM generate_series(1, 10500) i GROUP BY i / 3500;
	-- an upsert that replaces points, and an ingest that re-sends ids
	SELECT ms.upsert_points('acme', 'm', 'v1', ARRAY[1, 2], ARRAY['[0,0,0]', '[1,1,1]']::vec[]);
	SELECT ms.ingest('acme', 'm', convert_to(E'3,50,50,50\n4,51,51,51\n', 'UTF8'));
};
$coord->safe_psql($_, $script) for ('postgres', 'single');

sub both
{
	my ($sql, $name, $as) = @_;
	my @got;
	for my $db ('postgres', 'single')
	{
		my $connstr = $coord->connstr($db) . ($as ? " user=$as" : '');
		my ($r, $o, $e) = $coord->psql($db, $sql, connstr => $connstr);
		push @got, $e ne '' ? "ERROR: $e" : $o;
	}
	is($got[0], $got[1], $name);
	return $got[0];
}

my $q3 = '[40,60,20]';
like(both(qq{SELECT string_agg(point_id || ':' || round(distance::numeric, 4), ',') FROM ms.knn('acme', 'm', '$q3', 25)},
	'ms.knn (GiST) on the cluster: the single-node answer', 'cm_sci'), qr/^\d+:/, 'and it has rows');
both(qq{SELECT count(*), round(sum(distance)::numeric, 3) FROM ms.within('acme', 'm', '$q3', 30)},
	'ms.within: the same points', 'cm_sci');
both(q{SELECT string_agg(point_id::text, ',') FROM ms.in_box('acme', 'm', '[10,10,10],[60,60,60]'::vbox)},
	'ms.in_box: the same points', 'cm_sci');
is($coord->safe_psql('postgres',
	q{SELECT count(*) FROM ms.knn('acme', 'm', '[0,0,0]', 1) WHERE point_id = 1 AND distance = 0}),
	'1', 'the upsert replaced point 1 on the cluster');
both(q{SELECT count(*) FROM pg_indexes WHERE indexname = 'points_2_embedding'},
	'beta\'s msivf index was built once 10,000 points were in');
my $qhi = $coord->safe_psql('single', q{SELECT embedding::text FROM ms.points_2 WHERE point_id = 77});
both(qq{BEGIN; SET LOCAL citus.propagate_set_commands = 'local'; SET LOCAL machinesoup.probes = 32768;
	SELECT string_agg(point_id::text, ',') FROM ms.knn('beta', 'm', '$qhi', 10); COMMIT;},
	'ms.knn (msivf at full probes): the single-node answer');

# refusals are the same
both(qq{SELECT * FROM ms.knn('beta', 'm', '$qhi', 10)}, 'a role without a grant is refused alike', 'cm_other');
both(q{SELECT count(*) FROM ms.points_1}, 'and cannot read a version table directly', 'cm_sci');

# one org's data is on one worker, in the shard of its raw batches
my $placement = q{
	SELECT n.nodeport FROM pg_dist_placement p JOIN pg_dist_node n USING (groupid)
	 WHERE p.shardid = get_shard_id_for_distribution_column('%s', '%s')};
for my $v (['acme', 'ms.points_1'], ['beta', 'ms.points_2'])
{
	my ($org, $table) = @$v;
	my $port = $coord->safe_psql('postgres', sprintf($placement, $table, $org));
	is($port, $coord->safe_psql('postgres', sprintf($placement, 'ms.raw_batches', $org)),
		"$org\'s points are co-located with its raw batches");
	my $w = (grep { $_->port == $port } @workers)[0];
	ok($w, "$org\'s shard is on a worker");
	my @counts = split /\n/, $coord->safe_psql('postgres', qq{
		SELECT result FROM run_command_on_shards('$table', 'SELECT count(*) FROM %s')
		 WHERE result::int > 0});
	is(scalar(@counts), 1, "all of $org\'s points are in one shard");
}

# one org's calls go to its one shard, not to every shard of the table:
# the commands the coordinator sends, as Citus logs them
sub shards_touched
{
	my ($sql, $pattern) = @_;
	my ($r, $o, $e) = $coord->psql('postgres', qq{
		SET citus.log_remote_commands = on; SET client_min_messages = notice; $sql});
	my %shards = map { $_ => 1 } ($e =~ /($pattern)/g);
	return join(',', sort keys %shards);
}
like(shards_touched(qq{SELECT count(*) FROM ms.knn('acme', 'm', '$q3', 5)}, 'points_1_\\d+'),
	qr/^points_1_\d+$/, 'ms.knn reads one shard');
like(shards_touched(q{SELECT ms.ingest('acme', 'm', convert_to(E'9001,1,2,3\n', 'UTF8'))}, 'points_1_\\d+'),
	qr/^points_1_\d+$/, 'ms.ingest writes one shard of the points');
like(shards_touched(q{SELECT ms.ingest('acme', 'm', convert_to(E'9002,1,2,3\n', 'UTF8'))}, 'raw_batches_\\d+'),
	qr/^raw_batches_\d+$/, 'and one shard of the raw batches');
# the same two batches on the single node, for the comparisons below
$coord->safe_psql('single', q{
	SELECT ms.ingest('acme', 'm', convert_to(E'9001,1,2,3\n', 'UTF8'));
	SELECT ms.ingest('acme', 'm', convert_to(E'9002,1,2,3\n', 'UTF8'));
});

# a replay of the model's batches into a staged version
both(q{SELECT ms.create_version('acme', 'm', 'v2');
	SELECT ms.replay('acme', 'm', 'v2', NULL, NULL, 'v1');
	SELECT count(*), round(sum(distance)::numeric, 3) FROM ms.knn('acme', 'm', '[5,5,5]', 100000, 'v2');},
	'ms.replay into a staged version: the same points');

# raw batches: listed and read back in an audited session, recorded on the
# coordinator
both(q{SELECT count(*), sum(raw_bytes) FROM ms.batches('acme', 'm')},
	'ms.batches lists the same batches', 'cm_sci');
both(q{SELECT ms.open_access('acme', 'm', 'cluster check');
	SELECT md5(ms.read_batch(b.batch_id)) FROM (SELECT min(batch_id) AS batch_id FROM ms.batches('acme', 'm')) b;
	SELECT ms.close_access();},
	'a batch read back in an audited session: the same bytes', 'cm_sci');
is($coord->safe_psql('postgres',
	q{SELECT string_agg(action, ',' ORDER BY id) FROM ms.audit_log WHERE reason = 'cluster check'}),
	'open_access,read_batch,close_access', 'the session is in the coordinator\'s audit log');
is($coord->safe_psql('postgres', 'SELECT ok FROM ms.verify_audit()'), 't', 'and the chain verifies');

# a shard move of one org (its batches and its points move together,
# being co-located) keeps every answer, its index and its audit
my $answers = qq{
	SELECT string_agg(point_id::text, ',') FROM ms.knn('acme', 'm', '$q3', 25);
	SELECT count(*), sum(raw_bytes) FROM ms.batches('acme', 'm');
	BEGIN; SET LOCAL citus.propagate_set_commands = 'local'; SET LOCAL machinesoup.probes = 32768;
	SELECT string_agg(point_id::text, ',') FROM ms.knn('beta', 'm', '$qhi', 10); COMMIT;};
my $before = $coord->safe_psql('postgres', $answers);
my $from = $coord->safe_psql('postgres', sprintf($placement, 'ms.raw_batches', 'acme'));
my ($to) = grep { $_->port != $from } @workers;
$coord->safe_psql('postgres', sprintf(q{
	SELECT citus_move_shard_placement(get_shard_id_for_distribution_column('ms.raw_batches', 'acme'),
		'%s', %d, '%s', %d, shard_transfer_mode => 'block_writes')},
	$coord->host, $from, $to->host, $to->port));
is($coord->safe_psql('postgres', sprintf($placement, 'ms.points_1', 'acme')), $to->port,
	'acme\'s points moved with its batches');
is($coord->safe_psql('postgres', $answers), $before, 'the same answers after the move');
is($coord->safe_psql('postgres', q{
	SELECT result FROM run_command_on_placements('ms.points_1',
		$$SELECT count(*) FROM pg_index i JOIN pg_am a ON a.oid = (SELECT relam FROM pg_class WHERE oid = i.indexrelid)
		   WHERE i.indrelid = '%s'::regclass AND a.amname = 'gist'$$)
	 WHERE shardid = get_shard_id_for_distribution_column('ms.points_1', 'acme')}),
	'1', 'the moved shard has its GiST index');
($rc, $out, $err) = $coord->psql('postgres', q{
	SELECT ms.open_access('acme', 'm', 'after the move');
	SELECT length(ms.read_batch(b.batch_id)) > 0 FROM (SELECT min(batch_id) AS batch_id FROM ms.batches('acme', 'm')) b;
	SELECT ms.close_access();}, connstr => $coord->connstr('postgres') . ' user=cm_sci');
like($out, qr/^t$/m, 'a batch is read from the new worker');
is($coord->safe_psql('postgres', 'SELECT ok FROM ms.verify_audit()'), 't', 'and the chain still verifies');

# a worker killed with -9 and restarted loses nothing committed
my $holder = (grep { $_->port == $to->port } @workers)[0];
$coord->safe_psql('postgres', q{SELECT ms.ingest('acme', 'm', convert_to(E'9100,7,7,7\n', 'UTF8'))});
$before = $coord->safe_psql('postgres', $answers);
my $pid = $holder->{_pid};
$holder->kill9;
# the postmaster's orphaned backends hold its shared memory for a moment
usleep(100_000) while kill(0, $pid);
for (1 .. 60)
{
	last if $holder->start(fail_ok => 1);
	sleep(1);
}
$coord->poll_query_until('postgres', q{SELECT count(*) >= 0 FROM ms.batches('acme', 'm')})
  or die 'the cluster did not come back';
is($coord->safe_psql('postgres', $answers), $before,
	'after kill -9 of the worker holding acme: every committed batch and point is there');

$_->stop for reverse ($coord, @workers);
done_testing();
