# An msivf index whose metapage carries another on-disk format version is
# refused with a clear "REINDEX" error, never read; REINDEX repairs it.
# A list whose chain of pages was damaged into a loop is an error for an
# insert (which walks it holding the directory lock, where a query cancel
# cannot reach it), not an endless loop.
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

# one list of exactly two full pages (8152 bytes of entries a page, 56 a
# 32-d entry: 145 a page), then the last page's link pointed at the first
$node->safe_psql('postgres', q{
	CREATE TABLE looped (id int PRIMARY KEY, emb vec(32));
	INSERT INTO looped SELECT id, emb FROM items WHERE id <= 290;
	CREATE INDEX looped_l2 ON looped USING msivf (emb vec_l2_ops) WITH (lists = 1);
});
is($node->safe_psql('postgres', 'SELECT count(*) FROM looped'), '290', 'two pages of rows');
$path = $node->safe_psql('postgres', "SELECT pg_relation_filepath('looped_l2')");
$node->stop;
$file = $node->data_dir . '/' . $path;
open $fh, '+<:raw', $file or die "open $file: $!";
my @list_pages;
for (my $blk = 0;; $blk++)
{
	# the special space: next (uint32), nentries (uint16), page type (uint8)
	seek($fh, $blk * 8192 + 8192 - 16, 0) or die;
	last if read($fh, my $special, 8) != 8;
	my ($next, $nentries, $type) = unpack('L S C', $special);
	push @list_pages, [ $blk, $next, $nentries ] if $type == 4;
}
is(scalar(@list_pages), 2, 'the list has two pages');
is(join(',', map { $_->[2] } @list_pages), '145,145', 'both full');
my ($tail) = grep { $_->[1] == 0xFFFFFFFF } @list_pages;
my ($head) = grep { $_->[0] != $tail->[0] } @list_pages;
seek($fh, $tail->[0] * 8192 + 8192 - 16, 0) or die;
print $fh pack('L', $head->[0]);
close $fh;
$node->start;
($ret, $out, $err) = $node->psql('postgres',
	q{INSERT INTO looped SELECT 100000, emb FROM items WHERE id = 1}, timeout => 60);
like($err, qr/msivf index "looped_l2" has a list whose pages form a loop/,
	'an insert into a looped list fails with a clear error');
like($err, qr/REINDEX/, 'and asks for REINDEX');
($ret, $out, $err) = $node->psql('postgres', q{
	SET enable_seqscan = off;
	SELECT id FROM looped ORDER BY emb <-> (SELECT q FROM queries WHERE qid = 1) OFFSET 400;
}, timeout => 60);
like($err, qr/msivf index "looped_l2" has a list whose pages form a loop/,
	'so does a scan of it');
($ret, $out, $err) = $node->psql('postgres', 'DELETE FROM looped WHERE id = 5; VACUUM looped;',
	timeout => 60);
like($err, qr/msivf index "looped_l2" has a list whose pages form a loop/,
	'and VACUUM');
$node->safe_psql('postgres', 'REINDEX INDEX looped_l2');
$node->safe_psql('postgres', q{INSERT INTO looped SELECT 100000, emb FROM items WHERE id = 1});
is($node->safe_psql('postgres', 'SELECT count(*) FROM looped'), '290',
	'after REINDEX inserts go in (290 - 1 deleted + 1)');
$node->safe_psql('postgres', 'VACUUM looped');
is($node->safe_psql('postgres', 'SET machinesoup.probes = 1; SELECT count(*) FROM (SELECT id FROM looped '
	  . 'ORDER BY emb <-> (SELECT q FROM queries WHERE qid = 1) OFFSET 0) s'), '290',
	'and VACUUM and scans work again');

$node->stop;
done_testing();
