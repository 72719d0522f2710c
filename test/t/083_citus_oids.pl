# Node-local OIDs in the replicated governance tables (issue 15a).  Citus
# copies a reference table to a worker added later with COPY, in binary
# unless citus.enable_binary_protocol is off (it is on here, the default).
# ms.grants.role and ms.versions.processor hold OIDs, which name other
# objects, or none, on another node: their types (ms.roleref, ms.procref)
# travel by name in binary as in text.  The attacks, on a worker added
# after the grants exist, with roles and a function created there first so
# that the coordinator's OIDs name the attacker's objects on it:
#  * role co_b, created on the new worker with the OID co_a has on the
#    coordinator, gets nothing of co_a's grants, and co_a keeps them;
#  * role co_c, dropped after a grant and created again (on the new worker
#    with the old co_c's coordinator OID), inherits nothing;
#  * the version's processor, whose coordinator OID names another function
#    (public.evil) on the new worker, is the approved function there, and
#    a routed load runs it, not evil.
# And what holds on one node stays: a renamed role keeps its grants (on the
# cluster too), a dropped one's grants name nobody and are not dumped.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use citus_common;

citus_common::skip_unless_installed();
my ($coord, @workers) = citus_common::start_cluster('co_');

sub as { my ($node, $role, $db) = @_; return (connstr => $node->connstr($db // 'postgres') . " user=$role") }

# what a call answers, or its error's message (the worker's CONTEXT cut)
sub answer
{
	my ($node, $sql, $role) = @_;
	my ($rc, $out, $err) = $node->psql('postgres', $sql, as($node, $role));
	$err =~ s/\nCONTEXT:  .*//s;
	return $err ne '' ? $err : $out;
}

is($coord->safe_psql('postgres', 'SHOW citus.enable_binary_protocol'), 'on', 'the binary protocol is on');

$coord->safe_psql('postgres', q{
	CREATE ROLE co_a LOGIN;
	CREATE ROLE co_c LOGIN;
	CREATE ROLE co_r LOGIN;
	CREATE ROLE co_b LOGIN;
	CREATE DATABASE single;
});
$coord->safe_psql('postgres', 'SELECT ms.enable_citus()');

# the approved processor: the built-in CSV parser, its payloads marked
$coord->safe_psql('postgres', q{
	CREATE SCHEMA ptest;
	GRANT USAGE ON SCHEMA ptest TO machinesoup_processor;
	CREATE FUNCTION ptest.good(batch bytea, dims integer)
	RETURNS TABLE (point_id bigint, embedding vec, payload jsonb)
	LANGUAGE sql AS $$ SELECT p.point_id, p.embedding, '{"by": "good"}'::jsonb FROM ms.proc_csv(batch, dims) p $$;
});

# an org whose shard is on the first worker (moved to the new one below)
my $org = $coord->safe_psql('postgres', qq{
	SELECT 'org' || i FROM generate_series(1, 200) i
	  JOIN pg_dist_placement p ON p.shardid = get_shard_id_for_distribution_column('ms.raw_batches', 'org' || i)
	  JOIN pg_dist_node n USING (groupid)
	 WHERE n.nodeport = @{[ $workers[0]->port ]} ORDER BY i LIMIT 1});
$coord->safe_psql('postgres', qq{
	SELECT ms.create_model('$org', 'm', 3, 'l2');
	SELECT ms.create_version('$org', 'm', 'v1', 'ptest.good(bytea,integer)');
	SELECT ms.promote('$org', 'm', 'v1');
	SELECT ms.grant('co_a', p, '$org', 'm') FROM unnest('{query,ingest}'::text[]) p;
	SELECT ms.grant('co_c', 'query', '$org', 'm');
	SELECT ms.grant('co_r', 'query', '$org', 'm');
});
my $knn = qq{SELECT string_agg(point_id || ':' || (payload->>'by'), ',' ORDER BY point_id) FROM ms.knn('$org', 'm', '[0,0,0]', 10)};
$coord->safe_psql('postgres', qq{SELECT ms.ingest('$org', 'm', convert_to(E'1,0,0,0\\n2,1,1,1\\n', 'UTF8'))},
	as($coord, 'co_a'));
is(answer($coord, $knn, 'co_a'), '1:good,2:good', 'a routed load runs the approved processor on the org\'s worker');

# co_c dropped after its grant and created again: a new role
my $c_old = $coord->safe_psql('postgres', q{SELECT 'co_c'::regrole::oid});
$coord->safe_psql('postgres', 'DROP ROLE co_c; CREATE ROLE co_c LOGIN');
like(answer($coord, $knn, 'co_c'), qr/permission denied for model "\Q$org\E\/m"/,
	'a role created again inherits nothing of the dropped one\'s grants');

# a renamed role keeps its grants (Citus renames it on every node)
$coord->safe_psql('postgres', 'ALTER ROLE co_r RENAME TO co_r2');
is(answer($coord, $knn, 'co_r2'), '1:good,2:good', 'a renamed role keeps its grants on the cluster');

# The new worker, before it joins: the attacker's objects take the OIDs that
# co_a, the old co_c and ptest.good have on the coordinator.
my $a_oid = $coord->safe_psql('postgres', q{SELECT 'co_a'::regrole::oid});
my $p_oid = $coord->safe_psql('postgres', q{SELECT 'ptest.good(bytea,integer)'::regprocedure::oid});
my $w3 = citus_common::new_node('co_worker3');
# creates an object whose OID is $target, by SQL $create (and $drop), from
# below: large objects take OIDs from the same counter (a few hundred a
# transaction: each holds a lock)
sub create_with_oid
{
	my ($node, $target, $create, $drop, $oid_of) = @_;
	while (1)
	{
		my $o = $node->safe_psql('postgres', "$create; SELECT $oid_of");
		return $o if $o >= $target;
		$node->safe_psql('postgres', $drop);
		my $gap = $target - $o - 2;
		$gap = 500 if $gap > 500;
		$node->safe_psql('postgres', "SELECT count(lo_unlink(lo_create(0))) FROM generate_series(1, $gap)")
		  if $gap > 0;
	}
}
my @targets = sort { $a->[0] <=> $b->[0] } (
	[ $a_oid, 'CREATE ROLE co_b LOGIN', 'DROP ROLE co_b', q{'co_b'::regrole::oid} ],
	[ $c_old, 'CREATE ROLE co_c LOGIN', 'DROP ROLE co_c', q{'co_c'::regrole::oid} ],
	[ $p_oid, q{CREATE FUNCTION public.evil(batch bytea, dims integer)
		RETURNS TABLE (point_id bigint, embedding float4[], payload jsonb)
		LANGUAGE sql AS $$ SELECT 666::bigint, ARRAY[6,6,6]::float4[], '{"by": "evil"}'::jsonb $$},
	  'DROP FUNCTION public.evil(bytea, integer)', q{'public.evil(bytea,integer)'::regprocedure::oid} ]);
for my $t (@targets)
{
	is(create_with_oid($w3, @$t), $t->[0], "the new worker's object $t->[3] has the coordinator's OID $t->[0]");
}

$coord->safe_psql('postgres', sprintf(q{SELECT citus_add_node('%s', %d)}, $w3->host, $w3->port));
# the copy of the reference tables to it (in binary: the protocol is on)
$coord->safe_psql('postgres', q{SELECT replicate_reference_tables('block_writes')});
my $shard = $coord->safe_psql('postgres', qq{SELECT get_shard_id_for_distribution_column('ms.raw_batches', '$org')});
$coord->safe_psql('postgres', sprintf(q{SELECT citus_move_shard_placement(%s, '%s', %d, '%s', %d, shard_transfer_mode := 'block_writes')},
	$shard, $workers[0]->host, $workers[0]->port, $w3->host, $w3->port));
is($coord->safe_psql('postgres', qq{
	SELECT n.nodeport FROM pg_dist_placement p JOIN pg_dist_node n USING (groupid) WHERE p.shardid = $shard}),
	$w3->port, 'the org\'s shard is on the new worker');

my $gshard = $coord->safe_psql('postgres', q{SELECT shardid FROM pg_dist_shard WHERE logicalrelid = 'ms.grants'::regclass});
my $vshard = $coord->safe_psql('postgres', q{SELECT shardid FROM pg_dist_shard WHERE logicalrelid = 'ms.versions'::regclass});
is($w3->safe_psql('postgres', qq{SELECT string_agg(role::text || ' ' || privilege, ',' ORDER BY role::text, privilege)
	FROM ms.grants_$gshard WHERE role::oid <> 0}),
	'co_a ingest,co_a query,co_r2 query', 'the new worker\'s copy of the grants names the same roles');
is($w3->safe_psql('postgres', qq{SELECT count(*) FROM ms.grants_$gshard g JOIN pg_roles r ON r.oid = g.role::oid
	WHERE r.rolname IN ('co_b', 'co_c')}), '0', 'and neither co_b nor the new co_c');
is($w3->safe_psql('postgres', qq{SELECT processor::text FROM ms.versions_$vshard}), 'ptest.good(bytea,integer)',
	'the new worker\'s copy of the version names the approved processor');

# the attacks, through the coordinator (routed to the new worker) and on it
for my $node ($coord, $w3)
{
	my $where = $node == $coord ? 'routed to the new worker' : 'on the new worker';
	like(answer($node, $knn, 'co_b'), qr/permission denied for model "\Q$org\E\/m"/,
		"co_b, with co_a's coordinator OID there, gets nothing of co_a's ($where)");
	like(answer($node, $knn, 'co_c'), qr/permission denied for model "\Q$org\E\/m"/,
		"the created-again co_c, with the old co_c's OID there, inherits nothing ($where)");
	is(answer($node, $knn, 'co_a'), '1:good,2:good', "co_a keeps its grants ($where)");
	is(answer($node, $knn, 'co_r2'), '1:good,2:good', "the renamed role keeps its grants ($where)");
}
$coord->safe_psql('postgres', qq{SELECT ms.ingest('$org', 'm', convert_to(E'3,2,2,2\\n', 'UTF8'))},
	as($coord, 'co_a'));
is($w3->safe_psql('postgres', qq{SELECT string_agg(p.point_id || ':' || (p.payload->>'by'), ',' ORDER BY p.point_id)
	FROM ms.points_1_@{[ $coord->safe_psql('postgres', q{SELECT get_shard_id_for_distribution_column('ms.points_1', '} . $org . q{')}) ]} p}),
	'1:good,2:good,3:good', 'a routed load on the new worker runs the approved processor, not the one with its OID there');
like(answer($coord, qq{SELECT ms.ingest('$org', 'm', convert_to(E'4,3,3,3\\n', 'UTF8'))}, 'co_b'),
	qr/permission denied/, 'and co_b cannot load there');

# grants written after the node joined reach it by name too
$coord->safe_psql('postgres', qq{SELECT ms.grant('co_b', 'query', '$org', 'm')});
is(answer($w3, $knn, 'co_b'), '1:good,2:good,3:good', 'a grant to co_b made now reaches the new worker');
$coord->safe_psql('postgres', qq{SELECT ms.revoke('co_b', 'query', '$org', 'm')});
like(answer($w3, $knn, 'co_b'), qr/permission denied/, 'and so does its revoke');
is(answer($w3, $knn, 'co_a'), '1:good,2:good,3:good', 'leaving co_a\'s');

# One node: the types keep regrole's and regprocedure's meaning
$coord->safe_psql('single', q{
	CREATE EXTENSION machinesoup;
	SELECT ms.create_model('s', 'm', 3, 'l2');
	SELECT ms.create_version('s', 'm', 'v1', 'ms.proc_csv(bytea,integer)');
	SELECT ms.promote('s', 'm', 'v1');
	SELECT ms.upsert_points('s', 'm', 'v1', '{1}', '{"[0,0,0]"}');
	CREATE ROLE co_s LOGIN;
	CREATE ROLE co_d LOGIN;
	SELECT ms.grant('co_s', 'query', 's', 'm');
	SELECT ms.grant('co_d', 'query', 's', 'm');
});
my $sknn = q{SELECT count(*) FROM ms.knn('s', 'm', '[0,0,0]', 1)};
sub single { my ($sql, $role) = @_; my ($rc, $out, $err) = $coord->psql('single', $sql, as($coord, $role, 'single')); return $err ne '' ? $err : $out }
$coord->safe_psql('single', 'ALTER ROLE co_s RENAME TO co_s2');
is(single($sknn, 'co_s2'), '1', 'one node: a renamed role keeps its grants');
is($coord->safe_psql('single', q{SELECT role FROM ms.grants WHERE role::oid = 'co_s2'::regrole::oid}), 'co_s2',
	'and the grant names it by its new name');
my $d_oid = $coord->safe_psql('single', q{SELECT 'co_d'::regrole::oid});
$coord->safe_psql('single', 'DROP ROLE co_d; CREATE ROLE co_d LOGIN');
like(single($sknn, 'co_d'), qr/permission denied for model "s\/m"/, 'one node: a role created again inherits nothing');
is($coord->safe_psql('single', q{SELECT string_agg(role::text, ',' ORDER BY role::text) FROM ms.grants}),
	"$d_oid,co_s2", 'the dropped role\'s grant names nobody (its old OID)');
is($coord->safe_psql('single', q{SELECT processor FROM ms.versions}), 'ms.proc_csv(bytea,integer)',
	'a processor reads as its signature');
my $dump = `pg_dump -d '@{[ $coord->connstr('single') ]}' --data-only -t ms.grants -t ms.versions`;
like($dump, qr/^s\tco_s2\tquery\tm\t\\N\t/m, 'pg_dump writes a grant\'s role by name');
unlike($dump, qr/\t$d_oid\t/, 'and leaves the dropped role\'s grant out');
like($dump, qr/\tms\.proc_csv\(bytea,integer\)\t/, 'and a processor by its signature');

$_->stop for reverse ($coord, @workers, $w3);
done_testing();
