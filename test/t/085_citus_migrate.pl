# ms.enable_citus() on a store that holds data already: a single-node
# deployment (orgs, models of two element types, versions with GiST and
# msivf indexes, promotions and a rollback, grants, raw batches, audited
# reads) on a coordinator that has its workers but has not distributed the
# store.  Every answer is recorded before and compared after: kNN (exact,
# and msivf at full probes), radius and box queries, the batches and their
# bytes read back in an audited session, the access report (with the
# coordinator's chain head, which does not move), the governance rows.
# Refused, with nothing changed: a concurrent writer (lock_timeout), a
# tenant's trigger or index expression on a version table (it would run
# with the owner's rights), and a failure half-way through (a shard that
# cannot be created on a worker).  Afterwards each version is a table
# distributed by org like one created on Citus, its rows in the shard of
# its org's raw batches on one worker, its msivf index with the same
# options; the chain verifies, and routed calls run on the org's worker.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use citus_common;

citus_common::skip_unless_installed();
my ($coord, @workers) = citus_common::start_cluster('mig_');

$coord->safe_psql('postgres', q{
	CREATE ROLE mg_sci LOGIN;
	CREATE ROLE mg_beta LOGIN;
	CREATE ROLE mg_evil LOGIN;
	CREATE ROLE mg_gone LOGIN;
});

# The single-node store.  Versions: 1 acme/m v1 (3-d, GiST), 2 beta/m v1
# (100-d cosine, msivf rebuilt by the DBA with options of its own), 3
# beta/h v1 (float16, a table of its own, msivf), 4 acme/m v2 (replayed
# from v1's batches, promoted then rolled back).
$coord->safe_psql('postgres', q{
	SELECT setseed(0.42);
	SELECT ms.create_model('acme', 'm', 3, 'l2');
	SELECT ms.create_version('acme', 'm', 'v1');
	SELECT ms.promote('acme', 'm', 'v1');
	SELECT ms.create_model('beta', 'm', 100, 'cosine');
	SELECT ms.create_version('beta', 'm', 'v1');
	SELECT ms.promote('beta', 'm', 'v1');
	SELECT ms.create_model('beta', 'h', 40, 'l2', 'float16');
	SELECT ms.create_version('beta', 'h', 'v1');
	SELECT ms.promote('beta', 'h', 'v1');
	-- more orgs and models than one statement copies (1,000 rows)
	SELECT ms.create_model(format('o%s', i), 'm', 3) FROM generate_series(1, 1100) i;
	SELECT ms.grant('mg_sci', 'query', 'acme', 'm');
	SELECT ms.grant('mg_sci', 'raw_read', 'acme', 'm');
	SELECT ms.grant('mg_beta', 'query', 'beta');
	SELECT ms.grant('mg_gone', 'query', 'acme');
	SELECT ms.ingest('acme', 'm', convert_to(string_agg(format('%s,%s,%s,%s', i,
		round((random() * 100)::numeric, 2), round((random() * 100)::numeric, 2),
		round((random() * 100)::numeric, 2)), E'\n' ORDER BY i) || E'\n', 'UTF8'))
	  FROM generate_series(1, 3000) i GROUP BY i / 500;
	SELECT ms.upsert_points('beta', 'm', 'v1', array_agg(i ORDER BY i),
		array_agg((SELECT array_agg((random() - 0.5)::real) FROM generate_series(1, 100 + 0 * i))::vec ORDER BY i))
	  FROM generate_series(1, 10500) i GROUP BY i / 3500;
	SELECT ms.upsert_points('beta', 'h', 'v1', array_agg(i ORDER BY i),
		array_agg((SELECT array_agg((random() - 0.5)::real) FROM generate_series(1, 40 + 0 * i))::vec ORDER BY i))
	  FROM generate_series(1, 10200) i GROUP BY i / 3400;
	SELECT ms.create_version('acme', 'm', 'v2', 'ms.proc_csv(bytea,integer)');
	SELECT ms.replay('acme', 'm', 'v2', NULL, NULL, 'v1');
	SELECT ms.ingest('acme', 'm', convert_to(E'5001,1,2,3\n5002,4,5,6\n', 'UTF8'), 'v2');
	SELECT ms.promote('acme', 'm', 'v2');
	SELECT ms.rollback('acme', 'm');
	-- the DBA retrained beta's index with options of its own
	DROP INDEX ms.points_2_embedding;
	CREATE INDEX points_2_embedding ON ms.points_2 USING msivf (embedding vec_cosine_ops)
		WITH (lists = 50, bits = 8);
});
# a grant whose role is dropped names nobody (its OID could name another
# role on a worker): left out
$coord->safe_psql('postgres', 'DROP ROLE mg_gone');
is($coord->safe_psql('postgres', q{
	SELECT string_agg(c.relname || ':' || a.amname || ':' || coalesce(array_to_string(c.reloptions, ','), ''), ' ' ORDER BY c.relname)
	  FROM pg_class c JOIN pg_am a ON a.oid = c.relam
	 WHERE c.relnamespace = 'ms'::regnamespace AND c.relname ~ '^points_\d+_embedding$'}),
	'points_1_embedding:gist: points_2_embedding:msivf:lists=50,bits=8 points_3_embedding:msivf: points_4_embedding:gist:',
	'the single-node store has its GiST and msivf indexes');
