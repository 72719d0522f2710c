"""psycopg2: numpy arrays and Vec as parameters, vec and vec[] as numpy."""

import pytest
from _support import require

np = require("numpy")
psycopg2 = require("psycopg2")

from machinesoup import Vec  # noqa: E402


def test_round_trip(pg2conn):
    cur = pg2conn.cursor()
    for d in (1, 3, 16000):
        a = np.random.default_rng(d).standard_normal(d).astype(np.float32)
        cur.execute("SELECT %s, %s::text, pg_typeof(%s)::text", (a, a, a))
        got, text, typ = cur.fetchone()
        assert isinstance(got, np.ndarray) and got.dtype == np.float32
        assert np.array_equal(got, a) and typ == "vec"
        assert np.array_equal(np.array(text[1:-1].split(","), np.float32), a)


def test_mogrify_and_lists(pg2conn):
    cur = pg2conn.cursor()
    assert cur.mogrify("%s", (np.array([1, 2.5]),)) == b"'[1,2.5]'::\"public\".vec"
    cur.execute("SELECT %s::text, pg_typeof(%s)::text", (Vec([1, 2]), [1, 2]))
    assert cur.fetchone() == ("[1,2]", "integer[]")


def test_arrays_and_null(pg2conn):
    cur = pg2conn.cursor()
    cur.execute("SELECT ARRAY['[1,2]'::vec, NULL, '[3,4]'], NULL::vec")
    arr, null = cur.fetchone()
    assert [None if v is None else v.tolist() for v in arr] == [[1, 2], None, [3, 4]]
    assert null is None


def test_refusals(pg2conn):
    cur = pg2conn.cursor()
    with pytest.raises(psycopg2.errors.DataException, match="NaN and Infinity") as e:
        cur.execute("SELECT %s", (np.array([1, np.nan]),))
    assert e.value.pgcode == "22000"
    cur.execute("CREATE TEMP TABLE dm (emb vec(3))")
    with pytest.raises(psycopg2.errors.DataException, match="expected 3 dimensions, not 2") as e:
        cur.execute("INSERT INTO dm VALUES (%s)", (np.array([1, 2]),))
    assert e.value.pgcode == "22000"


def test_table_round_trip(pg2conn):
    cur = pg2conn.cursor()
    m = np.random.default_rng(5).standard_normal((50, 8)).astype(np.float32)
    cur.execute("CREATE TEMP TABLE t2 (id int, emb vec(8))")
    cur.executemany("INSERT INTO t2 VALUES (%s, %s)", [(i, m[i]) for i in range(50)])
    cur.execute("SELECT id, emb FROM t2 ORDER BY emb <-> %s LIMIT 3", (m[7],))
    rows = cur.fetchall()
    assert rows[0][0] == 7 and np.array_equal(rows[0][1], m[7])
    expect = np.argsort(np.linalg.norm(m - m[7], axis=1), kind="stable")[:3]
    assert [r[0] for r in rows] == expect.tolist()
