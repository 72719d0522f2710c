# Per-org loads routed whole to the org's worker, and an audit log per node
# (ms.enable_citus).  Two orgs, one on each worker: one org's ms.ingest,
# ms.upsert_points, ms.replay and ms.batches run on its worker only (each
# node's pg_stat_statements), number their batches there (the node's group
# in the top bits: unique across the cluster) and give a version that
# grows past 10,000 points its msivf index on the org's shard.  What they
# audit (a replay reads raw batches) is in the audit log of the worker that
# ran it, as is an access session opened on a worker directly; the
# coordinator's ms.access_report has every node's records, each with the
# head of its node's chain, and its ms.verify_audit checks every node's
# chain and the customer's copy of any node's head, and fails when a
# worker's log loses its tail or a head is forged.  A routed call judges
# the caller as a single node does (the same refusals, from the same
# script on a single-node database), and a tenant on a worker reads no
# audit log, batch or point.  A shard move, a worker killed with -9 and
# restarted, and a worker added and shards rebalanced keep every batch,
# answer and audit record.
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
my ($coord, @workers) = citus_common::start_cluster('ca_');

$coord->safe_psql('postgres', q{
	CREATE ROLE ca_sci LOGIN;
	CREATE ROLE ca_other LOGIN;
	CREATE ROLE ca_admin LOGIN;
	CREATE ROLE ca_reader LOGIN IN ROLE pg_read_all_data;
	CREATE DATABASE single;
});
$coord->safe_psql('single', 'CREATE EXTENSION machinesoup');
$coord->safe_psql('postgres', 'SELECT ms.enable_citus()');