is($coord->safe_psql('postgres', q{SELECT count(*) FROM pg_inherits WHERE inhparent = 'ms.points'::regclass}),
	'3', 'the float32 versions are partitions of ms.points');

my $q3 = '[40,60,20]';
my $qhi = $coord->safe_psql('postgres', 'SELECT embedding::text FROM ms.points_2 WHERE point_id = 77');
my $qh = $coord->safe_psql('postgres', 'SELECT embedding::text FROM ms.points_3 WHERE point_id = 99');

# every answer, as the roles that ask them and as the DBA
sub as_role
{
	my ($sql, $role) = @_;
	return $coord->safe_psql('postgres', $sql,
		connstr => $coord->connstr('postgres') . ($role ? " user=$role" : ''));
}
sub answers
{
	my @a;
	push @a, as_role(qq{SELECT string_agg(point_id || ':' || round(distance::numeric, 4), ',') FROM ms.knn('acme', 'm', '$q3', 25)}, 'mg_sci');
	push @a, as_role(qq{SELECT string_agg(point_id || ':' || round(distance::numeric, 4), ',') FROM ms.knn('acme', 'm', '$q3', 25, 'v2')});
	push @a, as_role(qq{SELECT count(*), round(sum(distance)::numeric, 3) FROM ms.within('acme', 'm', '$q3', 30)}, 'mg_sci');
	push @a, as_role(q{SELECT string_agg(point_id::text, ',') FROM ms.in_box('acme', 'm', '([10,10,10],[60,60,60])'::vbox)}, 'mg_sci');
	push @a, as_role(qq{BEGIN; SET LOCAL citus.propagate_set_commands = 'local'; SET LOCAL machinesoup.probes = 32768;
		SELECT string_agg(point_id || ':' || round(distance::numeric, 5), ',') FROM ms.knn('beta', 'm', '$qhi', 10); COMMIT;}, 'mg_beta');
	push @a, as_role(qq{BEGIN; SET LOCAL citus.propagate_set_commands = 'local'; SET LOCAL machinesoup.probes = 32768;
		SELECT string_agg(point_id || ':' || round(distance::numeric, 4), ',') FROM ms.knn('beta', 'h', '$qh'::hvec, 10); COMMIT;}, 'mg_beta');
	push @a, as_role(qq{BEGIN; SET LOCAL citus.propagate_set_commands = 'local'; SET LOCAL machinesoup.probes = 32768;
		SELECT count(*), round(sum(distance)::numeric, 3) FROM ms.within('beta', 'm', '$qhi', 0.9); COMMIT;}, 'mg_beta');
	push @a, as_role(q{SELECT string_agg(concat_ws('|', batch_id, received_at, label, raw_bytes, stored_bytes), E'\n') FROM ms.batches('acme', 'm')}, 'mg_sci');
	push @a, as_role(q{SELECT ms.default_label('acme', 'm'), ms.default_label('beta', 'h')});
	push @a, as_role(q{SELECT * FROM ms.describe_model('beta', 'h')}, 'mg_beta');
	for my $t ('ms.orgs ORDER BY org', 'ms.models ORDER BY org, model', 'ms.versions ORDER BY version_id',
		'ms.promotions ORDER BY promotion_id', 'ms.grants ORDER BY org, role::text, privilege, model, label')
	{
		push @a, as_role("SELECT * FROM $t");
	}
	push @a, as_role(q{SELECT count(*), sum(length(embedding::text)) FROM (SELECT embedding FROM ms.points_1 UNION ALL SELECT embedding FROM ms.points_4) p});
	return join("\n--\n", @a);
}
# the bytes of every batch, read in an audited session (recorded)
sub batch_bytes
{
	# (the ids first: a query over ms.batches(org, ...) alone is sent whole
	# to the org's worker, where this connection has no session)
	my $ids = as_role(q{SELECT string_agg(batch_id::text, ',') FROM ms.batches('acme', 'm')}, 'mg_sci');
	return as_role(qq{SELECT ms.open_access('acme', 'm', 'migration check');
		SELECT string_agg(id || ':' || md5(ms.read_batch(id)), ',' ORDER BY id)
		  FROM unnest('{$ids}'::bigint[]) id;
		SELECT ms.close_access();}, 'mg_sci');
}
# the access report, with the head of the coordinator's chain
my $report_sql = q{SELECT string_agg(concat_ws('|', at, role, login, action, model, label, batch_id, reason, head_id, head_hash), E'\n')
	FROM ms.access_report('acme')};
