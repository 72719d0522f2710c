# Governance as the real services use it: producers and consumers log in
# with a username and a password over TCP (SCRAM), and queries keep running
# while another session promotes labels back and forth: every query must see
# exactly one version's points, never a mix, and nothing may fail.
use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('governance');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'machinesoup'
listen_addresses = '127.0.0.1'
password_encryption = 'scram-sha-256'
max_connections = 40
});
# only the test's own superuser connects over the socket, without password
open my $hba, '>', $node->data_dir . '/pg_hba.conf' or die "pg_hba.conf: $!";
print $hba "local all all trust\n";
print $hba "host all all 127.0.0.1/32 scram-sha-256\n";
close $hba;
$node->start;

my $port = $node->port;
my %password = (
	regress_ms_producer => 'producer-secret',
	regress_ms_consumer => 'consumer-secret',
	regress_ms_promoter => 'promoter-secret');

$node->safe_psql('postgres', qq{
CREATE EXTENSION machinesoup;
CREATE ROLE regress_ms_producer LOGIN PASSWORD '$password{regress_ms_producer}';
CREATE ROLE regress_ms_consumer LOGIN PASSWORD '$password{regress_ms_consumer}';
CREATE ROLE regress_ms_promoter LOGIN PASSWORD '$password{regress_ms_promoter}';
SELECT ms.create_model('acme', 'm', 4);
SELECT ms.grant('regress_ms_producer', 'stage', 'acme', 'm');
SELECT ms.grant('regress_ms_consumer', 'query', 'acme', 'm');
SELECT ms.grant('regress_ms_promoter', 'promote', 'acme', 'm');
CREATE TABLE tap_stop (stop boolean);
GRANT SELECT ON tap_stop TO regress_ms_promoter;
});

is( $node->safe_psql('postgres',
		"SELECT count(*) FROM pg_authid WHERE rolname LIKE 'regress_ms_%' AND rolpassword LIKE 'SCRAM-SHA-256\$%'"),
	'3', 'passwords are stored as SCRAM verifiers');

sub tcp_connstr
{
	my ($user, $password) = @_;
	$password //= $password{$user};
	return "host=127.0.0.1 port=$port dbname=postgres user=$user password=$password";
}

sub tcp_psql
{
	my ($user, $sql) = @_;
	my ($stdout, $stderr);
	my $rc = $node->psql('postgres', $sql,
		connstr => tcp_connstr($user),
		stdout => \$stdout, stderr => \$stderr,
		on_error_stop => 1);
	return ($rc, $stdout, $stderr);
}

$node->connect_fails(tcp_connstr('regress_ms_consumer', 'wrong'),
	'a wrong password is refused over TCP',
	expected_stderr => qr/password authentication failed/);

my ($rc, $out, $err) = tcp_psql('regress_ms_consumer',
	"SELECT current_user, inet_client_addr()");
is($rc, 0, 'consumer logs in over TCP with its password');
is($out, 'regress_ms_consumer|127.0.0.1', 'session is the consumer, over TCP');

# The producer stages two versions over TCP.  Their points have disjoint ids
# (v1: 1..50, v2: 1001..1050) and payloads naming the version.
($rc, $out, $err) = tcp_psql('regress_ms_producer', q{
SELECT ms.create_version('acme', 'm', 'v1');
SELECT ms.create_version('acme', 'm', 'v2');
SELECT ms.upsert_points('acme', 'm', 'v' || v, array_agg(i + (v - 1) * 1000),
		array_agg(ARRAY[i, i % 7, i % 3, v]::real[]::vec),
		array_agg(jsonb_build_object('v', 'v' || v, 'i', i)))
  FROM generate_series(1, 2) v, generate_series(1, 50) i GROUP BY v ORDER BY v;
});
is($rc, 0, 'producer stages versions and loads points over TCP') or diag($err);
like($out, qr/^\s*50\n50\z/, "both versions loaded");

($rc, $out, $err) = tcp_psql('regress_ms_consumer',
	"SELECT * FROM ms.knn('acme', 'm', '[1,1,1,1]', 1)");
isnt($rc, 0, 'no default label yet: the consumer gets an error');
like($err, qr/has no default label/, '... saying so');

($rc, $out, $err) = tcp_psql('regress_ms_consumer',
	"SELECT ms.promote('acme', 'm', 'v1')");
like($err, qr/permission denied to promote label "v1" of model "acme\/m"/,
	'the consumer may not promote');

($rc, $out, $err) = tcp_psql('regress_ms_promoter',
	"SELECT ms.promote('acme', 'm', 'v1')");
is($rc, 0, 'the promoter promotes over TCP') or diag($err);

