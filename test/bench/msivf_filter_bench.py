#!/usr/bin/python3
"""msivf filtered-query benchmark (issue 14): WHERE category = $2 ORDER BY
emb <op> $1 LIMIT 10 through msivf against pgvector HNSW's iterative scan,
side by side in one server and one run.

Each row gets a `category int` drawn at random with a fixed seed: category
0 holds 10 % of the rows, categories 1..90 1 % each.  A query of the 10 %
filter asks for category 0; one of the 1 % filter for a category drawn per
query (fixed seed).  Ground truth: the exact top-10 among the rows of the
query's category (numpy, float64).

The protocol is msivf_bench.py's: one client; a statement prepared once
through libpq, executed with the query vector and the category as BINARY
parameters; no index on category on either side (the question is the
vector index under a filter); EXPLAIN of the prepared statement must show
a scan of the intended index, before and after each sweep (else the run
stops); warm cache (pg_prewarm, a warm-up pass); each point is the median
QPS of MSIVF_BENCH_RUNS passes.  msivf sweeps machinesoup.probes with its
default relaxed order (and reports the default setting, probes 0 =
calibrated for target_recall 0.95); pgvector HNSW (m 16, ef_construction
64) sweeps pairs of hnsw.ef_search and hnsw.max_scan_tuples (pgvector's
default cap is 20000 tuples; the larger caps let its recall rise past
what 20000 allows at 1 %) with hnsw.iterative_scan = relaxed_order.
msivf is measured with machinesoup.scan_deepen on ("msivf", the
default) and off ("msivf nodeepen", the scan before deepening).

Prints, per set and selectivity: method, setting, recall@10, rows returned
per query and the share of full pages (10 rows), QPS, and QPS over HNSW's
at the same recall (log-interpolated on HNSW's frontier of that
selectivity); then a summary line per selectivity: QPS at recall 0.90 and
0.95 of each, counting only points whose every page was full.

Environment: MSIVF_BENCH_SET (comma list, default glove), MSIVF_BENCH_LIMIT
(base rows, a prefix), MSIVF_BENCH_QUERIES (default 1000), MSIVF_BENCH_RUNS
(default 3), MSIVF_FILTER_PROBES, MSIVF_FILTER_HNSW (ef:max_tuples
pairs), MSIVF_FILTER_DEEPEN (default on,off),
MSIVF_FILTER_SEL (default 1,10: percent), MSIVF_FILTER_REUSE=1 (keep the
tables and indexes of an earlier run when they have the same rows: for
measuring a new msivf build against the same data without rebuilding HNSW;
a fresh msivf index is still built unless MSIVF_FILTER_REUSE=2).

Run through test/bench/msivf_filter_bench.sh (it provides the server).
"""
import os
import struct
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import datasets  # noqa: E402
import msivf_bench as mb  # noqa: E402

K = 10
NQ = int(os.environ.get("MSIVF_BENCH_QUERIES", "1000"))
LIMIT = int(os.environ["MSIVF_BENCH_LIMIT"]) if os.environ.get("MSIVF_BENCH_LIMIT") else None
SETS = datasets.expand(os.environ.get("MSIVF_BENCH_SET", "glove"))
RUNS = int(os.environ.get("MSIVF_BENCH_RUNS", "3"))
PROBES = mb.knobs("MSIVF_FILTER_PROBES", "8,16,32,48,64,96,128")
# pgvector hnsw: ef_search:max_scan_tuples pairs (20000 is pgvector's default cap)
HNSW = [tuple(int(y) for y in x.split(":")) for x in
        os.environ.get("MSIVF_FILTER_HNSW", "16:20000,40:20000,100:20000,200:50000,400:100000").split(",")]
SEL = mb.knobs("MSIVF_FILTER_SEL", "1,10")
DEEPEN = os.environ.get("MSIVF_FILTER_DEEPEN", "on,off").split(",")
REUSE = int(os.environ.get("MSIVF_FILTER_REUSE", "0"))
SEED = 20261207
WARMUP = 200
TARGETS = (0.90, 0.95)


def categories(n):
    """Category of each row: 0 for 10 % of them, 1..90 for 1 % each."""
    rng = np.random.default_rng(SEED)
    p = np.full(91, 0.01)
    p[0] = 0.10
    return rng.choice(91, size=n, p=p / p.sum()).astype(np.int32)


def query_categories(nq, sel):
    if sel == 10:
        return np.zeros(nq, dtype=np.int32)
    return np.random.default_rng(SEED + 1).integers(1, 91, size=nq).astype(np.int32)