# what must not change when a conversion is refused: the answers, and
# the catalog of the store
my $catalog_sql = q{
	SELECT (SELECT count(*) FROM pg_dist_partition WHERE logicalrelid::text LIKE 'ms.%'),
		   (SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND connamespace = 'ms'::regnamespace),
		   (SELECT count(*) FROM pg_inherits WHERE inhparent = 'ms.points'::regclass),
		   (SELECT string_agg(conname || ' ' || pg_get_constraintdef(oid), ', ' ORDER BY conname) FROM pg_constraint
			 WHERE contype = 'p' AND conrelid::regclass::text ~ '^ms\.points_'),
		   (SELECT string_agg(indexrelid::regclass || ' ' || coalesce(array_to_string(reloptions, ','), ''), ', ' ORDER BY indexrelid::regclass::text)
			  FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid::regclass::text ~ '^ms\.'),
		   ms._citus_enabled(),
		   (SELECT count(*) FROM ms.raw_batches), (SELECT count(*) FROM ms.points),
		   (SELECT count(*) FROM ms.points_3)};
sub worker_tables
{
	return join(';', map { $_->safe_psql('postgres', q{
		SELECT count(*) FROM pg_class WHERE relnamespace = 'ms'::regnamespace AND relkind = 'r'
		   AND relname ~ '_\d{6,}$' AND relname !~ '^points_4_9'}) } @workers);
}

my $before = answers();
like($before, qr/^\d+:[\d.]+,/, 'the answers have rows');
my $bytes_before = batch_bytes();
like($bytes_before, qr/^\d+:[0-9a-f]{32},/m, 'every batch read back');
my $report_before = $coord->safe_psql('postgres', $report_sql);
like($report_before, qr/open_access.*read_batch/s, 'the access report has the session');
my $catalog_before = $coord->safe_psql('postgres', $catalog_sql);
my $tables_before = worker_tables();
is($tables_before, '0;0', 'the workers hold no shard of the store');

# refused: a writer that keeps its transaction open
my $writer = $coord->background_psql('postgres', on_error_stop => 1);
$writer->query_safe(q{BEGIN; SELECT ms.ingest('acme', 'm', convert_to(E'7001,1,1,1\n', 'UTF8'));});
my ($rc, $out, $err) = $coord->psql('postgres', q{SET lock_timeout = '1s'; SELECT ms.enable_citus()});
like($err, qr/ERROR:  could not lock the machinesoup model store: another transaction is using it\nDETAIL:  canceling statement due to lock timeout\nHINT:  ms.enable_citus\(\) takes every table of the model store in ACCESS EXCLUSIVE mode/,
	'a concurrent writer: refused once lock_timeout has passed');
