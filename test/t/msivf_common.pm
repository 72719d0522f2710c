# Shared SQL for the msivf TAP tests: synthetic clustered data and recall.
package msivf_common;

use strict;
use warnings;

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

sub setup_sql
{
	my ($dims, $blobs, $seed) = @_;
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
		CREATE FUNCTION knn(k int, use_index bool) RETURNS TABLE (qid int, ids int[])
		LANGUAGE plpgsql AS \$\$
		BEGIN
			PERFORM set_config('enable_seqscan', CASE WHEN use_index THEN 'off' ELSE 'on' END, true);
			PERFORM set_config('enable_indexscan', CASE WHEN use_index THEN 'on' ELSE 'off' END, true);
			PERFORM set_config('enable_bitmapscan', 'off', true);
			RETURN QUERY SELECT q.qid, array(SELECT id FROM items ORDER BY emb <-> q.q LIMIT k) FROM queries q;
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

1;
