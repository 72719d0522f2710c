# ALTER EXTENSION machinesoup UPDATE from every released version.  For each
# older version PostgreSQL can install (the oldest supported one from its
# frozen script, the others through the chain of update scripts):
#   * an empty database created at that version and updated has exactly the
#     objects of a fresh install of the current version (schema dumps
#     compared, OIDs aside), with the same descriptions;
#   * a database in use at that version (user tables with GiST, SP-GiST and
#     msivf indexes, models, versions, promotions, grants, raw batches and
#     audit records) keeps every answer across the update, and everything
#     still works afterwards: ingest, queries, promotion, audited reads and
#     the audit chain.
use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('upgrade');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'machinesoup'
machinesoup.audit_writer_idle = 1
});
$node->start;

my $current = $node->safe_psql('postgres',
	q{SELECT default_version FROM pg_available_extensions WHERE name = 'machinesoup'});
# every version PostgreSQL can install: the frozen base script's and each
# one the chain of update scripts reaches from it
my @released = split /\n/, $node->safe_psql('postgres', qq{
	SELECT version FROM pg_available_extension_versions
	WHERE name = 'machinesoup' AND version <> '$current'
	ORDER BY string_to_array(version, '.')::int[]});
note "current version $current; older versions shipped: @released";

# every version that ever landed on main stays installable and updatable
for my $v ('0.1.0', '0.2.0', '0.3.0', '0.4.0', '0.5.0')
{
	ok(scalar(grep { $_ eq $v } @released), "version $v is still installable");
}

# The objects of a database's schema, comparable across databases.
# pg_dump --binary-upgrade dumps the extension's members one by one, which
# is what must be compared; OIDs and xids are left out.
sub schema_of
{
	my ($db) = @_;
	my ($dump, $stderr);
	IPC::Run::run([ 'pg_dump', '--schema-only', '--binary-upgrade', '--no-owner',
			'-d', $node->connstr($db) ],
		'>', \$dump, '2>', \$stderr)
	  or die "pg_dump $db failed: $stderr";
	my @lines;
	for my $line (split /\n/, $dump)
	{
		next if $line =~ /^\s*$/ || $line =~ /^--/;
		next if $line =~ /^\\(un)?restrict /;
		next if $line =~ /binary_upgrade_set_next_/;
		next if $line =~ /relfrozenxid|relminmxid|^WHERE oid = '\d+';$/;
		# the config-table OIDs in the extension's own line
		$line =~ s/'\{[0-9,]*\}'/'{oids}'/g
		  if $line =~ /binary_upgrade_create_empty_extension/;
		push @lines, $line;
	}
	return join("\n", @lines);
}

# The description of every member of the extension, by name.  The dump
# above has them too; this names the member whose description an update
# got wrong (a COMMENT the update script forgot), and a fresh install must
# describe every member.
my $descriptions_query = q{
SELECT pg_describe_object(d.classid, d.objid, d.objsubid) || ': ' || coalesce(c.description, '<none>')
  FROM pg_depend d
  LEFT JOIN pg_description c
	ON c.classoid = d.classid AND c.objoid = d.objid AND c.objsubid = d.objsubid
 WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
   AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'machinesoup')
 ORDER BY 1};

$node->safe_psql('postgres', 'CREATE DATABASE fresh');
$node->safe_psql('fresh', 'CREATE EXTENSION machinesoup');
my $fresh_schema = schema_of('fresh');
my $fresh_descriptions = $node->safe_psql('fresh', $descriptions_query);
unlike($fresh_descriptions, qr/: <none>$/m, 'a fresh install describes every member of the extension');

