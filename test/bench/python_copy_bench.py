"""Binary COPY of vec from Python (issue 17): rows per second of three
ways to load the same N x D float32 matrix, measured in one run against
one server:

  adapter binary   machinesoup.psycopg's binary dumper, COPY ... (FORMAT
                   BINARY), copy.set_types(["vec"]), copy.write_row([row])
  text literals    text COPY of '[x1,...,xD]' literals (the adapter's text
                   dumper: nine significant digits, what reads back exact)
  pgvector binary  the same binary COPY into pgvector's vector(D) through a
                   psycopg 3 binary Dumper written here, doing what
                   pgvector-python's does: its documented wire format
                   (uint16 dim, uint16 unused, dim big-endian float32),
                   one Vector object made per value

Each pass loads a fresh table in one transaction, the Python encoding
included (the time from COPY's start to its commit); the figure is the
median of PYTHON_COPY_BENCH_PASSES passes (default 3), the methods taking
turns so that drift hits them alike, after one uncounted warm-up load of
each.
"""

import os
import statistics
import struct
import sys
import time

import numpy as np
import psycopg
from psycopg.adapt import Dumper
from psycopg.pq import Format
from psycopg.types import TypeInfo

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "clients", "python"))
from machinesoup.psycopg import register_vec  # noqa: E402

N = int(os.environ.get("PYTHON_COPY_BENCH_N", "100000"))
D = int(os.environ.get("PYTHON_COPY_BENCH_DIMS", "100"))
PASSES = int(os.environ.get("PYTHON_COPY_BENCH_PASSES", "3"))


class PgvectorVector:
    """pgvector-python's Vector, as far as its binary dump goes."""

    def __init__(self, value):
        value = np.asarray(value, dtype=">f4")
        if value.ndim != 1:
            raise ValueError("expected ndim to be 1")
        self._value = value

    def to_binary(self):
        return struct.pack(">HH", self._value.shape[0], 0) + self._value.tobytes()


class PgvectorBinaryDumper(Dumper):
    format = Format.BINARY

    def dump(self, obj):
        return PgvectorVector(obj).to_binary()


def load(conn, table, typ, fmt, matrix):
    conn.execute("DROP TABLE IF EXISTS %s" % table)
    conn.execute("CREATE TABLE %s (emb %s(%d))" % (table, typ, D))
    conn.commit()
    t0 = time.perf_counter()
    with conn.cursor() as cur:
        with cur.copy("COPY %s (emb) FROM STDIN%s" % (table, " (FORMAT BINARY)" if fmt == "binary" else "")) as copy:
            copy.set_types([typ])
            for row in matrix:
                copy.write_row((row,))
    conn.commit()
    elapsed = time.perf_counter() - t0
    n = conn.execute("SELECT count(*) FROM %s" % table).fetchone()[0]
    assert n == len(matrix), (table, n)
    return elapsed


def main():
    matrix = np.random.default_rng(17).standard_normal((N, D)).astype(np.float32)
    conn = psycopg.connect()
    conn.execute("CREATE EXTENSION IF NOT EXISTS machinesoup")
    conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    conn.commit()
    register_vec(conn)
    info = TypeInfo.fetch(conn, "vector")
    info.register(conn)
    conn.adapters.register_dumper(None, type("D", (PgvectorBinaryDumper,), {"oid": info.oid}))

    methods = [
        ("machinesoup adapter, binary COPY", "t_bin", "vec", "binary"),
        ("machinesoup adapter, text COPY of '[...]'", "t_text", "vec", "text"),
        ("pgvector binary COPY (vector)", "t_pgv", "vector", "binary"),
    ]
    # a warm-up load of each, not counted: the first pass of a fresh
    # server pays for its caches
    for name, table, typ, fmt in methods:
        load(conn, table, typ, fmt, matrix[:min(N, 20000)])
        conn.execute("DROP TABLE %s" % table)
        conn.commit()
    times = {m[0]: [] for m in methods}
    for p in range(PASSES):
        for name, table, typ, fmt in methods:
            times[name].append(load(conn, table, typ, fmt, matrix))
            conn.execute("DROP TABLE %s" % table)
            conn.commit()
            conn.execute("CHECKPOINT")
    # a round trip: the binary rows read back equal to the bit
    load(conn, "t_check", "vec", "binary", matrix[:1000])
    back = np.array([r[0] for r in conn.execute("SELECT emb FROM t_check", binary=True)])
    assert np.array_equal(back, matrix[:1000])

    med = {k: statistics.median(v) for k, v in times.items()}
    base_bin = med[methods[0][0]]
    print("\nBinary COPY from Python: %d rows of %d float32, median of %d passes, psycopg %s (%s), numpy %s\n"
          % (N, D, PASSES, psycopg.__version__, psycopg.pq.__impl__, np.__version__))
    print("| method | seconds | rows/s | adapter binary is x faster |")
    print("|---|---:|---:|---:|")
    for name, *_ in methods:
        print("| %s | %.2f | %s | %.2f |" % (name, med[name], format(int(N / med[name]), ","),
                                              med[name] / base_bin))
    print("\nall passes (s): " + "; ".join("%s: %s" % (k, ", ".join("%.2f" % t for t in v))
                                          for k, v in times.items()))


if __name__ == "__main__":
    main()
