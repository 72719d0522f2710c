# The ms model store on a Citus cluster (ms.enable_citus): raw batches and
# every version's points distributed by org, co-located, so one org's data
# is on one worker; the governance tables reference tables, a copy on every
# node; an audit log on every node.  ms.knn, ms.within and ms.in_box (and
# the loads, test/t/082_citus_audit.pl) are distributed functions by org:
# one org's calls run whole on the worker that holds it (counted in each
# worker's pg_stat_statements).  The
# same script run in a single-node database on the same server gives the
# same answers: kNN (GiST and msivf at full probes), radius and box
# queries, upserts, raw batches read back in an audited session.  Grants
# hold on the cluster as on one node, routed or not, and the refusals are
# the same; a revoke reaches the workers' authorisation caches at once.
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

# refusals first: not by a tenant, not without Citus
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
is($coord->safe_psql('postgres', q{
	SELECT string_agg(logicalrelid::text, ',' ORDER BY logicalrelid::text) FROM pg_dist_partition
	 WHERE partmethod = 'n'}),
	'ms.grants,ms.models,ms.orgs,ms.promotions,ms.versions',
	'the governance tables are reference tables');
is($coord->safe_psql('postgres', q{
	SELECT count(*) FILTER (WHERE o.distribution_argument_index = 0
							AND o.colocationid = (SELECT colocationid FROM pg_dist_partition
												   WHERE logicalrelid = 'ms.raw_batches'::regclass))
		   || '/' || count(*)
	  FROM pg_proc p LEFT JOIN pg_dist_object o ON o.classid = 'pg_proc'::regclass AND o.objid = p.oid
	 WHERE p.pronamespace = 'ms'::regnamespace AND p.proname IN ('knn', 'within', 'in_box')}),
	'9/9', 'every ms.knn, ms.within and ms.in_box is distributed by org, co-located with the batches');

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
		# a routed call's error comes from the worker, which Citus adds
		$e =~ s/\nCONTEXT:  while executing command on \S+//g;
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
like(both(q{SELECT string_agg(point_id::text, ',') FROM ms.in_box('acme', 'm', '([10,10,10],[60,60,60])'::vbox)},
	'ms.in_box: the same points', 'cm_sci'), qr/^\d+,\d+/, 'and it has rows');
is($coord->safe_psql('postgres',
	q{SELECT count(*) FROM ms.knn('acme', 'm', '[0,0,0]', 1) WHERE point_id = 1 AND distance = 0}),
	'1', 'the upsert replaced point 1 on the cluster');
both(q{SELECT count(*) FROM pg_indexes WHERE indexname = 'points_2_embedding'},
	'beta\'s msivf index was built once 10,000 points were in');
my $qhi = $coord->safe_psql('single', q{SELECT embedding::text FROM ms.points_2 WHERE point_id = 77});
both(qq{BEGIN; SET LOCAL citus.propagate_set_commands = 'local'; SET LOCAL machinesoup.probes = 32768;
	SELECT string_agg(point_id::text, ',') FROM ms.knn('beta', 'm', '$qhi', 10); COMMIT;},
	'ms.knn (msivf at full probes): the single-node answer');

# A routed call carries no session setting: a role's settings (ALTER ROLE
# ... SET, which Citus propagates to the workers) apply where it runs.
$coord->safe_psql('postgres', 'CREATE ROLE cm_ann LOGIN; ALTER ROLE cm_ann SET machinesoup.probes = 32768');
$coord->safe_psql($_, q{SELECT ms.grant('cm_ann', 'query', 'beta', 'm')}) for ('postgres', 'single');
is(both(qq{SELECT string_agg(point_id::text, ',') FROM ms.knn('beta', 'm', '$qhi', 10)},
	'ms.knn (msivf, probes from the role\'s setting) routed: the single-node answer', 'cm_ann'),
	$coord->safe_psql('single', qq{SET enable_indexscan = off;
		SELECT string_agg(point_id::text, ',') FROM (SELECT point_id FROM ms.points_2
		 ORDER BY embedding <=> '$qhi' LIMIT 10) e}),
	'which is the exact answer');

# refusals are the same, routed to the worker or not
like(both(qq{SELECT * FROM ms.knn('beta', 'm', '$qhi', 10)}, 'a role without a grant is refused alike', 'cm_other'),
	qr/permission denied for model "beta\/m"/, 'with the single node\'s message');