$writer->query_safe('ROLLBACK');
$writer->quit;
is($coord->safe_psql('postgres', $catalog_sql), $catalog_before, 'nothing changed');

# refused: code of a tenant's on a version table, which the conversion
# would run with the extension owner's rights (the DBA let mg_evil add
# triggers; a superuser indexed a function of mg_evil's)
$coord->safe_psql('postgres', q{
	GRANT USAGE ON SCHEMA ms TO mg_evil;
	GRANT TRIGGER ON ms.points_1 TO mg_evil;
	GRANT CREATE ON SCHEMA public TO mg_evil;
	SET ROLE mg_evil;
	CREATE FUNCTION public.evil() RETURNS trigger LANGUAGE plpgsql AS
		$$BEGIN EXECUTE 'ALTER ROLE mg_evil SUPERUSER'; RETURN NEW; END$$;
	CREATE TRIGGER evil_t BEFORE INSERT ON ms.points_1 FOR EACH ROW EXECUTE FUNCTION public.evil();
	-- (armed once its index is built: the superuser who builds it runs it)
	CREATE FUNCTION public.evil_f(bigint) RETURNS bigint LANGUAGE plpgsql IMMUTABLE AS
		$$BEGIN
			IF pg_catalog.to_regclass('public.armed') IS NOT NULL THEN
				EXECUTE 'ALTER ROLE mg_evil SUPERUSER';
			END IF;
			RETURN $1;
		END$$;
	RESET ROLE;
});
($rc, $out, $err) = $coord->psql('postgres', 'SELECT ms.enable_citus()');
like($err, qr/ERROR:  cannot distribute the machinesoup model store: trigger evil_t on table ms.points_1 depends on function public.evil\(\), which is not the extension's\nDETAIL:  Distributing copies the rows as the extension's owner/,
	'a tenant\'s trigger on a version table: refused');
$coord->safe_psql('postgres', q{DROP TRIGGER evil_t ON ms.points_1;
	CREATE INDEX evil_ix ON ms.points_2 (public.evil_f(point_id));
	CREATE TABLE public.armed ();});
($rc, $out, $err) = $coord->psql('postgres', 'SELECT ms.enable_citus()');
like($err, qr/ERROR:  cannot distribute the machinesoup model store: index ms.evil_ix depends on function public.evil_f\(bigint\), which is not the extension's/,
	'an index calling a tenant\'s function: refused');
$coord->safe_psql('postgres', q{DROP INDEX ms.evil_ix; DROP TABLE public.armed;
	CREATE INDEX extra_ix ON ms.points_4 (point_id);});
($rc, $out, $err) = $coord->psql('postgres', 'SELECT ms.enable_citus()');
like($err, qr/ERROR:  cannot distribute the machinesoup model store: index ms.extra_ix is not the extension's/,
	'an index of the DBA\'s own on a version: refused (it is not carried)');
$coord->safe_psql('postgres', q{DROP INDEX ms.extra_ix;
	REVOKE TRIGGER ON ms.points_1 FROM mg_evil; REVOKE USAGE ON SCHEMA ms FROM mg_evil;});
is($coord->safe_psql('postgres', q{SELECT rolsuper FROM pg_roles WHERE rolname = 'mg_evil'}), 'f',
	'the tenant\'s code never ran');
is($coord->safe_psql('postgres', $catalog_sql), $catalog_before, 'nothing changed');

# refused: a user processor that the workers do not have (ms.versions
# names it on every node); set here behind the API's back
$coord->safe_psql('postgres', q{
	SET citus.enable_ddl_propagation = off;
	CREATE FUNCTION public.proc_here(batch bytea, dims integer)
		RETURNS TABLE (point_id bigint, embedding vec, payload jsonb)
		LANGUAGE sql AS 'SELECT * FROM ms.proc_csv(batch, dims)';
	RESET citus.enable_ddl_propagation;
	UPDATE ms.versions SET processor = 'public.proc_here(bytea,integer)' WHERE version_id = 3;});
($rc, $out, $err) = $coord->psql('postgres', 'SELECT ms.enable_citus()');
like($err, qr/ERROR:  processor public.proc_here\(bytea,integer\) of version "v1" of model "beta\/h" does not exist on worker \S+:\d+\n.*HINT:  Create the function on every worker/s,
	'a user processor missing on a worker: refused');
