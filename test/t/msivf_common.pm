# Shared SQL for the msivf TAP tests: synthetic clustered data and recall.
package msivf_common;

use strict;
use warnings;

use IPC::Run;
use Time::HiRes qw(usleep);

# $n rows of $dims dims around $blobs random centres, ids from $first.
sub blob_rows_sql
{
	my ($table, $first, $n, $dims) = @_;
	return qq{
		INSERT INTO $table (id, emb)
		SELECT i, (SELECT array_agg(a[j] + ((random() + random() + random() - 1.5) * 1.5)::real ORDER BY j)
				   FROM generate_series(1, $dims) j)::vec
		FROM generate_series($first, $first + $n - 1) i
		JOIN blob_centers ON c = 1 + abs(hashint4(i)) % (SELECT count(*) FROM blob_centers);
	};
}

# Tables blob_centers, items and queries, and knn(k, use_index), recall(k)
# and mismatches(k) over items ordered by $op (default <->).
sub setup_sql
{
	my ($dims, $blobs, $seed, $op) = @_;
	$op //= '<->';
	return qq{
		CREATE EXTENSION IF NOT EXISTS machinesoup;
		SELECT setseed($seed);
		CREATE TABLE blob_centers AS
			SELECT c, array_agg((random() * 20 - 10)::real ORDER BY j) AS a
			FROM generate_series(1, $blobs) c, generate_series(1, $dims) j GROUP BY c;
		CREATE TABLE items (id int PRIMARY KEY, emb vec($dims));
		CREATE TABLE queries AS
			SELECT q AS qid, (SELECT array_agg(a[j] + ((random() + random() + random() - 1.5) * 1.5)::real ORDER BY j)
							  FROM generate_series(1, $dims) j)::vec AS q
			FROM generate_series(1, 100) q JOIN blob_centers ON c = 1 + (q * 31) % $blobs;
		-- the top k of every query, through an msivf index (an error if
		-- the plan would not scan one: a sequential scan has recall 1) or
		-- exactly
		CREATE FUNCTION knn(k int, use_index bool) RETURNS TABLE (qid int, ids int[])
		LANGUAGE plpgsql AS \$\$
		DECLARE
			line text;
			uses_msivf bool := false;
		BEGIN
			PERFORM set_config('enable_seqscan', CASE WHEN use_index THEN 'off' ELSE 'on' END, true);
			PERFORM set_config('enable_indexscan', CASE WHEN use_index THEN 'on' ELSE 'off' END, true);
			PERFORM set_config('enable_bitmapscan', 'off', true);
			IF use_index THEN
				FOR line IN EXPLAIN (COSTS OFF)
					SELECT q.qid, array(SELECT id FROM items ORDER BY emb $op q.q LIMIT k) FROM queries q
				LOOP
					uses_msivf := uses_msivf OR EXISTS (
						SELECT FROM pg_class c JOIN pg_am a ON a.oid = c.relam
						WHERE a.amname = 'msivf'
						  AND c.relname = substring(line FROM 'Index Scan using (\\S+) on items'));
				END LOOP;
				IF NOT uses_msivf THEN
					RAISE EXCEPTION 'knn: the plan does not scan an msivf index of items';
				END IF;
			END IF;
			RETURN QUERY SELECT q.qid, array(SELECT id FROM items ORDER BY emb $op q.q LIMIT k) FROM queries q;
		END \$\$;
		CREATE FUNCTION recall(k int) RETURNS numeric LANGUAGE sql AS \$\$
			SELECT round(avg((SELECT count(*) FROM unnest(a.ids) x WHERE x = ANY (e.ids)))::numeric / k, 3)
			FROM knn(k, true) a JOIN knn(k, false) e USING (qid)
		\$\$;
		CREATE FUNCTION mismatches(k int) RETURNS bigint LANGUAGE sql AS \$\$
			SELECT count(*) FROM knn(k, true) a JOIN knn(k, false) e USING (qid) WHERE a.ids <> e.ids
		\$\$;
	};
}

# Four pgbench clients run $script against $node until $count_sql counts
# more than $enough rows, then the postmaster gets kill -9 and is started
# again (crash recovery).  Returns the count seen just before the crash.
sub crash_under_load
{
	my ($node, $script, $count_sql, $enough) = @_;
	my ($out, $err) = ('', '');
	my $bench = IPC::Run::start(
		[
			'pgbench', '-n', '-c', '4', '-T', '60', '-f', $script,
			'-h', $node->host, '-p', $node->port, 'postgres'
		],
		'>', \$out, '2>', \$err);
	my $rows = 0;
	for (my $i = 0; $i < 300; $i++)
	{
		$rows = $node->safe_psql('postgres', $count_sql);
		last if $rows > $enough;
		usleep(100_000);
	}
	my $pid = $node->{_pid};
	$node->kill9;
	eval { $bench->finish; };
	# let the postmaster and its orphaned backends go before restarting
	usleep(100_000) while kill(0, $pid);
	sleep(1);
	$node->start;
	return $rows;
}

1;
