# The audit log of raw-data access: records are committed by the audit
# writer independently of the reader (they survive its ROLLBACK and a
# kill -9 of its backend), the hash chain exposes a row altered behind the
# triggers' back, idle sessions expire, damaged frames fail cleanly, the
# client network list is enforced, reads are refused when the record cannot
# be written, and each database gets its own writer.
#
# The chain against each kind of attacker: a role that can write the table
# (pg_write_all_data, or its owner) cannot forge a record that verifies
# (the hash is keyed by a file in the data directory), cannot add a row
# (INSERT guard), and a deleted tail is caught by the head kept outside the
# table; a superuser, who can do all of that, is caught by the customer's
# copy of the head from ms.access_report.  Refusals of roles without any
# grant carry none of their text, are rate-limited per role, and one
# database cannot take every audit slot.
use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('audit');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'machinesoup'
listen_addresses = '127.0.0.1'
restart_after_crash = on
machinesoup.audit_writer_idle = 5
max_connections = 120
});
open my $hba, '>', $node->data_dir . '/pg_hba.conf' or die "pg_hba.conf: $!";
print $hba "local all all trust\n";
print $hba "host all all 127.0.0.1/32 trust\n";
close $hba;
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION machinesoup;
CREATE ROLE regress_raw_sci LOGIN;
SELECT ms.create_model('acme', 'm', 2);
SELECT ms.create_version('acme', 'm', 'v1');
SELECT ms.promote('acme', 'm', 'v1');
SELECT ms.grant('regress_raw_sci', 'raw_read', 'acme', 'm');
SELECT ms.ingest('acme', 'm', convert_to(E'1,1,2\n2,3,4\n', 'UTF8'));
SELECT ms.ingest('acme', 'm', convert_to(E'3,5,6\n', 'UTF8'));
SELECT ms.ingest('acme', 'm', convert_to(E'4,7,8\n', 'UTF8'));
CREATE ROLE regress_acme_admin LOGIN;
SELECT ms.grant('regress_acme_admin', 'admin', 'acme');

-- The canonical text of a row as audit_chain.c builds it (fields "len:bytes;",
-- "N;" for NULL, the time as integer microseconds since 2000-01-01), with
-- the login last when the table has that column: what someone who can
-- write the table, and has read the source, would hash.
CREATE FUNCTION public.canon(r ms.audit_log) RETURNS bytea LANGUAGE sql AS $$
SELECT convert_to(string_agg(CASE WHEN v IS NULL THEN 'N;' ELSE octet_length(v) || ':' || v || ';' END,
							 '' ORDER BY n), 'UTF8')
  FROM unnest(ARRAY[r.id::text,
					((extract(epoch FROM r.at) - 946684800) * 1000000)::bigint::text,
					r.role::text, r.pid::text, host(r.client_addr), r.action, r.org, r.model,
					r.label, r.batch_id::text, r.reason]
			  || CASE WHEN to_jsonb(r) ? 'login' THEN ARRAY[to_jsonb(r)->>'login'] ELSE '{}' END)
	   WITH ORDINALITY AS u(v, n)
$$;
-- recompute every hash from row from_id on with plain SHA-256
CREATE FUNCTION public.rehash(from_id bigint) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	r		ms.audit_log;
	prev	bytea;
BEGIN
	SELECT hash INTO prev FROM ms.audit_log WHERE id = from_id - 1;
	prev := coalesce(prev, decode(repeat('00', 32), 'hex'));
	FOR r IN SELECT * FROM ms.audit_log WHERE id >= from_id ORDER BY id LOOP
		prev := sha256(prev || public.canon(r));
		UPDATE ms.audit_log SET hash = prev WHERE id = r.id;
	END LOOP;
END
$$;
});

# the output of the last statement (open_access prints an empty line first)
sub last_line
{
	my @lines = split /\n/, $_[0];
	return $lines[-1] // '';
}

sub audit_count
{
	my ($where) = @_;
	return $node->safe_psql('postgres', "SELECT count(*) FROM ms.audit_log WHERE $where");
}

# --- a read inside a transaction that rolls back stays recorded ----------
my $out = $node->safe_psql('postgres', q{
BEGIN;
SELECT ms.open_access('acme', 'm', 'rollback test');
SELECT encode(ms.read_batch(1), 'escape');
ROLLBACK;
}, connstr => $node->connstr('postgres') . ' user=regress_raw_sci');
like($out, qr/1,1,2/, 'the batch is read inside the transaction');
is(audit_count("action = 'read_batch' AND batch_id = 1 AND role = 'regress_raw_sci' AND reason = 'rollback test'"),
	'1', 'the read record survives the ROLLBACK');
