# An msivf index whose metapage carries another on-disk format version is
# refused with a clear "REINDEX" error, never read; REINDEX repairs it.
# A list whose chain of pages was damaged into a loop is an error for an
# insert (which walks it holding the directory lock, where a query cancel
# cannot reach it), not an endless loop.  Every other field of the
# metapage, the directory and the list pages, damaged on disk one at a
# time, is an index-corrupted error for a scan, an insert and a VACUUM
# alike, never a crash or a wild read; REINDEX repairs each.
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

# ---- every field, damaged one at a time ------------------------------

# Writes $bytes at $offset of the index's file, server stopped.
sub patch_index
{
	my ($index, $offset, $bytes) = @_;
	my $path = $node->safe_psql('postgres', "SELECT pg_relation_filepath('$index')");
	$node->stop;
	my $f = $node->data_dir . '/' . $path;
	open my $h, '+<:raw', $f or die "open $f: $!";
	seek($h, $offset, 0) or die;
	print $h $bytes;
	close $h;
	$node->start;
}

# Scan, insert and VACUUM of $table each fail with $msg (and $detail),
# as index-corrupted errors; after REINDEX, $check returns 't'.
sub expect_corrupted
{
	my ($table, $index, $label, $msg, $detail) = @_;
	my @cmds = (
		[ 'a scan', qq{SET enable_seqscan = off; SET machinesoup.probes = 1000;
			SELECT id FROM $table ORDER BY emb <-> (SELECT q FROM queries WHERE qid = 1) OFFSET 10000;} ],
		[ 'an insert', qq{INSERT INTO $table SELECT 100001, emb FROM items WHERE id = 1;} ],
		[ 'VACUUM', qq{VACUUM $table;} ]);
	for my $c (@cmds)
	{
		my ($ret, $out, $err) = $node->psql('postgres',
			"\\set VERBOSITY verbose\n" . $c->[1], timeout => 60);
		like($err, qr/ERROR:  XX002: \Q$msg\E\n(?:DETAIL:  \Q$detail\E\n)?/,
			"$label: $c->[0] fails as index corruption");
		like($err, qr/DETAIL:  \Q$detail\E\n/, "$label: $c->[0] says what is wrong")
		  if defined $detail;
	}
	$node->safe_psql('postgres', "REINDEX INDEX $index");
}

# the metapage of items_l2: page header (24 bytes), then the fields
my $meta = 24;
my $lists = $node->safe_psql('postgres', "SELECT lists FROM msivf_index_info('items_l2')");
my @meta_cases = (
	[ 'dims', 8, pack('l', 99999), 'Field dims is 99999, not 0 or 32 to 16000.' ],
	[ 'nlists zero', 12, pack('l', 0), 'Field nlists is 0, not 1 to 32768.' ],
	[ 'nlists huge', 12, pack('l', 40000), 'Field nlists is 40000, not 1 to 32768.' ],
	[ 'metric', 16, pack('s', 7), 'Field metric is 7, not 1 to 4.' ],
	[ 'code_bits', 18, pack('s', 3), 'Field code_bits is 3, not 4, or 8 up to 4000 dimensions (here 32).' ],
	[ 'flags', 20, pack('L', 0x100), "Field flags is 0x100 with $lists lists." ],
	[ 'centroid_start', 32, pack('L', 5), 'Field centroid_start is 5, not 1.' ],
	[ 'lists_per_dir_page', 40, pack('l', 0), 'Field lists_per_dir_page is 0, not 679.' ],
	[ 'calib_queries', 44, pack('l', -1), 'Field calib_queries is -1, not 0 to 200.' ],
	[ 'built_tuples', 48, pack('q', -1),
		'Field built_tuples is -1, not 0 to 9223372036854775807.' ],
	[ 'calib_probes', 56 + 2 * 50, pack('S', 60000),
		"Field calib_probes holds 60000, not 0 to $lists." ]);
for my $c (@meta_cases)
{
	my ($field, $at, $bytes, $detail) = @$c;
	patch_index('items_l2', $meta + $at, $bytes);
	expect_corrupted('items', 'items_l2', "metapage $field",
		'msivf index "items_l2" has a corrupted metapage', $detail);
	is($node->safe_psql('postgres', 'SET machinesoup.probes = 1000; SELECT mismatches(10)'),
		'0', "metapage $field: after REINDEX the index answers exactly");
}
# a directory_start past the end: the layout check names the page count
my $dir_start = $node->safe_psql('postgres', q{
	SELECT 1 + ceil(lists * 32 / 2038.0)::int FROM msivf_index_info('items_l2')});