# What pg_dump does not show: the dependencies of the aggregates, which the
# update to 0.5.0 repoints in the catalogs rather than recreate them.
my $aggregate_deps = q{
SELECT string_agg(format('%s -> %s (%s)', objid::regprocedure, refobjid::regprocedure, deptype),
	'; ' ORDER BY objid::regprocedure::text, refobjid::regprocedure::text)
FROM pg_depend
WHERE classid = 'pg_proc'::regclass AND refclassid = 'pg_proc'::regclass
  AND objid IN ('sum(vec)'::regprocedure, 'avg(vec)'::regprocedure)};
my $fresh_deps = $node->safe_psql('fresh', $aggregate_deps);

$node->safe_psql('postgres', 'CREATE ROLE regress_up_app; CREATE ROLE regress_up_sci; CREATE ROLE regress_up_nobody');

# what a database in use holds, built with the oldest API (0.1.0)
my $workload = q{
CREATE TABLE pts (id int PRIMARY KEY, v vec(3));
INSERT INTO pts SELECT i, format('[%s,%s,%s]', (i * 7) % 101, (i * 13) % 103, (i * 29) % 107)::vec
  FROM generate_series(1, 3000) i;
CREATE INDEX pts_gist ON pts USING gist (v);
CREATE INDEX pts_spgist ON pts USING spgist (v vec_spgist_ops);
CREATE TABLE hi (id int PRIMARY KEY, v vec(40));
INSERT INTO hi SELECT i, (SELECT array_agg(sin(i * 0.37 + j * 1.3))::vec FROM generate_series(1, 40) j)
  FROM generate_series(1, 3000) i;
CREATE INDEX hi_ivf ON hi USING msivf (v vec_l2_ops) WITH (lists = 20);
CREATE VIEW pts_mean AS SELECT avg(v) AS a, sum(v) AS s, count(*) AS n FROM pts WHERE id % 3 = 0;
SELECT ms.create_model('acme', 'geo', 2);
SELECT ms.create_version('acme', 'geo', 'v1');
SELECT ms.create_version('acme', 'geo', 'v2');
SELECT ms.promote('acme', 'geo', 'v1');
SELECT ms.promote('acme', 'geo', 'v2');
SELECT ms.rollback('acme', 'geo');
SELECT ms.grant('regress_up_app', 'query', 'acme', 'geo');
SELECT ms.grant('regress_up_sci', 'raw_read', 'acme', 'geo');
SELECT ms.ingest('acme', 'geo', convert_to(E'1,0,0\n2,1,1\n3,5,5\n4,-2,3\n', 'UTF8'));
SELECT ms.ingest('acme', 'geo', convert_to(E'5,10,10\n6,0.5,0.25\n', 'UTF8'));
SELECT ms.ingest('acme', 'geo', convert_to(E'1,9,9\n', 'UTF8'), 'v2');
SET ROLE regress_up_sci;
SELECT ms.open_access('acme', 'geo', 'ticket 1');
SELECT length(ms.read_batch(1));
SELECT ms.close_access();
RESET ROLE;
};

# answers that must not change across the update
my $answers = q{
SET enable_seqscan = off;
SELECT string_agg(id::text, ',' ORDER BY n) FROM
  (SELECT id, row_number() OVER () n FROM (SELECT id FROM pts ORDER BY v <-> '[50,50,50]' LIMIT 7) s) t;
SELECT string_agg(id::text, ',' ORDER BY n) FROM
  (SELECT id, row_number() OVER () n FROM (SELECT id FROM pts ORDER BY v <+> '[10,20,30]' LIMIT 7) s) t;
SELECT count(*) FROM pts WHERE v <@ vbox('[0,0,0]'::vec, '[30,30,30]'::vec);
SELECT a, s, n FROM pts_mean;
SET machinesoup.probes = 20;
SELECT string_agg(id::text, ',' ORDER BY n) FROM
  (SELECT id, row_number() OVER () n FROM
    (SELECT id FROM hi ORDER BY v <-> (SELECT v FROM hi WHERE id = 77) LIMIT 5) s) t;
RESET machinesoup.probes;
RESET enable_seqscan;
SELECT ms.default_label('acme', 'geo');
SELECT string_agg(format('%s:%s', point_id, round(distance::numeric, 4)), ' ')
  FROM ms.knn('acme', 'geo', '[0,0]', 3);
SELECT string_agg(point_id::text, ',' ORDER BY point_id) FROM ms.within('acme', 'geo', '[0,0]', 3, 'v2');
SELECT string_agg(format('%s/%s', action, to_label), ' ' ORDER BY promotion_id) FROM ms.promotions;
SELECT string_agg(format('%s %s %s', role, privilege, coalesce(model, '*')), '; ' ORDER BY role, privilege) FROM ms.grants;
SELECT string_agg(format('%s %s %s', action, coalesce(model, ''), coalesce(batch_id::text, '')), '; ' ORDER BY at)
  FROM ms.access_report('acme');
SELECT encode(ms._lz4_decode(frame, raw_bytes, batch_id), 'escape') FROM ms.raw_batches WHERE batch_id = 2;
SELECT ok FROM ms.verify_audit();
};