both(qq{SELECT * FROM ms.knn('beta', 'm', '$qhi', 10)}, 'a role granted in another org is refused alike', 'cm_sci');
both(qq{SELECT * FROM ms.within('beta', 'm', '$qhi', 1)}, 'ms.within too', 'cm_other');
both(q{SELECT * FROM ms.in_box('acme', 'm', '([10,10,10],[60,60,60])'::vbox)}, 'ms.in_box too', 'cm_other');
both(qq{SELECT * FROM ms.knn('acme', 'm', '$q3', 5, 'nope')}, 'a label that does not exist alike', 'cm_sci');
both(qq{BEGIN; SELECT * FROM ms.knn('beta', 'm', '$qhi', 10); COMMIT;},
	'in a transaction block (not routed) alike', 'cm_other');
both(q{SELECT count(*) FROM ms.points_1}, 'and cannot read a version table directly', 'cm_sci');
for my $t ('ms.grants', 'ms.models', 'ms.points_1')
{
	my ($r, $o, $e) = $workers[0]->psql('postgres', "SELECT count(*) FROM $t",
		connstr => $workers[0]->connstr('postgres') . ' user=cm_sci');
	like($e, qr/permission denied for table/, "nor $t on a worker");
}
$coord->safe_psql('postgres', 'CREATE ROLE cm_reader LOGIN IN ROLE pg_read_all_data');
is($workers[0]->safe_psql('postgres', 'SELECT (SELECT count(*) FROM ms.grants) + (SELECT count(*) FROM ms.models)',
	connstr => $workers[0]->connstr('postgres') . ' user=cm_reader'),
	'0', 'pg_read_all_data sees no row of a worker\'s reference tables (row security)');

# a revoke reaches a worker's backend that answered before: one coordinator
# session keeps its connection to the worker, whose authorisation cache
# the revoke must clear
($rc, $out, $err) = $coord->psql('postgres', qq{
	SET ROLE cm_sci; SELECT count(*) FROM ms.knn('acme', 'm', '$q3', 5); RESET ROLE;
	SELECT ms.revoke('cm_sci', 'query', 'acme', 'm');
	SET ROLE cm_sci; SELECT count(*) FROM ms.knn('acme', 'm', '$q3', 5); RESET ROLE;
	SELECT ms.grant('cm_sci', 'query', 'acme', 'm');
	SET ROLE cm_sci; SELECT count(*) FROM ms.knn('acme', 'm', '$q3', 5);}, on_error_stop => 0);