$coord->safe_psql('postgres', q{UPDATE ms.versions SET processor = NULL WHERE version_id = 3;
	DROP FUNCTION public.proc_here(bytea, integer);});
is($coord->safe_psql('postgres', $catalog_sql), $catalog_before, 'nothing changed');

# a failure half-way (after the governance tables, the raw batches and
# three versions are converted): the last version's shards cannot be
# created on the workers, which hold tables of those names
for my $w (@workers)
{
	$w->safe_psql('postgres', q{DO $$BEGIN
		FOR i IN 980000..980400 LOOP EXECUTE format('CREATE TABLE ms.points_4_%s ()', i); END LOOP; END$$});
}
($rc, $out, $err) = $coord->psql('postgres', q{SET citus.next_shard_id = 980000; SELECT ms.enable_citus()});
like($err, qr/ERROR:  relation "(ms\.)?points_4_98\d+" already exists/, 'a failure on a worker half-way through');
is($coord->safe_psql('postgres', $catalog_sql), $catalog_before, 'rolled back: nothing changed on the coordinator');
is(worker_tables(), '0;0', 'nor on the workers');
$_->safe_psql('postgres', q{DO $$BEGIN
	FOR i IN 980000..980400 LOOP EXECUTE format('DROP TABLE ms.points_4_%s', i); END LOOP; END$$}) for @workers;
is(answers(), $before, 'the same answers after the refusals');
is($coord->safe_psql('postgres', $report_sql), $report_before, 'and the same access report');

# the conversion
($rc, $out, $err) = $coord->psql('postgres', 'SELECT ms.enable_citus()');
is($rc, 0, 'ms.enable_citus() distributes the store with its data') or BAIL_OUT($err);
like($err, qr/NOTICE:  1 grants of dropped roles are left out/, 'leaving out the grant of the dropped role');
unlike($err, qr/truncate_local_data/, 'without Citus\'s notices about local copies');

is($coord->safe_psql('postgres', $report_sql), $report_before,
	'the access report is the same, with the same chain head (the coordinator keeps its log)');
is($coord->safe_psql('postgres', 'SELECT ok FROM ms.verify_audit()'), 't', 'and the chains verify');
my $after = answers();
# the dropped role's grant is the one difference
(my $expected = $before) =~ s/\nacme\|\d+\|query\|\|\|[^\n]*//;
isnt($expected, $before, 'the dropped role\'s grant was listed before');
is($after, $expected, 'every answer is the same after the conversion');
is(batch_bytes(), $bytes_before, 'every batch reads back the same bytes under its id');

is($coord->safe_psql('postgres', q{
	SELECT string_agg(logicalrelid::text || ':' || partmethod::text, ',' ORDER BY logicalrelid::text) FROM pg_dist_partition
	 WHERE colocationid = (SELECT colocationid FROM pg_dist_partition WHERE logicalrelid = 'ms.raw_batches'::regclass)}),
	'ms.points_1:h,ms.points_2:h,ms.points_3:h,ms.points_4:h,ms.raw_batches:h',
	'each version\'s points are distributed by org, co-located with the raw batches');
is($coord->safe_psql('postgres', q{
	SELECT string_agg(logicalrelid::text, ',' ORDER BY logicalrelid::text) FROM pg_dist_partition WHERE partmethod = 'n'}),
	'ms.grants,ms.models,ms.orgs,ms.promotions,ms.versions', 'the governance tables are reference tables');
is($coord->safe_psql('postgres', q{
	SELECT count(*) FROM pg_inherits WHERE inhparent = 'ms.points'::regclass}), '0',
	'ms.points has no partition left');
is($coord->safe_psql('postgres', q{
	SELECT sum(pg_relation_size(c.oid)) FROM pg_class c
	 WHERE c.relnamespace = 'ms'::regnamespace AND c.relkind = 'r'
	   AND (c.relname ~ '^points_\d+$' OR c.relname IN ('raw_batches', 'orgs', 'models', 'versions', 'promotions', 'grants'))}),
	'0', 'the coordinator\'s tables keep no copy of the rows');

