-- MachineSoup demo, governance part: a model with two versions, a consumer
-- query, a promotion, a denied query.  Self-contained; meant for a
-- throwaway cluster (scripts/demo.sh), where it can also be \i'ed after
-- scripts/demo.sql.  Needs a superuser session.
\pset footer off
\set QUIET on
CREATE EXTENSION IF NOT EXISTS machinesoup;

\echo
\echo '### governance: roles of one customer org, "acme"'
CREATE ROLE demo_scientist;		-- stages versions (privilege stage)
CREATE ROLE demo_release;		-- promotes labels (privilege promote)
CREATE ROLE demo_app;			-- the query service (privilege query)
DO $$
BEGIN
	PERFORM ms.create_model('acme', 'shops', 2);	-- 2-d points, L2 distance
	PERFORM ms.grant('demo_scientist', 'stage', 'acme', 'shops');
	PERFORM ms.grant('demo_release', 'promote', 'acme', 'shops');
	PERFORM ms.grant('demo_app', 'query', 'acme', 'shops');
END
$$;
SELECT role, privilege, org, model FROM ms.grants WHERE org = 'acme' ORDER BY role::text;

\echo
\echo '### the data scientist stages two versions (labels 2024-q1 and 2024-q2)'
SET ROLE demo_scientist;
DO $$
BEGIN
	PERFORM ms.create_version('acme', 'shops', '2024-q1');
	PERFORM ms.upsert_points('acme', 'shops', '2024-q1', ARRAY[1, 2, 3],
		ARRAY['[2.35,48.86]', '[2.29,48.86]', '[2.37,48.83]']::vec[],
		ARRAY['{"shop":"Louvre"}', '{"shop":"Trocadero"}', '{"shop":"Bercy"}']::jsonb[]);
	PERFORM ms.create_version('acme', 'shops', '2024-q2');
	PERFORM ms.upsert_points('acme', 'shops', '2024-q2', ARRAY[1, 2, 4],
		ARRAY['[2.35,48.86]', '[2.29,48.86]', '[2.34,48.85]']::vec[],
		ARRAY['{"shop":"Louvre"}', '{"shop":"Trocadero"}', '{"shop":"Odeon (new)"}']::jsonb[]);
END
$$;
RESET ROLE;

\echo
\echo '### release promotes 2024-q1 to be the default'
SET ROLE demo_release;
DO $$ BEGIN PERFORM ms.promote('acme', 'shops', '2024-q1'); END $$;
SELECT ms.default_label('acme', 'shops');
RESET ROLE;

\echo
\echo '### the query service asks for the 2 shops nearest to Notre-Dame: default label'
SET ROLE demo_app;
SELECT point_id, round(distance::numeric, 4) AS distance, payload
FROM ms.knn('acme', 'shops', '[2.35,48.853]', 2);

\echo
\echo '### ... it may not peek at the staged label, nor at another org (error 42501)'
DO $$
BEGIN
	PERFORM * FROM ms.knn('acme', 'shops', '[2.35,48.853]', 2, '2024-q2');
EXCEPTION WHEN insufficient_privilege THEN
	RAISE NOTICE 'denied: %', SQLERRM;
END
$$;
DO $$
BEGIN
	PERFORM * FROM ms.knn('globex', 'shops', '[2.35,48.853]', 2);
EXCEPTION WHEN insufficient_privilege THEN
	RAISE NOTICE 'denied: % (the same whether it exists or not)', SQLERRM;
END
$$;
\echo '### ... nor read the model store directly'
DO $$
BEGIN
	PERFORM * FROM ms.points;
EXCEPTION WHEN insufficient_privilege THEN
	RAISE NOTICE 'denied: %', SQLERRM;
END
$$;
RESET ROLE;

\echo
\echo '### release promotes 2024-q2: the same query now sees the new version'
SET ROLE demo_release;
DO $$ BEGIN PERFORM ms.promote('acme', 'shops', '2024-q2'); END $$;
SELECT ms.default_label('acme', 'shops');
RESET ROLE;
SET ROLE demo_app;
SELECT point_id, round(distance::numeric, 4) AS distance, payload
FROM ms.knn('acme', 'shops', '[2.35,48.853]', 2);
RESET ROLE;

\echo
\echo '### ... and rolls it back; the append-only history says who did what'
SET ROLE demo_release;
SELECT ms.rollback('acme', 'shops') AS default_label_now;
RESET ROLE;
SELECT action, from_label, to_label, who FROM ms.promotions
WHERE org = 'acme' AND model = 'shops' ORDER BY promotion_id;