is(audit_count("action = 'open_access' AND reason = 'rollback test'"),
	'1', 'so does the record of opening the session');

# --- a session still open when its connection ends is closed by that -------
$node->safe_psql('postgres', q{SELECT ms.open_access('acme', 'm', 'left open')},
	connstr => $node->connstr('postgres') . ' user=regress_raw_sci');
ok($node->poll_query_until('postgres', q{
SELECT count(*) = 1 FROM ms.audit_log WHERE action = 'close_access' AND reason = 'left open'}),
	'disconnecting with an open session records its close');

# --- kill -9 of the reading backend right after the read ------------------
my $bg = $node->background_psql('postgres', on_error_stop => 1,
	extra_params => ['-U', 'regress_raw_sci']);
my $pid = $bg->query_safe('SELECT pg_backend_pid()');
chomp $pid;
$bg->query_safe(q{SELECT ms.open_access('acme', 'm', 'kill test')});
$out = $bg->query_safe(q{SELECT length(ms.read_batch(2))});
is($out, '6', 'the batch is read in the session about to be killed');
# the bytes were returned, so the record is committed: crash the server now
kill 'KILL', $pid;
$bg->{run}->kill_kill;
$node->poll_query_until('postgres', 'SELECT true') or die 'server did not come back';
is(audit_count("action = 'read_batch' AND batch_id = 2 AND pid = $pid"),
	'1', 'the read record survives kill -9 of the reader and crash recovery');
ok($node->log_contains('terminated by signal 9'), 'the backend was indeed killed');

# --- the writer starts again after the crash; records keep chaining -------
$node->safe_psql('postgres', q{
SELECT ms.open_access('acme', 'm', 'after crash');
SELECT ms.read_batch(3);
SELECT ms.close_access();
});
is($node->safe_psql('postgres', 'SELECT ok FROM ms.verify_audit()'), 't',
	'the chain is intact after the crash');

# --- many readers at once: every read recorded, the chain stays linear ------
my $reads_before = audit_count("action = 'read_batch'");
$node->pgbench('--no-vacuum --client=8 --transactions=40', 0,
	[qr{processed: 320/320}], [qr{^$}], 'concurrent audited reads',
	{ 'audit_reads' => q{
SELECT ms.open_access('acme', 'm', 'concurrency');
SELECT length(ms.read_batch(1 + :client_id % 2));
} });
is(audit_count("action = 'read_batch'") - $reads_before, 320,
	'320 concurrent reads, 320 records');
is($node->safe_psql('postgres', 'SELECT ok FROM ms.verify_audit()'), 't',
	'the chain is intact after concurrent appends');

# --- a superuser altering a row behind the triggers' back is detected -----
my ($victim, $original) = split /\|/, $node->safe_psql('postgres',
	q{SELECT id, reason FROM ms.audit_log WHERE reason = 'kill test' AND action = 'read_batch'});
$node->safe_psql('postgres', qq{
ALTER TABLE ms.audit_log DISABLE TRIGGER USER;
UPDATE ms.audit_log SET reason = 'routine maintenance' WHERE id = $victim;
ALTER TABLE ms.audit_log ENABLE TRIGGER USER;
});
is($node->safe_psql('postgres', 'SELECT ok, first_bad FROM ms.verify_audit()'),
	"f|$victim", 'verify_audit reports the altered row');
$node->safe_psql('postgres', qq{
ALTER TABLE ms.audit_log DISABLE TRIGGER USER;
UPDATE ms.audit_log SET reason = '$original' WHERE id = $victim;
ALTER TABLE ms.audit_log ENABLE TRIGGER USER;
});
is($node->safe_psql('postgres', 'SELECT ok FROM ms.verify_audit()'), 't',
	'restoring the row restores the chain');
# a deleted row breaks the chain at the row after it
$node->safe_psql('postgres', qq{
CREATE TABLE saved AS SELECT * FROM ms.audit_log WHERE id = $victim;
ALTER TABLE ms.audit_log DISABLE TRIGGER USER;
DELETE FROM ms.audit_log WHERE id = $victim;
ALTER TABLE ms.audit_log ENABLE TRIGGER USER;
});
is($node->safe_psql('postgres', 'SELECT ok, first_bad FROM ms.verify_audit()'),
	"f|$victim", 'verify_audit reports the gap of a deleted row');
