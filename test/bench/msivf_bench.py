#!/usr/bin/python3
"""msivf benchmark (issue 4): GloVe 100-d, cosine, recall@10 and QPS.

Holds out 10,000 words (fixed seed) as queries, computes the exact top-10
with FAISS IndexFlatIP on normalised vectors, loads the rest into
PostgreSQL, builds an msivf index (vec_cosine_ops, default lists) and
sweeps machinesoup.probes: one client, a prepared statement, warm cache.

Like with like:
 - build time: each PostgreSQL index is built twice, with the server's
   default max_parallel_maintenance_workers and with 0 (one process, as
   FAISS IVFFlat trains and adds on one thread here);
 - size: an msivf scan reranks its candidates by reading their vectors
   from the table, so its footprint is the index plus that heap; the
   table gives pg_relation_size of the index, of the table and their sum,
   and the same for pgvector (whose indexes hold full vectors themselves);
 - anchors in the same run: pgvector 0.8.6 ivfflat (as many lists as
   msivf chose) and hnsw (m 16, ef_construction 64) on the same rows, same
   protocol; FAISS IndexIVFFlat and IndexHNSWFlat in memory, searched on
   one thread (HNSWFlat is built on every core to keep the run short).
Prints one table and writes a recall-vs-QPS plot.

Environment: MSIVF_BENCH_LIMIT (use only the first N GloVe words, for a
short run), MSIVF_BENCH_QUERIES, MSIVF_BENCH_LISTS, MSIVF_BENCH_PROBES,
MSIVF_BENCH_FAISS=0, MSIVF_BENCH_PGVECTOR (comma list of ivfflat,hnsw;
empty for none).

Run through test/bench/msivf_bench.sh (it provides the server and
installs pgvector when it is missing).
"""
import os
import sys
import time

import numpy as np
import psycopg2

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import datasets  # noqa: E402

OUT = os.environ.get("MSIVF_BENCH_OUT", os.path.join(os.path.dirname(os.path.abspath(__file__)), "out"))
NQ = int(os.environ.get("MSIVF_BENCH_QUERIES", "10000"))
SEED = 20240601
K = 10
LISTS = os.environ.get("MSIVF_BENCH_LISTS")  # default: the index's own choice
FAISS = os.environ.get("MSIVF_BENCH_FAISS", "1") != "0"
PROBES = [int(x) for x in os.environ.get("MSIVF_BENCH_PROBES", "2,4,8,12,16,24,32,48").split(",")]
LIMIT = int(os.environ["MSIVF_BENCH_LIMIT"]) if os.environ.get("MSIVF_BENCH_LIMIT") else None
PGVECTOR = [x for x in os.environ.get("MSIVF_BENCH_PGVECTOR", "ivfflat,hnsw").split(",") if x]
MB = 2**20


def vtext(v):
    return "[" + ",".join("%.7g" % x for x in v) + "]"


def recall(found, gt):
    hits = 0
    for f, g in zip(found, gt):
        hits += len(set(f) & set(g))
    return hits / (len(gt) * K)


def timed_builds(cur, table, index, create):
    """Build the index with the server's max_parallel_maintenance_workers,
    drop it, build it again with 0; returns both times in seconds and
    leaves the second build in place."""
    times = []
    for workers in (None, 0):
        cur.execute(f"DROP INDEX IF EXISTS {index}")
        cur.execute("RESET max_parallel_maintenance_workers" if workers is None
                    else f"SET max_parallel_maintenance_workers = {workers}")
        cur.execute("CHECKPOINT")  # neither build writes out the other's pages
        t0 = time.time()
        cur.execute(create)
        times.append(time.time() - t0)
    cur.execute("RESET max_parallel_maintenance_workers")
    return times


def rel_sizes(cur, index, table):
    """pg_relation_size of the index and of its table, in MB."""
    cur.execute("SELECT pg_relation_size(%s::regclass), pg_relation_size(%s::regclass)", (index, table))
    return [x / MB for x in cur.fetchone()]


