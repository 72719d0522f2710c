#!/usr/bin/python3
"""A/B of two builds of msivf's scan on one data set: the same rows and the
same index (built with one process from a seeded sample, so both builds
train the same centroids) in two servers, each running one build; the same
queries at each probe count, the servers taking turns, ROUNDS times.  One
client per server at a time, prepared statements with binary parameters,
warm cache.  Prints per probe count the recall of each build (equal unless
the change alters results), their median queries per second and per CPU
second of the server backend (from /proc: this machine's other load moves
it less than wall time), and B/A of each; and the reranks (heap fetches)
a query made, from msivf_scan_stats().

    msivf_scan_ab.py PORT_A PORT_B     (servers on a socket in AB_SOCKET,
                                        user postgres; msivf_scan_ab.sh
                                        builds and starts them)

AB_SET (default glove), AB_LIMIT (base rows, default all), AB_QUERIES
(default 1000), AB_PROBES (default 16,37,96), AB_ROUNDS (default 3).
"""
import os
import statistics
import sys
import time

import numpy as np
import psycopg
from psycopg import pq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import datasets  # noqa: E402
from msivf_bench import copy_binary, proc_cpu, vec_binary  # noqa: E402

SOCKET = os.environ.get("AB_SOCKET", "/tmp")
SET = os.environ.get("AB_SET", "glove")
LIMIT = int(os.environ["AB_LIMIT"]) if os.environ.get("AB_LIMIT") else None
NQ = int(os.environ.get("AB_QUERIES", "1000"))
PROBES = [int(p) for p in os.environ.get("AB_PROBES", "16,37,96").split(",")]
ROUNDS = int(os.environ.get("AB_ROUNDS", "3"))
OPCLASS = {"cos": "vec_cosine_ops", "l2": "vec_l2_ops", "ip": "vec_ip_ops"}
OPERATOR = {"cos": "<=>", "l2": "<->", "ip": "<#>"}
DIMS = [0]


def connect(port):
    return psycopg.connect(f"host={SOCKET} port={port} user=postgres dbname=postgres", autocommit=True)


def load(conn, base, metric):
    with conn.cursor() as cur:
        cur.execute("CREATE EXTENSION IF NOT EXISTS machinesoup")
        cur.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
        cur.execute("DROP TABLE IF EXISTS ab_items")
        cur.execute("CREATE TABLE ab_items (id int, emb vec)")
        copy_binary(conn, "ab_items", base)
        cur.execute("SET maintenance_work_mem = '1GB'")
        cur.execute("SET max_parallel_maintenance_workers = 0")
        t = time.time()
        cur.execute(f"CREATE INDEX ab_items_emb ON ab_items USING msivf (emb {OPCLASS[metric]})")
        built = time.time() - t
        cur.execute("VACUUM ANALYZE ab_items")
        lists = cur.execute("SELECT lists FROM msivf_index_info('ab_items_emb')").fetchone()[0]
    return built, lists


def prewarm(conn):
    conn.execute("SELECT pg_prewarm('ab_items'), pg_prewarm('ab_items_emb')")


def prepare(conn, op):
    """The query, prepared as ab_knn with a binary vec parameter, after
    checking that its plan is an msivf scan of ab_items_emb."""
    plan = conn.execute(f"EXPLAIN (COSTS OFF) SELECT id FROM ab_items ORDER BY emb {op} "
                        f"'[{','.join(['1'] * DIMS[0])}]' LIMIT {datasets.K}").fetchall()
    if "Index Scan using ab_items_emb" not in "\n".join(r[0] for r in plan):
        sys.exit("msivf_scan_ab.py: the plan does not use the msivf index:\n" + "\n".join(r[0] for r in plan))
    oid = conn.execute("SELECT 'vec'::regtype::oid").fetchone()[0]
    res = conn.pgconn.prepare(b"ab_knn", f"SELECT id FROM ab_items ORDER BY emb {op} $1 LIMIT {datasets.K}".encode(),
                              [oid])
    if res.status != pq.ExecStatus.COMMAND_OK:
        sys.exit(f"PREPARE failed: {res.error_message.decode()}")