$node->safe_psql('postgres', q{
ALTER TABLE ms.audit_log DISABLE TRIGGER USER;
INSERT INTO ms.audit_log SELECT * FROM saved;
ALTER TABLE ms.audit_log ENABLE TRIGGER USER;
DROP TABLE saved;
});
is($node->safe_psql('postgres', 'SELECT ok FROM ms.verify_audit()'), 't', 'chain whole again');

# --- roles that hold every table privilege --------------------------------
# Row security (enabled, no policy) hides every row from them: their
# UPDATE and DELETE change nothing.  A role that also bypasses row security
# meets the triggers, which refuse it (no "permission denied for table").
$node->safe_psql('postgres', q{
CREATE ROLE regress_tamper LOGIN;
GRANT pg_write_all_data TO regress_tamper;
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON ms.audit_log TO regress_tamper;
});
my ($rc, $stdout, $stderr);
my @tampering = ('DELETE FROM ms.audit_log WHERE id = 1',
	q{UPDATE ms.audit_log SET reason = 'nothing happened' WHERE id = 1},
	'TRUNCATE ms.audit_log',
	q{INSERT INTO ms.audit_log SELECT id + 1000000, at, role, pid, client_addr, action, org, model,
	  label, batch_id, reason, hash FROM ms.audit_log WHERE id = 1});
my $rows_before = audit_count('true');
my $row1 = $node->safe_psql('postgres', 'SELECT md5(a::text) FROM ms.audit_log a WHERE id = 1');
for my $stmt (@tampering)
{
	$node->psql('postgres', $stmt,
		connstr => $node->connstr('postgres') . ' user=regress_tamper');
}
is(audit_count('true'), $rows_before, 'row security: a role holding every table privilege removes no row');
is($node->safe_psql('postgres', 'SELECT md5(a::text) FROM ms.audit_log a WHERE id = 1'), $row1,
	'row security: and changes none');
$node->safe_psql('postgres', 'ALTER ROLE regress_tamper BYPASSRLS');
for my $stmt (@tampering)
{
	my ($verb) = $stmt =~ /^(\w+)/;
	($rc, $stdout, $stderr) = $node->psql('postgres', $stmt,
		connstr => $node->connstr('postgres') . ' user=regress_tamper');
	like($stderr, qr/ERROR:  ms\.audit_log is append-only/,
		"$verb by a role holding $verb on ms.audit_log and BYPASSRLS is refused as append-only");
}
is(audit_count('id > 1000000'), '0', 'no row was inserted');
# the guard judges the role whose statement fires it: a superuser calling a
# function that runs as regress_tamper cannot launder a delete through it
$node->safe_psql('postgres', q{
CREATE FUNCTION public.wipe_one() RETURNS void LANGUAGE sql SECURITY DEFINER
	AS 'DELETE FROM ms.audit_log WHERE id = 1';
ALTER FUNCTION public.wipe_one() OWNER TO regress_tamper;
});
($rc, $stdout, $stderr) = $node->psql('postgres', 'SELECT public.wipe_one()');
like($stderr, qr/ERROR:  ms\.audit_log is append-only/,
	"a superuser running regress_tamper's definer function is refused");
($rc, $stdout, $stderr) = $node->psql('postgres',
	'BEGIN; DELETE FROM ms.audit_log WHERE id = 1; ROLLBACK;');
is($stderr, '', 'a superuser statement itself passes the UPDATE/DELETE guard');

# --- keyed chain: a recomputed chain no longer verifies -------------------
# A superuser (here with the triggers disabled) rewrites a row and
# recomputes every later hash with SHA-256: without the key that is no
# longer a valid chain.
my $tail_from = $node->safe_psql('postgres', 'SELECT max(id) - 5 FROM ms.audit_log');
$node->safe_psql('postgres', qq{
CREATE TABLE saved_tail AS SELECT * FROM ms.audit_log WHERE id >= $tail_from;
ALTER TABLE ms.audit_log DISABLE TRIGGER USER;
UPDATE ms.audit_log SET reason = 'nothing to see' WHERE id = $tail_from;
SELECT public.rehash($tail_from);
ALTER TABLE ms.audit_log ENABLE TRIGGER USER;
});
is($node->safe_psql('postgres', 'SELECT ok, first_bad FROM ms.verify_audit()'),
	"f|$tail_from", 'a row rewritten with the chain recomputed (unkeyed) is reported');

