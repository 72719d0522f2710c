# The audit log of raw-data access: records are committed by the audit
# writer independently of the reader (they survive its ROLLBACK and a
# kill -9 of its backend), the hash chain exposes a row altered behind the
# triggers' back, idle sessions expire, damaged frames fail cleanly, the
# client network list is enforced, reads are refused when the record cannot
# be written, and each database gets its own writer.
use strict;
use warnings;

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
$node->safe_psql('postgres', q{INSERT INTO ms.audit_log SELECT * FROM saved; DROP TABLE saved;});
is($node->safe_psql('postgres', 'SELECT ok FROM ms.verify_audit()'), 't', 'chain whole again');
# and without disabling the triggers, even the table owner's session is refused
my ($rc, $stdout, $stderr) = $node->psql('postgres',
	q{SET ROLE regress_raw_sci; DELETE FROM ms.audit_log});
like($stderr, qr/permission denied|append-only/, 'a plain role cannot delete audit rows');

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
SELECT count(DISTINCT datname) FROM pg_stat_activity WHERE backend_type = 'machinesoup audit writer'}),
	'2', 'one audit writer per database');
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
