# The attacks of the security issue, run end to end on one cluster as the
# hostile role would run them, each checked to be refused or harmless:
#  1. an index expression of a tenant's, evaluated by autovacuum's ANALYZE
#     and by a superuser's ANALYZE, REINDEX, CLUSTER and CREATE INDEX,
#     borrowing their authority for ms.grant;
#  2. a processor borrowing the producer's authority during its ingest;
#  3. stage replaying raw bytes out through user code;
#  4. the processor sandbox's exits;
#  5. raw_read scoped by label;
#  6. access sessions outliving the role that opened them;
#  7. the audit chain against table writers and a superuser;
#  8. tenant names in catalogs, msivf_index_info on another's index;
#  9. a flood of refusals into a victim org's report;
# 10. read_batch of another org's batch.
# Each attack runs in a connection of the attacking role (a login role,
# unless the attack is a role change).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('attacks');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'machinesoup'
autovacuum_naptime = 1
machinesoup.audit_writer_idle = 5
machinesoup.audit_refusal_window = 5
});
$node->start;

# --- helpers --------------------------------------------------------------

# SQL as the superuser; dies on error
sub su
{
	return $node->safe_psql('postgres', $_[0]);
}

# a superuser's query of what an attack left: its output, or its error
# (so that one attack failing does not stop the others)
sub ask
{
	my ($stdout, $stderr) = ('', '');
	$node->psql('postgres', $_[0], stdout => \$stdout, stderr => \$stderr, on_error_stop => 0);
	my ($err) = $stderr =~ /(ERROR:  [^\n]*)/;
	return $err // $stdout;
}

# SQL in a connection of login role $role, on past errors: (stdout, the
# first error's message or '')
sub as_role
{
	my ($role, $sql) = @_;
	my ($stdout, $stderr) = ('', '');
	$node->psql('postgres', $sql, stdout => \$stdout, stderr => \$stderr,
		on_error_stop => 0, connstr => $node->connstr('postgres') . " user=$role");
	my ($err) = $stderr =~ /ERROR:  ([^\n]*)/;
	return ($stdout, $err // '');
}

# $role's $sql fails with exactly $message
sub refused
{
	my ($role, $sql, $message, $name) = @_;
	my (undef, $err) = as_role($role, $sql);
	is($err, $message, $name);
}

# $role's $sql succeeds; its output
sub allowed
{
	my ($role, $sql, $name) = @_;
	my ($out, $err) = as_role($role, $sql);
	is($err, '', $name);
	return $out;
}

# poll a superuser's query until it returns t, at most $seconds: whether it did
sub wait_for
{
	my ($sql, $seconds) = @_;
	for (1 .. $seconds)
	{
		return 1 if ask($sql) eq 't';
		sleep 1;
	}
	return ask($sql) eq 't';
}

sub audit_mark
{
	return su('SELECT coalesce(max(id), 0) FROM ms.audit_log');
}

sub batch_of
{
	my ($org, $label, $csv) = @_;
	return su("SELECT ms.ingest('$org', 'm', convert_to(E'$csv', 'UTF8'), '$label')");
}

# --- the organisations and the roles -----------------------------------------
su(q{
CREATE EXTENSION machinesoup;
DO $$ BEGIN
	IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'machinesoup_processor') THEN
		CREATE ROLE machinesoup_processor NOLOGIN;
	END IF;
END $$;
CREATE ROLE at_acme_admin LOGIN;	-- admin of acme
CREATE ROLE at_victim_admin LOGIN;	-- admin of victim, reads its report
CREATE ROLE at_tenant LOGIN;		-- no grant; CREATE on its own schema
CREATE ROLE at_stager LOGIN;		-- stage on acme/m and beta/m, no raw_read
CREATE ROLE at_producer LOGIN;		-- ingest on acme/m and beta/m; admin of victim
CREATE ROLE at_reader LOGIN;		-- stage and raw_read on label staged of acme/m
CREATE ROLE at_v1_reader LOGIN;		-- raw_read on label v1 of acme/m
CREATE ROLE at_beta_reader LOGIN;	-- raw_read on beta/m
CREATE ROLE at_outsider LOGIN;		-- no grant at all
CREATE ROLE at_flooder LOGIN;		-- no grant at all
CREATE ROLE at_pool LOGIN;			-- a pooled connection's login
GRANT at_beta_reader, at_outsider TO at_pool;
CREATE ROLE at_table_writer LOGIN IN ROLE pg_write_all_data;
CREATE ROLE at_log_editor LOGIN;
GRANT SELECT, INSERT, UPDATE, DELETE ON ms.audit_log TO at_log_editor;
CREATE SCHEMA at_tenant AUTHORIZATION at_tenant;
CREATE SCHEMA at_stager AUTHORIZATION at_stager;
GRANT USAGE ON SCHEMA at_stager TO machinesoup_processor, at_acme_admin;
CREATE TABLE public.at_dropbox (data bytea);
GRANT INSERT, SELECT ON public.at_dropbox TO PUBLIC;

SELECT ms.create_model(o, 'm', 2) FROM unnest('{acme,victim,beta}'::text[]) o;
SELECT ms.create_version(o, 'm', 'v1') FROM unnest('{acme,victim,beta}'::text[]) o;
SELECT ms.promote(o, 'm', 'v1') FROM unnest('{acme,victim,beta}'::text[]) o;
SELECT ms.create_version('acme', 'm', 'staged');
SELECT ms.upsert_points('victim', 'm', 'v1', '{1}', '{"[1,1]"}');
SELECT ms.grant('at_acme_admin', 'admin', 'acme');
SELECT ms.grant('at_victim_admin', 'admin', 'victim');
SELECT ms.grant('at_producer', 'admin', 'victim');
SELECT ms.grant('at_stager', 'stage', o, 'm') FROM unnest('{acme,beta}'::text[]) o;
SELECT ms.grant('at_producer', 'ingest', o, 'm') FROM unnest('{acme,beta}'::text[]) o;
SELECT ms.grant('at_reader', 'stage', 'acme', 'm');
SELECT ms.grant('at_reader', 'raw_read', 'acme', 'm', 'staged');
SELECT ms.grant('at_v1_reader', 'raw_read', 'acme', 'm', 'v1');
SELECT ms.grant('at_beta_reader', 'raw_read', 'beta', 'm');
});
my $b_v1 = batch_of('acme', 'v1', '1,1,1\n');
my $b_staged = batch_of('acme', 'staged', '10,1,1\n');
batch_of('acme', 'staged', '11,2,2\n');
my $b_beta = batch_of('beta', 'v1', '20,2,2\n');

