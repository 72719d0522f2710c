# A Citus cluster for the TAP tests: a coordinator and two workers on this
# machine, each loading citus, machinesoup and pg_stat_statements (which
# tells what ran on each worker), the extensions created on the coordinator
# (Citus creates them on the workers).
package citus_common;

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use Test::More;

# Skips the whole test file unless Citus is installed.
sub skip_unless_installed
{
	chomp(my $sharedir = `pg_config --sharedir`);
	chomp(my $pkglibdir = `pg_config --pkglibdir`);
	plan skip_all => 'Citus is not installed (third_party/citus/install.sh installs it)'
	  unless -f "$sharedir/extension/citus.control" && -f "$pkglibdir/citus.so";
}

# A started node named $name with Citus created, not yet in a cluster
# (citus_add_node adds a worker).
sub new_node
{
	my ($name) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init;
	# citus first: it must be loaded before any other hook-setting library
	$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'citus,machinesoup,pg_stat_statements'
pg_stat_statements.track = all
citus.local_hostname = '@{[ $node->host ]}'
max_worker_processes = 16
});
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION citus');
	return $node;
}

# Starts the three nodes (names prefixed by $prefix) and returns
# ($coordinator, @workers).
sub start_cluster
{
	my ($prefix) = @_;
	my ($coord, @workers) = map { new_node("$prefix$_") } ('coordinator', 'worker1', 'worker2');
	$coord->safe_psql('postgres', qq{
		SELECT citus_set_coordinator_host('@{[ $coord->host ]}', @{[ $coord->port ]});
		CREATE EXTENSION machinesoup;
	});
	$coord->safe_psql('postgres',
		"SELECT citus_add_node('@{[ $_->host ]}', @{[ $_->port ]})") for @workers;
	$coord->safe_psql('postgres', 'CREATE EXTENSION pg_stat_statements');
	return ($coord, @workers);
}

1;