# every node's copy of the governance tables names the same roles and
# processors (copied as text, not as this node's OIDs)
my $names = q{SELECT (SELECT string_agg(org || ':' || role::text || ':' || privilege, ',' ORDER BY org, role::text, privilege) FROM ms.grants)
	|| ' ' || (SELECT string_agg(version_id || ':' || coalesce(processor::text, '-'), ',' ORDER BY version_id) FROM ms.versions)
	|| ' ' || (SELECT count(*) || ':' || md5(string_agg(concat_ws('|', m.*), ',' ORDER BY org, model)) FROM ms.models m)};
my $names_here = $coord->safe_psql('postgres', $names);
like($names_here, qr/acme:mg_sci:query.* 1:-,2:-,3:-,4:ms.proc_csv\(bytea,integer\) 1103:[0-9a-f]{32}$/, 'the coordinator\'s names');
is($_->safe_psql('postgres', $names), $names_here, 'the same names on worker ' . $_->port) for @workers;

# one org's data on one worker, in the shard of its batches
my $placement = q{
	SELECT n.nodeport FROM pg_dist_placement p JOIN pg_dist_node n USING (groupid)
	 WHERE p.shardid = get_shard_id_for_distribution_column('%s', '%s')};
my %port;
for my $v (['acme', 'ms.points_1', 3000], ['acme', 'ms.points_4', 3002], ['beta', 'ms.points_2', 10500],
	['beta', 'ms.points_3', 10200], ['acme', 'ms.raw_batches', 8])
{
	my ($org, $table, $rows) = @$v;
	my $port = $coord->safe_psql('postgres', sprintf($placement, $table, $org));
	$port{$org} //= $port;
	is($port, $port{$org}, "$table of $org is on the worker of $org\'s raw batches");
	ok(scalar(grep { $_->port == $port } @workers), 'a worker');
	is($coord->safe_psql('postgres', qq{
		SELECT string_agg(result, ',') FROM run_command_on_shards('$table', 'SELECT count(*) FROM %s')
		 WHERE result::int > 0}), $rows, "all of $table\'s rows are in that one shard");
}
isnt($port{acme}, undef, 'acme is placed');

# the same layout as a version created on Citus, and the same index
$coord->safe_psql('postgres', q{
	SELECT ms.create_version('acme', 'm', 'fresh');
	SELECT ms.create_version('beta', 'm', 'fresh');
	SELECT ms.create_version('beta', 'h', 'fresh');});
my $shape = q{
	SELECT concat_ws(E'\n',
		(SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod) || ' ' || attnotnull, ', ' ORDER BY attnum)
		   FROM pg_attribute WHERE attrelid = 'ms.points_%1$s'::regclass AND attnum > 0 AND NOT attisdropped),
		(SELECT string_agg(replace(conname || ' ' || pg_get_constraintdef(oid), '%1$s', 'N'), ', ' ORDER BY conname)
		   FROM pg_constraint WHERE conrelid = 'ms.points_%1$s'::regclass),
		(SELECT string_agg(replace(pg_get_indexdef(indexrelid), '%1$s', 'N'), ', ' ORDER BY indexrelid::regclass::text)
		   FROM pg_index WHERE indrelid = 'ms.points_%1$s'::regclass AND (%2$s OR indisprimary)),
		(SELECT concat_ws(' ', relacl, relrowsecurity, relforcerowsecurity, relpersistence) FROM pg_class WHERE oid = 'ms.points_%1$s'::regclass),
		(SELECT concat_ws(' ', partmethod, colocationid, repmodel, column_to_column_name(logicalrelid, partkey))
		   FROM pg_dist_partition WHERE logicalrelid = 'ms.points_%1$s'::regclass),
		(SELECT count(*) FROM pg_dist_shard WHERE logicalrelid = 'ms.points_%1$s'::regclass))};