# --- 9 (started first: its window must pass) a flood of refusals ------------
# 1000 refused ms.open_access in victim by a role without any grant there
allowed('at_flooder', q{
DO $$ BEGIN
	FOR i IN 1 .. 1000 LOOP
		BEGIN
			PERFORM ms.open_access('victim', 'm', 'BUY CHEAP PILLS at evil.example');
		EXCEPTION WHEN insufficient_privilege THEN NULL;
		END;
	END LOOP;
END $$;
}, '9: the flood of 1000 refused ms.open_access ran');

# --- 1. an index expression run by autovacuum and by a superuser -------------
# The tenant's IMMUTABLE function tries to make its owner admin of acme and
# counts the outcome in sequences (an index expression cannot write tables).
allowed('at_tenant', q{
CREATE SEQUENCE at_tenant.grant_done;
CREATE SEQUENCE at_tenant.grant_refused;
CREATE SEQUENCE at_tenant.grant_failed;
CREATE FUNCTION at_tenant.grab(x int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
	BEGIN
		PERFORM ms.grant('at_tenant', 'admin', 'acme');
		PERFORM nextval('at_tenant.grant_done');
	EXCEPTION
		WHEN insufficient_privilege THEN PERFORM nextval('at_tenant.grant_refused');
		WHEN others THEN PERFORM nextval('at_tenant.grant_failed');
	END;
	RETURN x;
END $$;
CREATE TABLE at_tenant.t (x int) WITH (autovacuum_enabled = false);
CREATE INDEX t_grab ON at_tenant.t (at_tenant.grab(x));
INSERT INTO at_tenant.t SELECT generate_series(1, 100);
}, '1: the tenant builds its trap with CREATE on its own schema alone');

# the outcome of the grabs since the counters were reset: done|refused|failed
sub reset_grab
{
	su(q{
ALTER SEQUENCE at_tenant.grant_done RESTART;
ALTER SEQUENCE at_tenant.grant_refused RESTART;
ALTER SEQUENCE at_tenant.grant_failed RESTART;
DELETE FROM ms.grants WHERE role = 'at_tenant'::regrole;
});
}

sub grab_outcome
{
	my ($route) = @_;
	is(ask(q{
SELECT (SELECT is_called FROM at_tenant.grant_done) || '|' ||
	   (SELECT is_called FROM at_tenant.grant_refused) || '|' ||
	   (SELECT is_called FROM at_tenant.grant_failed) || '|' ||
	   (SELECT count(*) FROM ms.grants WHERE role = 'at_tenant'::regrole)}),
		'false|true|false|0', "1: $route ran the tenant's ms.grant, refused; no grant made");
}

reset_grab();
allowed('at_tenant', q{
ALTER TABLE at_tenant.t SET (autovacuum_enabled = true, autovacuum_analyze_threshold = 50,
							 autovacuum_analyze_scale_factor = 0)},
	'1: the tenant lets autovacuum at its table');
ok(wait_for(q{
SELECT autoanalyze_count > 0 FROM pg_stat_user_tables WHERE relid = 'at_tenant.t'::regclass}, 60),
	'1: autovacuum analyzed the tenant\'s table');
grab_outcome('autovacuum\'s ANALYZE');
su(q{ALTER TABLE at_tenant.t SET (autovacuum_enabled = false)});

for my $maintenance (
	[ ANALYZE => 'ANALYZE at_tenant.t' ],
	[ REINDEX => 'REINDEX TABLE at_tenant.t' ],
	[ CLUSTER => 'CLUSTER at_tenant.t USING t_grab' ],
	[ 'CREATE INDEX' => 'CREATE INDEX t_grab2 ON at_tenant.t (at_tenant.grab(x + 1))' ])
{
	reset_grab();
	su($maintenance->[1]);
	grab_outcome("a superuser's $maintenance->[0]");
}

# --- 2. a processor during a shared producer's ingest ------------------------
# The stager's processor tries the producer's authority (admin of victim)
# and keeps what it got in its points' payloads; acme's admin approves it.
allowed('at_stager', q{
CREATE FUNCTION at_stager.borrow(batch bytea, dims integer)
RETURNS TABLE (point_id bigint, embedding vec, payload jsonb) LANGUAGE plpgsql AS $$
DECLARE
	tries jsonb := jsonb_build_object(
		'grant', $q$SELECT ms.grant('at_stager', 'admin', 'victim')$q$,
		'knn', $q$SELECT count(*) FROM ms.knn('victim', 'm', '[1,1]', 1)$q$,
		'upsert', $q$SELECT ms.upsert_points('victim', 'm', 'v1', '{9}', '{"[9,9]"}')$q$);
	outcome jsonb := '{}';
	t record;
BEGIN
	FOR t IN SELECT * FROM jsonb_each_text(tries) LOOP
		BEGIN
			EXECUTE t.value;
			outcome := outcome || jsonb_build_object(t.key, 'done');
		EXCEPTION WHEN others THEN
			outcome := outcome || jsonb_build_object(t.key, SQLSTATE || ': ' || SQLERRM);
		END;
	END LOOP;
	RETURN QUERY SELECT p.point_id, p.embedding, outcome FROM ms.proc_csv(batch, dims) p;
END $$;
}, '2: the stager writes a borrowing processor');

# approve a processor of the stager's (as $by) on acme's staged, or $org's $label
sub approve
{
	my ($by, $proc, $org, $label) = @_;
	$org //= 'acme';
	$label //= 'staged';
	allowed($by, "SELECT ms.set_processor('$org', 'm', '$label', 'at_stager.$proc(bytea,integer)')",
		"$by approves at_stager.$proc on $org/m $label");
}

# the producer ingests one point: (batch id, error)
sub produce
{
	my ($id, $org, $label) = @_;
	$org //= 'acme';
	$label //= 'staged';
	my ($out, $err) = as_role('at_producer',
		"SELECT ms.ingest('$org', 'm', convert_to(E'$id,$id,$id\\n', 'UTF8'), '$label')");
	return ($out, $err);
}

sub payload_of
{
	my ($id, $key, $org, $label) = @_;
	$org //= 'acme';
	$label //= 'staged';
	return ask(qq{
SELECT p.payload ->> '$key' FROM ms.points p JOIN ms.versions v USING (version_id)
 WHERE v.org = '$org' AND v.label = '$label' AND p.point_id = $id});
}

approve('at_acme_admin', 'borrow');
my ($b41, $err41) = produce(41);
is($err41, '', '2: the producer\'s ingest through the borrowing processor succeeds');
is(payload_of(41, 'grant'), '42501: permission denied to grant privileges in organization "victim"',
	'2: the processor cannot grant in the producer\'s org');
is(payload_of(41, 'knn'), '42501: permission denied for model "victim/m"',
	'2: nor query its model');
is(payload_of(41, 'upsert'), '42501: permission denied for model "victim/m"',
	'2: nor write its points');
is(ask(q{
SELECT (SELECT count(*) FROM ms.grants WHERE role = 'at_stager'::regrole AND org = 'victim') || '|' ||
	   (SELECT count(*) FROM ms.points p JOIN ms.versions v USING (version_id) WHERE v.org = 'victim')}),
	'0|1', '2: victim gained no grant and no point');
is(ask(qq{
SELECT count(*) FROM ms.audit_log
 WHERE action = 'process_batch' AND role = 'at_producer' AND org = 'acme' AND batch_id = ${\ ($b41 || 0)}
   AND reason = 'processor at_stager.borrow(bytea,integer) owned by at_stager'}),
	'1', '2: the ingest through another role\'s processor is audited as process_batch');

# --- 3. stage without raw_read replays raw bytes out ---------------------------
allowed('at_stager', q{
CREATE FUNCTION at_stager.exfil(batch bytea, dims integer)
RETURNS TABLE (point_id bigint, embedding vec, payload jsonb) LANGUAGE sql AS $$
	SELECT p.point_id, p.embedding, jsonb_build_object('raw', encode(batch, 'base64'))
	  FROM ms.proc_csv(batch, dims) p
$$;
}, '3: the stager writes a processor that puts the batch in the payload');
approve('at_stager', 'exfil');
refused('at_stager', q{SELECT ms.replay('acme', 'm', 'staged')},
	'permission denied to replay raw data of label "staged" of model "acme/m"',
	'3: stage alone cannot replay through user code');
is(ask(q{
SELECT count(*) FROM ms.points p JOIN ms.versions v USING (version_id)
 WHERE v.org = 'acme' AND p.payload ? 'raw'}), '0', '3: no raw bytes reached a payload');

my $staged_batches = su(q{SELECT count(*) FROM ms.raw_batches WHERE org = 'acme' AND label = 'staged'});
my $mark = audit_mark();
my $replayed = allowed('at_reader', q{SELECT ms.replay('acme', 'm', 'staged')},
	'3: raw_read on the source label replays through user code');
is($replayed, $staged_batches, "3: only the label's own $staged_batches batches are replayed");
is(ask(qq{
SELECT count(*) FROM ms.audit_log
 WHERE id > $mark AND action = 'replay' AND role = 'at_reader' AND batch_id IS NOT NULL}),
	$replayed, '3: each replayed batch is audited with its batch id');
refused('at_reader', q{SELECT ms.replay('acme', 'm', 'staged', NULL, NULL, 'v1')},
	'permission denied to replay raw data of label "v1" of model "acme/m"',
	'3: from_label needs raw_read on that label');

sub set_networks
{
	su("ALTER SYSTEM SET machinesoup.raw_access_networks = '$_[0]'; SELECT pg_reload_conf();");
	$node->poll_query_until('postgres',
		"SELECT current_setting('machinesoup.raw_access_networks') = '$_[0]'")
	  or die 'machinesoup.raw_access_networks not reloaded';
}
set_networks('10.0.0.0/8');
refused('at_reader', q{SELECT ms.replay('acme', 'm', 'staged')},
	'raw data access is not allowed from a local (Unix-socket) connection',
	'3: replay honours machinesoup.raw_access_networks');
set_networks('');

# --- 4. the processor sandbox's exits ------------------------------------------
allowed('at_stager', q{
CREATE TABLE at_stager.loot (data bytea);
CREATE FUNCTION at_stager.stash(data bytea) RETURNS void
LANGUAGE sql SECURITY DEFINER AS $$ INSERT INTO at_stager.loot VALUES (data) $$;
CREATE FUNCTION at_stager.via_definer(batch bytea, dims integer)
RETURNS TABLE (point_id bigint, embedding vec, payload jsonb) LANGUAGE plpgsql AS $$
BEGIN
	PERFORM at_stager.stash(batch);
	RETURN QUERY SELECT * FROM ms.proc_csv(batch, dims);
END $$;
CREATE FUNCTION at_stager.notifier(batch bytea, dims integer)
RETURNS TABLE (point_id bigint, embedding vec, payload jsonb) LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('at_leak', encode(batch, 'base64'));
	RETURN QUERY SELECT * FROM ms.proc_csv(batch, dims);
END $$;
CREATE FUNCTION at_stager.dropper(batch bytea, dims integer)
RETURNS TABLE (point_id bigint, embedding vec, payload jsonb) LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO public.at_dropbox VALUES (batch);
	RETURN QUERY SELECT * FROM ms.proc_csv(batch, dims);
END $$;
CREATE FUNCTION at_stager.plain(batch bytea, dims integer)
RETURNS TABLE (point_id bigint, embedding vec, payload jsonb) LANGUAGE sql AS $$
	SELECT p.point_id, p.embedding, '{"v": "approved"}'::jsonb FROM ms.proc_csv(batch, dims) p
$$;
CREATE FUNCTION at_stager.whoami(batch bytea, dims integer)
RETURNS TABLE (point_id bigint, embedding vec, payload jsonb) LANGUAGE sql AS $$
	SELECT p.point_id, p.embedding, jsonb_build_object('as', current_user::text) FROM ms.proc_csv(batch, dims) p
$$;
}, '4: the stager writes its escape attempts');

approve('at_stager', 'via_definer');
is((produce(42))[1], 'a processor cannot call SECURITY DEFINER function at_stager.stash(bytea)',
	'4: a nested SECURITY DEFINER helper is refused');
is(ask('SELECT count(*) FROM at_stager.loot'), '0', '4: and wrote nothing');

my $listener = $node->background_psql('postgres', on_error_stop => 1,
	extra_params => ['-U', 'at_stager']);
$listener->query_safe('LISTEN at_leak');
approve('at_stager', 'notifier');
is((produce(43))[1], '', '4: the ingest through pg_notify runs');
# a notification sent after the ingest, outside any processor, comes after
# any the ingest let through
su(q{NOTIFY at_leak, 'control'});
my $heard = $listener->query_safe('SELECT 1');
$heard .= $listener->query_safe('SELECT 1') unless $heard =~ /payload "control"/;
my @heard = $heard =~ /Asynchronous notification "at_leak" with payload "([^"]*)"/g;
is(join(',', @heard), 'control', '4: the stager listening hears nothing from the processor');
$listener->quit;

