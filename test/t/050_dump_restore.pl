# pg_dump / pg_restore round trip.  A source database
# uses everything MachineSoup keeps: user tables with vec columns under
# GiST, SP-GiST and msivf indexes; two orgs with models, versions (one of
# 100 dims holding enough points for its msivf index, low-dimensional ones
# with GiST), promotions and a rollback, grants to several roles, raw
# batches (CSV and float32), an audited access session.  It is dumped with
# pg_dump -Fc and restored with pg_restore --exit-on-error into a new
# database of the same cluster and into a fresh cluster whose roles come
# from pg_dumpall --roles-only (so every role has another OID there).
# Every restored database must then answer exactly as the source: the
# same kNN through the same (used) indexes, the same model queries, labels
# and history, the same grant decisions, the same raw bytes, an intact
# audit chain with the same report; and the same follow-up actions
# (promote, rollback, ingest, a new version, a grant) must give the same
# results as on the source, so restored sequences hand out fresh ids.
# Also: a plain-format script run by psql, a parallel restore in the two
# steps README.md gives, and a database made at 0.1.0 and updated.
#
# The audit chain's key and head live in the data directory, not in the
# dump: as README.md says, they are copied before pg_dump runs and put in
# place (the head under the new database's OID) before the restored
# database is used; the restore runs with session_replication_role =
# replica, since only the audit writer may insert into ms.audit_log.  Without the files,
# ms.verify_audit() says which one is missing.
use strict;
use warnings;

use File::Copy;
use File::Path qw(make_path);
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $conf = qq{
shared_preload_libraries = 'machinesoup'
# every msivf list probed: the index answers exactly, so a rebuilt index
# must give the very same rows
machinesoup.probes = 1000
};

my $src = PostgreSQL::Test::Cluster->new('dump_src');
$src->init;
$src->append_conf('postgresql.conf', $conf);
$src->start;

my @roles = qw(regress_dr_admin regress_dr_query regress_dr_sci regress_dr_ingest regress_dr_none);