sub put_back_tail
{
	$node->safe_psql('postgres', qq{
ALTER TABLE ms.audit_log DISABLE TRIGGER USER;
DELETE FROM ms.audit_log WHERE id >= $tail_from;
INSERT INTO ms.audit_log SELECT * FROM saved_tail;
ALTER TABLE ms.audit_log ENABLE TRIGGER USER;
});
}
put_back_tail();
is($node->safe_psql('postgres', 'SELECT ok FROM ms.verify_audit()'), 't', 'tail put back: chain whole');

# --- a deleted tail is detected, and the writer will not extend it ---------
$node->safe_psql('postgres', qq{
ALTER TABLE ms.audit_log DISABLE TRIGGER USER;
DELETE FROM ms.audit_log WHERE id >= $tail_from + 3;
ALTER TABLE ms.audit_log ENABLE TRIGGER USER;
});
my $last = $node->safe_psql('postgres', 'SELECT max(id) FROM ms.audit_log');
is($node->safe_psql('postgres', 'SELECT ok FROM ms.verify_audit()'), 'f',
	'verify_audit reports a log whose newest rows were deleted');
like($node->safe_psql('postgres', 'SELECT problem FROM ms.verify_audit()'),
	qr/ends at row $last/, 'and says where the log ends now');
($rc, $stdout, $stderr) = $node->psql('postgres',
	q{SELECT ms._audit('after_cut', NULL, NULL, NULL, NULL, NULL)});
like($stderr, qr/audit record could not be written: .*head/,
	'the writer refuses to extend a log cut short of its head');
is(audit_count("action = 'after_cut'"), '0', 'and wrote nothing');
put_back_tail();
is($node->safe_psql('postgres', 'SELECT ok FROM ms.verify_audit()'), 't', 'tail put back again');

# --- the tables' owner cannot append a forged record ------------------------
$node->safe_psql('postgres', q{
CREATE ROLE regress_log_owner LOGIN;
ALTER TABLE ms.audit_log OWNER TO regress_log_owner;
});
my $forged = $last + 4;
$node->safe_psql('postgres', qq{
ALTER TABLE ms.audit_log DISABLE TRIGGER USER;
INSERT INTO ms.audit_log (id, at, role, pid, action, org, reason, hash)
	SELECT id + 1, now(), 'regress_raw_sci', 1, 'grant', 'acme', 'raw_read to regress_log_owner', hash
	  FROM ms.audit_log ORDER BY id DESC LIMIT 1;
SELECT public.rehash(max(id)) FROM ms.audit_log;
ALTER TABLE ms.audit_log ENABLE TRIGGER USER;
}, connstr => $node->connstr('postgres') . ' user=regress_log_owner');
is($node->safe_psql('postgres', 'SELECT max(id) FROM ms.audit_log'), $forged,
	'the owner appended a row with triggers disabled');
is($node->safe_psql('postgres', 'SELECT ok, first_bad FROM ms.verify_audit()'),
	"f|$forged", "the owner's forged record does not verify");
($rc, $stdout, $stderr) = $node->psql('postgres',
	q{SELECT ms._audit('after_forgery', NULL, NULL, NULL, NULL, NULL)});
like($stderr, qr/audit record could not be written: .*head/,
	'the writer refuses to chain onto a forged record');
$node->safe_psql('postgres', qq{
ALTER TABLE ms.audit_log DISABLE TRIGGER USER;
DELETE FROM ms.audit_log WHERE id = $forged;
ALTER TABLE ms.audit_log ENABLE TRIGGER USER;
ALTER TABLE ms.audit_log OWNER TO CURRENT_USER;
DROP TABLE saved_tail;
});
is($node->safe_psql('postgres', 'SELECT ok FROM ms.verify_audit()'), 't', 'forged row removed');
is(last_line($node->safe_psql('postgres',
	q{SELECT ms._audit('after_cleanup', NULL, NULL, NULL, NULL, NULL) > 0})), 't',
	'and the writer appends again');

# --- the customer's copy of the head, against a superuser -------------------
my $head = $node->safe_psql('postgres', q{
SELECT DISTINCT head_id || '|' || encode(head_hash, 'hex') FROM ms.access_report('acme')},
	connstr => $node->connstr('postgres') . ' user=regress_acme_admin');
my ($head_id, $head_hex) = split /\|/, $head;
is($head_id, $node->safe_psql('postgres', 'SELECT max(id) FROM ms.audit_log'),
	'the access report carries the head of the log');