approve('at_stager', 'dropper');
is((produce(44))[1], '', '4: the ingest writing a PUBLIC table runs');
is(ask('SELECT count(*) FROM public.at_dropbox'), '0', '4: nothing stays in the table');

approve('at_stager', 'plain');
allowed('at_stager', q{
CREATE FUNCTION at_stager.plain(batch bytea, dims integer, extra text DEFAULT 'x')
RETURNS TABLE (point_id bigint, embedding vec, payload jsonb) LANGUAGE sql AS $$
	SELECT 1::bigint, '[0,0]'::vec, '{"v": "overload"}'::jsonb
$$;
}, '4: the stager adds an overload p(bytea, int, text DEFAULT)');
is((produce(45))[1], '', '4: the overload does not break ingest');
is(payload_of(45, 'v'), 'approved', '4: nor take the approved processor\'s place');

allowed('at_stager', q{
CREATE OR REPLACE FUNCTION at_stager.plain(batch bytea, dims integer)
RETURNS TABLE (point_id bigint, embedding vec, payload jsonb) LANGUAGE sql AS $$
	SELECT p.point_id, p.embedding, jsonb_build_object('v', encode(batch, 'hex')) FROM ms.proc_csv(batch, dims) p
$$;
}, '4: the stager replaces the approved body');
is((produce(46))[1], 'processor at_stager.plain(bytea,integer) has changed since it was approved',
	'4: the changed body is refused');
