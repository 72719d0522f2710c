# Audited actions on a hot standby: their records are written by the
# primary, through machinesoup.audit_primary_conninfo, before any byte is
# returned.  Without the setting, or with the primary down, they are
# refused at once with a message that says why, and nothing is read.  The
# records name the role, the login and the standby; they are in the
# org's report on the primary and the chain verifies; after the standby is
# promoted its own writer extends the same chain.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $primary = PostgreSQL::Test::Cluster->new('audit_primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'machinesoup'
machinesoup.audit_writer_idle = 1
});
$primary->start;

$primary->safe_psql('postgres', q{
CREATE ROLE sb_sci LOGIN;
CREATE ROLE sb_nogrant LOGIN;
CREATE ROLE sb_relay LOGIN;
CREATE EXTENSION machinesoup;
GRANT EXECUTE ON FUNCTION ms._audit_relay(bigint, text, text, integer, text, text, text,
	text, text, bigint, text, text) TO sb_relay;
SELECT ms.create_model('acme', 'm', 2);
SELECT ms.create_version('acme', 'm', 'v1');
SELECT ms.promote('acme', 'm', 'v1');
SELECT ms.grant('sb_sci', 'raw_read', 'acme', 'm');
SELECT ms.grant('sb_sci', 'query', 'acme', 'm');
SELECT ms.ingest('acme', 'm', convert_to(E'1,1,2\n2,3,4\n', 'UTF8'));
});
# the grant above was audited: the key and the chain head exist, and the
# base backup carries them
ok(-f $primary->data_dir . '/machinesoup/audit.key', 'the primary has its audit key');

$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('audit_standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->append_conf('postgresql.conf', qq{
machinesoup.audit_timeout = '20s'
});
$standby->start;
$primary->wait_for_catchup($standby);

sub primary_rows
{
	my ($where) = @_;
	return $primary->safe_psql('postgres',
		"SELECT coalesce(string_agg(action, ',' ORDER BY id), '') FROM ms.audit_log WHERE $where");
}

my $sci = $standby->connstr('postgres') . ' user=sb_sci';

# --- not configured: refused at once, nothing read -------------------------
my $t0 = time;
my ($rc, $stdout, $stderr) = $standby->psql('postgres', q{
SELECT 'knn: ' || count(*) FROM ms.knn('acme', 'm', '[1,1]', 1);
SELECT ms.open_access('acme', 'm', 'no relay');
SELECT 'read: ' || length(ms.read_batch(1));
}, connstr => $sci, on_error_stop => 0);
my $elapsed = time - $t0;
like($stderr, qr/audited actions on a standby need machinesoup\.audit_primary_conninfo/,
	'without the setting the standby refuses an audited action, saying what is missing');
unlike($stderr, qr/did not confirm/, 'not the writer timeout of before');
cmp_ok($elapsed, '<', 10, 'refused at once, not after machinesoup.audit_timeout (20 s)');
unlike($stdout, qr/read: /, 'nothing was read');
like($stdout, qr/^knn: 1$/m, 'queries, which are not audited, still answer on the standby');
is(primary_rows("reason LIKE 'no relay%'"), '', 'and nothing was recorded');

# --- configured: records written on the primary first ----------------------
$standby->append_conf('postgresql.conf',
	"machinesoup.audit_primary_conninfo = 'host=" . $primary->host . ' port=' . $primary->port
	  . " user=sb_relay'\n");
$standby->reload;

($rc, $stdout, $stderr) = $standby->psql('postgres', q{
SELECT ms.open_access('acme', 'm', 'on the replica');
SELECT 'read: ' || length(ms.read_batch(1));
SELECT ms.close_access();
}, connstr => $sci, on_error_stop => 0);
is($stderr, '', 'an audited read on the standby succeeds');
like($stdout, qr/^read: 12$/m, 'and returns the batch');
is(primary_rows("reason LIKE 'on the replica%'"), 'open_access,read_batch,close_access',
	'each record of the session is in the primary\'s log');
is($primary->safe_psql('postgres', q{
	SELECT string_agg(DISTINCT role || '/' || login || '/' || reason, ';')
	  FROM ms.audit_log WHERE reason LIKE 'on the replica%'}),
	'sb_sci/sb_sci/on the replica (on standby "audit_standby")',
	'naming the role, the login and the standby');
is($primary->safe_psql('postgres', q{
	SELECT count(*) FROM ms.access_report('acme') WHERE reason LIKE '%(on standby "audit_standby")'}),
	'3', 'the org\'s report on the primary includes them');