like($node->safe_psql('postgres',
	"SELECT ok FROM ms.verify_audit($head_id, '\\x$head_hex')"), qr/^t$/,
	"the customer's head verifies");
$node->safe_psql('postgres',
	q{SELECT ms._audit('later', 'acme', NULL, NULL, NULL, NULL)});
like($node->safe_psql('postgres',
	"SELECT ok FROM ms.verify_audit($head_id, '\\x$head_hex')"), qr/^t$/,
	'and still does once the log has grown');
# a superuser cuts the log back before the customer's head and rewrites the
# head file to match: verify_audit() is fooled, the customer's copy is not
my $dboid = $node->safe_psql('postgres', q{SELECT oid FROM pg_database WHERE datname = 'postgres'});
my $head_file = $node->data_dir . "/machinesoup/audit_head.$dboid";
my $saved_head = slurp_file($head_file);
$node->safe_psql('postgres', qq{
CREATE TABLE saved_tail AS SELECT * FROM ms.audit_log WHERE id >= $head_id;
ALTER TABLE ms.audit_log DISABLE TRIGGER USER;
DELETE FROM ms.audit_log WHERE id >= $head_id;
ALTER TABLE ms.audit_log ENABLE TRIGGER USER;
});
my ($new_last, $new_hex) = split /\|/, $node->safe_psql('postgres',
	q{SELECT id, encode(hash, 'hex') FROM ms.audit_log ORDER BY id DESC LIMIT 1});
(my $forged_head = $saved_head) =~ s/^last_id=.*$/last_id=$new_last/m;
$forged_head =~ s/^last_hash=.*$/last_hash=$new_hex/m;
open my $fh, '>', $head_file or die "$head_file: $!";
print $fh $forged_head;
close $fh;
is($node->safe_psql('postgres', 'SELECT ok FROM ms.verify_audit()'), 't',
	'a superuser can make verify_audit() agree with a cut log');
is($node->safe_psql('postgres',
	"SELECT ok, first_bad FROM ms.verify_audit($head_id, '\\x$head_hex')"), "f|$head_id",
	"but not verify_audit() against the customer's copy of the head");
like($node->safe_psql('postgres',
	"SELECT problem FROM ms.verify_audit($head_id, '\\x$head_hex')"), qr/row $head_id does not exist/,
	'which says the row is gone');
$node->safe_psql('postgres', q{
ALTER TABLE ms.audit_log DISABLE TRIGGER USER;
INSERT INTO ms.audit_log SELECT * FROM saved_tail;
ALTER TABLE ms.audit_log ENABLE TRIGGER USER;
DROP TABLE saved_tail;
});
open $fh, '>', $head_file or die "$head_file: $!";
print $fh $saved_head;
close $fh;
is($node->safe_psql('postgres', "SELECT ok FROM ms.verify_audit($head_id, '\\x$head_hex')"), 't',
	'log and head put back');
is($node->safe_psql('postgres', "SELECT ok FROM ms.verify_audit($head_id, decode(repeat('00', 32), 'hex'))"), 'f',
	'a wrong hash for the head does not verify');

# --- records name the role acting and the login ----------------------------
my $bootstrap = $node->safe_psql('postgres', 'SELECT session_user');
$node->safe_psql('postgres', q{
SET ROLE regress_raw_sci;
SELECT ms.open_access('acme', 'm', 'as another role');
SELECT ms.close_access();
});
is($node->safe_psql('postgres', q{
SELECT role || ' ' || login FROM ms.audit_log WHERE action = 'open_access' AND reason = 'as another role'}),
	"regress_raw_sci $bootstrap", 'a record made under SET ROLE names the role and the login');
is($node->safe_psql('postgres', q{
SELECT role || ' ' || login FROM ms.access_report('acme') WHERE action = 'open_access' AND reason = 'as another role'},
	connstr => $node->connstr('postgres') . ' user=regress_acme_admin'),
	"regress_raw_sci $bootstrap", 'and so does the access report');
is($node->safe_psql('postgres', 'SELECT ok FROM ms.verify_audit()'), 't', 'chain whole after the checks');


# --- refusals: no text of a role without a grant, rate-limited per role -------
$node->safe_psql('postgres', q{
CREATE ROLE regress_nogrant LOGIN;
CREATE ROLE regress_query LOGIN;
SELECT ms.grant('regress_query', 'query', 'acme', 'm');
});
($rc, $stdout, $stderr) = $node->psql('postgres',
	q{SELECT ms.open_access('acme', 'm', 'cheap pills at evil.example')},
	connstr => $node->connstr('postgres') . ' user=regress_nogrant');
