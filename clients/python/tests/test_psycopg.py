"""psycopg 3: text and binary round trips, server-side refusals with their
SQLSTATEs, binary COPY, arrays, a schema off the search_path."""

import pytest
from _support import require

np = require("numpy")
psycopg = require("psycopg")

from machinesoup import Vec, VecTypeNotFound  # noqa: E402
from machinesoup.psycopg import register_vec  # noqa: E402


def sample(n, seed=0):
    return np.random.default_rng(seed).standard_normal(n).astype(np.float32)


@pytest.mark.parametrize("binary_results", [False, True])
@pytest.mark.parametrize("placeholder", ["%s", "%b", "%t"])
def test_round_trip(conn, placeholder, binary_results):
    for a in (sample(1), sample(3), sample(16000)):
        cur = conn.cursor(binary=binary_results)
        got, text = cur.execute("SELECT %s::vec, %s::vec::text" % (placeholder, placeholder),
                                [a, a]).fetchone()
        assert isinstance(got, np.ndarray) and got.dtype == np.float32
        assert np.array_equal(got, a)
        assert np.array_equal(np.array(text[1:-1].split(","), dtype=np.float32), a)


def test_server_sees_the_same_values(conn):
    a = np.array([1, 2.5, -3], dtype=np.float32)
    b = np.array([4, 5, 6], dtype=np.float64)  # converted to float32
    row = conn.execute("SELECT %s <-> %t, %s::text, %t::text", [a, b, a, b]).fetchone()
    assert row[0] == pytest.approx(float(np.linalg.norm(a - b.astype(np.float32))))
    assert row[1:] == ("[1,2.5,-3]", "[4,5,6]")


def test_vec_wrapper_and_lists(conn):
    # Vec sends a list as vec; a bare list stays a PostgreSQL array
    row = conn.execute("SELECT %s::text, pg_typeof(%s)::text, %s = ANY(%s)",
                       [Vec([1, 2]), [1, 2], 2, [1, 2]]).fetchone()
    assert row[0] == "[1,2]" and row[1].endswith("int[]") and row[2] is True


def test_null(conn):
    assert conn.execute("SELECT NULL::vec").fetchone()[0] is None
    assert conn.execute("SELECT NULL::vec", binary=True).fetchone()[0] is None


@pytest.mark.parametrize("placeholder", ["%b", "%t"])
@pytest.mark.parametrize("bad,sqlstate,message", [
    (np.array([1, np.nan, 2], np.float32), "22000", "NaN"),
    (np.array([np.inf, 1], np.float32), "22000", "nfinit"),
    (np.array([], np.float32), None, "at least 1 dimension|invalid dimension 0"),
    (np.zeros(16001, np.float32), None, "more than 16000|invalid dimension 16001"),
])
def test_server_refuses(conn, placeholder, bad, sqlstate, message):
    with pytest.raises(psycopg.Error, match=message) as e:
        conn.execute("SELECT %s::vec" % placeholder, [bad])
    # binary refusals of the header are 22P03, text ones 22023
    expected = sqlstate or ("22P03" if placeholder == "%b" else "22023")
    assert e.value.sqlstate == expected


def test_float64_overflow_is_refused(conn):
    with pytest.raises(psycopg.Error) as e:
        conn.execute("SELECT %b::vec", [np.array([1e300])])
    assert e.value.sqlstate == "22000"


def test_dims_mismatch(conn):
    conn.execute("CREATE TEMP TABLE dm (emb vec(3))")
    for ph in ("%b", "%t"):
        with pytest.raises(psycopg.errors.DataException, match="expected 3 dimensions, not 2") as e:
            conn.execute("INSERT INTO dm VALUES (%s)" % ph, [np.array([1, 2], np.float32)])
        assert e.value.sqlstate == "22000"
    with pytest.raises(psycopg.errors.DataException, match="different vec dimensions 3 and 2"):
        conn.execute("SELECT %s <-> %s", [sample(3), sample(2)])


def test_vec_arrays(conn):
    vs = [sample(2, 1), sample(2, 2)]
    for binary in (False, True):
        got = conn.execute("SELECT ARRAY[%s, %s]", vs, binary=binary).fetchone()[0]
        assert len(got) == 2 and all(np.array_equal(g, v) for g, v in zip(got, vs))