# --- the source database ---------------------------------------------------
$src->safe_psql('postgres', 'CREATE DATABASE shop');
$src->safe_psql('shop', join('', map { "CREATE ROLE $_;\n" } @roles) . q{
CREATE EXTENSION machinesoup;

-- runs one statement as the current role: 'ok <first column>' or the SQLSTATE
CREATE FUNCTION public.try(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	res text;
BEGIN
	EXECUTE sql INTO res;
	RETURN 'ok ' || coalesce(res, '');
EXCEPTION WHEN OTHERS THEN
	RETURN 'error ' || SQLSTATE;
END
$$;

-- user tables: one vec column per index kind
CREATE TABLE items (id int PRIMARY KEY, g vec(3), s vec(2), e vec(100), note text);
INSERT INTO items
SELECT i, ARRAY[sin(i), cos(i * 1.3), (i % 17) / 17.0]::vec,
	   ARRAY[sin(i * 0.7), cos(i * 0.11)]::vec,
	   (SELECT array_agg(sin(i * 0.37 + j * 1.1)) FROM generate_series(1, 100) j)::vec,
	   'item ' || i
  FROM generate_series(1, 3000) i;
-- a constraint calling vec_dwithin, an inlined SQL function, is checked
-- again by pg_restore's COPY with search_path = ''
ALTER TABLE items ADD CONSTRAINT items_s_near CHECK (vec_dwithin(s, '[0,0]', 2));
CREATE INDEX items_g ON items USING gist (g);
CREATE INDEX items_s ON items USING spgist (s);
CREATE INDEX items_e ON items USING msivf (e vec_l2_ops) WITH (lists = 20);
-- rows added after the msivf build go through its insert path
INSERT INTO items
SELECT i, ARRAY[sin(i), cos(i * 1.3), (i % 17) / 17.0]::vec,
	   ARRAY[sin(i * 0.7), cos(i * 0.11)]::vec,
	   (SELECT array_agg(sin(i * 0.37 + j * 1.1)) FROM generate_series(1, 100) j)::vec,
	   'item ' || i
  FROM generate_series(3001, 3300) i;
ANALYZE items;

-- org acme: a 100-d cosine model whose v1 holds 10,000 points (so it has
-- its msivf index) and a staged, empty v2
SELECT ms.create_model('acme', 'hi', 100, 'cosine');
SELECT ms.create_version('acme', 'hi', 'v1', 'ms.proc_float32(bytea,integer)');
SELECT ms.create_version('acme', 'hi', 'v2');
SELECT ms.upsert_points('acme', 'hi', 'v1',
	(SELECT array_agg(i ORDER BY i) FROM generate_series(1, 10000) i),
	(SELECT array_agg((SELECT array_agg(sin(i * 0.013 + j * 0.7) + 0.1) FROM generate_series(1, 100) j)::vec ORDER BY i)
	   FROM generate_series(1, 10000) i));
SELECT ms.promote('acme', 'hi', 'v1');

-- org beta: a 2-d l2 model, labels a and b (GiST), promote a, promote b,
-- roll back to a
SELECT ms.create_model('beta', 'lo', 2);
SELECT ms.create_version('beta', 'lo', 'a');
SELECT ms.create_version('beta', 'lo', 'b');
SELECT ms.promote('beta', 'lo', 'a');
SELECT ms.promote('beta', 'lo', 'b');
SELECT ms.rollback('beta', 'lo');
SELECT ms.upsert_points('beta', 'lo', 'b', ARRAY[7, 8], ARRAY['[0.5,0.5]', '[0.6,0.4]']::vec[],
						ARRAY['{"k": "seven"}', '{"k": "eight"}']::jsonb[]);

-- a processor of the users' own for label b
CREATE SCHEMA procs;
CREATE FUNCTION procs.tagged_csv(batch bytea, dims integer)
RETURNS TABLE (point_id bigint, embedding vec, payload jsonb)
LANGUAGE sql STABLE AS
$$SELECT c.point_id, c.embedding, pg_catalog.jsonb_build_object('via', 'tagged_csv')
	FROM ms.proc_csv(batch, dims) c$$;
GRANT USAGE ON SCHEMA procs TO machinesoup_processor;
GRANT EXECUTE ON FUNCTION procs.tagged_csv(bytea, integer) TO machinesoup_processor;
SELECT ms.set_processor('beta', 'lo', 'b', 'procs.tagged_csv(bytea,integer)');

SELECT ms.grant('regress_dr_admin', 'admin', 'acme');
SELECT ms.grant('regress_dr_query', 'query', 'beta', 'lo');
SELECT ms.grant('regress_dr_sci', 'raw_read', 'beta', 'lo');
SELECT ms.grant('regress_dr_sci', 'stage', 'beta', 'lo', 'b');
SELECT ms.grant('regress_dr_ingest', 'ingest', 'acme', 'hi');
SELECT ms.grant('regress_dr_none', 'query', 'beta', 'lo');
SELECT ms.revoke('regress_dr_none', 'query', 'beta', 'lo');
-- a role dropped with its grants still there: its OID must not reach a
-- restore, where it could be another role's
CREATE ROLE regress_dr_gone;
SELECT ms.grant('regress_dr_gone', 'admin', 'beta');
DROP ROLE regress_dr_gone;
});

# raw batches: CSV into both beta labels, float32 into acme/hi v1
my ($csv_a, $csv_b) = ('', '');
for my $i (1 .. 300)
{
	$csv_a .= sprintf("%d,%.4f,%.4f\n", $i, sin($i), cos($i * 0.3));
	$csv_b .= sprintf("%d,%.4f,%.4f\n", 1000 + $i, cos($i * 0.7), sin($i * 0.2));
}
my $f32 = '';
for my $i (20001 .. 20040)
{
	$f32 .= pack('q<', $i) . pack('f<*', map { cos($i * 0.05 + $_) + 0.2 } 1 .. 100);
}
my $f32_hex = unpack('H*', $f32);
$src->safe_psql('shop', qq{
SELECT ms.ingest('beta', 'lo', convert_to('$csv_a', 'UTF8'), 'a');
SELECT ms.ingest('beta', 'lo', convert_to('$csv_b', 'UTF8'), 'b');
SELECT ms.ingest('acme', 'hi', '\\x$f32_hex'::bytea);
SET ROLE regress_dr_sci;
SELECT ms.open_access('beta', 'lo', 'debugging batch 1');
SELECT length(ms.read_batch(1));
SELECT ms.close_access();
});

# --- what a database answers -------------------------------------------------

# Everything compared between source and restores, read without writing
# anything (no audited action).
my $q_hi = '(SELECT array_agg(cos(j * 0.9) + 0.05) FROM generate_series(1, 100) j)::vec';
my %queries = (
	knn_gist => q{SELECT id, g <-> '[0.3,0.2,0.5]' FROM items ORDER BY g <-> '[0.3,0.2,0.5]' LIMIT 10},
	box_gist => q{SELECT string_agg(id::text, ',' ORDER BY id) FROM items WHERE g <@ '([0,0,0],[0.5,0.5,0.5])'::vbox},
	knn_spgist => q{SELECT id, s <-> '[0.1,-0.2]' FROM items ORDER BY s <-> '[0.1,-0.2]' LIMIT 10},
	knn_msivf => qq{SELECT id, e <-> (SELECT e FROM items WHERE id = 77) FROM items
					ORDER BY e <-> (SELECT e FROM items WHERE id = 77) LIMIT 10},
	models => q{SELECT org, model, dims, metric, default_label, created_by, created_at FROM ms.models ORDER BY 1, 2},
	versions => q{SELECT org, model, label, version_id, processor, created_by, created_at FROM ms.versions ORDER BY 1, 2, 3},
	promotions => q{SELECT * FROM ms.promotions ORDER BY org, model, promotion_id},
	grants => q{SELECT org, role::text, privilege, model, label, granted_by, granted_at FROM ms.grants
				WHERE role::oid IN (SELECT oid FROM pg_roles) ORDER BY 1, 2, 3, 4, 5},
	orgs => q{SELECT * FROM ms.orgs ORDER BY org},
	batches => q{SELECT batch_id, org, model, label, received_at, raw_bytes, stored_bytes, ingested_by, md5(frame)
				 FROM ms.raw_batches ORDER BY batch_id},
	audit_log => q{SELECT id, at, role, pid, client_addr, action, org, model, label, batch_id, reason, encode(hash, 'hex')
				   FROM ms.audit_log ORDER BY id},
	verify_audit => q{SELECT * FROM ms.verify_audit()},
	report_acme => q{SELECT * FROM ms.access_report('acme')},
	report_beta => q{SELECT * FROM ms.access_report('beta')},
	sequences => q{SELECT last_value, is_called FROM ms.versions_version_id_seq
				   UNION ALL SELECT last_value, is_called FROM ms.promotions_promotion_id_seq
				   UNION ALL SELECT last_value, is_called FROM ms.raw_batches_batch_id_seq},
	points => q{SELECT version_id, count(*),
					   md5(string_agg(org || ' ' || point_id || ' ' || embedding::text || ' ' || coalesce(payload::text, '-'),
									  ';' ORDER BY point_id))
				  FROM ms.points GROUP BY version_id ORDER BY version_id},
	partitions => q{SELECT c.relname, pg_get_expr(c.relpartbound, c.oid), i.relname, am.amname,
						   x.indisprimary, x.indisvalid, x.indisready,
						   pg_get_indexdef(x.indexrelid)
					  FROM pg_inherits h
					  JOIN pg_class c ON c.oid = h.inhrelid
					  LEFT JOIN pg_index x ON x.indrelid = c.oid
					  LEFT JOIN pg_class i ON i.oid = x.indexrelid
					  LEFT JOIN pg_am am ON am.oid = i.relam
					 WHERE h.inhparent = 'ms.points'::regclass ORDER BY 1, 3},
	partition_checks => q{SELECT conrelid::regclass, conname, pg_get_constraintdef(oid) FROM pg_constraint
						   WHERE connamespace = 'ms'::regnamespace AND conrelid::regclass::text LIKE 'ms.points%'
						   ORDER BY 1, 2},
	msivf_shape => q{SELECT i.relname, m.dims, m.lists, m.metric, m.code_bits
					   FROM pg_class i, msivf_index_info(i.oid) m
					  WHERE i.relam = (SELECT oid FROM pg_am WHERE amname = 'msivf') ORDER BY 1},
);
for my $label ('a', 'b', undef)
{
	my $l = defined $label ? "'$label'" : 'NULL';
	my $n = $label // 'default';
	$queries{"ms_knn_beta_$n"} = "SELECT * FROM ms.knn('beta', 'lo', '[0.5,0.5]', 10, $l)";
	$queries{"ms_within_beta_$n"} = "SELECT * FROM ms.within('beta', 'lo', '[0.2,0.3]', 0.15, $l)";
	$queries{"ms_in_box_beta_$n"} = "SELECT * FROM ms.in_box('beta', 'lo', '([0.1,0.1],[0.4,0.6])', $l)";
}
$queries{ms_knn_acme} = "SELECT * FROM ms.knn('acme', 'hi', $q_hi, 10)";
$queries{ms_knn_acme_v1} = "SELECT * FROM ms.knn('acme', 'hi', $q_hi, 25, 'v1')";
$queries{ms_knn_acme_v2} = "SELECT * FROM ms.knn('acme', 'hi', $q_hi, 5, 'v2')";
$queries{ms_within_acme} =
  "SELECT count(*), md5(string_agg(point_id || ' ' || distance, ',' ORDER BY distance, point_id))
	 FROM ms.within('acme', 'hi', $q_hi, 0.9)";
$queries{ms_in_box_acme} =
  "SELECT count(*), md5(string_agg(point_id::text, ',' ORDER BY point_id))
	 FROM ms.in_box('acme', 'hi', vbox($q_hi, 1.1))";

# the plans of the user-table queries, with sequential scans off
my %plan_index = (knn_gist => 'items_g', box_gist => 'items_g', knn_spgist => 'items_s',
	knn_msivf => 'items_e');

# ms.knn / ms.within run through the version's own index: counted by the
# index's scans in the calling transaction (default planner settings)
my %index_use = (
	acme_v1 => [ qq{SELECT count(*) FROM ms.knn('acme', 'hi', $q_hi, 10, 'v1')}, 'acme', 'v1' ],
	beta_a => [ q{SELECT count(*) FROM ms.within('beta', 'lo', '[0.2,0.3]', 0.15, 'a')}, 'beta', 'a' ],
);

sub snapshot
{
	my ($node, $db) = @_;
	my %s;
	for my $k (sort keys %index_use)
	{
		my ($sql, $org, $label) = @{ $index_use{$k} };
		$s{"index_use_$k"} = $node->safe_psql($db, qq{
BEGIN;
$sql;
SELECT pg_stat_get_xact_numscans(format('ms.points_%s_embedding', version_id)::regclass) > 0
  FROM ms.versions WHERE org = '$org' AND label = '$label';
COMMIT;});
	}
	for my $k (sort keys %queries)
	{
		$s{$k} = $node->safe_psql($db, "SET enable_seqscan = off; $queries{$k}");
	}
	for my $k (sort keys %plan_index)
	{
		$s{"plan_$k"} = $node->safe_psql($db,
			"SET enable_seqscan = off; EXPLAIN (COSTS OFF) $queries{$k}");
	}
	return \%s;
}

# The same grant decisions and raw reads, as each role (writes audit
# records, the same ones everywhere).
sub matrix
{
	my ($node, $db, $acme_batch) = @_;
	my @checks = (
		[ 'regress_dr_none', q{SELECT point_id FROM ms.knn('beta', 'lo', '[0.5,0.5]', 1)} ],
		[ 'regress_dr_none', q{SELECT ms.default_label('beta', 'lo')} ],
		[ 'regress_dr_query', q{SELECT point_id FROM ms.knn('beta', 'lo', '[0.5,0.5]', 1)} ],
		[ 'regress_dr_query', q{SELECT point_id FROM ms.knn('beta', 'lo', '[0.5,0.5]', 1, 'b')} ],
		[ 'regress_dr_query', qq{SELECT point_id FROM ms.knn('acme', 'hi', $q_hi, 1)} ],
		[ 'regress_dr_query', q{SELECT ms.open_access('beta', 'lo', 'not mine')} ],
		[ 'regress_dr_query', q{SELECT ms.promote('beta', 'lo', 'b')} ],
		[ 'regress_dr_query', q{SELECT count(*) FROM ms.access_report('beta')} ],
		[ 'regress_dr_sci', q{SELECT point_id FROM ms.knn('beta', 'lo', '[0.5,0.5]', 1, 'b')} ],
		[ 'regress_dr_sci', q{SELECT point_id FROM ms.knn('beta', 'lo', '[0.5,0.5]', 1, 'a')} ],
		[ 'regress_dr_sci', q{SELECT ms.open_access('acme', 'hi', 'not mine')} ],
		[ 'regress_dr_sci', q{SELECT ms.open_access('beta', 'lo', 'restore check')} ],
		[ 'regress_dr_sci', q{SELECT md5(ms.read_batch(1))} ],
		[ 'regress_dr_sci', q{SELECT md5(ms.read_batch(2))} ],
		[ 'regress_dr_sci', qq{SELECT md5(ms.read_batch($acme_batch))} ],
		[ 'regress_dr_sci', q{SELECT ms.close_access()} ],
		[ 'regress_dr_sci', q{SELECT ms.promote('beta', 'lo', 'b')} ],
		[ 'regress_dr_admin', q{SELECT count(*) FROM ms.access_report('acme')} ],
		[ 'regress_dr_admin', q{SELECT count(*) FROM ms.access_report('beta')} ],
		[ 'regress_dr_admin', qq{SELECT point_id FROM ms.knn('acme', 'hi', $q_hi, 1, 'v1')} ],
		[ 'regress_dr_admin', q{SELECT ms.open_access('acme', 'hi', 'admin is not raw_read')} ],
		[ 'regress_dr_ingest', q{SELECT count(*) FROM ms.batches('acme', 'hi')} ],
		[ 'regress_dr_ingest', q{SELECT count(*) FROM ms.batches('beta', 'lo')} ],
		[ 'regress_dr_ingest', qq{SELECT point_id FROM ms.knn('acme', 'hi', $q_hi, 1)} ],
	);
	# one connection; a role's consecutive checks under one SET ROLE, since
	# an access session ends when the role changes
	my $sql = '';
	my $current = '';
	for my $c (@checks)
	{
		my ($role, $stmt) = @$c;
		(my $quoted = $stmt) =~ s/'/''/g;
		$sql .= "RESET ROLE;\nSET ROLE $role;\n" if $role ne $current;
		$current = $role;
		$sql .= "SELECT '$role: $quoted => ' || public.try('$quoted');\n";
	}
	return $node->safe_psql($db, $sql . "RESET ROLE;\n");
}

# Follow-up actions (promote, rollback, ingest, new version, grant): the
# same results on the source after the dump and on every restore, so ids
# handed out by the restored sequences are the source's next ones.
sub follow_up
{
	my ($node, $db) = @_;
	return $node->safe_psql($db, q{
SELECT ms.promote('beta', 'lo', 'b');
SELECT ms.rollback('beta', 'lo');
SELECT ms.default_label('beta', 'lo');
SELECT ms.ingest('beta', 'lo', convert_to(E'5001,0.51,0.49\n', 'UTF8'));
-- an id already present: the upsert path
SELECT ms.ingest('beta', 'lo', convert_to(E'1,0.5,0.5\n', 'UTF8'), 'a');
-- the users' processor of label b
SELECT ms.ingest('beta', 'lo', convert_to(E'1001,0.52,0.5\n', 'UTF8'), 'b');
SELECT * FROM ms.knn('beta', 'lo', '[0.52,0.5]', 2, 'b');
SELECT point_id, distance FROM ms.knn('beta', 'lo', '[0.5,0.5]', 3);
SELECT ms.create_version('beta', 'lo', 'c');
SELECT version_id FROM ms.versions WHERE org = 'beta' AND label = 'c';
SELECT ms.upsert_points('beta', 'lo', 'c', ARRAY[1, 2], ARRAY['[1,1]', '[2,2]']::vec[]);
SELECT ms.upsert_points('beta', 'lo', 'c', ARRAY[2, 3], ARRAY['[2.5,2]', '[3,3]']::vec[]);
SELECT * FROM ms.knn('beta', 'lo', '[2,2]', 3, 'c');
SELECT ms.promote('beta', 'lo', 'c');
-- label b's processor cannot be dropped
SELECT public.try($$DROP FUNCTION procs.tagged_csv(bytea, integer)$$);
SELECT ms.grant('regress_dr_none', 'query', 'beta', 'lo', 'c');
SET ROLE regress_dr_none;
SELECT public.try($$SELECT point_id FROM ms.knn('beta', 'lo', '[3,3]', 1)$$);
RESET ROLE;
SELECT promotion_id, action, from_label, to_label, previous FROM ms.promotions
 WHERE org = 'beta' ORDER BY promotion_id;
SELECT ok, checked, first_bad FROM ms.verify_audit();
SELECT action, role, org, model, label, batch_id, reason FROM ms.audit_log ORDER BY id;
SELECT max(batch_id) FROM ms.raw_batches;
});
}

my $before = snapshot($src, 'shop');
my $acme_batch = $src->safe_psql('shop', "SELECT batch_id FROM ms.raw_batches WHERE org = 'acme'");
# the source itself: the indexes serve, the audit holds what was done
for my $k (sort keys %plan_index)
{
	like($before->{"plan_$k"}, qr/\b$plan_index{$k}\b/, "source: $k uses $plan_index{$k}");
}
for my $k (sort keys %index_use)
{
	like($before->{"index_use_$k"}, qr/^\d+\nt$/, "source: ms queries of $k use its index");
}
like($before->{verify_audit}, qr/^t\|[1-9]\d*\|\|$/, 'source: the audit chain is intact');
like($before->{report_beta}, qr/read_batch/, 'source: the access report lists the read');
like($before->{partitions}, qr/points_1\|.*points_1_embedding\|msivf/, 'source: acme v1 has its msivf index');
my $orphans = q{SELECT count(*) FROM ms.grants WHERE role::oid NOT IN (SELECT oid FROM pg_roles)};
is($src->safe_psql('shop', $orphans), '1', 'source: a grant of a dropped role is left');

# --- dump, and restore into a new database of the same cluster -------------
my $dump = $PostgreSQL::Test::Utils::tmp_check . '/shop.dump';

sub run_ok
{
	my ($cmd, $name) = @_;
	my ($out, $err) = ('', '');
	my $ok = IPC::Run::run($cmd, '>', \$out, '2>', \$err);
	ok($ok, "$name exits with 0");
	is($err, '', "$name prints no error or warning");
	return $out;
}

# the audit key and the chain head first, then the dump: the restored log
# then extends (or equals) the head copied
my $backup = $PostgreSQL::Test::Utils::tmp_check . '/audit_backup';
make_path($backup);

sub dboid
{
	my ($node, $db) = @_;
	return $node->safe_psql('postgres', "SELECT oid FROM pg_database WHERE datname = '$db'");
}
my $src_oid = dboid($src, 'shop');
copy($src->data_dir . '/machinesoup/audit.key', "$backup/audit.key") or die "audit.key: $!";
copy($src->data_dir . "/machinesoup/audit_head.$src_oid", "$backup/audit_head") or die "audit_head: $!";

# put the backed-up key and/or head in place for database $db of $node
sub restore_audit_files
{
	my ($node, $db, %what) = @_;
	my $dir = $node->data_dir . '/machinesoup';
	make_path($dir, { mode => 0700 });
	if ($what{key})
	{
		copy("$backup/audit.key", "$dir/audit.key") or die "audit.key: $!";
		chmod 0600, "$dir/audit.key";
	}
	if ($what{head})
	{
		my $oid = dboid($node, $db);
		copy("$backup/audit_head", "$dir/audit_head.$oid") or die "audit_head: $!";
		chmod 0600, "$dir/audit_head.$oid";
	}
	return;
}

run_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', $src->connstr('shop') ], 'pg_dump -Fc');
# every restore below (pg_restore, and psql running a plain script) runs so
my @replica = ('env', 'PGOPTIONS=-c session_replication_role=replica');

my $matrix_src = matrix($src, 'shop', $acme_batch);
my $follow_src = follow_up($src, 'shop');
note("grant decisions on the source:\n$matrix_src");
note("follow-up on the source:\n$follow_src");
like($matrix_src, qr/regress_dr_sci: SELECT md5\(ms.read_batch\(1\)\) => ok [0-9a-f]{32}/,
	'source: the scientist reads a batch');
like($follow_src, qr/^error 2BP01$/m, "source: a version's processor cannot be dropped");
like($matrix_src, qr/regress_dr_query: SELECT ms.promote\('beta', 'lo', 'b'\) => error 42501/,
	'source: a consumer may not promote');

sub check_restored
{
	my ($node, $db, $what) = @_;
	my $after = snapshot($node, $db);
	for my $k (sort keys %queries)
	{
		is($after->{$k}, $before->{$k}, "$what: $k as in the source");
	}
	for my $k (sort keys %plan_index)
	{
		like($after->{"plan_$k"}, qr/\b$plan_index{$k}\b/, "$what: $k uses $plan_index{$k}");
	}
	for my $k (sort keys %index_use)
	{
		is($after->{"index_use_$k"}, $before->{"index_use_$k"}, "$what: ms queries of $k use its index");
	}
	is($node->safe_psql($db, $orphans), '0', "$what: no grant of an unknown role is restored");
	is(matrix($node, $db, $acme_batch), $matrix_src, "$what: the same grant decisions and raw reads");
	is(follow_up($node, $db), $follow_src,
		"$what: promote, rollback, ingest, new version and grant give the source's results");
	like($node->safe_psql($db, 'SELECT ok FROM ms.verify_audit()'), qr/^t$/,
		"$what: the audit chain is intact after new records");
	return;
}

$src->safe_psql('postgres', 'CREATE DATABASE shop_restored');
run_ok([ @replica, 'pg_restore', '--exit-on-error', '-d', $src->connstr('shop_restored'), $dump ],
	'pg_restore into a new database');
# same cluster, same key: only the head goes under the new OID
restore_audit_files($src, 'shop_restored', head => 1);
check_restored($src, 'shop_restored', 'same cluster');

# without the head: verification says so, and the writer will not append
$src->safe_psql('postgres', 'CREATE DATABASE shop_nohead');
run_ok([ @replica, 'pg_restore', '--exit-on-error', '-d', $src->connstr('shop_nohead'), $dump ],
	'pg_restore into a database whose head is not copied');
like($src->safe_psql('shop_nohead', 'SELECT ok, problem FROM ms.verify_audit()'),
	qr/^f\|the audit chain head file "machinesoup\/audit_head\.\d+" is missing/,
	'without its head file, verify_audit reports the missing head instead of "ok"');
my ($rc, $o, $e) = $src->psql('shop_nohead', q{SELECT ms.promote('beta', 'lo', 'b')});
like($e, qr/audit record could not be written: the audit chain head file .* is missing/,
	'and an audited action is refused, naming the missing file');
# a restore run without it stops at the audit log, with the hint
$src->safe_psql('postgres', 'CREATE DATABASE shop_triggers');
($o, $e) = ('', '');
IPC::Run::run([ 'pg_restore', '--exit-on-error', '-d', $src->connstr('shop_triggers'), $dump ],
	'>', \$o, '2>', \$e);
like($e, qr/ms\.audit_log is append-only.*HINT:  To restore a dump, run pg_restore or psql as a superuser with PGOPTIONS='-c session_replication_role=replica'/s,
	'a restore without session_replication_role = replica is told how to restore the audit log');

# --- a fresh cluster: roles first (pg_dumpall --roles-only), then restore -----
# The restore needs no audit writer (restored grants and promotions are not
# audited again), so this cluster gets shared_preload_libraries only after
# it.
my $dst = PostgreSQL::Test::Cluster->new('dump_dst');
$dst->init;
$dst->start;
# roles created here first take other OIDs than in the source
$dst->safe_psql('postgres', 'CREATE ROLE regress_dr_shift1; CREATE ROLE regress_dr_shift2; CREATE ROLE regress_dr_shift3');
isnt($dst->safe_psql('postgres', "SELECT oid FROM pg_roles WHERE rolname = 'regress_dr_sci'"),
	$src->safe_psql('postgres', "SELECT oid FROM pg_roles WHERE rolname = 'regress_dr_sci'"),
	'the role does not exist yet in the fresh cluster');
my $roles = run_ok([ 'pg_dumpall', '--roles-only', '-d', $src->connstr('postgres') ],
	'pg_dumpall --roles-only');
# the bootstrap superuser exists in both clusters
my $bootstrap = $src->safe_psql('postgres', 'SELECT current_user');
$roles =~ s/^CREATE ROLE \Q$bootstrap\E;$//mg;
my ($out, $err) = ('', '');
IPC::Run::run([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $dst->connstr('postgres') ],
	'<', \$roles, '>', \$out, '2>', \$err);
is($err, '', 'the roles are created in the fresh cluster');
isnt($dst->safe_psql('postgres', "SELECT oid FROM pg_roles WHERE rolname = 'regress_dr_sci'"),
	$src->safe_psql('postgres', "SELECT oid FROM pg_roles WHERE rolname = 'regress_dr_sci'"),
	'a role has another OID in the fresh cluster');
$dst->safe_psql('postgres', 'CREATE DATABASE shop');
# Parallel restore in two steps, as README.md says: the schema and the data
# in one job (pg_dump orders the extension's tables by their foreign keys
# only for a serial restore), then the indexes with two jobs.
run_ok([ @replica, 'pg_restore', '--exit-on-error', '--section=pre-data', '--section=data',
		'-d', $dst->connstr('shop'), $dump ],
	'pg_restore of schema and data into a fresh cluster without shared_preload_libraries');
run_ok([ @replica, 'pg_restore', '--exit-on-error', '--section=post-data', '-j', '2',
		'-d', $dst->connstr('shop'), $dump ],
	'pg_restore -j 2 of the indexes');
# the head alone: the key is missing, and verification says so
restore_audit_files($dst, 'shop', head => 1);
like($dst->safe_psql('shop', 'SELECT ok, problem FROM ms.verify_audit()'),
	qr/^f\|the audit key file "machinesoup\/audit.key" is missing/,
	'a fresh cluster without the key reports the missing key instead of "ok"');
restore_audit_files($dst, 'shop', key => 1);
$dst->append_conf('postgresql.conf', $conf);
$dst->restart;
check_restored($dst, 'shop', 'fresh cluster');

# --- a plain-format dump run by psql ----------------------------------------
my $plain = $PostgreSQL::Test::Utils::tmp_check . '/shop.sql';
run_ok([ 'pg_restore', '-f', $plain, $dump ], 'pg_restore -f (plain SQL script)');
$dst->safe_psql('postgres', 'CREATE DATABASE shop_plain');
run_ok([ @replica, 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-f', $plain, '-d', $dst->connstr('shop_plain') ],
	'psql runs the plain script');
restore_audit_files($dst, 'shop_plain', head => 1);
check_restored($dst, 'shop_plain', 'plain script');

# --- a database made at 0.1.0, updated, then dumped --------------------------
# (0.1.0 kept a primary key on ms.points itself, which made its dumps fail
# to restore; the update moves it to the partitions)
$src->safe_psql('postgres', 'CREATE DATABASE old');
$src->safe_psql('old', q{
CREATE EXTENSION machinesoup VERSION '0.1.0';
SELECT ms.create_model('acme', 'm', 2);
SELECT ms.create_version('acme', 'm', 'v1');
SELECT ms.create_version('acme', 'm', 'v2');
SELECT ms.upsert_points('acme', 'm', 'v1', ARRAY[1, 2, 3], ARRAY['[1,1]', '[2,2]', '[3,3]']::vec[]);
ALTER EXTENSION machinesoup UPDATE;
SELECT ms.upsert_points('acme', 'm', 'v1', ARRAY[3, 4], ARRAY['[3.5,3]', '[4,4]']::vec[]);
SELECT ms.upsert_points('acme', 'm', 'v2', ARRAY[1], ARRAY['[9,9]']::vec[]);
});
my $old_points = q{SELECT version_id, point_id, embedding FROM ms.points ORDER BY 1, 2};
my $old_dump = $PostgreSQL::Test::Utils::tmp_check . '/old.dump';
run_ok([ 'pg_dump', '-Fc', '-f', $old_dump, '-d', $src->connstr('old') ], 'pg_dump of an updated 0.1.0 database');
$src->safe_psql('postgres', 'CREATE DATABASE old_restored');
run_ok([ @replica, 'pg_restore', '--exit-on-error', '-d', $src->connstr('old_restored'), $old_dump ],
	'pg_restore of an updated 0.1.0 database');
is($src->safe_psql('old_restored', $old_points), $src->safe_psql('old', $old_points),
	'updated 0.1.0 database: the points are restored');
is($src->safe_psql('old_restored', $queries{partitions}), $src->safe_psql('old', $queries{partitions}),
	'updated 0.1.0 database: the same partitions, keys and indexes');
is($src->safe_psql('old_restored',
		q{SELECT ms.upsert_points('acme', 'm', 'v1', ARRAY[4, 5], ARRAY['[4,4.5]', '[5,5]']::vec[])}),
	'2', 'updated 0.1.0 database: upserts work after the restore');

$dst->stop;
$src->stop;
done_testing();
