# Audited raw reads routed to the org's worker (ms.enable_citus): token
# access sessions.  ms.open_access_token, ms.read_batch(org, token,
# batch_id) and ms.close_access(org, token) are distributed functions by
# org, so a data scientist's session is opened, read and closed on the
# worker that holds the org (each node's pg_stat_statements: nothing of it
# on the other worker, no judging, reading or auditing on the
# coordinator), from any connection, also one to the other worker; its
# records are in that worker's audit log, in the coordinator's
# ms.access_report, and verify.  The attacks: another role with the same
# grants presenting the token, the token with another org, another org's
# batch through the session, a malformed token, a grant revoked
# mid-session, another role closing the session; each refused, and every
# refused read on the record.  Idle expiry is recorded once.  On a single
# node the same functions work the same.
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

$coord->safe_psql('postgres', q{
	CREATE ROLE cx_sci LOGIN;
	CREATE ROLE cx_other LOGIN;
	CREATE DATABASE single;
});
$coord->safe_psql('single', 'CREATE EXTENSION machinesoup');
$coord->safe_psql('postgres', 'SELECT ms.enable_citus()');

sub as { my ($node, $role, $db) = @_; return (connstr => $node->connstr($db // 'postgres') . " user=$role") }

# two orgs, one on each worker
my @pick = split /\n/, $coord->safe_psql('postgres', q{
	SELECT DISTINCT ON (n.nodeport) 'org' || i || ':' || n.nodeport
	  FROM generate_series(1, 200) i
	  JOIN pg_dist_placement p ON p.shardid = get_shard_id_for_distribution_column('ms.raw_batches', 'org' || i)
	  JOIN pg_dist_node n USING (groupid)
	 ORDER BY n.nodeport, i});
is(scalar(@pick), 2, 'an org on each worker');
my ($orgA, $portA) = split /:/, $pick[0];
my ($orgB, $portB) = split /:/, $pick[1];
my ($wA) = grep { $_->port == $portA } @workers;
my ($wB) = grep { $_->port == $portB } @workers;
isnt($portA, $portB, "$orgA and $orgB are on different workers");

my $setup = qq{
	SELECT ms.create_model('$orgA', 'm', 3, 'l2');
	SELECT ms.create_version('$orgA', 'm', 'v1');
	SELECT ms.promote('$orgA', 'm', 'v1');
	SELECT ms.create_model('$orgB', 'm', 3, 'l2');
	SELECT ms.create_version('$orgB', 'm', 'v1');
	SELECT ms.promote('$orgB', 'm', 'v1');
	SELECT ms.grant(r::regrole, p, o, 'm')
	  FROM unnest('{cx_sci,cx_other}'::text[]) r, unnest('{ingest,raw_read}'::text[]) p,
		   unnest('{$orgA,$orgB}'::text[]) o;
};
$coord->safe_psql($_, $setup) for ('postgres', 'single');

sub ingest
{
	my ($node, $db, $org, $text) = @_;
	return $node->safe_psql($db, qq{SELECT ms.ingest('$org', 'm', convert_to(E'$text', 'UTF8'))},
		as($node, 'cx_sci', $db));
}
# (a routed call must be alone in its statement: its bytes come back as hex)
sub hexof { my ($s) = @_; $s =~ s/\\n/\n/g; return '\\x' . unpack('H*', $s) }
my $textA = '1,1,2,3\n2,4,5,6\n';
my $textB = '7,7,8,9\n';
my $idA = ingest($coord, 'postgres', $orgA, $textA);
my $idA2 = ingest($coord, 'postgres', $orgA, '3,0,0,1\n');
my $idB = ingest($coord, 'postgres', $orgB, $textB);
my $groupA = $wA->safe_psql('postgres', 'SELECT groupid FROM pg_dist_local_group');
is($idA >> 48, $groupA, "$orgA\'s batch was stored on its worker");

sub reset_statements { $_->safe_psql('postgres', 'SELECT pg_stat_statements_reset()') for ($coord, @workers) }
sub statements
{
	my ($node, $pattern) = @_;
	return $node->safe_psql('postgres', qq{
		SELECT coalesce(sum(calls), 0) FROM pg_stat_statements
		 WHERE dbid = (SELECT oid FROM pg_database WHERE datname = 'postgres') AND query ~ '$pattern'});
}
# psql's stderr and exit code of $sql as $role on $node
sub try_as
{
	my ($node, $role, $sql, $db) = @_;
	my ($out, $err) = ('', '');
	my $rc = $node->psql($db // 'postgres', $sql, as($node, $role, $db),
		stdout => \$out, stderr => \$err, on_error_stop => 1);
	return ($rc, $out, $err);
}
# the org's records of raw access in the coordinator's report, one line
# each: action|role|model|batch|reason, and |w when a worker wrote it
sub report
{
	my ($org) = @_;
	return $coord->safe_psql('postgres', qq{
		SELECT string_agg(concat(action, '|', role, '|', coalesce(model, ''), '|', coalesce(batch_id::text, ''), '|',
								 regexp_replace(coalesce(reason, ''), ' ?\\(on worker "[^"]*"\\)\$', ''),
								 CASE WHEN reason ~ '\\(on worker "' THEN '|w' END), E'\\n' ORDER BY at)
		  FROM ms.access_report('$org') WHERE action ~ 'access|read'});
}

my ($rc, $out, $err);

# ---------------------------------------------------------------------
# A session on the org's worker
# ---------------------------------------------------------------------
reset_statements();
my $token = $coord->safe_psql('postgres', qq{SELECT ms.open_access_token('$orgA', 'm', 'ticket 7')},
	as($coord, 'cx_sci'));
like($token, qr/^[0-9a-f]{32}$/, 'ms.open_access_token returns a 128-bit token');
# each safe_psql is a new connection: the session is not the connection's
is($coord->safe_psql('postgres', qq{SELECT ms.read_batch('$orgA', '$token', $idA)}, as($coord, 'cx_sci')),
	hexof($textA), 'the token reads the batch from another connection');
is(statements($wA, '^SELECT .*ms\\.open_access_token\\(') . ',' . statements($wA, '^SELECT .*ms\\.read_batch\\('),
	'1,1', "$orgA\'s worker runs the open and the read whole");
ok(statements($wA, 'FROM ms\\.raw_batches_[0-9]+') >= 1, 'and reads the batch from its local shard');
my $other = $wA == $workers[0] ? $workers[1] : $workers[0];
is(statements($other, 'open_access|read_batch|raw_batches|_require_raw_read'), '0',
	'the other worker runs nothing of it');
is(statements($coord, 'raw_batches|_require_raw_read|_resolve|_authorise|audit_log'), '0',
	'the coordinator neither reads, judges nor audits it (it forwards the calls)');
is($wA->safe_psql('postgres', qq{SELECT string_agg(action || '|' || role || '|' || coalesce(batch_id::text, ''), ',' ORDER BY id)
		FROM ms.audit_log WHERE org = '$orgA' AND action ~ 'access|read'}),
	"open_access|cx_sci|,read_batch|cx_sci|$idA", 'the worker\'s own audit log has the open and the read');
is($coord->safe_psql('postgres', qq{SELECT count(*) FROM ms.audit_log WHERE org = '$orgA' AND action ~ 'access|read'}), '0',
	'the coordinator\'s log has none of them');
is(report($orgA), "open_access|cx_sci|m||ticket 7|w\nread_batch|cx_sci|m|$idA|ticket 7|w",
	'the coordinator\'s ms.access_report has both, marked as the worker\'s');
is($coord->safe_psql('postgres', 'SELECT ok FROM ms.verify_audit()'), 't', 'and every node\'s chain verifies');

# a client of the other worker: Citus sends the call on to the org's worker
is($other->safe_psql('postgres', qq{SELECT ms.read_batch('$orgA', '$token', $idA2)}, as($other, 'cx_sci')),
	hexof('3,0,0,1\n'), 'a connection to the other worker reads through the same token');
# a call inside an expression is not routed: it runs on the coordinator,
# which holds no session, and says why
($rc, $out, $err) = try_as($coord, 'cx_sci', qq{SELECT length(ms.read_batch('$orgA', '$token', $idA))});
like($err, qr/ERROR:  no raw data access session is open for this token\n.*HINT:  On Citus a token session is on the org's worker/s,
	'a call that Citus does not route finds no session, and the hint says why');
like(report($orgA), qr/\nrefuse_read\|cx_sci\|\|$idA\|$/, 'the refusal is recorded, by the coordinator');
# in a transaction block the calls go to the worker as well (force_delegation)
is($coord->safe_psql('postgres', qq{BEGIN; SELECT ms.read_batch('$orgA', '$token', $idA); COMMIT;},
		as($coord, 'cx_sci')),
	hexof($textA), 'and so does a call inside BEGIN ... COMMIT');

# ---------------------------------------------------------------------
# The attacks
# ---------------------------------------------------------------------
# another role, holding the same grants, with the stolen token
($rc, $out, $err) = try_as($coord, 'cx_other', qq{SELECT ms.read_batch('$orgA', '$token', $idA)});
like($err, qr/ERROR:  no raw data access session is open for this token/,
	'another role cannot use the token, even with raw_read on the model');
is($out, '', 'and reads nothing');
like(report($orgA), qr/\nrefuse_read\|cx_other\|m\|$idA\|\|w$/, 'its attempt is on the record, by the worker');
# the token with another org: no session there, nothing of that org read
($rc, $out, $err) = try_as($coord, 'cx_sci', qq{SELECT ms.read_batch('$orgB', '$token', $idB)});
like($err, qr/ERROR:  no raw data access session is open for this token/, 'the token opens nothing in another org');
is(report($orgB), "refuse_read|cx_sci||$idB||w", 'the attempt is recorded in that org, which had nothing read');
# another org's batch through the session
($rc, $out, $err) = try_as($coord, 'cx_sci', qq{SELECT ms.read_batch('$orgA', '$token', $idB)});
like($err, qr/ERROR:  batch $idB is not in the access session's model "$orgA\/m"/,
	'another org\'s batch is not read through the session');
like(report($orgA), qr/\nrefuse_read\|cx_sci\|m\|$idB\|ticket 7\|w$/, 'and the refusal is on the record');
is($coord->safe_psql('postgres', qq{SELECT count(*) FROM ms.access_report('$orgB') WHERE action = 'read_batch'}), '0',
	"no batch of $orgB was read");
# bad input is refused before anything is audited
($rc, $out, $err) = try_as($coord, 'cx_sci', qq{SELECT ms.read_batch('$orgA', 'x$token', $idA)});
like($err, qr/ERROR:  malformed raw data access token/, 'a malformed token is bad input');
# a grant revoked mid-session
$coord->safe_psql('postgres', qq{SELECT ms.revoke('cx_sci', 'raw_read', '$orgA', 'm')});
($rc, $out, $err) = try_as($coord, 'cx_sci', qq{SELECT ms.read_batch('$orgA', '$token', $idA)});
like($err, qr/ERROR:  .*permission denied|ERROR:  .*may not/i, 'a revoked grant ends the session\'s reach');
like(report($orgA), qr/\nrefuse_read\|cx_sci\|m\|$idA\|ticket 7\|w$/, 'recorded as a refused read');
$coord->safe_psql('postgres', qq{SELECT ms.grant('cx_sci', 'raw_read', '$orgA', 'm')});
# another role cannot close it
($rc, $out, $err) = try_as($coord, 'cx_other', qq{SELECT ms.close_access('$orgA', '$token')});
like($err, qr/NOTICE:  no raw data access session is open for this token/, 'another role cannot close the session');
is($coord->safe_psql('postgres', qq{SELECT ms.read_batch('$orgA', '$token', $idA)}, as($coord, 'cx_sci')),
	hexof($textA), 'which its owner still reads with');
# the owner closes it
$coord->safe_psql('postgres', qq{SELECT ms.close_access('$orgA', '$token')}, as($coord, 'cx_sci'));
like(report($orgA), qr/\nclose_access\|cx_sci\|m\|\|ticket 7\|w$/, 'the close is recorded');
($rc, $out, $err) = try_as($coord, 'cx_sci', qq{SELECT ms.read_batch('$orgA', '$token', $idA)});
like($err, qr/ERROR:  no raw data access session is open for this token/, 'a closed session reads nothing');

# idle expiry: recorded once, by the use that notices it
$wA->safe_psql('postgres', q{ALTER SYSTEM SET machinesoup.access_idle_timeout = 1; SELECT pg_reload_conf()});
my $t2 = $coord->safe_psql('postgres', qq{SELECT ms.open_access_token('$orgA', 'm', 'ticket 8')}, as($coord, 'cx_sci'));
sleep 2;
($rc, $out, $err) = try_as($coord, 'cx_sci', qq{SELECT ms.read_batch('$orgA', '$t2', $idA)});
like($err, qr/ERROR:  the raw data access session has expired/, 'an idle session expires');
($rc, $out, $err) = try_as($coord, 'cx_sci', qq{SELECT ms.read_batch('$orgA', '$t2', $idA)});
like($err, qr/ERROR:  no raw data access session is open for this token/, 'and is gone');
is($coord->safe_psql('postgres', qq{SELECT count(*) FROM ms.access_report('$orgA')
		WHERE action = 'expire_access' AND reason ~ '^ticket 8'}), '1', 'its expiry is recorded once');
$wA->safe_psql('postgres', q{ALTER SYSTEM RESET machinesoup.access_idle_timeout; SELECT pg_reload_conf()});

is($coord->safe_psql('postgres', 'SELECT ok FROM ms.verify_audit()'), 't', 'every chain still verifies');

# ---------------------------------------------------------------------
# The same on a single node
# ---------------------------------------------------------------------
my $sid = ingest($coord, 'single', $orgA, $textA);
my $st = $coord->safe_psql('single', qq{SELECT ms.open_access_token('$orgA', 'm', 'ticket 9')}, as($coord, 'cx_sci', 'single'));
is($coord->safe_psql('single', qq{SELECT ms.read_batch('$orgA', '$st', $sid)}, as($coord, 'cx_sci', 'single')),
	hexof($textA), 'on a single node the token reads the batch');
($rc, $out, $err) = try_as($coord, 'cx_other', qq{SELECT ms.read_batch('$orgA', '$st', $sid)}, 'single');
like($err, qr/ERROR:  no raw data access session is open for this token/, 'and only for its owner');
$coord->safe_psql('single', qq{SELECT ms.close_access('$orgA', '$st')}, as($coord, 'cx_sci', 'single'));
is($coord->safe_psql('single', qq{SELECT string_agg(action || '|' || role, ',' ORDER BY at) FROM ms.access_report('$orgA') WHERE action ~ 'access|read'}),
	'open_access|cx_sci,read_batch|cx_sci,refuse_read|cx_other,close_access|cx_sci', 'with the same records');
is($coord->safe_psql('single', 'SELECT ok FROM ms.verify_audit()'), 't', 'which verify');

done_testing();