def filtered_gt(B, Q, metric, cat, qcat):
    """Exact top-K ids among the rows of each query's category."""
    X = np.asarray(B, dtype=np.float32)
    Qs = np.asarray(Q, dtype=np.float32)
    if metric == "cos":
        X = X / np.linalg.norm(X, axis=1, keepdims=True)
        Qs = Qs / np.linalg.norm(Qs, axis=1, keepdims=True)
    gt = np.empty((len(Q), K), dtype=np.int64)
    for c in np.unique(qcat):
        ids = np.nonzero(cat == c)[0]
        Xc = X[ids].astype(np.float64)
        qi = np.nonzero(qcat == c)[0]
        for s in range(0, len(qi), 256):
            part = qi[s:s + 256]
            Qc = Qs[part].astype(np.float64)
            if metric == "l2":
                dist = (Qc ** 2).sum(1)[:, None] - 2 * Qc @ Xc.T + (Xc ** 2).sum(1)[None, :]
            else:
                dist = -(Qc @ Xc.T)
            top = np.argsort(dist, axis=1, kind="stable")[:, :K]
            gt[part] = ids[top]
    return gt


def copy_rows(conn, table, base, cat):
    """COPY (id, category, emb) in binary format."""
    d = base.shape[1]
    dt = np.dtype([("nf", ">i2"), ("l1", ">i4"), ("id", ">i4"), ("l2", ">i4"), ("cat", ">i4"),
                   ("l3", ">i4"), ("dim", ">i2"), ("flags", ">i2"), ("v", ">f4", (d,))])
    with conn.cursor() as cur:
        with cur.copy(f"COPY {table} (id, category, emb) FROM STDIN (FORMAT binary)") as cp:
            cp.write(b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0))
            for s in range(0, len(base), 20000):
                chunk = np.asarray(base[s:s + 20000], dtype=np.float32)
                a = np.empty(len(chunk), dtype=dt)
                a["nf"], a["l1"], a["l2"], a["l3"] = 3, 4, 4, 4 + 4 * d
                a["id"] = np.arange(s, s + len(chunk))
                a["cat"] = cat[s:s + len(chunk)]
                a["dim"], a["flags"] = d, 0
                a["v"] = chunk
                cp.write(a.tobytes())
            cp.write(struct.pack(">h", -1))


class FPG(mb.PG):
    """msivf_bench's connection, with two binary parameters (vector, int4)."""

    def prepare2(self, name, query, typname):
        oid = self.one("SELECT %s::regtype::oid", (typname,))
        if self.sql("SELECT 1 FROM pg_prepared_statements WHERE name = %s", (name,)):
            self.sql(f"DEALLOCATE {name}")
        res = self.pgconn.prepare(name.encode(), query.encode(), [oid, 23])
        if res.status != mb.pq.ExecStatus.COMMAND_OK:
            sys.exit(f"PREPARE {name} failed: {res.error_message.decode()}")

    def execute2(self, name, params):
        ex, ok, bname, fmt = self.pgconn.exec_prepared, mb.pq.ExecStatus.TUPLES_OK, name.encode(), [1, 1]
        found = []
        t0 = time.perf_counter()
        for p in params:
            r = ex(bname, p, fmt, 0)
            if r.status != ok:
                sys.exit(f"EXECUTE {name} failed: {r.error_message.decode()}")
            found.append([int(r.get_value(i, 0)) for i in range(r.ntuples)])
        return found, time.perf_counter() - t0

    def assert_plan2(self, name, qtext, cat, index):
        """The plan the plan cache runs now must scan `index`, with no
        sequential scan or sort (mb.PG.assert_plan with two parameters)."""
        import json
        plan = self.one(f"EXPLAIN (FORMAT JSON) EXECUTE {name}('{qtext}', {cat})")
        if isinstance(plan, str):
            plan = json.loads(plan)
        nodes = []

        def walk(n):
            nodes.append(n)
            for c in n.get("Plans", []):
                walk(c)
        walk(plan[0]["Plan"])
        used = [n.get("Index Name") for n in nodes if n["Node Type"] in ("Index Scan", "Index Only Scan")]
        bad = [n["Node Type"] for n in nodes if n["Node Type"] in ("Seq Scan", "Sort", "Incremental Sort")]
        if used != [index] or bad:
            sys.exit(f"PLAN ASSERTION FAILED: {name} should scan index {index}, plan is:\n"
                     + json.dumps(plan, indent=1))


class Pt:
    def __init__(self, method, sel, setting, recall, rows, full, qps, curve=True):
        self.method, self.sel, self.setting = method, sel, setting
        self.recall, self.rows, self.full, self.qps, self.curve = recall, rows, full, qps, curve


def recall_of(found, gt):
    return sum(len(set(f) & set(g.tolist())) for f, g in zip(found, gt)) / (len(gt) * K)