def main():
    import faiss
    faiss.omp_set_num_threads(1)

    words = datasets.load_glove(LIMIT)
    X = np.array([v for _, v in words], dtype=np.float32)
    rng = np.random.default_rng(SEED)
    perm = rng.permutation(len(X))
    qidx, bidx = perm[:NQ], perm[NQ:]
    Q, B = X[qidx], X[bidx]
    n, d = B.shape
    Bn = B / np.linalg.norm(B, axis=1, keepdims=True)
    Qn = Q / np.linalg.norm(Q, axis=1, keepdims=True)
    print(f"GloVe: {n} base vectors, {len(Q)} queries, {d} dims, cosine", flush=True)

    flat = faiss.IndexFlatIP(d)
    flat.add(Bn)
    _, gt = flat.search(Qn, K)
    gt = gt.tolist()

    # (method, setting, recall, qps, build s with default workers, build s
    # with 0 workers, index MB, heap MB); None where a figure does not apply
    rows = []

    # ---- msivf in PostgreSQL
    conn = psycopg2.connect("")
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("CREATE EXTENSION IF NOT EXISTS machinesoup")
    cur.execute("SELECT vec_simd_level()")
    simd = cur.fetchone()[0]
    cur.execute("DROP TABLE IF EXISTS glove")
    cur.execute("CREATE TABLE glove (id int, emb vec(%d))" % d)
    import io
    buf = io.StringIO()
    for i, v in enumerate(B):
        buf.write(f"{i}\t{vtext(v)}\n")
    buf.seek(0)
    cur.copy_expert("COPY glove FROM STDIN", buf)
    cur.execute("VACUUM ANALYZE glove")
    cur.execute("SET maintenance_work_mem = '1GB'")  # every index below builds in memory
    cur.execute("SHOW max_parallel_maintenance_workers")
    default_workers = cur.fetchone()[0]
    build, build0 = timed_builds(cur, "glove", "glove_msivf",
                                 "CREATE INDEX glove_msivf ON glove USING msivf (emb vec_cosine_ops)" +
                                 (f" WITH (lists = {int(LISTS)})" if LISTS else ""))
    if os.environ.get("MSIVF_BENCH_READY"):
        # built (parallel workers load the library too): tell a waiting caller
        open(os.environ["MSIVF_BENCH_READY"], "w").close()
    size, heap = rel_sizes(cur, "glove_msivf", "glove")
    cur.execute("SELECT lists, calibrated_probes FROM msivf_index_info('glove_msivf')")
    lists, calibrated = cur.fetchone()
    print(f"msivf: built in {build:.1f} s (max_parallel_maintenance_workers {default_workers}), {build0:.1f} s (0), "
          f"index {size:.1f} MB + heap {heap:.1f} MB, {lists} lists, simd {simd}, "
          f"calibrated probes for recall 0.95: {calibrated}", flush=True)
    cur.execute("PREPARE knn(vec) AS SELECT id FROM glove ORDER BY emb <=> $1 LIMIT %d" % K)
    qtext = [vtext(q) for q in Q]

    def run_pg(stmt="knn"):
        for t in qtext[:500]:  # warm up
            cur.execute(f"EXECUTE {stmt}(%s)", (t,))
            cur.fetchall()
        found = []
        t0 = time.time()
        for t in qtext:
            cur.execute(f"EXECUTE {stmt}(%s)", (t,))
            found.append([r[0] for r in cur.fetchall()])  # table ids are positions in B, like FAISS ids
        qps = len(qtext) / (time.time() - t0)
        return recall(found, gt), qps

    for p in PROBES:
        cur.execute("SET machinesoup.probes = %d" % p)
        r, qps = run_pg()
        rows.append(("msivf", f"probes={p}", r, qps, build, build0, size, heap))
        print(f"  msivf probes={p}: recall {r:.3f}, {qps:.0f} QPS", flush=True)
    cur.execute("SET machinesoup.probes = 0")
    r, qps = run_pg()
    rows.append(("msivf", f"default (target 0.95 -> {calibrated})", r, qps, build, build0, size, heap))
    print(f"  msivf default: recall {r:.3f}, {qps:.0f} QPS", flush=True)

    # ---- pgvector in the same server: same rows, same protocol
    if PGVECTOR:
        cur.execute("CREATE EXTENSION IF NOT EXISTS vector")
        cur.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        pgv_version = cur.fetchone()[0]
        cur.execute("DROP TABLE IF EXISTS glove_pgv")
        cur.execute("CREATE TABLE glove_pgv (id int, emb vector(%d))" % d)
        buf.seek(0)
        cur.copy_expert("COPY glove_pgv FROM STDIN", buf)
        cur.execute("VACUUM ANALYZE glove_pgv")
        cur.execute("PREPARE knn_pgv(vector) AS SELECT id FROM glove_pgv ORDER BY emb <=> $1 LIMIT %d" % K)
    if "ivfflat" in PGVECTOR:
        b, b0 = timed_builds(cur, "glove_pgv", "glove_pgv_ivfflat",
                             f"CREATE INDEX glove_pgv_ivfflat ON glove_pgv USING ivfflat (emb vector_cosine_ops) "
                             f"WITH (lists = {lists})")
        isz, hsz = rel_sizes(cur, "glove_pgv_ivfflat", "glove_pgv")
        print(f"pgvector {pgv_version} ivfflat: built in {b:.1f} s, {b0:.1f} s (0 workers), "
              f"index {isz:.1f} MB + heap {hsz:.1f} MB, {lists} lists", flush=True)
        for p in [4, 8, 12, 16, 24, 32]:
            cur.execute("SET ivfflat.probes = %d" % p)
            r, qps = run_pg("knn_pgv")
            rows.append(("pgvector ivfflat", f"lists={lists} probes={p}", r, qps, b, b0, isz, hsz))
            print(f"  pgvector ivfflat probes={p}: recall {r:.3f}, {qps:.0f} QPS", flush=True)
        cur.execute("DROP INDEX glove_pgv_ivfflat")
    if "hnsw" in PGVECTOR:
        b, b0 = timed_builds(cur, "glove_pgv", "glove_pgv_hnsw",
                             "CREATE INDEX glove_pgv_hnsw ON glove_pgv USING hnsw (emb vector_cosine_ops) "
                             "WITH (m = 16, ef_construction = 64)")
        isz, hsz = rel_sizes(cur, "glove_pgv_hnsw", "glove_pgv")
        print(f"pgvector {pgv_version} hnsw: built in {b:.1f} s, {b0:.1f} s (0 workers), "
              f"index {isz:.1f} MB + heap {hsz:.1f} MB", flush=True)
        for ef in [32, 64, 128, 256]:
            cur.execute("SET hnsw.ef_search = %d" % ef)
            r, qps = run_pg("knn_pgv")
            rows.append(("pgvector hnsw", f"m=16 ef_search={ef}", r, qps, b, b0, isz, hsz))
            print(f"  pgvector hnsw ef_search={ef}: recall {r:.3f}, {qps:.0f} QPS", flush=True)
    cur.close()
    conn.close()

    # ---- FAISS anchors, one thread, one query at a time
    def run_faiss(index):
        found = []
        t0 = time.time()
        for i in range(len(Qn)):
            _, I = index.search(Qn[i:i + 1], K)
            found.append(I[0].tolist())
        return recall(found, gt), len(Qn) / (time.time() - t0)

    nlist = int(round(np.sqrt(n)))
    ivf_rows = [4, 8, 12, 16, 24, 32] if FAISS else []
    q = faiss.IndexFlatIP(d)
    ivf = faiss.IndexIVFFlat(q, d, nlist, faiss.METRIC_INNER_PRODUCT)
    t0 = time.time()
    if FAISS:
        ivf.train(Bn)
        ivf.add(Bn)
    ivf_build = time.time() - t0  # one thread: the "0 workers" column
    ivf_size = n * d * 4 / MB
    for p in ivf_rows:
        ivf.nprobe = p
        r, qps = run_faiss(ivf)
        rows.append(("faiss IVFFlat", f"nlist={nlist} nprobe={p}", r, qps, None, ivf_build, ivf_size, None))
        print(f"  faiss ivf nprobe={p}: recall {r:.3f}, {qps:.0f} QPS", flush=True)

    hnsw = faiss.IndexHNSWFlat(d, 16, faiss.METRIC_INNER_PRODUCT)
    hnsw.hnsw.efConstruction = 64
    # built on every core to keep the run short; searched on one thread
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    t0 = time.time()
    if FAISS:
        hnsw.add(Bn)
    hnsw_build = time.time() - t0  # every core: the "default workers" column
    faiss.omp_set_num_threads(1)
    hnsw_size = (n * d * 4 + n * 16 * 2 * 4) / MB
    for ef in ([32, 64, 128, 256] if FAISS else []):
        hnsw.hnsw.efSearch = ef
        r, qps = run_faiss(hnsw)
        rows.append(("faiss HNSWFlat", f"M=16 efSearch={ef}", r, qps, hnsw_build, None, hnsw_size, None))
        print(f"  faiss hnsw ef={ef}: recall {r:.3f}, {qps:.0f} QPS", flush=True)

    # ---- table
    def best_at(method, target):
        ok = [x for x in rows if x[0] == method and x[2] >= target]
        return max(ok, key=lambda x: x[3]) if ok else None

    anchor = best_at("faiss IVFFlat", 0.95)

    def f(x, fmt):
        return "-" if x is None else format(x, fmt)

    print()
    print(f"build s: with max_parallel_maintenance_workers = {default_workers} (FAISS HNSWFlat: every core) "
          f"and = 0 (FAISS IVFFlat: one thread); MB: pg_relation_size of the index, of the table "
          f"(the heap a rerank or a result fetch reads), and their sum; FAISS: vectors and graph in memory")
    print(f"{'method':<16} {'setting':<34} {'recall@10':>9} {'QPS':>8} {'build s':>8} {'build s':>8} "
          f"{'index MB':>8} {'heap MB':>8} {'idx+heap':>8} {'QPS/faiss-ivf@0.95':>19}")
    print(f"{'':<16} {'':<34} {'':>9} {'':>8} {'default':>8} {'0 work.':>8} {'':>8} {'':>8} {'MB':>8} {'':>19}")
    for m, st, r, qps, b, b0, isz, hsz in rows:
        ratio = f"{qps / anchor[3]:.2f}" if anchor else "-"
        tot = isz + hsz if hsz is not None else None
        print(f"{m:<16} {st:<34} {r:>9.3f} {qps:>8.0f} {f(b, '8.1f'):>8} {f(b0, '8.1f'):>8} "
              f"{f(isz, '8.1f'):>8} {f(hsz, '8.1f'):>8} {f(tot, '8.1f'):>8} {ratio:>19}")
    best = best_at("msivf", 0.95)
    print()
    if best:
        print(f"msivf at recall >= 0.95: {best[3]:.0f} QPS with {best[1]} (target >= 500 QPS); "
              f"build {build:.1f} s, {build0:.1f} s with 0 workers (target <= 15 s); "
              f"index {size:.1f} MB (target <= 150 MB), index + heap {size + heap:.1f} MB")
        if anchor:
            print(f"FAISS IVFFlat at recall >= 0.95: {anchor[3]:.0f} QPS ({anchor[1]}); msivf/FAISS = {best[3] / anchor[3]:.2f}")
        for m in ("pgvector ivfflat", "pgvector hnsw"):
            pv = best_at(m, 0.95) or max((x for x in rows if x[0] == m), key=lambda x: x[2], default=None)
            if pv:
                print(f"{m} {'at recall >= 0.95' if pv[2] >= 0.95 else 'at its best recall ' + format(pv[2], '.3f')}: "
                      f"{pv[3]:.0f} QPS ({pv[1]}), index + heap {pv[6] + pv[7]:.1f} MB; "
                      f"msivf/{m.split()[1]} = {best[3] / pv[3]:.2f} QPS, "
                      f"{(size + heap) / (pv[6] + pv[7]):.2f} index+heap")
    else:
        print("msivf did not reach recall 0.95 in the sweep")

    # ---- plot
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    os.makedirs(OUT, exist_ok=True)
    plt.figure(figsize=(7, 5))
    for m, style in (("msivf", "o-"), ("pgvector ivfflat", "d-"), ("pgvector hnsw", "v-"),
                     ("faiss IVFFlat", "s--"), ("faiss HNSWFlat", "^--")):
        pts = sorted((x[2], x[3]) for x in rows if x[0] == m and not x[1].startswith("default"))
        if pts:
            plt.plot([p[0] for p in pts], [p[1] for p in pts], style, label=m)
    plt.yscale("log")
    plt.xlabel("recall@10")
    plt.ylabel("queries per second (one client / one thread)")
    plt.title(f"GloVe 100-d cosine, {n} vectors")
    plt.grid(True, which="both", alpha=0.3)
    plt.legend()
    png = os.path.join(OUT, "msivf_bench.png")
    plt.savefig(png, dpi=120)
    print(f"plot: {png}")


if __name__ == "__main__":
    main()
