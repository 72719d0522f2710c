"""SQLAlchemy 1.4: the Vec column type, its comparators, an ORM query
ordered by l2_distance served by an msivf index."""

import pytest
from _support import require

np = require("numpy")
sqlalchemy = require("sqlalchemy")
require("psycopg2")  # SQLAlchemy 1.4's PostgreSQL driver

from sqlalchemy import Column, Integer, create_engine, event, select  # noqa: E402
from sqlalchemy.orm import Session, declarative_base  # noqa: E402

from machinesoup.sqlalchemy import Vec  # noqa: E402

Base = declarative_base()


class Item(Base):
    __tablename__ = "sa_items"
    id = Column(Integer, primary_key=True)
    emb = Column(Vec(32))


@pytest.fixture
def engine(dbname):
    # libpq's environment gives host, port and user
    eng = create_engine("postgresql+psycopg2:///%s" % dbname, future=True)
    Base.metadata.drop_all(eng)
    Base.metadata.create_all(eng)
    yield eng
    Base.metadata.drop_all(eng)
    eng.dispose()


@pytest.fixture
def data():
    return np.random.default_rng(11).standard_normal((3000, 32)).astype(np.float32)


def test_ddl():
    from sqlalchemy.dialects import postgresql
    from sqlalchemy.schema import CreateTable
    ddl = str(CreateTable(Item.__table__).compile(dialect=postgresql.dialect()))
    assert "emb VEC(32)" in ddl
    assert Vec().get_col_spec() == "VEC"


def test_round_trip_and_operators(engine, data):
    with Session(engine) as s:
        s.add_all([Item(id=i, emb=data[i]) for i in range(len(data))])
        s.commit()
        got = s.get(Item, 5).emb
        assert isinstance(got, np.ndarray) and np.array_equal(got, data[5])
        q = data[0]
        d = s.execute(select(Item.emb.l2_distance(q), Item.emb.max_inner_product(q),
                             Item.emb.cosine_distance(q), Item.emb.l1_distance(q))
                      .where(Item.id == 1)).one()
        x = data[1].astype(np.float64)
        y = q.astype(np.float64)
        assert d[0] == pytest.approx(np.linalg.norm(x - y), rel=1e-5)
        assert d[1] == pytest.approx(-x.dot(y), rel=1e-5)
        assert d[2] == pytest.approx(1 - x.dot(y) / np.linalg.norm(x) / np.linalg.norm(y), rel=1e-4)
        assert d[3] == pytest.approx(np.abs(x - y).sum(), rel=1e-5)
        # lists bind too; NULL stays None
        s.add(Item(id=100000, emb=list(range(1, 33))))
        s.add(Item(id=100001, emb=None))
        s.commit()
        assert s.get(Item, 100000).emb.tolist() == list(range(1, 33))
        assert s.get(Item, 100001).emb is None


@pytest.mark.parametrize("metric,opclass", [("l2_distance", "vec_l2_ops"),
                                            ("max_inner_product", "vec_ip_ops"),
                                            ("cosine_distance", "vec_cosine_ops")])
def test_orm_order_by_uses_msivf(engine, data, metric, opclass):
    with Session(engine) as s:
        s.add_all([Item(id=i, emb=data[i]) for i in range(len(data))])
        s.commit()
        s.execute(sqlalchemy.text(
            "CREATE INDEX sa_items_emb ON sa_items USING msivf (emb %s) WITH (lists = 10)" % opclass))
        s.execute(sqlalchemy.text("ANALYZE sa_items"))
        s.commit()
        q = data[42] + 0.01
        stmt = select(Item).order_by(getattr(Item.emb, metric)(q)).limit(10)

        # the statement SQLAlchemy sends, explained with the same parameters
        sent = []
        listener = lambda conn, cur, st, params, ctx, many: sent.append((st, params))  # noqa: E731
        event.listen(engine, "before_cursor_execute", listener)
        try:
            # probes = lists: the index scan is exact, so the results can be
            # checked against numpy
            s.execute(sqlalchemy.text("SET LOCAL machinesoup.probes = 10"))
            items = s.scalars(stmt).all()
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        st, params = sent[-1]
        cur = s.connection().connection.cursor()
        cur.execute("EXPLAIN " + st, params)
        plan = "\n".join(r[0] for r in cur.fetchall())
        assert "Index Scan using sa_items_emb" in plan, plan
        assert "Sort" not in plan, plan

        x = data.astype(np.float64)
        y = q.astype(np.float32).astype(np.float64)
        if metric == "l2_distance":
            dist = np.linalg.norm(x - y, axis=1)
        elif metric == "max_inner_product":
            dist = -x.dot(y)
        else:
            dist = 1 - x.dot(y) / np.linalg.norm(x, axis=1) / np.linalg.norm(y)
        expect = np.argsort(dist, kind="stable")[:10]
        assert [it.id for it in items] == expect.tolist()
        if metric == "l2_distance":
            assert items[0].id == 42
