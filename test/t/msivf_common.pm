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
# and mismatches(k) over items ordered by $op (default <->).  $type (default
# vec; hvec) is the type of items.emb and queries.q.  The knn_of family
# (typed_knn_sql) is created too.
sub setup_sql
{
	my ($dims, $blobs, $seed, $op, $type) = @_;
	$op //= '<->';
	$type //= 'vec';
	my $qcast = $type eq 'vec' ? '' : "::$type";
	return qq{
		CREATE EXTENSION IF NOT EXISTS machinesoup;
		SELECT setseed($seed);
		CREATE TABLE blob_centers AS
			SELECT c, array_agg((random() * 20 - 10)::real ORDER BY j) AS a
			FROM generate_series(1, $blobs) c, generate_series(1, $dims) j GROUP BY c;
		CREATE TABLE items (id int PRIMARY KEY, emb $type($dims));
		CREATE TABLE queries AS
			SELECT q AS qid, (SELECT array_agg(a[j] + ((random() + random() + random() - 1.5) * 1.5)::real ORDER BY j)
							  FROM generate_series(1, $dims) j)::vec$qcast AS q
			FROM generate_series(1, 100) q JOIN blob_centers ON c = 1 + (q * 31) % $blobs;
	} . knn_sql($op) . typed_knn_sql();
}

# (Re)creates knn(k, use_index), recall(k) and mismatches(k) over items
# ordered by emb $op q: run it again with another operator to switch.
sub knn_sql
{
	my ($op) = @_;
	return qq{
		-- the top k of every query, through an msivf index (an error if
		-- the plan would not scan one: a sequential scan has recall 1) or
		-- exactly
		CREATE OR REPLACE FUNCTION knn(k int, use_index bool) RETURNS TABLE (qid int, ids int[])
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
		CREATE OR REPLACE FUNCTION recall(k int) RETURNS numeric LANGUAGE sql AS \$\$
			SELECT round(avg((SELECT count(*) FROM unnest(a.ids) x WHERE x = ANY (e.ids)))::numeric / k, 3)
			FROM knn(k, true) a JOIN knn(k, false) e USING (qid)
		\$\$;
		-- queries whose index answer is not an exact top k: the distances,
		-- in the order the index returned the rows, differ from the exact
		-- ones.  Rows at an equal distance may come in either order (two
		-- points can tie exactly), so ids alone would count a tie.
		CREATE OR REPLACE FUNCTION distances_of(ids int[], query anyelement) RETURNS float8[]
		LANGUAGE sql AS \$\$
			SELECT array(SELECT (i.emb $op query)::float8 FROM unnest(ids) WITH ORDINALITY u(id, n)
						 JOIN items i ON i.id = u.id ORDER BY u.n)
		\$\$;
		CREATE OR REPLACE FUNCTION mismatches(k int) RETURNS bigint LANGUAGE sql AS \$\$
			SELECT count(*) FROM knn(k, true) a JOIN knn(k, false) e USING (qid) JOIN queries q USING (qid)
			WHERE distances_of(a.ids, q.q) IS DISTINCT FROM distances_of(e.ids, q.q)
		\$\$;
	};
}