approve('at_stager', 'plain');
is((produce(46))[1], '', '4: until set_processor approves it again');

approve('at_stager', 'whoami');
approve('at_stager', 'whoami', 'beta', 'v1');
produce(47);
produce(48, 'beta', 'v1');
my $acme_as = payload_of(47, 'as');
my $beta_as = payload_of(48, 'as', 'beta', 'v1');
ok($acme_as ne '' && $beta_as ne '' && $acme_as ne $beta_as,
	"4: processors of acme and beta run as different roles ($acme_as, $beta_as)");

# --- 5. raw_read scoped by label -----------------------------------------------
refused('at_v1_reader', q{SELECT ms.open_access('acme', 'm', 'ticket 51')},
	'permission denied to read raw data of every label of model "acme/m"',
	'5: raw_read on v1 opens no session on every label');
refused('at_v1_reader', qq{
SELECT ms.open_access('acme', 'm', 'ticket 52', 'v1');
SELECT ms.read_batch($b_staged)},
	qq{batch $b_staged is not in the access session's label "v1" of model "acme/m"},
	'5: raw_read on v1 does not read a batch ingested into staged');
like(allowed('at_reader', qq{
SELECT ms.open_access('acme', 'm', 'ticket 53', 'staged');
SELECT 'read: ' || length(ms.read_batch($b_staged))}, '5: raw_read on staged opens a session on it'),
	qr/^read: 7$/m, '5: and reads its batch');

# --- 6. sessions outliving their role ------------------------------------------
# open a session as at_beta_reader, run $switch, try to read
sub session_switch
{
	my ($login, $switch, $reason) = @_;
	my $become = $login eq 'at_pool' ? 'SET ROLE at_beta_reader;' : '';
	refused($login, qq{
$become
SELECT ms.open_access('beta', 'm', '$reason');
$switch;
SELECT ms.read_batch($b_beta)},
		'no raw data access session is open', "6: $switch ends the session");
	is(ask(qq{SELECT string_agg(action, ',' ORDER BY id) FROM ms.audit_log WHERE reason = '$reason'}),
		'open_access,close_access', "6: $switch wrote the close record");
}
session_switch('at_pool', 'RESET ROLE', 'ticket 61');
session_switch('at_pool', 'SET ROLE at_outsider', 'ticket 62');
session_switch('at_beta_reader', 'DISCARD ALL', 'ticket 63');

# --- 7. the audit chain ------------------------------------------------------------
# Roles holding table privileges (pg_write_all_data, explicit grants): the
# writer-only guard refuses their INSERT; row security hides every row from
# their UPDATE and DELETE, which change nothing; once they also bypass row
# security, the append-only triggers refuse those.
my $forge = q{INSERT INTO ms.audit_log (id, at, role, pid, action, org, reason, hash)
		  VALUES (1000000, now(), 'at_producer', 1, 'grant', 'acme', 'forged', '\x00')};
my @edits = (q{UPDATE ms.audit_log SET reason = 'edited'}, q{DELETE FROM ms.audit_log});
my $log_digest = q{SELECT count(*) || ':' || md5(string_agg(a::text, ',' ORDER BY id)) FROM ms.audit_log a};
for my $editor ('at_table_writer', 'at_log_editor')
{
	refused($editor, $forge, 'ms.audit_log is append-only', "7: $editor: INSERT refused");
	my $before = ask($log_digest);
	for my $edit (@edits)
	{
		allowed($editor, $edit, "7: $editor: " . (split / /, $edit)[0] . ' sees no row');
	}
	is(ask($log_digest), $before, "7: $editor: the log is unchanged");
}
ask('ALTER ROLE at_log_editor BYPASSRLS');
for my $edit (@edits)
{
	refused('at_log_editor', $edit, 'ms.audit_log is append-only',
		'7: at_log_editor with BYPASSRLS: ' . (split / /, $edit)[0] . ' refused');
}
ask('ALTER ROLE at_log_editor NOBYPASSRLS');

# (a row forged above would confound what follows: it goes)
ask(q{SET session_replication_role = replica; DELETE FROM ms.audit_log WHERE id = 1000000});

# a superuser's edit of the log with the triggers off, and putting it back
sub tamper
{
	ask("CREATE TABLE IF NOT EXISTS public.at_saved_log AS SELECT * FROM ms.audit_log;
SET session_replication_role = replica; $_[0]");
}

sub untamper
{
	ask(q{
SET session_replication_role = replica;
DELETE FROM ms.audit_log;
INSERT INTO ms.audit_log SELECT * FROM public.at_saved_log;
DROP TABLE public.at_saved_log;
});
	is(ask('SELECT ok FROM ms.verify_audit()'), 't', '7: the log put back verifies');
}

my $last = audit_mark();
tamper('DELETE FROM ms.audit_log WHERE id > ' . ($last - 2));
is(ask('SELECT ok || \'|\' || coalesce(first_bad::text, \'\') FROM ms.verify_audit()'), 'false|' . ($last - 1),
	'7: deleting the newest rows is caught at the first missing row');
like(ask('SELECT problem FROM ms.verify_audit()'),
	qr/^the log ends at row ${\ ($last - 2)}, but its chain head in ".*" records row $last$/,
	'7: which the problem names');
refused('at_beta_reader', q{SELECT ms.open_access('beta', 'm', 'ticket 71')},
	"audit record could not be written: ms.audit_log no longer reaches its chain head: row $last is missing",
	'7: and the writer refuses the next audited action');
untamper();

my ($head_id, $head_hex) = split /\|/, allowed('at_acme_admin',
	q{SELECT DISTINCT head_id || '|' || encode(head_hash, 'hex') FROM ms.access_report('acme')},
	'7: the customer takes the head from its access report');
my $customer = "SELECT ok FROM ms.verify_audit(" . ($head_id // 0) . ", '\\x" . ($head_hex // '') . "')";
is(ask($customer), 't', "7: the customer's head verifies");
# rewrite a row and recompute every later hash with plain SHA-256 over the
# canonical text of a row (as audit_chain.c builds it; the login last if present)
my $victim_row = ask(q{SELECT min(id) FROM ms.audit_log WHERE role = 'at_reader' AND action = 'replay'});
tamper(qq{
CREATE FUNCTION pg_temp.canon(r ms.audit_log) RETURNS bytea LANGUAGE sql AS \$\$
SELECT convert_to(string_agg(CASE WHEN v IS NULL THEN 'N;' ELSE octet_length(v) || ':' || v || ';' END, '' ORDER BY n), 'UTF8')
  FROM unnest(ARRAY[r.id::text, ((extract(epoch FROM r.at) - 946684800) * 1000000)::bigint::text,
					r.role::text, r.pid::text, host(r.client_addr), r.action, r.org, r.model,
					r.label, r.batch_id::text, r.reason]
			  || CASE WHEN to_jsonb(r) ? 'login' THEN ARRAY[to_jsonb(r) ->> 'login'] ELSE '{}' END)
	   WITH ORDINALITY AS u(v, n)
\$\$;
UPDATE ms.audit_log SET reason = 'nothing to see' WHERE id = $victim_row;
DO \$\$
DECLARE
	r ms.audit_log;
	prev bytea := (SELECT hash FROM ms.audit_log WHERE id = $victim_row - 1);
BEGIN
	FOR r IN SELECT * FROM ms.audit_log WHERE id >= $victim_row ORDER BY id LOOP
		prev := sha256(prev || pg_temp.canon(r));
		UPDATE ms.audit_log SET hash = prev WHERE id = r.id;
	END LOOP;
END \$\$;
});
is(ask('SELECT ok || \'|\' || coalesce(first_bad::text, \'\') FROM ms.verify_audit()'), "false|$victim_row",
	'7: a row rewritten with every later hash recomputed does not verify');
is(ask($customer), 'f', "7: nor does the customer's head");
untamper();

# --- 8. tenant names in catalogs --------------------------------------------------
is(allowed('at_outsider', q{
SELECT (count(*) > 1) || '|' ||
	   count(*) FILTER (WHERE concat_ws(' ', r.relname, pg_get_expr(r.relpartbound, r.oid),
									(SELECT string_agg(pg_get_constraintdef(c.oid), ' ')
									   FROM pg_constraint c WHERE c.conrelid = r.oid)) ~ '(acme|victim|beta)')
  FROM pg_partition_tree('ms.points') t JOIN pg_class r ON r.oid = t.relid},
	'8: a role without grants reads the partitions of ms.points'),
	'true|0', '8: no partition name, bound or constraint carries an org literal');
my $index = su(q{
SET ROLE at_tenant;
CREATE TABLE at_tenant.items (emb vec);
INSERT INTO at_tenant.items
	SELECT ('[' || (SELECT string_agg(sin(i * j)::text, ',') FROM generate_series(1, 32) j) || ']')::vec
	  FROM generate_series(1, 50) i;
CREATE INDEX items_idx ON at_tenant.items USING msivf (emb vec_l2_ops) WITH (lists = 2);
SELECT 'at_tenant.items_idx'::regclass::oid});
refused('at_outsider', "SELECT dims FROM msivf_index_info(${index}::regclass)",
	'permission denied for table items', "8: msivf_index_info on another tenant's index is refused");
# pg_read_all_data holds SELECT on every table, not BYPASSRLS: no org's raw
# batch, point, grant or audit row reaches it
su('CREATE ROLE at_table_reader LOGIN IN ROLE pg_read_all_data');
is(allowed('at_table_reader', q{
SELECT (SELECT count(*) FROM ms.raw_batches) + (SELECT count(*) FROM ms.points)
	   + (SELECT count(*) FROM ms.grants) + (SELECT count(*) FROM ms.audit_log)},
	'8: a pg_read_all_data role reads the ms tables'),
	'0', '8: and sees no row of them');

# --- 10. read_batch of another org's batch -----------------------------------------
my $big = su(q{
SELECT ms.ingest('acme', 'm', convert_to(string_agg(format('%s,%s,%s', i, sin(i), cos(i)), E'\n'), 'UTF8'), 'v1')
  FROM generate_series(1000, 1400) i});
is(ask("SELECT stored_bytes > 4000 FROM ms.raw_batches WHERE batch_id = $big"), 't',
	'10: the big batch is stored out of line');
my $toast = su(q{SELECT reltoastrelid FROM pg_class WHERE oid = 'ms.raw_batches'::regclass});
my ($out10, $err10) = as_role('at_beta_reader', qq{
SELECT ms.open_access('beta', 'm', 'ticket 10');
BEGIN;
SELECT pg_stat_get_xact_blocks_fetched($toast) AS before \\gset
SAVEPOINT refused;
SELECT length(ms.read_batch($big));
ROLLBACK TO SAVEPOINT refused;
SELECT 'toast blocks fetched: ' || (pg_stat_get_xact_blocks_fetched($toast) - :before);
COMMIT;
});
is($err10, qq{batch $big is not in the access session's model "beta/m"},
	"10: another org's batch is refused in one's own session");
like($out10, qr/^toast blocks fetched: 0$/m, '10: without fetching a block of it');

# --- 9. the flood's outcome in the victim's report ----------------------------------
ok(wait_for(q{
SELECT count(*) > 0 FROM ms.audit_log WHERE role = 'at_flooder' AND action = 'refusals_suppressed'}, 20),
	'9: the refusals over the limit are collapsed into a refusals_suppressed record');
my ($one_by_one, $collapsed, $with_text) = split /\|/, allowed('at_victim_admin', q{
SELECT count(*) FILTER (WHERE action = 'refuse_access') || '|' ||
	   coalesce(sum(substring(reason FROM '^(\d+) refusals')::int)
				FILTER (WHERE action = 'refusals_suppressed'), 0) || '|' ||
	   count(*) FILTER (WHERE reason LIKE '%PILLS%')
  FROM ms.access_report('victim') WHERE role = 'at_flooder'},
	'9: the victim\'s admin reads its report');
ok($one_by_one >= 1 && $one_by_one <= 60,
	"9: at most audit_refusal_limit refusals recorded one by one ($one_by_one)");
is($one_by_one + $collapsed, 1000, '9: the rest are counted in refusals_suppressed');
is($with_text, '0', "9: none carries the attacker's text");

is(ask('SELECT ok FROM ms.verify_audit()'), 't', 'the log verifies after every attack');

$node->stop;
done_testing();