like($stderr, qr/permission denied/, 'a role without a grant is refused raw access');
is(audit_count("role = 'regress_nogrant' AND action = 'refuse_access' AND org = 'acme' AND reason IS NULL"),
	'1', 'the refusal is recorded');
is(audit_count("reason LIKE '%evil.example%'"), '0',
	"but not the reason text of a role holding no grant in the org");
($rc, $stdout, $stderr) = $node->psql('postgres',
	q{SELECT ms.open_access('acme', 'm', 'ticket 42')},
	connstr => $node->connstr('postgres') . ' user=regress_query');
like($stderr, qr/permission denied/, 'a role with a query grant only is refused raw access');
is(audit_count("role = 'regress_query' AND action = 'refuse_access' AND reason = 'ticket 42'"),
	'1', "its reason is kept: it is one of the org's users");

$node->safe_psql('postgres', q{
ALTER SYSTEM SET machinesoup.audit_refusal_limit = 5;
ALTER SYSTEM SET machinesoup.audit_refusal_window = 3;
SELECT pg_reload_conf();
});
$node->poll_query_until('postgres', q{SELECT current_setting('machinesoup.audit_refusal_limit') = '5'});
$node->safe_psql('postgres', 'CREATE ROLE regress_flooder LOGIN');
$node->safe_psql('postgres', q{
DO $$
BEGIN
	FOR i IN 1 .. 200 LOOP
		BEGIN
			PERFORM ms.open_access('acme', 'm', 'flood');
		EXCEPTION WHEN insufficient_privilege THEN
			NULL;
		END;
	END LOOP;
END
$$;
}, connstr => $node->connstr('postgres') . ' user=regress_flooder');
my $recorded = audit_count("role = 'regress_flooder' AND action = 'refuse_access'");
ok($recorded >= 5 && $recorded <= 10,
	"a flood of 200 refusals is recorded one by one only up to the limit of 5 per window ($recorded)");
ok($node->poll_query_until('postgres', qq{
SELECT $recorded + coalesce(sum(substring(reason FROM '^(\\d+) ')::int), 0) = 200
  FROM ms.audit_log WHERE role = 'regress_flooder' AND action = 'refusals_suppressed'}),
	'the rest is recorded as refusals_suppressed with its count');
$node->safe_psql('postgres', q{
ALTER SYSTEM RESET machinesoup.audit_refusal_limit;
ALTER SYSTEM RESET machinesoup.audit_refusal_window;
SELECT pg_reload_conf();
});
is($node->safe_psql('postgres', 'SELECT ok FROM ms.verify_audit()'), 't', 'chain whole after the flood');

# --- idle expiry ------------------------------------------------------------
($rc, $stdout, $stderr) = $node->psql('postgres', q{
SET machinesoup.access_idle_timeout = 1;
SELECT ms.open_access('acme', 'm', 'idle test 2');
SELECT pg_sleep(1.5);
SELECT ms.read_batch(1);
});
like($stderr, qr/access session has expired/, 'a read after 1.5 s idle is refused (timeout 1 s)');
is(audit_count("action = 'expire_access' AND reason = 'idle test 2'"), '1',
	'the expiry is recorded');
is(audit_count("action = 'read_batch' AND reason = 'idle test 2'"), '0',
	'and no read is');
is($node->safe_psql('postgres', q{
SELECT extract(epoch FROM e.at - o.at) BETWEEN 1 AND 1.3
  FROM ms.audit_log e JOIN ms.audit_log o USING (pid, reason)
 WHERE e.action = 'expire_access' AND o.action = 'open_access' AND e.reason = 'idle test 2'}),
	't', 'the expiry record carries the moment the session expired');

# --- a damaged frame fails cleanly -------------------------------------------
$node->safe_psql('postgres', q{
UPDATE ms.raw_batches SET frame = overlay(frame PLACING '\xdeadbeef'::bytea FROM 16)
 WHERE batch_id = 3;
});
($rc, $stdout, $stderr) = $node->psql('postgres', q{
\set VERBOSITY verbose
SELECT ms.open_access('acme', 'm', 'corruption test');
SELECT ms.read_batch(3);
});
like($stderr, qr/XX001: raw batch 3 is corrupt/, 'flipped bytes: data_corrupted error');
unlike($stdout, qr/5,6/, 'and no garbage');
is(last_line($node->safe_psql('postgres', q{
SELECT ms.open_access('acme', 'm', 'after corruption');
SELECT length(ms.read_batch(1));
})), '12', 'the server carries on reading intact batches');