# Concurrency: the promoter flips the default between v1 and v2 (promote
# and rollback, each committed on its own) until told to stop, while two
# consumers run queries.  Each query reports the versions it saw, how many
# rows, and how many rows have ids belonging to the version their payload
# names.
my $promoter_sql = q{
DO $$
DECLARE
	n integer := 0;
BEGIN
	LOOP
		EXIT WHEN EXISTS (SELECT 1 FROM tap_stop) OR n > 200000;
		IF n % 3 = 2 THEN
			PERFORM ms.rollback('acme', 'm');
		ELSIF ms.default_label('acme', 'm') = 'v1' THEN
			PERFORM ms.promote('acme', 'm', 'v2');
		ELSE
			PERFORM ms.promote('acme', 'm', 'v1');
		END IF;
		COMMIT;
		n := n + 1;
	END LOOP;
	RAISE NOTICE 'flips: %', n;
END
$$;
};

my $queries = 1500;
my $consumer_sql = '';
for my $i (1 .. $queries)
{
	my @q = ($i % 50, $i % 7, $i % 3, 1 + $i % 2);
	$consumer_sql .= "SELECT coalesce(string_agg(DISTINCT k.payload->>'v', ','), '-'), count(*), "
	  . "count(*) FILTER (WHERE (k.payload->>'v' = 'v1') = (k.point_id < 1000)) "
	  . "FROM ms.knn('acme', 'm', '[" . join(',', @q) . "]', 10) k;\n";
	$consumer_sql .= "SELECT coalesce(string_agg(DISTINCT k.payload->>'v', ','), '-'), count(*), "
	  . "count(*) FILTER (WHERE (k.payload->>'v' = 'v1') = (k.point_id < 1000)) "
	  . "FROM ms.within('acme', 'm', '[" . join(',', @q) . "]', 10) k;\n"
	  if $i % 5 == 0;
}

my $psql = $node->installed_command('psql');
my @psql_opts = ('-XAtq', '-v', 'ON_ERROR_STOP=1');

my ($p_out, $p_err) = ('', '');
my $promoter = IPC::Run::start(
	[ $psql, @psql_opts, '-d', tcp_connstr('regress_ms_promoter'), '-c', $promoter_sql ],
	'>', \$p_out, '2>', \$p_err);

# wait until the promoter is flipping
$node->poll_query_until('postgres',
	"SELECT count(*) > 10 FROM ms.promotions WHERE org = 'acme' AND model = 'm'")
  or die 'the promoter does not promote';
my $before = $node->safe_psql('postgres', 'SELECT count(*) FROM ms.promotions');

my @consumers;
for my $c (1 .. 2)
{
	# IPC::Run consumes its input buffer: each consumer gets its own copy
	my %h = (out => '', err => '', in => $consumer_sql);
	$h{run} = IPC::Run::start(
		[ $psql, @psql_opts, '-d', tcp_connstr('regress_ms_consumer'), '-f', '-' ],
		'<', \$h{in}, '>', \$h{out}, '2>', \$h{err});
	push @consumers, \%h;
}
for my $h (@consumers)
{
	$h->{run}->finish;
	$h->{rc} = $h->{run}->result(0);
}
my $after = $node->safe_psql('postgres', 'SELECT count(*) FROM ms.promotions');
$node->safe_psql('postgres', 'INSERT INTO tap_stop VALUES (true)');
$promoter->finish;

is($promoter->result(0), 0, 'the promoter ran without error') or diag($p_err);
cmp_ok($after - $before, '>', 10, 'promotions happened while the queries ran');

my (%seen, @bad);
my $lines = 0;
for my $h (@consumers)
{
	is($h->{rc}, 0, 'consumer ran every query without error');
	is($h->{err}, '', 'consumer saw no error or warning') or diag($h->{err});
	for my $line (split /\n/, $h->{out})
	{
		$lines++;
		if ($line =~ /^(v1|v2)\|(\d+)\|(\d+)$/ && $2 == $3 && $2 > 0)
		{
			$seen{$1}++;
		}
		else
		{
			push @bad, $line;
		}
	}
}
my $expected_lines = 2 * ($queries + int($queries / 5));
is($lines, $expected_lines, 'every query returned its row');
is(scalar(@bad), 0, 'every query saw exactly one version, all its rows from it')
  or diag(join("\n", @bad[ 0 .. ($#bad < 9 ? $#bad : 9) ]));
ok($seen{v1} && $seen{v2}, 'queries saw both versions as the default flipped')
  or diag(explain \%seen);
note("results per version: v1 $seen{v1}, v2 $seen{v2}; promotions meanwhile: " . ($after - $before));

$node->stop;
done_testing();
