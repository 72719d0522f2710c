# An access session belongs to the extension it was opened under: once
# machinesoup is dropped (and created again) the session is gone, so no
# read goes into the new audit log as part of a session that log never
# saw opened, and no close record of it lands there when the connection
# ends.  The same for a login role's session and DISCARD ALL, as a
# connection pooler sends it between clients.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('access_sessions');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'machinesoup'
machinesoup.audit_writer_idle = 1
});
$node->start;

my $setup = q{
CREATE EXTENSION machinesoup;
SELECT ms.create_model('acme', 'm', 2);
SELECT ms.create_version('acme', 'm', 'v1');
SELECT ms.promote('acme', 'm', 'v1');
SELECT ms.grant('regress_as_sci', 'raw_read', 'acme', 'm');
SELECT ms.ingest('acme', 'm', convert_to(E'1,1,2\n', 'UTF8'));
};
$node->safe_psql('postgres', 'CREATE ROLE regress_as_sci LOGIN');
$node->safe_psql('postgres', $setup);

sub audit_rows
{
	my ($where) = @_;
	return $node->safe_psql('postgres',
		"SELECT string_agg(action, ',' ORDER BY id) FROM ms.audit_log WHERE $where");
}

# --- DROP EXTENSION ends the session ----------------------------------------
my ($rc, $stdout, $stderr) = $node->psql('postgres', qq{
SELECT ms.open_access('acme', 'm', 'before the drop');
SELECT 'read: ' || length(ms.read_batch(1));
DROP EXTENSION machinesoup CASCADE;
$setup
SELECT 'session: ' || coalesce(org, 'none') FROM ms.access_session();
SELECT 'read: ' || length(ms.read_batch(1));
SELECT 'session after read: ' || coalesce(org, 'none') FROM ms.access_session();
}, on_error_stop => 0);
like($stdout, qr/^read: 6$/m, 'the session reads before the drop');
like($stdout, qr/^session: none$/m, 'after DROP and CREATE EXTENSION there is no session');
unlike($stdout, qr/read: 6\n(.|\n)*read: 6/, 'and no read');
like($stderr, qr/no raw data access session is open/, 'the read is refused as without a session');
is(audit_rows("reason = 'before the drop'"), '',
	'the new log holds nothing of the old session');
# the connection has ended: its exit records nothing of the old session
# either (the writer is given time to commit anything queued)
$node->poll_query_until('postgres', q{
SELECT count(*) = 0 FROM pg_stat_activity
 WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()})
  or die 'the first connection did not end';
$node->safe_psql('postgres', q{SELECT ms._audit('flush', NULL, NULL, NULL, NULL, NULL)});
is(audit_rows("reason = 'before the drop'"), '',
	'not even a close record once the connection ends');
is($node->safe_psql('postgres', 'SELECT ok FROM ms.verify_audit()'), 't', 'the new chain verifies');

# --- a login role's session and DISCARD ALL ----------------------------------
($rc, $stdout, $stderr) = $node->psql('postgres', q{
SELECT ms.open_access('acme', 'm', 'pooled client 1');
SELECT 'read: ' || length(ms.read_batch(1));
DISCARD ALL;
SELECT 'session: ' || coalesce(org, 'none') FROM ms.access_session();
SELECT 'read: ' || length(ms.read_batch(1));
}, on_error_stop => 0, connstr => $node->connstr('postgres') . ' user=regress_as_sci');
like($stdout, qr/^session: none$/m, 'DISCARD ALL ends the session');
like($stderr, qr/no raw data access session is open/, 'the next client cannot read in it');
is(audit_rows("reason = 'pooled client 1'"), 'open_access,read_batch,close_access',
	'DISCARD ALL wrote the close record');
is($node->safe_psql('postgres',
	q{SELECT DISTINCT role FROM ms.audit_log WHERE reason = 'pooled client 1'}),
	'regress_as_sci', 'in the name of the session\'s role');

# --- the new library under an older version's objects, until the update -----
# ALTER EXTENSION UPDATE runs after the library is replaced: sessions keep
# working with the 0.3.0 functions (three-argument ms.open_access, five
# columns of ms.access_session), and a session survives the update, which
# keeps the extension (and its log).
$node->safe_psql('postgres', 'CREATE DATABASE old');
$node->safe_psql('old', qq{
CREATE EXTENSION machinesoup VERSION '0.3.0';
SELECT ms.create_model('acme', 'm', 2);
SELECT ms.create_version('acme', 'm', 'v1');
SELECT ms.promote('acme', 'm', 'v1');
SELECT ms.ingest('acme', 'm', convert_to(E'1,1,2\n', 'UTF8'));
});
$stdout = $node->safe_psql('old', q{
SELECT ms.open_access('acme', 'm', 'across the update');
SELECT 'old: ' || concat_ws(' ', org, model, reason, expires_at > opened_at) FROM ms.access_session();
SELECT 'read: ' || length(ms.read_batch(1));
ALTER EXTENSION machinesoup UPDATE;
SELECT 'new: ' || concat_ws(' ', org, model, coalesce(label, '*'), reason, state) FROM ms.access_session();
SELECT 'read: ' || length(ms.read_batch(1));
SELECT ms.close_access();
});
like($stdout, qr/^old: acme m across the update t$/m, 'ms.access_session of 0.3.0 shows the session');
like($stdout, qr/^new: acme m \* across the update open$/m, 'the session survives ALTER EXTENSION UPDATE');
is(scalar(() = $stdout =~ /^read: 6$/mg), 2, 'and reads before and after it');
is($node->safe_psql('old',
	q{SELECT string_agg(action, ',' ORDER BY id) FROM ms.audit_log WHERE reason = 'across the update'}),
	'open_access,read_batch,read_batch,close_access', 'all recorded in the one log');

$node->stop;
done_testing();