is($out, "5\n\n\n5", 'answered, then refused once revoked, answered once granted again');
like($err, qr/ERROR:  permission denied to query label "v1" of model "acme\/m"\nCONTEXT:  while executing command on /,
	'the routed call refused after the revoke, on the worker');

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
my ($acme_port) = $coord->safe_psql('postgres', sprintf($placement, 'ms.raw_batches', 'acme'));
like(shards_touched(qq{SELECT count(*) FROM ms.knn('acme', 'm', '$q3', 5)}, 'ms\\.knn\\(|points_1_\\d+|on server \\S+:\\d+'),
	qr/^ms\.knn\(,on server \S+:$acme_port$/, 'ms.knn is sent whole to acme\'s worker, no shard query from the coordinator');

# one org's queries run on one worker only, whole: each worker's
# pg_stat_statements, and the coordinator's, where the calls do no more
# than arrive
sub reset_statements { $_->safe_psql('postgres', 'SELECT pg_stat_statements_reset()') for ($coord, @workers) }
sub statements
{
	my ($node, $pattern) = @_;
	return $node->safe_psql('postgres', qq{
		SELECT coalesce(sum(calls), 0) FROM pg_stat_statements
		 WHERE dbid = (SELECT oid FROM pg_database WHERE datname = 'postgres') AND query ~ '$pattern'});
}
my $routed_audit = $coord->safe_psql('postgres', 'SELECT count(*) FROM ms.audit_log');
reset_statements();
for (1 .. 5)
{
	$coord->safe_psql('postgres', qq{SELECT count(*) FROM ms.knn('acme', 'm', '$q3', 5)},
		connstr => $coord->connstr('postgres') . ' user=cm_sci');
}
$coord->safe_psql('postgres', qq{SELECT count(*) FROM ms.within('acme', 'm', '$q3', 30)},
	connstr => $coord->connstr('postgres') . ' user=cm_sci') for 1 .. 3;
$coord->safe_psql('postgres', q{SELECT count(*) FROM ms.in_box('acme', 'm', '([10,10,10],[60,60,60])'::vbox)},
	connstr => $coord->connstr('postgres') . ' user=cm_sci') for 1 .. 2;
my ($holder_w) = grep { $_->port == $acme_port } @workers;
my ($other_w) = grep { $_->port != $acme_port } @workers;
is(join(',', map { statements($holder_w, "^SELECT .*FROM ms\\.$_\\(") } ('knn', 'within', 'in_box')),
	'5,3,2', 'the worker holding acme runs each of its calls');
is(statements($holder_w, 'FROM ms\\.points_1_[0-9]+ p'), '10', 'and each one\'s scan, of its local shard');
is(statements($other_w, 'ms\\.(knn|within|in_box)\\(|points_1|ms\\._access|grants'), '0',
	'the other worker runs nothing of them');
is(statements($coord, 'ms\\._access|points_1'), '0',
	'nor does the coordinator authorise or scan (the calls run whole on the worker)');
is($coord->safe_psql('postgres', 'SELECT count(*) FROM ms.audit_log'), $routed_audit,
	'queries are not audited reads: no record, routed or not');

# A client may connect to the worker holding its org (ms.org_node) instead
# of the coordinator: its calls run there, with the coordinator's answer,
# and nothing of them reaches the other nodes.
my $as_sci = sub { my $n = shift; return (connstr => $n->connstr('postgres') . ' user=cm_sci') };
is($coord->safe_psql('postgres', q{SELECT port FROM ms.org_node('acme')}, $as_sci->($coord)), $acme_port,
	'ms.org_node names the worker holding acme');
is($holder_w->safe_psql('postgres', q{SELECT port FROM ms.org_node('acme')}, $as_sci->($holder_w)), $acme_port,
	'and says the same on a worker');
my $knn_ids = qq{SELECT string_agg(point_id::text, ',' ORDER BY distance, point_id) FROM ms.knn('acme', 'm', '$q3', 5)};
my $through_coord = $coord->safe_psql('postgres', $knn_ids, $as_sci->($coord));
reset_statements();
is($holder_w->safe_psql('postgres', $knn_ids, $as_sci->($holder_w)), $through_coord,
	'a call on the org\'s worker answers as one through the coordinator');
isnt($through_coord, '', '(which found points)');
is(statements($other_w, 'ms\\.knn\\(|points_1|ms\\._access'), '0', 'the other worker runs nothing of it');
is(statements($coord, 'ms\\.knn\\(|points_1|ms\\._access'), '0', 'nor does the coordinator');
# where an org lives is for its members: the same refusal for an org that
# exists and one that does not; and a single node has nothing to name
for my $org ('acme', 'nosuchorg')
{
	($rc, $out, $err) = $coord->psql('postgres', qq{SELECT * FROM ms.org_node('$org')},
		connstr => $coord->connstr('postgres') . ' user=cm_other');
	like($err, qr/permission denied for organization "$org"/, "ms.org_node refuses a role without a grant ($org)");
	is($out, '', 'and returns nothing');
}
($rc, $out, $err) = $coord->psql('single', q{SELECT * FROM ms.org_node('acme')});
like($err, qr/the model store is not distributed/, 'ms.org_node on a single node says the store is not distributed');
like(shards_touched(q{SELECT ms.ingest('acme', 'm', convert_to(E'9001,1,2,3\n', 'UTF8'))},
	'ms\\.ingest\\(|points_1_\\d+|raw_batches_\\d+|on server \\S+:\\d+'),
	qr/^ms\.ingest\(,on server \S+:$acme_port$/, 'ms.ingest is sent whole to acme\'s worker, no shard write from the coordinator');
like(shards_touched(q{BEGIN; SELECT ms.ingest('acme', 'm', convert_to(E'9002,1,2,3\n', 'UTF8')); COMMIT;},
	'points_1_\\d+|raw_batches_\\d+'),
	qr/^points_1_\d+,raw_batches_\d+$/, 'in a transaction block it runs on the coordinator, writing one shard of each table');
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

# raw batches: listed and read back in an audited session opened on the
# coordinator, recorded there
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
reset_statements();
is($coord->safe_psql('postgres', $answers), $before, 'the same answers after the move');
my ($old_w) = grep { $_->port == $from } @workers;
is(statements($to, "^SELECT .*FROM ms\\.knn\\(") . ',' . statements($old_w, "ms\\.knn\\("),
	'1,0', 'acme\'s routed ms.knn now runs on the new worker, nothing on the old one');
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