patch_index('items_l2', $meta + 36, pack('L', 100000));
expect_corrupted('items', 'items_l2', 'metapage directory_start',
	'msivf index "items_l2" has a corrupted metapage',
	"Field directory_start is 100000, not $dir_start.");

# one list (directory page 1, its entry at the page's contents) of two
# full pages; the insert hint and the tail are the second page
$node->safe_psql('postgres', q{
	CREATE TABLE damaged (id int PRIMARY KEY, emb vec(32));
	INSERT INTO damaged SELECT id, emb FROM items WHERE id <= 290;
	CREATE INDEX damaged_l2 ON damaged USING msivf (emb vec_l2_ops) WITH (lists = 1);
	CREATE FUNCTION damaged_ok() RETURNS bool LANGUAGE plpgsql AS $$
	DECLARE
		q vec := (SELECT q FROM queries WHERE qid = 1);
		line text;
		uses bool := false;
		got int[];
	BEGIN
		PERFORM set_config('enable_seqscan', 'off', true);
		FOR line IN EXPLAIN (COSTS OFF) SELECT id FROM damaged ORDER BY emb <-> q LOOP
			uses := uses OR line LIKE '%Index Scan using damaged_l2%';
		END LOOP;
		got := array(SELECT id FROM damaged ORDER BY emb <-> q);
		PERFORM set_config('enable_seqscan', 'on', true);
		PERFORM set_config('enable_indexscan', 'off', true);
		RETURN uses AND got = array(SELECT id FROM damaged ORDER BY emb <-> q, id);
	END $$;
});
is($node->safe_psql('postgres', 'SELECT damaged_ok()'), 't', 'the damaged table starts right');
$node->safe_psql('postgres', 'CHECKPOINT');
$path = $node->safe_psql('postgres', "SELECT pg_relation_filepath('damaged_l2')");
open $fh, '<:raw', $node->data_dir . '/' . $path or die;
seek($fh, 8192 + 24, 0) or die;
read($fh, my $entry, 12) == 12 or die;
close $fh;
my ($head_blk, $insert_blk, $tail_blk) = unpack('L L L', $entry);
is($insert_blk, $tail_blk, 'the insert hint is the tail');
isnt($head_blk, $tail_blk, 'the head is another page');

my @list_cases = (
	[ 'directory head', 8192 + 24, pack('L', 0),
		'msivf index "damaged_l2" has a list pointing to page 0' ],
	[ 'directory insert hint', 8192 + 28, pack('L', 999999),
		'msivf index "damaged_l2" has a list pointing to page 999999' ],
	[ 'directory tail', 8192 + 32, pack('L', 1),
		'msivf index "damaged_l2" has a list pointing to page 1' ],
	[ 'directory page nentries', 8192 + 8192 - 16 + 4, pack('S', 5),
		'msivf index "damaged_l2" has a corrupted directory page', 'It holds 5 lists, not 1.' ],
	[ 'list page nentries', $tail_blk * 8192 + 8192 - 16 + 4, pack('S', 0xFFFF),
		'msivf index "damaged_l2" has a corrupted list page', 'It claims 65535 entries, not 0 to 145.' ],
	[ 'list page pd_lower', $tail_blk * 8192 + 12, pack('S', 100),
		'msivf index "damaged_l2" has a corrupted list page', 'Its entries end at 100, not 8144.' ],
	[ 'list page next', $tail_blk * 8192 + 8192 - 16, pack('L', 4000000000),
		'msivf index "damaged_l2" has a list pointing to page 4000000000' ]);
for my $c (@list_cases)
{
	my ($label, $offset, $bytes, $msg, $detail) = @$c;
	patch_index('damaged_l2', $offset, $bytes);
	expect_corrupted('damaged', 'damaged_l2', $label, $msg, $detail);
	is($node->safe_psql('postgres', 'SELECT damaged_ok()'), 't',
		"$label: after REINDEX the index answers exactly");
}

$node->stop;
done_testing();