for my $pair ([1, 5, 'true'], [2, 6, 'false'], [3, 7, 'false'])
{
	my ($old, $new, $with_index) = @$pair;
	is($coord->safe_psql('postgres', sprintf($shape, $old, $with_index)),
		$coord->safe_psql('postgres', sprintf($shape, $new, $with_index)),
		"version $old has the layout of a version created on Citus");
}
my $beta_shard = $coord->safe_psql('postgres', q{SELECT get_shard_id_for_distribution_column('ms.points_2', 'beta')});
is($coord->safe_psql('postgres', qq{
	SELECT result FROM run_command_on_placements('ms.points_2',
		\$\$SELECT string_agg(a.amname || ':' || array_to_string(c.reloptions, ','), ',') FROM pg_index i
		   JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam
		  WHERE i.indrelid = '%s'::regclass AND NOT i.indisprimary\$\$)
	 WHERE shardid = $beta_shard}),
	'msivf:lists=50,bits=8', 'beta\'s shard has its msivf index, with the DBA\'s options');
like($coord->safe_psql('postgres', qq{
	SELECT result FROM run_command_on_placements('ms.points_3',
		\$\$SELECT count(*) || ':' || max(pg_relation_size(i.indexrelid)) FROM pg_index i
		  JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam
		  WHERE i.indrelid = '%s'::regclass AND a.amname = 'msivf'\$\$)
	 WHERE shardid = get_shard_id_for_distribution_column('ms.points_3', 'beta')}),
	qr/^1:[1-9]\d+$/, 'and beta/h\'s shard its msivf index, built on its rows');
my ($r, $o, $e) = $workers[0]->psql('postgres', 'SELECT count(*) FROM ms.points_1',
	connstr => $workers[0]->connstr('postgres') . ' user=mg_sci');
like($e, qr/permission denied for table/, 'a tenant cannot read a version table on a worker');

# routed calls: acme's run whole on its worker
my ($holder) = grep { $_->port == $port{acme} } @workers;
my ($other) = grep { $_->port != $port{acme} } @workers;
$_->safe_psql('postgres', 'SELECT pg_stat_statements_reset()') for ($coord, @workers);
as_role(qq{SELECT count(*) FROM ms.knn('acme', 'm', '$q3', 5)}, 'mg_sci') for 1 .. 3;
sub statements
{
	my ($node, $pattern) = @_;
	return $node->safe_psql('postgres', qq{
		SELECT coalesce(sum(calls), 0) FROM pg_stat_statements
		 WHERE dbid = (SELECT oid FROM pg_database WHERE datname = 'postgres') AND query ~ '$pattern'});
}
is(statements($holder, '^SELECT .*FROM ms\\.knn\\(') . ',' . statements($holder, 'FROM ms\\.points_1_[0-9]+ p'),
	'3,3', 'acme\'s ms.knn runs on acme\'s worker, and its scan of the local shard');
is(statements($other, 'ms\\.knn\\(|points_1'), '0', 'nothing of it on the other worker');
is(statements($coord, 'ms\\._access|points_1'), '0', 'nor authorisation or scan on the coordinator');
my $group = $coord->safe_psql('postgres', qq{SELECT groupid FROM pg_dist_node WHERE nodeport = $port{acme}});
is($coord->safe_psql('postgres', q{SELECT ms.ingest('acme', 'm', convert_to(E'9001,1,2,3\n', 'UTF8'))}),
	($group << 48) + 1, 'a routed ingest numbers its batch on acme\'s worker');
is($coord->safe_psql('postgres', q{SELECT count(*) || ',' || count(DISTINCT batch_id) FROM ms.batches('acme', 'm')}),
	'9,9', 'ms.batches lists the old batches and the new one');
is(as_role(qq{SELECT count(*) FROM ms.knn('acme', 'm', '[1,2,3]', 1) WHERE point_id = 9001}, 'mg_sci'), '1',
	'the new point is found');
is($coord->safe_psql('postgres', q{SELECT ms.ingest('beta', 'm', convert_to(
		(SELECT string_agg(x::text, ',') FROM (SELECT 20001 AS x UNION ALL SELECT 0.01 FROM generate_series(1, 100)) s) || E'\n', 'UTF8'))}) > 0,
	1, 'a routed ingest into beta');
is($coord->safe_psql('postgres', 'SELECT ok FROM ms.verify_audit()'), 't', 'the chains verify after the routed calls');

$_->stop for reverse ($coord, @workers);
done_testing();