def reranks(conn):
    return conn.execute("SELECT reranks FROM msivf_scan_stats()").fetchone()[0]


def run(conn, pid, qbin, gt, probes):
    """One pass over the queries: (recall@10, QPS, queries per CPU second
    of the backend, reranks per query)."""
    conn.execute(f"SET machinesoup.probes = {probes}")
    ex, ok = conn.pgconn.exec_prepared, pq.ExecStatus.TUPLES_OK
    found = []
    r0 = reranks(conn)
    c0, t0 = proc_cpu(pid), time.perf_counter()
    for b in qbin:
        r = ex(b"ab_knn", [b], [1], 0)
        if r.status != ok:
            sys.exit(f"EXECUTE failed: {r.error_message.decode()}")
        found.append([int(r.get_value(i, 0)) for i in range(r.ntuples)])
    wall, cpu = time.perf_counter() - t0, proc_cpu(pid) - c0
    hits = sum(len(set(f) & set(gt[i].tolist())) for i, f in enumerate(found))
    return (hits / (len(qbin) * datasets.K), len(qbin) / wall, len(qbin) / max(cpu, 1e-9),
            (reranks(conn) - r0) / len(qbin))


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    ports = {"A": int(sys.argv[1]), "B": int(sys.argv[2])}
    s = datasets.load_set(SET, LIMIT, NQ)
    base = np.ascontiguousarray(s["base"], dtype=np.float32)
    conns, pids = {}, {}
    for side, port in ports.items():
        conns[side] = connect(port)
        built, lists = load(conns[side], base, s["metric"])
        print(f"{side}: loaded {len(base)} rows x {base.shape[1]}, msivf built in {built:.1f} s "
              f"(one process), {lists} lists", flush=True)
    op = OPERATOR[s["metric"]]
    qbin = [vec_binary(q) for q in s["queries"]]
    DIMS[0] = base.shape[1]
    for side in ports:
        conns[side].prepare_threshold = None
        pids[side] = conns[side].execute("SELECT pg_backend_pid()").fetchone()[0]
        prewarm(conns[side])
        prepare(conns[side], op)
        # a warm-up pass: the backend's index state and buffer hints, the plan
        run(conns[side], pids[side], qbin[:200], s["gt"], PROBES[0])
    res = {(side, p): [] for side in ports for p in PROBES}
    for r in range(ROUNDS):
        order = ["A", "B"] if r % 2 == 0 else ["B", "A"]
        for p in PROBES:
            for side in order:
                res[(side, p)].append(run(conns[side], pids[side], qbin, s["gt"], p))
    print(f"\n== {SET}: {s['description']}, {len(base)} rows, {len(s['queries'])} queries, "
          f"median of {ROUNDS} rounds (servers alternating)")
    print(f"{'probes':>6} {'recall A':>9} {'recall B':>9} {'reranks A':>10} {'reranks B':>10} {'QPS A':>8} "
          f"{'QPS B':>8} {'B/A':>6} {'CPU QPS A':>10} {'CPU QPS B':>10} {'B/A':>6}")
    for p in PROBES:
        a, b = res[("A", p)], res[("B", p)]
        med = [lambda x, j=j: statistics.median(v[j] for v in x) for j in range(4)]
        print(f"{p:>6} {med[0](a):>9.3f} {med[0](b):>9.3f} {med[3](a):>10.1f} {med[3](b):>10.1f} "
              f"{med[1](a):>8.0f} {med[1](b):>8.0f} {med[1](b) / med[1](a):>6.2f} "
              f"{med[2](a):>10.0f} {med[2](b):>10.0f} {med[2](b) / med[2](a):>6.2f}")


if __name__ == "__main__":
    main()