# knn(k, use_index) for any table, key and operator:
# knn_of(tbl, key, op, qkey, k, use_index, by_dist) gives every query's
# top k of "SELECT ... FROM tbl ORDER BY key op qkey LIMIT k" (qkey
# names the query as q.q) as text: the ids, or with by_dist the distances
# (bvec distances are small integers: ties make ids an unfair comparison).
# Through an msivf index of tbl (an error if the plan does not scan one)
# or by a sequential scan.  recall_of, mismatches_of and answers_of (one
# line of every query's ids through the index, to compare two servers)
# build on it.
sub typed_knn_sql
{
	return q{
		CREATE OR REPLACE FUNCTION knn_of(tbl text, key text, op text, qkey text, k int,
										  use_index bool, by_dist bool DEFAULT false)
		RETURNS TABLE (qid int, ans text) LANGUAGE plpgsql AS $$
		DECLARE
			sub text := format('SELECT %s FROM %s ORDER BY %s %s %s LIMIT %s',
							   CASE WHEN by_dist THEN format('(%s %s %s)::text', key, op, qkey) ELSE 'id::text' END,
							   tbl, key, op, qkey, k);
			line text;
			uses_msivf bool := false;
		BEGIN
			PERFORM set_config('enable_seqscan', CASE WHEN use_index THEN 'off' ELSE 'on' END, true);
			PERFORM set_config('enable_indexscan', CASE WHEN use_index THEN 'on' ELSE 'off' END, true);
			PERFORM set_config('enable_bitmapscan', 'off', true);
			IF use_index THEN
				FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) SELECT q.qid, array(' || sub || ') FROM queries q'
				LOOP
					uses_msivf := uses_msivf OR EXISTS (
						SELECT FROM pg_class c JOIN pg_am a ON a.oid = c.relam
						WHERE a.amname = 'msivf'
						  AND c.relname = substring(line FROM 'Index Scan using (\S+) on ' || tbl || '\y'));
				END LOOP;
				IF NOT uses_msivf THEN
					RAISE EXCEPTION 'knn_of: the plan does not scan an msivf index of %', tbl;
				END IF;
			END IF;
			RETURN QUERY EXECUTE 'SELECT q.qid, array_to_string(array(' || sub || '), '','') FROM queries q';
		END $$;
		CREATE OR REPLACE FUNCTION recall_of(tbl text, key text, op text, qkey text, k int)
		RETURNS numeric LANGUAGE sql AS $$
			SELECT round(avg((SELECT count(*) FROM unnest(string_to_array(a.ans, ',')) x
							  WHERE x = ANY (string_to_array(e.ans, ','))))::numeric / k, 3)
			FROM knn_of(tbl, key, op, qkey, k, true) a JOIN knn_of(tbl, key, op, qkey, k, false) e USING (qid)
		$$;
		CREATE OR REPLACE FUNCTION mismatches_of(tbl text, key text, op text, qkey text, k int,
												 by_dist bool DEFAULT false)
		RETURNS bigint LANGUAGE sql AS $$
			SELECT count(*) FROM knn_of(tbl, key, op, qkey, k, true, by_dist) a
				JOIN knn_of(tbl, key, op, qkey, k, false, by_dist) e USING (qid)
			WHERE a.ans IS DISTINCT FROM e.ans
		$$;
		CREATE OR REPLACE FUNCTION answers_of(tbl text, key text, op text, qkey text, k int)
		RETURNS text LANGUAGE sql AS $$
			SELECT string_agg(qid || ':' || ans, ' ' ORDER BY qid) FROM knn_of(tbl, key, op, qkey, k, true)
		$$;
	};
}

# Tables latent_centres (40 centres in $latent dims) and latent_map (a
# fixed random linear map into $dims dims) for latent_rows_sql.
sub latent_setup_sql
{
	my ($dims, $latent) = @_;
	return qq{
		SELECT setseed(0.25);
		CREATE TABLE latent_centres AS
			SELECT c, array_agg((random() * 8 - 4)::real ORDER BY j) AS a
			FROM generate_series(1, 40) c, generate_series(1, $latent) j GROUP BY c;
		CREATE TABLE latent_map AS
			SELECT k, (SELECT array_agg((random() + random() + random() - 1.5)::real)
					   FROM generate_series(1, $dims + 0 * k))::vec AS v
			FROM generate_series(1, $latent) k;
	};
}

# Rows $first.. of the latent model (the same for the same arguments), like real embeddings of a high
# ambient and a low intrinsic dimension: z = centre + noise in the latent
# dims, x = sum_k z_k * map_k + noise (vec * vec is element-wise, so z_k
# is spread over a vec of equal entries), normalised for $unit.
sub latent_rows_sql
{
	my ($table, $idcol, $vcol, $first, $n, $dims, $unit) = @_;
	my $x = qq{(SELECT sum(array_fill((lc.a[m.k] + (random() + random() - 1) * 1.2)::real, ARRAY[$dims])::vec * m.v)
				  FROM latent_map m)
			   + (SELECT array_agg(((random() - 0.5) * 0.05)::real) FROM generate_series(1, $dims + 0 * i))::vec};
	$x = "l2_normalize($x)" if $unit;
	# a seed of its own per call, so a run can be repeated
	my $seed = (($first * 7919 + $n) % 1000) / 1000 - 0.5;
	return qq{
		SELECT setseed($seed);
		INSERT INTO $table ($idcol, $vcol)
		SELECT i, $x
		  FROM generate_series($first, $first + $n - 1) i
		  JOIN latent_centres lc ON lc.c = 1 + abs(hashint4(i)) % (SELECT count(*) FROM latent_centres);
	};
}

# The list count of msivf index $index, for "every list probed".
sub lists_of
{
	my ($node, $db, $index) = @_;
	return $node->safe_psql($db, "SELECT lists FROM msivf_index_info('$index')");
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