sub port_of_org
{
	my ($org, $table) = @_;
	$table //= 'ms.raw_batches';
	return $coord->safe_psql('postgres', qq{
		SELECT n.nodeport FROM pg_dist_placement p JOIN pg_dist_node n USING (groupid)
		 WHERE p.shardid = get_shard_id_for_distribution_column('$table', '$org')});
}
sub node_of_port { my ($port) = @_; return (grep { $_->port == $port } @workers)[0] }
sub as { my ($node, $role, $db) = @_; return (connstr => $node->connstr($db // 'postgres') . " user=$role") }

# two orgs, one on each worker: the first org names whose shard is there
my @pick = split /\n/, $coord->safe_psql('postgres', q{
	SELECT DISTINCT ON (n.nodeport) 'org' || i
	  FROM generate_series(1, 200) i
	  JOIN pg_dist_placement p ON p.shardid = get_shard_id_for_distribution_column('ms.raw_batches', 'org' || i)
	  JOIN pg_dist_node n USING (groupid)
	 ORDER BY n.nodeport, i});
is(scalar(@pick), 2, 'an org on each worker');
my ($orgA, $orgB) = @pick;
my $wA = node_of_port(port_of_org($orgA));
my $wB = node_of_port(port_of_org($orgB));
isnt($wA->port, $wB->port, "$orgA and $orgB are on different workers");

# the same script in the cluster and in a single-node database
my $setup = qq{
	SELECT ms.create_model('$orgA', 'm', 3, 'l2');
	SELECT ms.create_version('$orgA', 'm', 'v1');
	SELECT ms.promote('$orgA', 'm', 'v1');
	SELECT ms.create_model('$orgB', 'm', 3, 'l2');
	SELECT ms.create_version('$orgB', 'm', 'v1');
	SELECT ms.promote('$orgB', 'm', 'v1');
	SELECT ms.create_model('$orgB', 'h', 100, 'cosine');
	SELECT ms.create_version('$orgB', 'h', 'v1');
	SELECT ms.promote('$orgB', 'h', 'v1');
	SELECT ms.grant('ca_sci', p, '$orgA', 'm') FROM unnest('{ingest,stage,raw_read,query}'::text[]) p;
	SELECT ms.grant('ca_sci', p, '$orgB', 'm') FROM unnest('{ingest,stage,raw_read,query}'::text[]) p;
	SELECT ms.grant('ca_sci', p, '$orgB', 'h') FROM unnest('{ingest,query}'::text[]) p;
	SELECT ms.grant('ca_admin', 'admin', '$orgA');
};
$coord->safe_psql($_, $setup) for ('postgres', 'single');

sub reset_statements { $_->safe_psql('postgres', 'SELECT pg_stat_statements_reset()') for ($coord, @workers) }
sub statements
{
	my ($node, $pattern) = @_;
	return $node->safe_psql('postgres', qq{
		SELECT coalesce(sum(calls), 0) FROM pg_stat_statements
		 WHERE dbid = (SELECT oid FROM pg_database WHERE datname = 'postgres') AND query ~ '$pattern'});
}
sub csv
{
	my ($from, $n) = @_;
	return join('', map { sprintf("%d,%d,%d,%d\\n", $_, $_ % 7, $_ % 11, $_ % 13) } ($from .. $from + $n - 1));
}

# routed loads: each call alone in its statement, outside a transaction block
reset_statements();
my @idsA;
for my $b (0 .. 2)
{
	push @idsA, $coord->safe_psql('postgres', sprintf(q{SELECT ms.ingest('%s', 'm', convert_to(E'%s', 'UTF8'))},
		$orgA, csv(100 * $b + 1, 50)), as($coord, 'ca_sci'));
}
$coord->safe_psql('postgres', qq{SELECT ms.upsert_points('$orgA', 'm', 'v1', ARRAY[1000, 1001], ARRAY['[0,0,0]', '[1,1,1]']::vec[])},
	as($coord, 'ca_sci'));
$coord->safe_psql('postgres', qq{SELECT ms.replay('$orgA', 'm', 'v1')}, as($coord, 'ca_sci'));
$coord->safe_psql('postgres', qq{SELECT * FROM ms.batches('$orgA', 'm')}, as($coord, 'ca_sci'));
my $other = $wA == $workers[0] ? $workers[1] : $workers[0];
is(join(',', map { statements($wA, "^SELECT .*ms\\.$_\\(") } ('ingest', 'upsert_points', 'replay', 'batches')),
	'3,1,1,1', "$orgA\'s worker runs each of its loads, replay and listing, whole");
ok(statements($wA, 'INSERT INTO ms\\.raw_batches_[0-9]+') >= 3, 'and writes its batches into its local shard');
is(statements($other, 'ms\\.(ingest|upsert_points|replay|batches)\\(|raw_batches|points_'), '0',
	'the other worker runs nothing of them');
is(statements($coord, 'raw_batches|points_[0-9]|ms\\._(ingest|authorise|replay|audit)'), '0',
	'nor does the coordinator write, judge or audit anything of them (it forwards the calls)');

# batch ids: the node's group in the top 16 of 64 bits
my $groupA = $wA->safe_psql('postgres', 'SELECT groupid FROM pg_dist_local_group');
is(join(',', map { $_ >> 48 } @idsA), "$groupA,$groupA,$groupA", 'routed batch ids carry the worker\'s group');
my $txn_id = $coord->safe_psql('postgres', sprintf(q{BEGIN; SELECT ms.ingest('%s', 'm', convert_to(E'%s', 'UTF8')); COMMIT;},
	$orgA, csv(401, 5)), as($coord, 'ca_sci'));
is($txn_id >> 48, 0, 'a call in a transaction block (run on the coordinator) numbers from the coordinator\'s group 0');
my @idsB;
for my $b (0 .. 1)
{
	push @idsB, $coord->safe_psql('postgres', sprintf(q{SELECT ms.ingest('%s', 'm', convert_to(E'%s', 'UTF8'))},
		$orgB, csv(100 * $b + 1, 30)), as($coord, 'ca_sci'));
}
is($coord->safe_psql('postgres', 'SELECT count(*) || \'/\' || count(DISTINCT batch_id) FROM ms.raw_batches'),
	'6/6', 'batch ids are unique across the cluster');
$coord->safe_psql('postgres', qq{SELECT ms.replay('$orgB', 'm', 'v1')}, as($coord, 'ca_sci'));
# the same loads on the single node
$coord->safe_psql('single', join(';', (map { sprintf(q{SELECT ms.ingest('%s', 'm', convert_to(E'%s', 'UTF8'))},
	$orgA, csv(100 * $_ + 1, 50)) } (0 .. 2)),
	qq{SELECT ms.upsert_points('$orgA', 'm', 'v1', ARRAY[1000, 1001], ARRAY['[0,0,0]', '[1,1,1]']::vec[])},
	qq{SELECT ms.replay('$orgA', 'm', 'v1')},
	sprintf(q{SELECT ms.ingest('%s', 'm', convert_to(E'%s', 'UTF8'))}, $orgA, csv(401, 5)),
	(map { sprintf(q{SELECT ms.ingest('%s', 'm', convert_to(E'%s', 'UTF8'))}, $orgB, csv(100 * $_ + 1, 30)) } (0 .. 1)),
	qq{SELECT ms.replay('$orgB', 'm', 'v1')}), as($coord, 'ca_sci', 'single'));

sub both
{
	my ($sql, $name, $role, $node) = @_;
	my @got;
	for my $db ('postgres', 'single')
	{
		my $n = $db eq 'single' ? $coord : ($node // $coord);
		my $connstr = $n->connstr($db) . ($role ? " user=$role" : '');
		my ($r, $o, $e) = $n->psql($db, $sql, connstr => $connstr);
		# a routed call's error comes from the worker, which Citus adds
		$e =~ s/\n(CONTEXT:  )?while executing command on \S+//g;
		push @got, $e ne '' ? "ERROR: $e" : $o;
	}
	is($got[0], $got[1], $name);
	return $got[0];
}

my $q3 = '[5,5,5]';
# (distances, not ids: points at the same distance may come in any order)
like(both(qq{SELECT count(*), round(sum(distance)::numeric, 4) FROM ms.knn('$orgA', 'm', '$q3', 20)},
	'kNN after the routed loads: the single-node answer', 'ca_sci'), qr/^20\|\d/, 'with rows');
both(qq{SELECT count(*), sum(raw_bytes) FROM ms.batches('$orgA', 'm')}, 'the same batches', 'ca_sci');
both(qq{SELECT count(*), round(sum(distance)::numeric, 3) FROM ms.knn('$orgB', 'm', '$q3', 1000)},
	"$orgB\'s points", 'ca_sci');

# a routed load that takes a 100-d version past 10,000 points builds its
# msivf index on the org's shard, on its worker (Citus takes DDL from the
# coordinator only): the arguments are constants, so the call is routed
my ($ids, $vecs) = split /\|/, $coord->safe_psql('postgres', q{
	SELECT setseed(0.4);
	SELECT array_agg(i ORDER BY i)::text || '|' ||
		   array_agg((SELECT array_agg(round((random() - 0.5)::numeric, 3)::real)
						FROM generate_series(1, 100 + 0 * i))::vec::text ORDER BY i)::text
	  FROM generate_series(1, 10500) i});
my $upsert = qq{SELECT ms.upsert_points('$orgB', 'h', 'v1', '$ids'::bigint[], '$vecs'::vec[])};
reset_statements();
$coord->safe_psql($_, $upsert, as($coord, 'ca_sci', $_)) for ('postgres', 'single');
is(statements($wB, '^SELECT .*ms\\.upsert_points\\('), '1', 'the 10,500-point upsert ran on the org\'s worker');
my $vh = $coord->safe_psql('postgres', qq{SELECT version_id FROM ms.versions WHERE org = '$orgB' AND model = 'h'});
my $shardh = $coord->safe_psql('postgres', "SELECT get_shard_id_for_distribution_column('ms.points_$vh', '$orgB')");
is($wB->safe_psql('postgres', qq{SET citus.show_shards_for_app_name_prefixes = '*'; SELECT a.amname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam
	 WHERE c.relname = 'points_${vh}_embedding_$shardh'}), 'msivf', 'which built the msivf index on the org\'s shard');
my $qh = $coord->safe_psql('single', qq{SELECT embedding::text FROM ms.points_$vh WHERE point_id = 77});
like($wB->safe_psql('postgres', qq{EXPLAIN (COSTS OFF) SELECT point_id FROM ms.points_${vh}_$shardh
	 ORDER BY embedding <=> '$qh' LIMIT 10}), qr/Index Scan using points_${vh}_embedding_$shardh/,
	'the worker\'s scans of the shard use it');
$coord->safe_psql('postgres', "ALTER ROLE ca_sci SET machinesoup.probes = 32768");
$coord->safe_psql('single', "ALTER ROLE ca_sci SET machinesoup.probes = 32768");
is(both(qq{SELECT string_agg(point_id::text, ',') FROM ms.knn('$orgB', 'h', '$qh', 10)},
	'routed ms.knn over that index (full probes): the single-node answer', 'ca_sci'),
	$coord->safe_psql('single', qq{SET enable_indexscan = off; SELECT string_agg(point_id::text, ',')
		FROM (SELECT point_id FROM ms.points_$vh ORDER BY embedding <=> '$qh' LIMIT 10) e}),
	'which is the exact answer');

# refusals of routed calls: the single node's, judged on the worker
both(qq{SELECT ms.ingest('$orgA', 'm', convert_to(E'1,1,1,1\\n', 'UTF8'))}, 'ms.ingest without a grant: refused alike', 'ca_other');
both(qq{SELECT ms.ingest('$orgA', 'm', convert_to(E'1,1,1,1\\n', 'UTF8'), 'nope')}, 'into a label that does not exist: alike', 'ca_sci');
both(qq{SELECT ms.ingest('$orgA', 'h', convert_to(E'1,1,1,1\\n', 'UTF8'))}, 'into a model of another org\'s name: alike', 'ca_sci');
both(qq{SELECT ms.upsert_points('$orgA', 'm', 'v1', ARRAY[1], ARRAY['[0,0,0]']::vec[])}, 'ms.upsert_points: alike', 'ca_other');
both(qq{SELECT ms.replay('$orgA', 'm', 'v1')}, 'ms.replay: alike', 'ca_other');
both(qq{SELECT * FROM ms.batches('$orgA', 'm')}, 'ms.batches: alike', 'ca_other');
both(qq{SELECT ms.ingest('$orgB', 'm', NULL)}, 'NULL data: alike', 'ca_sci');
both(qq{SELECT count(*) FROM ms.access_report('$orgA')}, 'ms.access_report by a non-admin: alike', 'ca_sci');
both(qq{SELECT count(*) FROM ms.access_report('$orgB')}, 'by another org\'s admin: alike', 'ca_admin');
both(q{SELECT count(*) FROM ms.access_report($$x'); SELECT 1; --$$)}, 'an org name made to break a command: alike', 'ca_admin');
both(q{SELECT * FROM ms.verify_audit()}, 'ms.verify_audit by a tenant: alike', 'ca_sci');
# and on a worker directly, where Citus lets clients query too
both(qq{SELECT ms.ingest('$orgB', 'm', convert_to(E'1,1,1,1\\n', 'UTF8'))}, 'ms.ingest on a worker without a grant: alike',
	'ca_other', $wB);
both(qq{SELECT count(*) FROM ms.access_report('$orgA')}, 'ms.access_report on a worker by a non-admin: alike', 'ca_sci', $wA);
my ($rc, $out, $err);

# a tenant, or pg_read_all_data, on a worker reads no audit log, batch or point
my $shardA = $coord->safe_psql('postgres', "SELECT get_shard_id_for_distribution_column('ms.raw_batches', '$orgA')");
my $vA = $coord->safe_psql('postgres', qq{SELECT version_id FROM ms.versions WHERE org = '$orgA' AND model = 'm'});
my $pshardA = $coord->safe_psql('postgres', "SELECT get_shard_id_for_distribution_column('ms.points_$vA', '$orgA')");
for my $t ('ms.audit_log', "ms.raw_batches_$shardA", "ms.points_${vA}_$pshardA", 'ms.raw_batches', "ms.points_$vA")
{
	($rc, $out, $err) = $wA->psql('postgres', "SELECT count(*) FROM $t", as($wA, 'ca_sci'));
	like($err, qr/permission denied for table/, "a tenant on the worker cannot read $t");
	is($wA->safe_psql('postgres', "SELECT count(*) FROM $t", as($wA, 'ca_reader')), '0',
		"pg_read_all_data on the worker sees no row of $t (row security)");
}
for my $f (q{ms._audit('open_access', 'x', 'm', NULL, NULL, 'forged')}, q{ms._ingest('x', 'm', '\x00', NULL)},
	q{ms._new_batch_id()}, q{ms._access_report('x', NULL, NULL)})
{
	($rc, $out, $err) = $wA->psql('postgres', "SELECT $f", as($wA, 'ca_sci'));
	like($err, qr/permission denied for function/, "nor call $f there");
}

# audited reads on both workers: the replays above, and a session opened on
# a worker directly; each in that worker's log, all in the coordinator's report
$wB->safe_psql('postgres', qq{
	SELECT ms.open_access('$orgB', 'm', 'on the worker');
	SELECT length(ms.read_batch($idsB[1]));
	SELECT ms.close_access();}, as($wB, 'ca_sci'));
my $local_count = q{SELECT count(*) FROM ms.audit_log WHERE org = '%s' AND action IN ('replay', 'open_access', 'read_batch', 'close_access')};
is($wA->safe_psql('postgres', sprintf($local_count, $orgA)), '3', "$orgA\'s replay of 3 batches is in its worker's log");
is($wB->safe_psql('postgres', sprintf($local_count, $orgB)), '5', "$orgB\'s replay and session are in its worker's log");
is($coord->safe_psql('postgres', sprintf($local_count, $orgA) . " AND action = 'replay'"), '0', 'not in the coordinator\'s');
my $report = q{SELECT string_agg(action || ':' || coalesce(batch_id::text, '') || ':' || reason, E'\n' ORDER BY at)
	FROM ms.access_report('%s') WHERE action IN ('replay', 'open_access', 'read_batch', 'close_access')};
my $repA = $coord->safe_psql('postgres', sprintf($report, $orgA), as($coord, 'ca_admin'));
my $wAname = $wA->host . ':' . $wA->port;
is($repA, join("\n", map { "replay:$_:batch of label v1 through ms.proc_csv(bytea,integer) (on worker \"$wAname\")" } @idsA),
	"the coordinator's report of $orgA has its worker's records, the worker named");
my $repB = $coord->safe_psql('postgres', sprintf($report, $orgB));
like($repB, qr/^replay:$idsB[0]:.*\nreplay:$idsB[1]:.*\nopen_access::on the worker \(on worker "[^"]+:@{[ $wB->port ]}"\)\nread_batch:$idsB[1]:.*\nclose_access:/,
	"and of $orgB, the session on the worker included");
is($coord->safe_psql('postgres', sprintf(q{SELECT count(*) FROM ms.access_report('%s')}, $orgA)),
	$coord->safe_psql('single', sprintf(q{SELECT count(*) FROM ms.access_report('%s')}, $orgA)),
	"as many records of $orgA as on the single node");
my $all_rows = sub { my $n = 0; $n += $_->safe_psql('postgres', 'SELECT count(*) FROM ms.audit_log') for ($coord, @workers); $n };
is($coord->safe_psql('postgres', 'SELECT ok, checked FROM ms.verify_audit()'), 't|' . $all_rows->(),
	'ms.verify_audit() on the coordinator checks every node\'s chain');

# a batch of another org, read in a session on this one: the ids are global
($rc, $out, $err) = $coord->psql('postgres', qq{
	SELECT ms.open_access('$orgA', 'm', 'forged id');
	SELECT ms.read_batch($idsB[0]);}, as($coord, 'ca_sci'));
like($err, qr/ERROR:  batch $idsB[0] is not in the access session's model "$orgA\/m"/,
	'a batch of another org on another worker is refused in a session on this one');

# a shard move of orgA: its audit records stay in the log of the worker
# that made them, and the report and verification still have them
my $before = $coord->safe_psql('postgres', sprintf($report, $orgA));
$coord->safe_psql('postgres', sprintf(q{
	SELECT citus_move_shard_placement(%s, '%s', %d, '%s', %d, shard_transfer_mode => 'block_writes')},
	$shardA, $wA->host, $wA->port, $wB->host, $wB->port));
is(port_of_org($orgA), $wB->port, "$orgA\'s shard moved to the other worker");
is($coord->safe_psql('postgres', sprintf($report, $orgA)), $before, 'the report after the move: the same records');
is($coord->safe_psql('postgres', 'SELECT ok FROM ms.verify_audit()'), 't', 'and the chains verify');
$coord->safe_psql('postgres', qq{SELECT ms.replay('$orgA', 'm', 'v1')}, as($coord, 'ca_sci'));
like($coord->safe_psql('postgres', sprintf($report, $orgA)),
	qr/\Q$before\E(\nreplay:\d+:.*\(on worker "[^"]+:@{[ $wB->port ]}"\)){4}$/,
	'a replay after the move is recorded on its new worker, the 4 batches (one was written by the coordinator)');
is($coord->safe_psql('postgres', qq{SELECT string_agg(batch_id::text, ',' ORDER BY batch_id) FROM ms.batches('$orgA', 'm')}),
	join(',', sort { $a <=> $b } (@idsA, $txn_id)), 'the batches keep their ids');
my $idA_new = $coord->safe_psql('postgres', sprintf(q{SELECT ms.ingest('%s', 'm', convert_to(E'%s', 'UTF8'))}, $orgA, csv(501, 5)),
	as($coord, 'ca_sci'));
is($idA_new >> 48, $wB->safe_psql('postgres', 'SELECT groupid FROM pg_dist_local_group'),
	'a new batch is numbered by the new worker');

# kill -9 of the worker holding both orgs right after routed calls returned:
# no committed batch or audit record is lost
my $idB_last = $coord->safe_psql('postgres', sprintf(q{SELECT ms.ingest('%s', 'm', convert_to(E'%s', 'UTF8'))}, $orgB, csv(901, 3)),
	as($coord, 'ca_sci'));
$coord->safe_psql('postgres', qq{SELECT ms.replay('$orgB', 'm', 'v1', now() - interval '1 minute')}, as($coord, 'ca_sci'));
my $state = sprintf(q{SELECT string_agg(batch_id::text, ',' ORDER BY batch_id) FROM ms.batches('%s', 'm');
	SELECT count(*) FROM ms.access_report('%s');}, $orgB, $orgB);
my $before_kill = $coord->safe_psql('postgres', $state);
like($before_kill, qr/\b$idB_last\b/, 'the last batch is listed before the kill');
my $pid = $wB->{_pid};
$wB->kill9;
usleep(100_000) while kill(0, $pid);
for (1 .. 60)
{
	last if $wB->start(fail_ok => 1);
	sleep(1);
}
$coord->poll_query_until('postgres', qq{SELECT count(*) >= 0 FROM ms.batches('$orgB', 'm')})
  or die 'the cluster did not come back';
is($coord->safe_psql('postgres', $state), $before_kill,
	'after kill -9 and restart: every committed batch and audit record is there');
is($coord->safe_psql('postgres', 'SELECT ok, checked FROM ms.verify_audit()'), 't|' . $all_rows->(),
	'and every chain verifies');
$coord->safe_psql('postgres', qq{SELECT ms.replay('$orgB', 'm', 'v1')}, as($coord, 'ca_sci'));
is($coord->safe_psql('postgres', 'SELECT ok FROM ms.verify_audit()'), 't', 'the restarted worker\'s writer continues its chain');

# a worker added after ms.enable_citus(), the shards rebalanced: the same answers
# (as ca_sci, whose role setting gives ms.knn full probes wherever it runs:
# a moved shard's msivf index is rebuilt on its new worker from the rows
# there, so only full probes give the same answers whatever its lists)
my $answers = qq{
	SELECT count(*), round(sum(distance)::numeric, 4) FROM ms.knn('$orgA', 'm', '$q3', 20);
	SELECT string_agg(point_id::text, ',') FROM ms.knn('$orgB', 'h', '$qh', 10);
	SELECT count(*), sum(raw_bytes) FROM ms.batches('$orgA', 'm');
	SELECT count(*), sum(raw_bytes) FROM ms.batches('$orgB', 'm');};
my $reports = qq{
	SELECT count(*) FROM ms.access_report('$orgA');
	SELECT count(*) FROM ms.access_report('$orgB');};
$before = $coord->safe_psql('postgres', $answers, as($coord, 'ca_sci')) . "\n" . $coord->safe_psql('postgres', $reports);
# Citus copies the reference tables to the new node in text here (the
# binary protocol off): ms.grants' roles go by name either way, the binary
# copy is test/t/083_citus_oids.pl's
my $w3 = citus_common::new_node('ca_worker3');
$_->safe_psql('postgres', 'ALTER SYSTEM SET citus.enable_binary_protocol = off; SELECT pg_reload_conf()')
  for ($coord, @workers, $w3);
$coord->safe_psql('postgres', sprintf(q{SELECT citus_add_node('%s', %d)}, $w3->host, $w3->port));
$coord->safe_psql('postgres', q{SELECT rebalance_table_shards(shard_transfer_mode := 'block_writes')});
push @workers, $w3;
my $grants = q{SELECT string_agg(g, ';' ORDER BY g)
	FROM (SELECT format('%%s %%s %%s %%s', role, privilege, org, model) g FROM %s) s};
my $gshard = $coord->safe_psql('postgres', q{SELECT shardid FROM pg_dist_shard WHERE logicalrelid = 'ms.grants'::regclass});
is($w3->safe_psql('postgres', sprintf($grants, "ms.grants_$gshard")),
	$coord->safe_psql('postgres', sprintf($grants, 'ms.grants')),
	'the new worker\'s copy of the grants names the same roles');
ok($coord->safe_psql('postgres', qq{SELECT count(*) FROM pg_dist_placement p JOIN pg_dist_node n USING (groupid)
	 WHERE n.nodeport = @{[ $w3->port ]}}) > 0, 'the rebalance moved shards to the new worker');
is($coord->safe_psql('postgres', $answers, as($coord, 'ca_sci')) . "\n" . $coord->safe_psql('postgres', $reports),
	$before, 'the same answers, reports included, after adding a worker');
my ($orgC) = $coord->safe_psql('postgres', qq{
	SELECT 'org' || i FROM generate_series(1, 500) i
	  JOIN pg_dist_placement p ON p.shardid = get_shard_id_for_distribution_column('ms.raw_batches', 'org' || i)
	  JOIN pg_dist_node n USING (groupid)
	 WHERE n.nodeport = @{[ $w3->port ]} AND NOT EXISTS (SELECT FROM ms.orgs o WHERE o.org = 'org' || i)
	 ORDER BY i LIMIT 1});
$coord->safe_psql('postgres', qq{
	SELECT ms.create_model('$orgC', 'm', 3, 'l2');
	SELECT ms.create_version('$orgC', 'm', 'v1');
	SELECT ms.promote('$orgC', 'm', 'v1');
	SELECT ms.grant('ca_sci', p, '$orgC', 'm') FROM unnest('{ingest,stage}'::text[]) p;});
my $idC = $coord->safe_psql('postgres', sprintf(q{SELECT ms.ingest('%s', 'm', convert_to(E'%s', 'UTF8'))}, $orgC, csv(1, 3)),
	as($coord, 'ca_sci'));
is($idC >> 48, $w3->safe_psql('postgres', 'SELECT groupid FROM pg_dist_local_group'),
	'an org on the new worker: its loads run there, numbered by its group');
$coord->safe_psql('postgres', qq{SELECT ms.replay('$orgC', 'm', 'v1')}, as($coord, 'ca_sci'));
is($w3->safe_psql('postgres', qq{SELECT count(*) FROM ms.audit_log WHERE org = '$orgC' AND action = 'replay'}), '1',
	'and its audit writer records its replay');
is($coord->safe_psql('postgres', 'SELECT ok, checked FROM ms.verify_audit()'), 't|' . $all_rows->(),
	'which ms.verify_audit() on the coordinator checks too');

# the customer's copy of the heads: a report's rows carry the head of the
# log that holds them, the coordinator's or their worker's, and each of
# these heads verifies on the coordinator
my %node_of = (coordinator => $coord, map { ($_->host . ':' . $_->port) => $_ } @workers);
my @heads = map { [ split /\|/ ] } split /\n/, $coord->safe_psql('postgres', qq{
	SELECT DISTINCT coalesce(substring(reason FROM 'on worker "([^"]+)"\\)\$'), 'coordinator'),
		   head_id, encode(head_hash, 'hex')
	  FROM ms.access_report('$orgA') ORDER BY 1});
is(join(' ', map { $_->[0] } @heads), join(' ', sort('coordinator', $wAname, $wB->host . ':' . $wB->port)),
	"$orgA\'s report: one head for each node whose log holds its records (it moved from one worker to the other)");
for my $h (@heads)
{
	my ($name, $id, $hex) = @$h;
	is($node_of{$name}->safe_psql('postgres', qq{
		SELECT max(id) = $id AND bool_or(id = $id AND hash = '\\x$hex') FROM ms.audit_log}), 't',
		"the head of the rows from $name is that node's last row");
	is($coord->safe_psql('postgres', qq{SELECT ok, problem FROM ms.verify_audit($id, '\\x$hex')}), 't|',
		"ms.verify_audit(head_id, head_hash) on the coordinator: $name\'s head verifies");
}
my ($wAhead) = grep { $_->[0] eq $wAname } @heads;
my $wrong = $coord->safe_psql('postgres', q{SELECT encode(sha256('forged'), 'hex')});
is($coord->safe_psql('postgres', qq{SELECT ok, first_bad, problem FROM ms.verify_audit($wAhead->[1], '\\x$wrong')}),
	"f|$wAhead->[1]|no node's audit log has row $wAhead->[1] with the expected hash",
	'a head no node\'s log holds (a worker\'s row id with another hash) fails');

# a worker's log that lost its tail: the coordinator's verification fails,
# naming the worker
$wA->safe_psql('postgres', 'DELETE FROM ms.audit_log WHERE id = (SELECT max(id) FROM ms.audit_log)');
my $bad = $coord->safe_psql('postgres', 'SELECT ok, problem FROM ms.verify_audit()');
like($bad, qr/^f\|worker [^ ]+:@{[ $wA->port ]}: the log ends at row \d+, but its chain head in "[^"]+" records row \d+$/,
	'a tail row deleted from a worker\'s log fails ms.verify_audit() on the coordinator');
($rc, $out, $err) = $coord->psql('postgres', 'SELECT ok FROM ms.verify_audit(1, (SELECT hash FROM ms.audit_log WHERE id = 1))');
is($out, 'f', 'and with the customer\'s head of the coordinator\'s chain too');
like($coord->safe_psql('postgres', qq{SELECT ok, problem FROM ms.verify_audit($wAhead->[1], '\\x$wAhead->[2]')}),
	qr/^f\|/, 'and with the customer\'s head of that worker\'s chain, whose row is gone');

# a worker down: the report refuses rather than leave its records out
$w3->stop('immediate');
($rc, $out, $err) = $coord->psql('postgres', qq{SELECT count(*) FROM ms.access_report('$orgA')});
like($err, qr/ERROR:  could not read the audit log of worker [^ ]+:@{[ $w3->port ]}/,
	'the report with a worker down is refused, not incomplete');

$_->stop for reverse ($coord, @workers[0 .. 1]);
done_testing();
