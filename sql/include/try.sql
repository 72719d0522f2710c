-- Statement runners shared by the governance and audit suites, included
-- with \i: each runs stmt as the current role and reports 'ok' or the
-- SQLSTATE and message of its error, so that a refusal is one line of
-- output and the suite goes on.  regress_try_value also shows the first
-- column of the statement's first row.  The suite drops both at its end.
CREATE FUNCTION regress_try(stmt text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE stmt;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;
CREATE FUNCTION regress_try_value(stmt text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	res text;
BEGIN
	EXECUTE stmt INTO res;
	RETURN 'ok ' || coalesce(res, '');
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;