def test_binary_copy_100k(conn):
    n, d = 100_000, 16
    m = np.random.default_rng(3).standard_normal((n, d)).astype(np.float32)
    conn.execute("CREATE TEMP TABLE cp (id int, emb vec(16))")
    with conn.cursor() as cur:
        with cur.copy("COPY cp (id, emb) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["int4", "vec"])
            for i in range(n):
                copy.write_row((i, m[i]))
    assert conn.execute("SELECT count(*), count(DISTINCT id) FROM cp").fetchone() == (n, n)
    # spot checks, exact to the bit
    for i in (0, 4242, n - 1):
        got = conn.execute("SELECT emb FROM cp WHERE id = %s", [i], binary=True).fetchone()[0]
        assert np.array_equal(got, m[i])
    s = conn.execute("SELECT sum(emb)::text FROM cp").fetchone()[0]
    assert np.allclose(np.array(s[1:-1].split(","), np.float32), m.sum(axis=0), atol=0.1)


def test_binary_copy_out_and_lists(conn):
    conn.execute("CREATE TEMP TABLE cpl (emb vec)")
    with conn.cursor() as cur:
        with cur.copy("COPY cpl FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["vec"])
            copy.write_row([[1, 2]])
            copy.write_row([Vec([3, 4, 5])])
            copy.write_row([None])
        with cur.copy("COPY cpl TO STDOUT (FORMAT BINARY)") as copy:
            copy.set_types(["vec"])
            rows = list(copy.rows())
    assert [None if r[0] is None else r[0].tolist() for r in rows] == [[1, 2], [3, 4, 5], None]


def test_binary_copy_refuses_nan(conn):
    conn.execute("CREATE TEMP TABLE cpn (emb vec)")
    with pytest.raises(psycopg.Error) as e:
        with conn.cursor() as cur:
            with cur.copy("COPY cpn FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(["vec"])
                copy.write_row([np.array([1, np.nan], np.float32)])
    assert e.value.sqlstate == "22000"


def test_schema_off_search_path(dbname):
    """The extension in a schema the search_path does not name: found
    through the extension, and a look-alike "vec" type elsewhere ignored."""
    with psycopg.connect(dbname=dbname, autocommit=True) as admin:
        admin.execute("DROP DATABASE IF EXISTS ms_pytest_schema")
        admin.execute("CREATE DATABASE ms_pytest_schema")
    try:
        with psycopg.connect(dbname="ms_pytest_schema", autocommit=True) as c:
            c.execute("CREATE SCHEMA ext")
            with pytest.raises(VecTypeNotFound):
                register_vec(c)
            c.execute("CREATE EXTENSION machinesoup SCHEMA ext")
            c.execute("CREATE TYPE public.vec AS (x int)")  # a decoy on the path
            info = register_vec(c)
            assert info.regtype == '"ext".vec'
            a = sample(4)
            assert np.array_equal(c.execute("SELECT %s::ext.vec", [a]).fetchone()[0], a)
            assert c.execute("SELECT pg_typeof(%s)::text", [a]).fetchone()[0] == "ext.vec"
            c.execute("CREATE TABLE t (emb ext.vec)")
            with c.cursor() as cur:
                with cur.copy("COPY t FROM STDIN (FORMAT BINARY)") as copy:
                    copy.set_types(['"ext".vec'])
                    copy.write_row([a])
            assert np.array_equal(c.execute("SELECT emb FROM t").fetchone()[0], a)
    finally:
        with psycopg.connect(dbname=dbname, autocommit=True) as admin:
            admin.execute("DROP DATABASE ms_pytest_schema WITH (FORCE)")


def test_register_on_cursor_only(dbname):
    with psycopg.connect(dbname=dbname, autocommit=True) as c:
        cur = c.cursor()
        register_vec(cur)
        assert isinstance(cur.execute("SELECT '[1,2]'::vec").fetchone()[0], np.ndarray)
        # the connection's other cursors keep the defaults
        assert c.execute("SELECT '[1,2]'::vec").fetchone()[0] == "[1,2]"