for my $version (@released)
{
	my $db = "at_$version";
	$db =~ s/\./_/g;

	# an empty database updated: the same objects as a fresh install
	$node->safe_psql('postgres', "CREATE DATABASE ${db}_empty");
	$node->safe_psql("${db}_empty", "CREATE EXTENSION machinesoup VERSION '$version'");
	$node->safe_psql("${db}_empty", 'ALTER EXTENSION machinesoup UPDATE');
	is($node->safe_psql("${db}_empty", q{SELECT extversion FROM pg_extension WHERE extname = 'machinesoup'}),
		$current, "$version: updates to $current");
	my $updated_schema = schema_of("${db}_empty");
	if (!ok($updated_schema eq $fresh_schema, "$version: updated schema is the fresh install's"))
	{
		# show the first difference, not two whole dumps
		my @a = split /\n/, $updated_schema;
		my @b = split /\n/, $fresh_schema;
		for my $i (0 .. ($#a > $#b ? $#a : $#b))
		{
			next if ($a[$i] // '') eq ($b[$i] // '');
			diag "first difference at line $i:\n  updated: " . ($a[$i] // '<end>')
			  . "\n  fresh:   " . ($b[$i] // '<end>');
			last;
		}
	}

	my %fresh_line = map { $_ => 1 } split /\n/, $fresh_descriptions;
	my %updated_line = map { $_ => 1 } split /\n/,
	  $node->safe_psql("${db}_empty", $descriptions_query);
	my @wrong = ((map { "updated: $_" } grep { !$fresh_line{$_} } sort keys %updated_line),
		(map { "fresh:   $_" } grep { !$updated_line{$_} } sort keys %fresh_line));
	is(join("\n", @wrong), '', "$version: updated descriptions are the fresh install's");
	is($node->safe_psql("${db}_empty", $aggregate_deps), $fresh_deps,
		"$version: the aggregates depend on what a fresh install's do");

	# a database in use: same answers after the update, and still working
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->safe_psql($db, "CREATE EXTENSION machinesoup VERSION '$version'");
	$node->safe_psql($db, $workload);

	# Between installing this library and ALTER EXTENSION UPDATE, the old
	# SQL objects' definer functions run as the owner: no caller may become
	# privileged through them, and code run in a security-restricted
	# operation cannot borrow the authority of whoever runs it.
	my ($rc, $out, $err) = $node->psql($db,
		q{SET ROLE regress_up_app; SELECT ms.grant('regress_up_app', 'admin', 'acme');});
	like($err, qr/permission denied to grant privileges in organization "acme"/,
		"$version: before the update, a role without admin cannot grant");
	($rc, $out, $err) = $node->psql($db,
		q{SET ROLE regress_up_nobody; SELECT count(*) FROM ms.knn('acme', 'geo', '[0,0]', 1);});
	like($err, qr/permission denied/, "$version: before the update, a role without a grant cannot query");
	($rc, $out, $err) = $node->psql($db,
		q{SET ROLE regress_up_nobody; SELECT ms.open_access('acme', 'geo', 'curious');});
	like($err, qr/permission denied/, "$version: before the update, a role without raw_read opens no session");
	$node->safe_psql($db, q{
CREATE SCHEMA up AUTHORIZATION regress_up_app;
SET ROLE regress_up_app;
CREATE FUNCTION up.up_grab(x int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS
$$BEGIN
	BEGIN PERFORM ms.grant('regress_up_app', 'admin', 'acme'); EXCEPTION WHEN others THEN NULL; END;
	RETURN x;
END$$;
CREATE TABLE up.up_trap (x int);
INSERT INTO up.up_trap SELECT generate_series(1, 10);
RESET ROLE;
});
	$node->safe_psql($db, q{
SET ROLE regress_up_app;
CREATE INDEX up_trap_grab ON up.up_trap (up.up_grab(x));
RESET ROLE;
ANALYZE up.up_trap;
REINDEX TABLE up.up_trap;
});
	is($node->safe_psql($db,
		q{SELECT count(*) FROM ms.grants WHERE role = 'regress_up_app'::regrole AND privilege = 'admin'}),
		'0', "$version: before the update, an index expression under CREATE INDEX, a superuser's ANALYZE or REINDEX grants nothing");
	$node->safe_psql($db, 'DROP SCHEMA up CASCADE');

	my $before = $node->safe_psql($db, $answers);
	note "answers at $version:\n$before";
	$node->safe_psql($db, 'ALTER EXTENSION machinesoup UPDATE');
	my $after = $node->safe_psql($db, $answers);
	is($after, $before, "$version: every answer is the same after the update");
	like($before, qr/\nt$/, "$version: the audit chain verifies");

	my $post = $node->safe_psql($db, q{
SELECT ms.ingest('acme', 'geo', convert_to(E'7,0.1,0.1\n', 'UTF8'));
SELECT string_agg(point_id::text, ',') FROM ms.knn('acme', 'geo', '[0,0]', 2);
SELECT ms.create_version('acme', 'geo', 'v3');
SELECT ms.ingest('acme', 'geo', convert_to(E'1,3,3\n', 'UTF8'), 'v3');
SELECT ms.promote('acme', 'geo', 'v3');
SELECT string_agg(point_id::text, ',') FROM ms.knn('acme', 'geo', '[0,0]', 1);
SET ROLE regress_up_sci;
SELECT ms.open_access('acme', 'geo', 'ticket 2');
SELECT encode(ms.read_batch(2), 'escape');
SELECT ms.close_access();
RESET ROLE;
INSERT INTO hi SELECT i, (SELECT array_agg(cos(i * 0.11 + j))::vec FROM generate_series(1, 40) j)
  FROM generate_series(3001, 3100) i;
SET enable_seqscan = off;
SELECT count(*) FROM (SELECT id FROM hi ORDER BY v <-> (SELECT v FROM hi WHERE id = 3050) LIMIT 3) s WHERE id = 3050;
RESET enable_seqscan;
SELECT ok FROM ms.verify_audit();
});
	note "after the update:\n$post";
	my @post = split /\n/, $post;
	my $batch2 = $node->safe_psql($db,
		q{SELECT encode(ms._lz4_decode(frame, raw_bytes, batch_id), 'escape') FROM ms.raw_batches WHERE batch_id = 2});
	like($post, qr/^\d+\n1,7\n/, "$version: ingest after the update lands in the default version");
	like($post, qr/\n1\n/, "$version: a version created after the update is promoted and queried");
	like($post, qr/\Q$batch2\E/, "$version: an audited read after the update returns the batch");
	is($post[-2], '1', "$version: msivf indexes rows inserted after the update");
	is($post[-1], 't', "$version: the audit chain still verifies");
}

$node->stop;
done_testing();