# --- client networks ----------------------------------------------------------
my $tcp = 'host=127.0.0.1 port=' . $node->port . ' dbname=postgres user=regress_raw_sci';
$node->append_conf('postgresql.conf', "machinesoup.raw_access_networks = '10.0.0.0/8, fd00::/8, local'\n");
$node->reload;
$node->poll_query_until('postgres',
	q{SELECT current_setting('machinesoup.raw_access_networks') LIKE '10.%'});
($rc, $stdout, $stderr) = $node->psql('postgres',
	q{SELECT inet_client_addr(); SELECT ms.open_access('acme', 'm', 'from tcp')},
	connstr => $tcp);
like($stdout, qr/127\.0\.0\.1/, 'the login is over TCP from 127.0.0.1');
like($stderr, qr/raw data access is not allowed from 127\.0\.0\.1/,
	'raw access from 127.0.0.1 is refused when the list excludes it');
is(audit_count("action = 'refuse_access' AND reason = 'from tcp' AND client_addr = '127.0.0.1'"
	  . " AND role = 'regress_raw_sci' AND org = 'acme'"),
	'1', 'the refusal is in the audit log, with the client address');
is(last_line($node->safe_psql('postgres', q{
SELECT ms.open_access('acme', 'm', 'from the socket');
SELECT length(ms.read_batch(1));
}, connstr => $node->connstr('postgres') . ' user=regress_raw_sci')), '12',
	'a Unix-socket session is allowed by "local"');
$node->append_conf('postgresql.conf', "machinesoup.raw_access_networks = '127.0.0.0/8'\n");
$node->reload;
$node->poll_query_until('postgres',
	q{SELECT current_setting('machinesoup.raw_access_networks') = '127.0.0.0/8'});
is(last_line($node->safe_psql('postgres', q{
SELECT ms.open_access('acme', 'm', 'from tcp, allowed');
SELECT length(ms.read_batch(1));
}, connstr => $tcp)), '12', 'raw access over TCP once 127.0.0.0/8 is listed');
is(audit_count("action = 'read_batch' AND reason = 'from tcp, allowed' AND client_addr = '127.0.0.1'"),
	'1', 'the record carries the client address');
($rc, $stdout, $stderr) = $node->psql('postgres',
	q{SELECT ms.open_access('acme', 'm', 'from the socket')});
like($stderr, qr/not allowed from a local \(Unix-socket\) connection/,
	'without "local", socket sessions are refused');
$node->append_conf('postgresql.conf', "machinesoup.raw_access_networks = ''\n");
$node->reload;
$node->poll_query_until('postgres',
	q{SELECT current_setting('machinesoup.raw_access_networks') = ''});

# --- no audit, no read ----------------------------------------------------
my $before = audit_count('true');
$node->safe_psql('postgres', 'ALTER TABLE ms.audit_log RENAME TO audit_log_away');
($rc, $stdout, $stderr) = $node->psql('postgres', q{
SELECT ms.open_access('acme', 'm', 'no audit');
});
like($stderr, qr/audit record could not be written/, 'open refused when the record cannot be written');
$node->safe_psql('postgres', 'ALTER TABLE ms.audit_log_away RENAME TO audit_log');
($rc, $stdout, $stderr) = $node->psql('postgres', q{
SELECT ms.open_access('acme', 'm', 'audit then none');
ALTER TABLE ms.audit_log RENAME TO audit_log_away;
SELECT encode(ms.read_batch(1), 'escape');
});
like($stderr, qr/audit record could not be written/, 'read refused when the record cannot be written');
unlike($stdout, qr/1,1,2/, 'and no byte of the batch is returned');
$node->safe_psql('postgres', 'ALTER TABLE IF EXISTS ms.audit_log_away RENAME TO audit_log');

# --- each database has its own writer and log --------------------------------
# Writers stay long enough here that only DROP DATABASE's call makes one leave.
$node->safe_psql('postgres', q{
ALTER SYSTEM SET machinesoup.audit_writer_idle = 600;
SELECT pg_reload_conf();
});
$node->safe_psql('postgres', 'CREATE DATABASE second');
$node->safe_psql('second', q{
CREATE EXTENSION machinesoup;
SELECT ms.create_model('beta', 'm', 1);
SELECT ms.create_version('beta', 'm', 'v1');
SELECT ms.promote('beta', 'm', 'v1');
SELECT ms.ingest('beta', 'm', convert_to(E'1,1\n', 'UTF8'));
SELECT ms.open_access('beta', 'm', 'second db');
SELECT ms.read_batch(1);
SELECT ms.close_access();
});
is($node->safe_psql('second', q{SELECT string_agg(action, ',' ORDER BY id) FROM ms.audit_log}),
	'promote,open_access,read_batch,close_access', 'the second database keeps its own log');