def table_rows(pg, tab):
    try:
        return pg.one(f"SELECT count(*) FROM {tab}")
    except Exception:
        return None


def run_set(pg, s):
    name, metric, B, Q = s["name"], s["metric"], s["base"], s["queries"]
    n, d = B.shape
    op, ops_suffix = mb.OPS[metric]
    tab = "f_" + name.replace("-", "_")
    ptab = tab + "_pgv"
    cat = categories(n)
    qtext0 = "[" + ",".join("%.9g" % x for x in Q[0]) + "]"
    qbin = [mb.vec_binary(q) for q in Q]
    cases = {}
    for sel in SEL:
        qc = query_categories(len(Q), sel)
        t0 = time.time()
        gt = filtered_gt(B, Q, metric, cat, qc)
        print(f"{name}: exact filtered top-{K} at {sel} % in {time.time() - t0:.1f} s", flush=True)
        cases[sel] = (qc, gt, [(qb, struct.pack(">i", int(c))) for qb, c in zip(qbin, qc)])
    pts = []
    info = {"n": n, "d": d}

    def sweep(method, stmt, index, apply, values, setting):
        for sel, (qc, gt, params) in cases.items():
            pg.assert_plan2(stmt, qtext0, int(qc[0]), index)
            pg.execute2(stmt, params[:WARMUP])
            for v in values:
                apply(v)
                found, secs = pg.execute2(stmt, params)
                times = [secs] + [pg.execute2(stmt, params)[1] for _ in range(RUNS - 1)]
                nrows = np.array([len(f) for f in found])
                p = Pt(method, sel, setting(v), recall_of(found, gt), nrows.mean(), (nrows == K).mean(),
                       len(params) / float(np.median(times)), curve=v != 0 or not method.startswith("msivf"))
                pts.append(p)
                print(f"  {method} {sel}% {p.setting}: recall {p.recall:.3f}, rows {p.rows:.2f} "
                      f"(full {100 * p.full:.0f} %), {p.qps:.0f} QPS", flush=True)
                if p.recall >= 0.995 and p.full == 1.0:
                    break
            pg.assert_plan2(stmt, qtext0, int(qc[0]), index)

    # ---- tables: the same rows and categories on both sides
    for t, typ in ((tab, "vec"), (ptab, "vector")):
        if REUSE and table_rows(pg, t) == n:
            continue
        pg.sql(f"DROP TABLE IF EXISTS {t}")
        pg.sql(f"CREATE TABLE {t} (id int, category int, emb {typ}({d}))")
        copy_rows(pg.conn, t, B, cat)
        pg.sql(f"VACUUM ANALYZE {t}")

    # ---- msivf
    idx = tab + "_msivf"
    if not (REUSE >= 2 and pg.sql("SELECT 1 FROM pg_class WHERE relname = %s", (idx,))):
        pg.sql(f"DROP INDEX IF EXISTS {idx}")
        t0 = time.time()
        pg.sql(f"CREATE INDEX {idx} ON {tab} USING msivf (emb vec{ops_suffix})")
        info["msivf build"] = time.time() - t0
    lists, calibrated = pg.sql(f"SELECT lists, calibrated_probes FROM msivf_index_info('{idx}')")[0]
    info["lists"], info["calibrated"] = lists, calibrated
    print(f"msivf: {lists} lists, calibrated probes for 0.95: {calibrated}", flush=True)
    mb.prewarm(pg, tab, idx)
    pg.prepare2("fknn", f"SELECT id FROM {tab} WHERE category = $2 ORDER BY emb {op} $1 LIMIT {K}", "vec")
    for deepen in DEEPEN:
        pg.sql(f"SET machinesoup.scan_deepen = {deepen}")
        sweep("msivf" if deepen == "on" else "msivf nodeepen", "fknn", idx,
              lambda p: pg.sql(f"SET machinesoup.probes = {p}"), [0] + [p for p in PROBES if p <= lists],
              lambda p: f"probes={p}" if p else f"default (probes 0 -> {calibrated})")
    pg.sql("RESET machinesoup.probes")
    pg.sql("RESET machinesoup.scan_deepen")

    # ---- pgvector hnsw, iterative scan
    pidx = ptab + "_hnsw"
    if not (REUSE and pg.sql("SELECT 1 FROM pg_class WHERE relname = %s", (pidx,))):
        pg.sql(f"DROP INDEX IF EXISTS {pidx}")
        t0 = time.time()
        pg.sql(f"CREATE INDEX {pidx} ON {ptab} USING hnsw (emb vector{ops_suffix}) "
               "WITH (m = 16, ef_construction = 64)")
        info["hnsw build"] = time.time() - t0
    info["pgvector"] = pg.one("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
    mb.prewarm(pg, ptab, pidx)
    pg.sql("SET hnsw.iterative_scan = relaxed_order")
    # pgvector prices an iterative scan under a rare filter above a
    # sequential scan and an exact sort when its vectors are TOASTed (768-d
    # at 1 %): the planner's choice, but not the index under test
    pg.sql("SET enable_seqscan = off")
    pg.prepare2("fknn_pgv", f"SELECT id FROM {ptab} WHERE category = $2 ORDER BY emb {op} $1 LIMIT {K}", "vector")
    sweep("pgvector hnsw", "fknn_pgv", pidx,
          lambda v: pg.sql(f"SET hnsw.ef_search = {v[0]}; SET hnsw.max_scan_tuples = {v[1]}"), HNSW,
          lambda v: f"ef_search={v[0]} max_scan_tuples={v[1]}")
    pg.sql("RESET hnsw.iterative_scan")
    pg.sql("RESET enable_seqscan")
    return pts, info


def report(s, pts, info):
    n, d = info["n"], info["d"]
    print()
    print(f"== filtered {s['name']}: {s['description']}, {n} rows x {d} dims, {len(s['queries'])} queries, "
          f"WHERE category = $2 ORDER BY emb <op> $1 LIMIT {K}; one client, binary parameters, "
          f"median of {RUNS} passes; msivf {info['lists']} lists, pgvector {info['pgvector']} hnsw")
    print(f"{'method':<15} {'sel':>4} {'setting':<34} {'recall':>6} {'rows/q':>6} {'full':>5} {'QPS':>7} "
          f"{'x hnsw':>7}")
    for sel in SEL:
        hn = [p for p in pts if p.method == "pgvector hnsw" and p.sel == sel and p.full == 1.0]
        for p in (x for x in pts if x.sel == sel):
            h, how = mb.qps_at(hn, p.recall) if p.method != "pgvector hnsw" else (None, None)
            rat = "-" if h is None else (("<=" if how == ">=" else "") + f"{p.qps / h:.2f}")
            print(f"{p.method:<15} {str(sel) + '%':>4} {p.setting:<34} {p.recall:>6.3f} {p.rows:>6.2f} "
                  f"{100 * p.full:>4.0f}% {p.qps:>7.0f} {rat:>7}")
    for sel in SEL:
        for tgt in TARGETS:
            h = [p for p in pts if p.method == "pgvector hnsw" and p.sel == sel and p.full == 1.0]
            qh, _ = mb.qps_at(h, tgt)
            for meth in ("msivf", "msivf nodeepen"):
                m = [p for p in pts if p.method == meth and p.sel == sel and p.curve and p.full == 1.0]
                if not m:
                    continue
                qm, _ = mb.qps_at(m, tgt)
                rat = f"{qm / qh:.2f}" if qm and qh else "-"
                print(f"SUMMARY {s['name']} {sel}% recall {tgt:.2f} (full pages): {meth} "
                      f"{'-' if qm is None else format(qm, '.0f')} QPS, hnsw "
                      f"{'-' if qh is None else format(qh, '.0f')} QPS, ratio {rat}")
        # hnsw's recall may stop short of the targets (its iterative scan
        # plateaus): compare at the best recall it reached, too
        h = [p for p in pts if p.method == "pgvector hnsw" and p.sel == sel and p.full == 1.0]
        if h:
            top = max(p.recall for p in h)
            qh, _ = mb.qps_at(h, top)
            for meth in ("msivf", "msivf nodeepen"):
                m = [p for p in pts if p.method == meth and p.sel == sel and p.curve and p.full == 1.0]
                qm, how = mb.qps_at(m, top) if m else (None, None)
                rat = "-" if not (qm and qh) else ("<=" if how == ">=" else "") + f"{qm / qh:.2f}"
                print(f"SUMMARY {s['name']} {sel}% at hnsw's best recall {top:.3f}: {meth} "
                      f"{'-' if qm is None else format(qm, '.0f')} QPS, hnsw {qh:.0f} QPS, ratio {rat}")


def main():
    pg = FPG()
    for e in ("machinesoup", "pg_prewarm", "vector"):
        pg.sql(f"CREATE EXTENSION IF NOT EXISTS {e}")
    pg.sql("SET maintenance_work_mem = '2GB'")
    for name in SETS:
        s = datasets.load_set(name, LIMIT, NQ)
        t0 = time.time()
        pts, info = run_set(pg, s)
        report(s, pts, info)
        print(f"{name}: measured in {(time.time() - t0) / 60:.1f} min", flush=True)


if __name__ == "__main__":
    main()
