# An msivf index whose metapage carries another on-disk format version is
# refused with a clear "REINDEX" error, never read; REINDEX repairs it.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use msivf_common;

my $node = PostgreSQL::Test::Cluster->new('format');
$node->init;
$node->start;
$node->safe_psql('postgres', msivf_common::setup_sql(32, 5, 0.44));
$node->safe_psql('postgres', msivf_common::blob_rows_sql('items', 1, 500, 32));
$node->safe_psql('postgres', 'CREATE INDEX items_l2 ON items USING msivf (emb vec_l2_ops)');
my $path = $node->safe_psql('postgres', "SELECT pg_relation_filepath('items_l2')");
$node->stop;

# metapage: page header (24 bytes), then magic and version (uint32 each)
my $file = $node->data_dir . '/' . $path;
open my $fh, '+<:raw', $file or die "open $file: $!";
seek($fh, 24, 0) or die;
read($fh, my $magic, 4) == 4 or die;
is(unpack('L', $magic), 0x4D534956, 'metapage magic where expected');
print $fh pack('L', 999);
close $fh;
$node->start;

my $q = q{
	SET enable_seqscan = off;
	SELECT id FROM items ORDER BY emb <-> (SELECT q FROM queries WHERE qid = 1) LIMIT 3;
};
my ($ret, $out, $err) = $node->psql('postgres', $q);
isnt($ret, 0, 'a scan of a foreign-format index fails');
like($err, qr/on-disk format version 999/, 'the error names the version');
like($err, qr/REINDEX/, 'the error asks for REINDEX');
($ret, $out, $err) = $node->psql('postgres',
	q{INSERT INTO items SELECT 100000, emb FROM items WHERE id = 1});
like($err, qr/REINDEX/, 'an insert fails the same way');

$node->safe_psql('postgres', 'REINDEX INDEX items_l2');
is($node->safe_psql('postgres', 'SET machinesoup.probes = 1000; SELECT mismatches(10)'),
	'0', 'after REINDEX the index answers exactly');

$node->stop;
done_testing();