is(audit_count("org = 'beta'"), '0', 'nothing of it lands in the first');
$node->safe_psql('postgres', q{SELECT ms._audit('writer_check', NULL, NULL, NULL, NULL, NULL)});
is($node->safe_psql('postgres', q{
SELECT string_agg(datname || ':' || n, ',' ORDER BY datname)
  FROM (SELECT datname, count(*) n FROM pg_stat_activity
		 WHERE backend_type = 'machinesoup audit writer' GROUP BY datname) w}),
	'postgres:1,second:1', 'one audit writer per database');

# --- a flood of records in one database leaves slots to the others ----------
# The writer of "postgres" is held up by a lock on its table while 80
# backends wait for their records: they may not take every slot.
my $locker = $node->background_psql('postgres', on_error_stop => 1);
$locker->query_safe('BEGIN; LOCK TABLE ms.audit_log IN SHARE MODE;');
my $flood_script = $PostgreSQL::Test::Utils::tmp_check . '/flood.sql';
open my $fs, '>', $flood_script or die "$flood_script: $!";
print $fs "SELECT ms._audit('flood', NULL, NULL, NULL, NULL, NULL);\n";
close $fs;
my ($pb_out, $pb_err) = ('', '');
local $ENV{PGOPTIONS} = '-c machinesoup.audit_timeout=60000';
my $pgbench = IPC::Run::start(['pgbench', '--no-vacuum', '-c', '80', '-j', '8', '-t', '1',
		'-f', $flood_script, '-d', $node->connstr('postgres')],
	'>', \$pb_out, '2>', \$pb_err);
delete $ENV{PGOPTIONS};
ok($node->poll_query_until('postgres', q{
SELECT count(*) >= 80 FROM pg_stat_activity
 WHERE datname = 'postgres' AND query LIKE '%ms._audit(''flood''%' AND wait_event_type = 'Extension'}),
	'80 backends of "postgres" wait for their records');
($rc, $stdout, $stderr) = $node->psql('second',
	q{SELECT ms._audit('during_flood', NULL, NULL, NULL, NULL, NULL) > 0});
is($stdout, 't', 'another database still gets its record through') or diag $stderr;
$locker->query_safe('COMMIT');
$locker->quit;
$pgbench->finish;
is(audit_count("action = 'flood'"), '80', 'and every waiting record is written once the lock goes');

# DROP DATABASE tells the database's writer to leave instead of failing
# while it is connected ("being accessed by other users")
is($node->safe_psql('postgres', q{
SELECT count(*) FROM pg_stat_activity
 WHERE datname = 'second' AND backend_type = 'machinesoup audit writer'}),
	'1', 'the writer of "second" is still connected before DROP DATABASE');
$node->safe_psql('postgres', 'DROP DATABASE second');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_database WHERE datname = 'second'}),
	'0', 'DROP DATABASE succeeds while the writer was connected');
$node->safe_psql('postgres', q{
ALTER SYSTEM RESET machinesoup.audit_writer_idle;
SELECT pg_reload_conf();
});
is($node->safe_psql('postgres', 'SELECT ok FROM ms.verify_audit()'), 't', 'final chain check');

$node->stop;

# --- without shared_preload_libraries: a clear error and hint --------------
my $plain = PostgreSQL::Test::Cluster->new('plain');
$plain->init;
$plain->start;
$plain->safe_psql('postgres', q{
CREATE EXTENSION machinesoup;
SELECT ms.create_model('acme', 'm', 2);
SELECT ms.create_version('acme', 'm', 'v1');
SELECT ms.ingest('acme', 'm', convert_to(E'1,1,2\n', 'UTF8'), 'v1');
});
($rc, $stdout, $stderr) = $plain->psql('postgres', q{
SELECT ms.open_access('acme', 'm', 'no writer');
});
like($stderr, qr/audit log is not available.*\n.*\n.*HINT:  Set shared_preload_libraries = 'machinesoup'/,
	'open_access explains that the library must be preloaded');
$plain->stop;

done_testing();