is($primary->safe_psql('postgres', 'SELECT ok FROM ms.verify_audit()'), 't',
	'the primary\'s chain verifies');

# a session left open when the connection ends is closed on the record,
# through the connection its earlier records used
($rc, $stdout, $stderr) = $standby->psql('postgres', q{
SELECT ms.open_access('acme', 'm', 'left open');
SELECT 'read: ' || length(ms.read_batch(1));
}, connstr => $sci, on_error_stop => 0);
like($stdout, qr/^read: 12$/m, 'a second session reads');
ok($primary->poll_query_until('postgres',
	q{SELECT count(*) = 1 FROM ms.audit_log WHERE reason LIKE 'left open%' AND action = 'close_access'}),
	'its close record reaches the primary when the connection ends');

# a refusal on the standby is on the record too (without the caller's text,
# for an org where it holds no grant)
($rc, $stdout, $stderr) = $standby->psql('postgres',
	q{SELECT ms.open_access('acme', 'm', 'probing from the replica')},
	connstr => $standby->connstr('postgres') . ' user=sb_nogrant', on_error_stop => 0);
like($stderr, qr/permission denied/, 'a role without raw_read is refused on the standby');
is($primary->safe_psql('postgres',
	q{SELECT count(*) FROM ms.audit_log WHERE role = 'sb_nogrant' AND action = 'refuse_access'}),
	'1', 'and its refusal is recorded on the primary');
is($primary->safe_psql('postgres',
	q{SELECT count(*) FROM ms.audit_log WHERE reason LIKE '%probing from the replica%'}),
	'0', 'without its own text');

# the relay function is not for anyone else
($rc, $stdout, $stderr) = $primary->psql('postgres',
	q{SELECT ms._audit_relay(0, 'sb_sci', 'sb_sci', 1, NULL, 'read_batch', 'acme', 'm', NULL, 1, 'forged', 'x')},
	connstr => $primary->connstr('postgres') . ' user=sb_sci', on_error_stop => 0);
like($stderr, qr/permission denied for function _audit_relay/, 'a tenant cannot relay records');
($rc, $stdout, $stderr) = $primary->psql('postgres',
	q{SELECT ms._audit_relay(0, 'sb_sci', 'sb_sci', 1, NULL, 'Read Batch', 'acme', 'm', NULL, 1, 'x', 'x')},
	connstr => $primary->connstr('postgres') . ' user=sb_relay', on_error_stop => 0);
like($stderr, qr/invalid audit action "Read Batch"/, 'the relay role gets no free-form actions');

# --- the primary down: refused at once, nothing read ------------------------
$primary->wait_for_catchup($standby);
$primary->stop;
$t0 = time;
($rc, $stdout, $stderr) = $standby->psql('postgres', q{
SELECT ms.open_access('acme', 'm', 'primary down');
SELECT 'read: ' || length(ms.read_batch(1));
}, connstr => $sci, on_error_stop => 0);
$elapsed = time - $t0;
like($stderr, qr/audit record could not be written on the primary/,
	'with the primary down the standby refuses, saying so');
unlike($stdout, qr/read: /, 'nothing was read');
cmp_ok($elapsed, '<', 10, 'refused at once');

# --- promotion: the standby's own writer extends the same chain ------------
$standby->promote;
$standby->poll_query_until('postgres', 'SELECT NOT pg_is_in_recovery()')
  or die 'the standby was not promoted';
($rc, $stdout, $stderr) = $standby->psql('postgres', q{
SELECT ms.open_access('acme', 'm', 'after promotion');
SELECT 'read: ' || length(ms.read_batch(1));
SELECT ms.close_access();
}, connstr => $sci, on_error_stop => 0);
is($stderr, '', 'after promotion audited reads work on the new primary');
is($standby->safe_psql('postgres',
	q{SELECT string_agg(action, ',' ORDER BY id) FROM ms.audit_log WHERE reason LIKE 'after promotion%'}),
	'open_access,read_batch,close_access', 'written by its own writer');
is($standby->safe_psql('postgres',
	q{SELECT count(*) FROM ms.audit_log WHERE reason LIKE 'on the replica%'}),
	'3', 'the records relayed before are in its log');
is($standby->safe_psql('postgres', 'SELECT ok FROM ms.verify_audit()'), 't',
	'and the whole chain verifies on the promoted node');

done_testing();
