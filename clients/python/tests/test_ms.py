"""ingest_matrix and knn end to end, as a role holding only the grants
they need: ingest for one, query for the other."""

import pytest
from _support import require

np = require("numpy")

from machinesoup import ingest_matrix, knn  # noqa: E402

ORG, MODEL = "py-org", "emb"


def _driver(name):
    return require(name)


@pytest.fixture(scope="module")
def store(dbname):
    """A float32 model with its promoted version, and three roles: a
    producer (ingest), a reader (query), a nobody (no grants)."""
    psycopg = _driver("psycopg")
    with psycopg.connect(dbname=dbname, autocommit=True) as c:
        for r in ("py_producer", "py_reader", "py_nobody"):
            c.execute("DROP ROLE IF EXISTS %s" % r)
            c.execute("CREATE ROLE %s NOLOGIN" % r)
        c.execute("SELECT ms.create_model(%s, %s, 16)", [ORG, MODEL])
        c.execute("SELECT ms.create_version(%s, %s, 'v1', 'ms.proc_float32(bytea,integer)')",
                  [ORG, MODEL])
        c.execute("SELECT ms.promote(%s, %s, 'v1')", [ORG, MODEL])
        c.execute("SELECT ms.grant('py_producer', 'ingest', %s, %s)", [ORG, MODEL])
        c.execute("SELECT ms.grant('py_reader', 'query', %s, %s)", [ORG, MODEL])
    yield
    with psycopg.connect(dbname=dbname, autocommit=True) as c:
        # the grants rows name the roles: drop what owns or names them first
        c.execute("DROP OWNED BY py_producer, py_reader, py_nobody")


def as_role(conn, role):
    cur = conn.cursor()
    cur.execute("SET ROLE %s" % role)
    cur.close()


@pytest.mark.parametrize("driver", ["psycopg", "psycopg2"])
def test_ingest_then_knn(dbname, store, driver):
    mod = _driver(driver)
    rng = np.random.default_rng(7 if driver == "psycopg" else 8)
    base = 0 if driver == "psycopg" else 100000
    m = rng.standard_normal((5000, 16))  # float64: sent as float32
    ids = np.arange(base, base + 5000, dtype=np.int64)

    with mod.connect(dbname=dbname) as c:
        as_role(c, "py_producer")
        batches = ingest_matrix(c, ORG, MODEL, m, ids=ids, batch_rows=2000)
        assert len(batches) == 3 and all(isinstance(b, int) for b in batches)
        c.commit()
        # the producer cannot read back what it sent
        with pytest.raises(mod.Error) as e:
            knn(c, ORG, MODEL, m[0], 5)
        assert (getattr(e.value, "sqlstate", None) or e.value.pgcode) == "42501"
        c.rollback()

    with mod.connect(dbname=dbname) as c:
        as_role(c, "py_reader")
        q = m[123] + 0.001
        got_ids, got_dist = knn(c, ORG, MODEL, q, 10, label="v1")
        assert got_ids.dtype == np.int64 and got_dist.dtype == np.float64
        # exact: 5000 points are under the size at which a version gets an index
        # (the other driver's points are there too when it ran first)
        c.cursor().execute("RESET ROLE")
        allm, allids = _all_points(c)
        d = np.linalg.norm(allm.astype(np.float64) - q.astype(np.float32).astype(np.float64), axis=1)
        order = np.argsort(d, kind="stable")[:10]
        assert got_ids.tolist() == allids[order].tolist()
        assert got_ids[0] == base + 123
        assert np.allclose(got_dist, d[order], rtol=1e-5)
        as_role(c, "py_reader")
        ids3, dist3, payloads = knn(c, ORG, MODEL, q, 3, payload=True)
        assert ids3.tolist() == got_ids[:3].tolist() and payloads == [None, None, None]
        # the reader cannot ingest
        with pytest.raises(mod.Error) as e:
            ingest_matrix(c, ORG, MODEL, m[:1], ids=[1])
        assert (getattr(e.value, "sqlstate", None) or e.value.pgcode) == "42501"
        c.rollback()

    with mod.connect(dbname=dbname) as c:
        as_role(c, "py_nobody")
        with pytest.raises(mod.Error) as e:
            knn(c, ORG, MODEL, m[0], 5)
        assert (getattr(e.value, "sqlstate", None) or e.value.pgcode) == "42501"


def _all_points(c):
    cur = c.cursor()
    cur.execute("SELECT point_id, embedding::text FROM ms.points WHERE org = %s ORDER BY point_id",
                (ORG,))
    rows = cur.fetchall()
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    mat = np.array([r[1][1:-1].split(",") for r in rows], dtype=np.float32)
    return mat, ids


def test_ingest_errors(dbname, store):
    psycopg = _driver("psycopg")
    with psycopg.connect(dbname=dbname) as c:
        as_role(c, "py_producer")
        # wrong width for the model: the processor names the problem (a
        # float32 batch has no framing: only a byte count that is not a
        # multiple of the model's record gives the mistake away)
        with pytest.raises(psycopg.Error, match="batch ends inside a record") as e:
            ingest_matrix(c, ORG, MODEL, np.zeros((2, 8)), ids=[1, 2])
        assert e.value.sqlstate == "22P03"
        c.rollback()
        with pytest.raises(psycopg.Error, match="record 1, element 1: NaN or Infinity") as e:
            ingest_matrix(c, ORG, MODEL, np.full((1, 16), np.nan), ids=[1])
        assert e.value.sqlstate == "22P03"
        c.rollback()
        with pytest.raises(psycopg.Error, match="point id 5 appears more than once") as e:
            ingest_matrix(c, ORG, MODEL, np.zeros((2, 16)), ids=[5, 5])
        assert e.value.sqlstate == "21000"
        c.rollback()
        # a model the producer holds no grant on (whether it is told the
        # model does not exist or is refused is governance's business)
        with pytest.raises(psycopg.Error, match='model "py-org/nope"') as e:
            ingest_matrix(c, ORG, "nope", np.zeros((1, 16)))
        assert e.value.sqlstate in ("42501", "42704")
        c.rollback()
        with pytest.raises(ValueError, match="two dimensions"):
            ingest_matrix(c, ORG, MODEL, np.zeros(16))
        with pytest.raises(ValueError, match="3 ids for 2 rows"):
            ingest_matrix(c, ORG, MODEL, np.zeros((2, 16)), ids=[1, 2, 3])
