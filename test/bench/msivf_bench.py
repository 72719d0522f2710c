#!/usr/bin/python3
"""msivf benchmark (issues 4 and 14): recall@10 against QPS, side by side.

For each data set of datasets.py (MSIVF_BENCH_SET, a comma list; default
glove): loads the base rows into PostgreSQL twice, as vec and as pgvector's
vector, builds msivf (default lists), pgvector ivfflat (as many lists as
msivf chose) and pgvector hnsw (m 16, ef_construction 64), and sweeps each
index's search knob; then FAISS IndexIVFFlat, IndexHNSWFlat and IndexIVFPQ
with an exact refine (IndexRefineFlat), in memory.

The protocol, the same for every method:
 - one client, one query at a time; recall@10 against the exact top-10 of
   FAISS flat search (datasets.py);
 - PostgreSQL: a statement prepared once through libpq, executed with the
   query vector as a BINARY parameter (vec and vector share the wire
   format: int16 dim, int16 0, dim float4 in network order), so neither
   side pays for parsing a text literal; results come back as text ids;
 - before a method is measured and again after it, EXPLAIN of the prepared
   statement must show a scan of the intended index (else the run stops:
   a sequential scan would be measured as exact and slow);
 - warm cache: table and index read into shared buffers with pg_prewarm,
   500 queries of warm-up, then each point is the median QPS of 3 passes
   over all queries (recall from the first: every method here is
   deterministic);
 - FAISS is searched on one thread (IVFFlat and IVF-PQ also train and add
   on one thread; HNSWFlat is built on every core to keep the run short).
 - build time: each PostgreSQL index is built with the server's
   max_parallel_maintenance_workers and again with 0; sizes are
   pg_relation_size of the index and of its table.

Prints one table per set, with each point's QPS over pgvector hnsw's QPS at
the same recall (interpolated on hnsw's recall-QPS curve), and a summary
line: QPS at recall 0.95 (interpolated) of msivf, hnsw and FAISS IVFFlat.
Under each table, msivf's per-query cost breakdown: its counters
(msivf_scan_stats: lists, pages, codes, reranks) at every probe count, and
where the time of one pass with machinesoup.scan_timing on went, at the
first probe count that reached recall 0.95.
Writes out/msivf_bench_<set>.png.

MSIVF_BENCH_MODE=scaling instead builds msivf and hnsw on prefixes of the
glove1m base (MSIVF_BENCH_SCALE_ROWS, default 100000,331000,1000000,
capped at the set's size) and prints QPS at recall 0.95 against rows.

Environment: MSIVF_BENCH_SET, MSIVF_BENCH_LIMIT (base rows: a prefix of
the shuffled base, for short runs), MSIVF_BENCH_QUERIES, MSIVF_BENCH_LISTS,
MSIVF_BENCH_PROBES, MSIVF_BENCH_EF, MSIVF_BENCH_IVFFLAT_PROBES,
MSIVF_BENCH_NPROBE, MSIVF_BENCH_FAISS=0, MSIVF_BENCH_PGVECTOR (comma list
of ivfflat,hnsw; empty for none), MSIVF_BENCH_BUILD0=0 (skip the builds
with 0 workers), MSIVF_BENCH_RUNS (default 3), MSIVF_BENCH_STOP_RECALL
(a sweep stops once it reaches this recall; default 0.995),
MSIVF_BENCH_BITS (the msivf bits option; a comma list such as 4,8 builds
and measures one index per value), MSIVF_BENCH_MWM (maintenance_work_mem, default 2GB), MSIVF_BENCH_FAISS_QUERIES
(FAISS searches only the first N queries, default 2000: Debian's FAISS is
built without AVX2 and takes hours over 10,000 queries at 768-d).

MSIVF_BENCH_ELEMENT=half (issue 16) stores the rows in half precision on
both sides: msivf over hvec (hvec_*_ops) against pgvector's halfvec
(halfvec_*_ops), queries sent as binary half-precision parameters (hvec
and halfvec share that wire format too), and msivf over vec measured in
the same run as "msivf vec", for its size and speed beside hvec's.  The
ground truth stays the float32 one: the rounding to half costs both sides
the same.

MSIVF_BENCH_ELEMENT=bit (issue 16) is binary quantization + rerank: the
float rows as vec and as pgvector's vector, msivf bvec_hamming_ops on the
expression binary_quantize(emb)::bvec(d) against pgvector hnsw
bit_hamming_ops on binary_quantize(emb)::bit(d) (m 16, ef_construction
64), both queried the same way, README's pattern: an inner query takes the
R nearest by Hamming distance through the index, an outer one reranks them
by the float distance and keeps 10.  Each R of MSIVF_BENCH_RERANK gets its
own sweep of machinesoup.probes or hnsw.ef_search (at least R: hnsw
returns at most ef_search rows); a sweep stops when recall stops rising
or reaches the ceiling at R (exact Hamming top R reranked, numpy, see
bq_ceiling).  QPS at equal recall compares the two frontiers over every
R.  Ground truth: the exact float top 10.

Run through test/bench/msivf_bench.sh (it provides the server and
installs pgvector when it is missing).
"""
import json
import os
import struct
import sys
import time

import numpy as np
import psycopg
from psycopg import pq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import datasets  # noqa: E402

OUT = os.environ.get("MSIVF_BENCH_OUT", os.path.join(os.path.dirname(os.path.abspath(__file__)), "out"))
K = datasets.K
MODE = os.environ.get("MSIVF_BENCH_MODE", "sets")
SETS = datasets.expand(os.environ.get("MSIVF_BENCH_SET", "glove1m" if MODE == "scaling" else "glove"))
NQ = int(os.environ["MSIVF_BENCH_QUERIES"]) if os.environ.get("MSIVF_BENCH_QUERIES") else None
LIMIT = int(os.environ["MSIVF_BENCH_LIMIT"]) if os.environ.get("MSIVF_BENCH_LIMIT") else None
LISTS = os.environ.get("MSIVF_BENCH_LISTS")  # default: the index's own choice
# the msivf bits option of the float index ("" the index's own choice); a
# comma list measures one index per value, the first as "msivf"
BITS = [b.strip() for b in os.environ.get("MSIVF_BENCH_BITS", "").split(",")]
FAISS = os.environ.get("MSIVF_BENCH_FAISS", "1") != "0"
MSIVF = os.environ.get("MSIVF_BENCH_MSIVF", "1") != "0"  # 0: only the anchors (e.g. built in a second server)
# which FAISS indexes (MSIVF_BENCH_FAISS_METHODS, a comma list; default all)
FAISS_METHODS = [x for x in os.environ.get("MSIVF_BENCH_FAISS_METHODS", "ivfflat,ivfpq,hnswflat").split(",") if x]
PGVECTOR = [x for x in os.environ.get("MSIVF_BENCH_PGVECTOR", "ivfflat,hnsw").split(",") if x]
BUILD0 = os.environ.get("MSIVF_BENCH_BUILD0", "0" if MODE == "scaling" else "1") != "0"
RUNS = int(os.environ.get("MSIVF_BENCH_RUNS", "3"))
STOP = float(os.environ.get("MSIVF_BENCH_STOP_RECALL", "0.995"))
MWM = os.environ.get("MSIVF_BENCH_MWM", "2GB")
ELEMENT = os.environ.get("MSIVF_BENCH_ELEMENT", "float")
if ELEMENT not in ("float", "half", "bit"):
    sys.exit("MSIVF_BENCH_ELEMENT is float, half or bit")
# per element type: msivf's column type, pgvector's, the wire element, and
# the opclass prefix of each
ELEMENTS = {"float": ("vec", "vector", ">f4", "vec", "vector"),
            "half": ("hvec", "halfvec", ">f2", "hvec", "halfvec"),
            "bit": ("vec", "vector", ">f4", "vec", "vector")}  # bit: the float column; see run_bit_set
MS_TYPE, PGV_TYPE, WIRE, MS_OPS, PGV_OPS = ELEMENTS[ELEMENT]
FAISS_NQ = int(os.environ.get("MSIVF_BENCH_FAISS_QUERIES", "2000"))
TARGET = 0.95
CALIB_TARGETS = (0.90, 0.95, 0.99)  # machinesoup.target_recall values measured with probes = 0
WARMUP = 500
MB = 2**20


def knobs(var, default):
    return [int(x) for x in os.environ.get(var, default).split(",")]


PROBES = knobs("MSIVF_BENCH_PROBES", "1,2,3,4,6,8,12,16,24,32,48,64,96,128")
IVFFLAT_PROBES = knobs("MSIVF_BENCH_IVFFLAT_PROBES", "1,2,4,8,12,16,24,32,48,64,96,128")
EF = knobs("MSIVF_BENCH_EF", "10,16,24,32,48,64,96,128,192,256,384,512,768,1000")
NPROBE = knobs("MSIVF_BENCH_NPROBE", "1,2,4,6,8,12,16,24,32,48,64,96,128")
HNSW_EF = EF

# operator and opclass suffix per metric (msivf: vec_l2_ops or hvec_l2_ops,
# pgvector: vector_l2_ops or halfvec_l2_ops)
OPS = {
    "l2": ("<->", "_l2_ops"),
    "cos": ("<=>", "_cosine_ops"),
    "ip": ("<#>", "_ip_ops"),
}


class Row:
    """One point of a sweep."""

    def __init__(self, method, setting, recall, qps, build=None, build0=None, index_mb=None, heap_mb=None,
                 curve=True):
        self.method, self.setting, self.recall, self.qps = method, setting, recall, qps
        self.build, self.build0, self.index_mb, self.heap_mb = build, build0, index_mb, heap_mb
        self.curve = curve  # False: a point off the sweep (the default setting)
        # queries per CPU second (server backend + client, or FAISS's
        # process): steadier than wall-clock QPS on a machine shared with
        # other work, which stretches wall time but not CPU time
        self.cpu_qps = None
        self.stats = None  # msivf: per-query counters (msivf_scan_stats), see stats_delta


def recall(found, gt):
    hits = 0
    for f, g in zip(found, gt):
        hits += len(set(f) & set(g.tolist()))
    return hits / (len(gt) * K)


def qps_at(rows, target, attr="qps"):
    """QPS at recall `target` on the recall-QPS frontier of `rows`, log-QPS
    interpolated between the two frontier points around it.  Returns
    (qps, how): how is '=' (interpolated or measured there), '>=' (every
    point is above the target: the fastest of them, a lower bound) or None
    when no point reaches the target."""
    pts = sorted(((r.recall, getattr(r, attr)) for r in rows if getattr(r, attr)), key=lambda p: (p[0], -p[1]))
    if not pts or pts[-1][0] < target:
        return None, None
    # frontier: for each recall, the best QPS among points at that recall or above
    front = []
    best = 0.0
    for rc, q in reversed(pts):
        if q > best:
            best = q
            front.append((rc, q))
    front.reverse()  # recall ascending, QPS descending
    if front[0][0] >= target:
        return front[0][1], ">=" if front[0][0] > target else "="
    for (r1, q1), (r2, q2) in zip(front, front[1:]):
        if r1 <= target <= r2:
            if r2 == r1:
                return q2, "="
            t = (target - r1) / (r2 - r1)
            return float(np.exp(np.log(q1) + t * (np.log(q2) - np.log(q1)))), "="
    return None, None


def vec_binary(v, wire=">f4"):
    """The binary wire format vec and pgvector's vector share (int16 dim,
    int16 0, the elements in network order); with wire ">f2", that of hvec
    and halfvec."""
    return struct.pack(">hh", len(v), 0) + np.asarray(v, dtype=wire).tobytes()


def copy_binary(conn, table, base, wire=">f4"):
    """COPY the rows (id = position in base, vector) in binary format."""
    d = base.shape[1]
    width = np.dtype(wire).itemsize
    dt = np.dtype([("nf", ">i2"), ("l1", ">i4"), ("id", ">i4"), ("l2", ">i4"),
                   ("dim", ">i2"), ("flags", ">i2"), ("v", wire, (d,))])
    with conn.cursor() as cur:
        with cur.copy(f"COPY {table} (id, emb) FROM STDIN (FORMAT binary)") as cp:
            cp.write(b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0))
            for s in range(0, len(base), 20000):
                chunk = np.asarray(base[s:s + 20000], dtype=np.float32)
                if width == 2 and not np.all(np.isfinite(chunk.astype(np.float16))):
                    sys.exit("a base vector does not fit in half precision")
                a = np.empty(len(chunk), dtype=dt)
                a["nf"], a["l1"], a["l2"] = 2, 4, 4 + width * d
                a["id"] = np.arange(s, s + len(chunk))
                a["dim"], a["flags"] = d, 0
                a["v"] = chunk
                cp.write(a.tobytes())
            cp.write(struct.pack(">h", -1))


CLK_TCK = os.sysconf("SC_CLK_TCK")
CPU = {"pass": None, "median": None}  # CPU seconds of the last pass, median of the last median_run


def proc_cpu(pid):
    """user + system CPU seconds of a process on this machine (/proc)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


class PG:
    """A libpq connection: SQL through psycopg, the measured statements
    through PQprepare/PQexecPrepared with binary parameters."""

    def __init__(self):
        self.conn = psycopg.connect("", autocommit=True)
        self.conn.prepare_threshold = None  # psycopg prepares nothing of its own
        self.pgconn = self.conn.pgconn
        # the server runs on this machine (a socket or localhost): its
        # backend's CPU time is read from /proc, else only wall time counts
        self.pid = self.one("SELECT pg_backend_pid()")
        try:
            proc_cpu(self.pid)
        except OSError:
            self.pid = None

    def sql(self, q, params=None):
        cur = self.conn.execute(q, params)
        return cur.fetchall() if cur.description else None

    def one(self, q, params=None):
        return self.sql(q, params)[0][0]

    def prepare(self, name, query, typname):
        oid = self.one("SELECT %s::regtype::oid", (typname,))
        if self.sql("SELECT 1 FROM pg_prepared_statements WHERE name = %s", (name,)):
            self.sql(f"DEALLOCATE {name}")
        res = self.pgconn.prepare(name.encode(), query.encode(), [oid])
        if res.status != pq.ExecStatus.COMMAND_OK:
            sys.exit(f"PREPARE {name} failed: {res.error_message.decode()}")

    def execute(self, name, qbin):
        """[[ids]] for each binary query; the wall time of the loop."""
        ex, ok, bname, fmt = self.pgconn.exec_prepared, pq.ExecStatus.TUPLES_OK, name.encode(), [1]
        found = []
        c0 = proc_cpu(self.pid) if self.pid else None
        p0 = time.process_time()
        t0 = time.perf_counter()
        for b in qbin:
            r = ex(bname, [b], fmt, 0)
            if r.status != ok:
                sys.exit(f"EXECUTE {name} failed: {r.error_message.decode()}")
            found.append([int(r.get_value(i, 0)) for i in range(r.ntuples)])
        secs = time.perf_counter() - t0
        CPU["pass"] = (proc_cpu(self.pid) - c0 + time.process_time() - p0) if self.pid else None
        return found, secs

    def assert_plan(self, name, qtext, index):
        """EXPLAIN the prepared statement (as the plan cache would run it
        now) and stop the run unless it is a scan of `index` with no sort
        or sequential scan anywhere."""
        plan = self.one(f"EXPLAIN (FORMAT JSON) EXECUTE {name}('{qtext}')")
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


def median_run(run):
    """run() -> (found, seconds); RUNS passes: recall of the first, median QPS."""
    found, secs = run()
    times, cpus = [secs], [CPU["pass"]]
    for _ in range(RUNS - 1):
        times.append(run()[1])
        cpus.append(CPU["pass"])
    CPU["median"] = float(np.median(cpus)) if None not in cpus else None
    return found, float(np.median(times))


def set_cpu_qps(r, nq):
    """The point's queries per CPU second, from the last median_run."""
    r.cpu_qps = nq / CPU["median"] if CPU["median"] else None
    return r


STATS_COLS = ("scans", "lists", "pages", "codes", "reranks", "heap_rows", "centroid_ms", "list_ms", "rerank_ms")


def scan_stats(pg):
    """msivf_scan_stats() of the benchmark's backend, as a dict."""
    return dict(zip(STATS_COLS, pg.sql("SELECT * FROM msivf_scan_stats()")[0]))


def stats_delta(before, after):
    """Per-query averages of the scans between two msivf_scan_stats()."""
    n = max(1, after["scans"] - before["scans"])
    return {c: (after[c] - before[c]) / n for c in STATS_COLS if c != "scans"}


def timed_builds(pg, index, create, build0=True):
    """Build the index with the server's max_parallel_maintenance_workers,
    then (build0) drop it and build it again with 0; returns both times in
    seconds (None when skipped) and leaves the last build in place."""
    times = []
    for workers in ((None, 0) if build0 else (None,)):
        pg.sql(f"DROP INDEX IF EXISTS {index}")
        pg.sql("RESET max_parallel_maintenance_workers" if workers is None
               else f"SET max_parallel_maintenance_workers = {workers}")
        pg.sql("CHECKPOINT")  # neither build writes out the other's pages
        t0 = time.time()
        pg.sql(create)
        times.append(time.time() - t0)
    pg.sql("RESET max_parallel_maintenance_workers")
    return times[0], (times[1] if build0 else None)


def rel_sizes(pg, index, table):
    """pg_relation_size of the index and of its table, in MB."""
    return [x / MB for x in pg.sql("SELECT pg_relation_size(%s::regclass), pg_relation_size(%s::regclass)",
                                   (index, table))[0]]


def prewarm(pg, *rels):
    for r in rels:
        pg.sql("SELECT pg_prewarm(%s::regclass)", (r,))


def run_set(pg, s, methods, log_prefix=""):
    """Every method of `methods` on set s; returns (rows, info)."""
    import faiss
    faiss.omp_set_num_threads(1)
    name, metric, B, Q, gt = s["name"], s["metric"], s["base"], s["queries"], s["gt"]
    n, d = B.shape
    op, ops_suffix = OPS[metric]
    pgv_ops = PGV_OPS + ops_suffix
    tab = "b_" + name.replace("-", "_")
    rows = []
    info = {"n": n, "d": d, "nq": len(Q)}
    qbin = {w: [vec_binary(q, w) for q in Q] for w in {WIRE, ">f4"}}
    qtext0 = "[" + ",".join("%.9g" % x for x in Q[0]) + "]"
    info["default_workers"] = pg.one("SHOW max_parallel_maintenance_workers")

    def sweep(method, stmt, index, guc, values, setting, sizes, stats=False, wire=WIRE):
        """Sweep one PostgreSQL index's knob; the plan is asserted before
        and after.  stats: msivf's per-query counters of each point."""
        pg.assert_plan(stmt, qtext0, index)
        qb = qbin[wire]
        pg.execute(stmt, qb[:WARMUP])
        for v in values:
            pg.sql(f"SET {guc} = {v}")
            before = scan_stats(pg) if stats else None
            found, secs = median_run(lambda: pg.execute(stmt, qb))
            r = set_cpu_qps(Row(method, setting(v), recall(found, gt), len(qb) / secs, *sizes), len(qb))
            if stats:
                r.stats = stats_delta(before, scan_stats(pg))
            rows.append(r)
            print(f"{log_prefix}  {method} {r.setting}: recall {r.recall:.3f}, {r.qps:.0f} QPS, "
                  f"{r.cpu_qps or 0:.0f} per CPU s", flush=True)
            if r.recall >= STOP:
                break
        pg.assert_plan(stmt, qtext0, index)

    def floors(types):
        """QPS of a prepared statement that only receives the binary
        parameter, for each type: the client's and protocol's share of
        every query.  The types take turns, after a warm-up of each."""
        times = {t: [] for t in types}
        qb = qbin[WIRE]
        for t in types:
            pg.prepare("floor_" + t, "SELECT 1 WHERE $1 IS NOT NULL", t)
            pg.execute("floor_" + t, qb[:WARMUP])
        for _ in range(RUNS):
            for t in types:
                times[t].append(pg.execute("floor_" + t, qb)[1])
        for t in types:
            info["floor_" + t] = len(qb) / float(np.median(times[t]))

    # ---- msivf: over the element type measured, and in half mode over vec
    # as well (method "msivf vec"), for the size and speed of each
    variants = [("msivf" if i == 0 else f"msivf bits={b}", MS_TYPE, MS_OPS, WIRE, b) for i, b in enumerate(BITS)] \
        + ([("msivf vec", "vec", "vec", ">f4", "")] if ELEMENT == "half" else [])
    for method, mtype, mops, mwire, bits in (variants if "msivf" in methods else []):
        primary = method == "msivf"
        info["simd"] = pg.one("SELECT vec_simd_level()")
        pg.sql(f"DROP TABLE IF EXISTS {tab}")
        pg.sql(f"CREATE TABLE {tab} (id int, emb {mtype}({d}))")
        copy_binary(pg.conn, tab, B, mwire)
        pg.sql(f"VACUUM ANALYZE {tab}")
        idx = tab + "_msivf"
        options = ([f"lists = {int(LISTS)}"] if LISTS else []) + ([f"bits = {int(bits)}"] if bits else [])
        build, build0 = timed_builds(pg, idx, f"CREATE INDEX {idx} ON {tab} USING msivf (emb {mops}{ops_suffix})"
                                     + (f" WITH ({', '.join(options)})" if options else ""), BUILD0)
        if os.environ.get("MSIVF_BENCH_READY"):
            # built (parallel workers load the library too): tell a waiting caller
            open(os.environ["MSIVF_BENCH_READY"], "w").close()
        size, heap = rel_sizes(pg, idx, tab)
        lists, calibrated = pg.sql(f"SELECT lists, calibrated_probes FROM msivf_index_info('{idx}')")[0]
        info["lists"] = lists
        info[method + " MB"] = size
        info[method + " heap MB"] = heap
        print(f"{log_prefix}{method} ({mtype}): built in {build:.1f} s (max_parallel_maintenance_workers "
              f"{info['default_workers']})" + (f", {build0:.1f} s (0)" if build0 is not None else "")
              + f", index {size:.1f} MB + heap {heap:.1f} MB, {lists} lists, simd {info['simd']}, "
              f"calibrated probes for recall 0.95: {calibrated}", flush=True)
        prewarm(pg, tab, idx)
        pg.prepare("knn", f"SELECT id FROM {tab} ORDER BY emb {op} $1 LIMIT {K}", mtype)
        sweep(method, "knn", idx, "machinesoup.probes", [p for p in PROBES if p <= lists],
              lambda p: f"probes={p}", (build, build0, size, heap), stats=primary, wire=mwire)
        # one more pass, timed (machinesoup.scan_timing), at the first
        # point that reached the target recall: where the time goes there
        at = next((r for r in rows if r.method == "msivf" and r.recall >= TARGET), None)
        if at is not None and primary:
            pg.sql(f"SET machinesoup.{at.setting.replace('=', ' = ')}")
            pg.sql("SET machinesoup.scan_timing = on")
            before = scan_stats(pg)
            secs = pg.execute("knn", qbin[mwire])[1]
            info["timed"] = (at.setting, stats_delta(before, scan_stats(pg)), 1000.0 * secs / len(Q))
            pg.sql("SET machinesoup.scan_timing = off")
        pg.sql("SET machinesoup.probes = 0")
        # default settings (probes 0) at each target_recall: the probe count
        # the calibration picks and the recall it reaches on these queries
        calib = []
        for t in (CALIB_TARGETS if primary else (TARGET,)):
            pg.sql(f"SET machinesoup.target_recall = {t}")
            cp = pg.one(f"SELECT calibrated_probes FROM msivf_index_info('{idx}')")
            found, secs = median_run(lambda: pg.execute("knn", qbin[mwire]))
            r = set_cpu_qps(Row(method, f"default (target {t:.2f} -> {cp})", recall(found, gt), len(Q) / secs,
                                build, build0, size, heap, curve=False), len(Q))
            rows.append(r)
            calib.append((t, cp, r.recall, r.qps))
            print(f"{log_prefix}  {method} default target {t:.2f} ({cp} probes): recall {r.recall:.3f}, "
                  f"{r.qps:.0f} QPS", flush=True)
        pg.sql("RESET machinesoup.target_recall")
        if primary:
            info["calib"] = calib
            # the curve itself (msivf_index_calibration): at the probes it
            # gives for a level, without the defaults' confidence margin,
            # the recall these queries reach, beside the recall the curve
            # predicts there: the highest level those probes reached at
            # calibration, which is above the level asked for where even
            # one probe passes it
            full = pg.sql(f"SELECT round(recall::numeric, 2)::float8, probes FROM msivf_index_calibration('{idx}')")
            curve = dict(full)
            info["curve"] = []
            for t in CALIB_TARGETS:
                if t in curve:
                    p = curve[t]
                    predicted = max(r for r, q in full if q <= p)
                    pg.sql(f"SET machinesoup.probes = {p}")
                    info["curve"].append((t, p, predicted, recall(pg.execute("knn", qbin[mwire])[0], gt)))
            pg.sql("SET machinesoup.probes = 0")
        pg.sql(f"DROP TABLE {tab}")  # frees its cache for the anchors

    # ---- pgvector in the same server: same rows, same protocol
    pgv = [m for m in ("ivfflat", "hnsw") if m in methods]
    if pgv:
        info["pgvector"] = pg.one("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        ptab = tab + "_pgv"
        pg.sql(f"DROP TABLE IF EXISTS {ptab}")
        pg.sql(f"CREATE TABLE {ptab} (id int, emb {PGV_TYPE}({d}))")
        copy_binary(pg.conn, ptab, B, WIRE)
        pg.sql(f"VACUUM ANALYZE {ptab}")
    if "ivfflat" in pgv:
        lists = info.get("lists") or int(round(np.sqrt(n)))
        idx = ptab + "_ivfflat"
        b, b0 = timed_builds(pg, idx, f"CREATE INDEX {idx} ON {ptab} USING ivfflat (emb {pgv_ops}) "
                             f"WITH (lists = {lists})", BUILD0)
        isz, hsz = rel_sizes(pg, idx, ptab)
        print(f"{log_prefix}pgvector {info['pgvector']} ivfflat: built in {b:.1f} s"
              + (f", {b0:.1f} s (0 workers)" if b0 is not None else "")
              + f", index {isz:.1f} MB + heap {hsz:.1f} MB, {lists} lists", flush=True)
        prewarm(pg, ptab, idx)
        pg.prepare("knn_pgv", f"SELECT id FROM {ptab} ORDER BY emb {op} $1 LIMIT {K}", PGV_TYPE)
        sweep("pgvector ivfflat", "knn_pgv", idx, "ivfflat.probes", [p for p in IVFFLAT_PROBES if p <= lists],
              lambda p: f"lists={lists} probes={p}", (b, b0, isz, hsz))
        pg.sql(f"DROP INDEX {idx}")
    if "hnsw" in pgv:
        idx = ptab + "_hnsw"
        b, b0 = timed_builds(pg, idx, f"CREATE INDEX {idx} ON {ptab} USING hnsw (emb {pgv_ops}) "
                             "WITH (m = 16, ef_construction = 64)", BUILD0)
        isz, hsz = rel_sizes(pg, idx, ptab)
        print(f"{log_prefix}pgvector {info['pgvector']} hnsw: built in {b:.1f} s"
              + (f", {b0:.1f} s (0 workers)" if b0 is not None else "")
              + f", index {isz:.1f} MB + heap {hsz:.1f} MB", flush=True)
        prewarm(pg, ptab, idx)
        pg.prepare("knn_pgv", f"SELECT id FROM {ptab} ORDER BY emb {op} $1 LIMIT {K}", PGV_TYPE)
        sweep("pgvector hnsw", "knn_pgv", idx, "hnsw.ef_search", HNSW_EF,
              lambda e: f"m=16 ef_search={e}", (b, b0, isz, hsz))
    if pgv:
        pg.sql(f"DROP TABLE {ptab}")

    floors([MS_TYPE] + ([PGV_TYPE] if pgv else []))

    # ---- FAISS, in memory, searched on one thread, one query at a time
    if "faiss" in methods:
        info["faiss"] = f"FAISS {faiss.__version__} ({faiss.get_compile_options().strip()})"
        Bf = datasets.faiss_space(B, metric)
        Qf = datasets.faiss_space(Q, metric)[:FAISS_NQ]  # Debian's FAISS is slow at high d
        fgt = gt[:FAISS_NQ]
        info["faiss_nq"] = len(Qf)
        fm = datasets.faiss_metric(metric)

        def run_faiss(index):
            found = []
            p0 = time.process_time()
            t0 = time.perf_counter()
            for i in range(len(Qf)):
                _, I = index.search(Qf[i:i + 1], K)
                found.append(I[0].tolist())
            secs = time.perf_counter() - t0
            CPU["pass"] = time.process_time() - p0  # one thread: the process's CPU time
            return found, secs

        def fsweep(method, index, set_knob, values, setting, sizes):
            run_faiss_warm = Qf[:WARMUP]
            for v in values:
                set_knob(v)
                index.search(run_faiss_warm, K)
                found, secs = median_run(lambda: run_faiss(index))
                r = set_cpu_qps(Row(method, setting(v), recall(found, fgt), len(Qf) / secs, *sizes), len(Qf))
                rows.append(r)
                print(f"{log_prefix}  {method} {r.setting}: recall {r.recall:.3f}, {r.qps:.0f} QPS, "
                      f"{r.cpu_qps or 0:.0f} per CPU s", flush=True)
                if r.recall >= STOP:
                    break

        nlist = int(round(np.sqrt(n)))
    if "faiss" in methods and "ivfflat" in FAISS_METHODS:
        quant = faiss.IndexFlat(d, fm)
        ivf = faiss.IndexIVFFlat(quant, d, nlist, fm)
        t0 = time.time()
        ivf.train(Bf)
        ivf.add(Bf)
        ivf_build = time.time() - t0  # one thread: the "0 workers" column
        fsweep("faiss IVFFlat", ivf, lambda p: setattr(ivf, "nprobe", p), [p for p in NPROBE if p <= nlist],
               lambda p: f"nlist={nlist} nprobe={p}", (None, ivf_build, n * d * 4 / MB, None))
        del ivf, quant

        # IVF-PQ, d/4 bytes a vector (the largest divisor of d at most d/4),
        # candidates reranked exactly against full vectors it keeps in
        # memory (counted in its size): the in-memory quantized limit
    if "faiss" in methods and "ivfpq" in FAISS_METHODS:
        m = max(x for x in range(1, d // 4 + 1) if d % x == 0)
        quant = faiss.IndexFlat(d, fm)
        ivfpq = faiss.IndexIVFPQ(quant, d, nlist, m, 8, fm)
        refine = faiss.IndexRefineFlat(ivfpq)
        refine.k_factor = 10
        t0 = time.time()
        train = Bf if n <= 200000 else Bf[np.random.default_rng(1).choice(n, 200000, replace=False)]
        refine.train(train)
        refine.add(Bf)
        pq_build = time.time() - t0
        fsweep("faiss IVFPQ+refine", refine, lambda p: setattr(ivfpq, "nprobe", p),
               [p for p in NPROBE if p <= nlist], lambda p: f"nlist={nlist} M={m} nprobe={p} k_factor=10",
               (None, pq_build, (n * (m + 8 + 4 * d)) / MB, None))
        del refine, ivfpq, quant

    if "faiss" in methods and "hnswflat" in FAISS_METHODS:
        hnsw = faiss.IndexHNSWFlat(d, 16, fm)
        hnsw.hnsw.efConstruction = 64
        faiss.omp_set_num_threads(os.cpu_count() or 1)
        t0 = time.time()
        hnsw.add(Bf)
        hnsw_build = time.time() - t0  # every core: the "default workers" column
        faiss.omp_set_num_threads(1)
        fsweep("faiss HNSWFlat", hnsw, lambda e: setattr(hnsw.hnsw, "efSearch", e), EF,
               lambda e: f"M=16 efSearch={e}", (hnsw_build, None, (n * d * 4 + n * 16 * 2 * 4) / MB, None))
        del hnsw
    return rows, info


def stats_at(rows, target):
    """msivf's per-query counters at recall `target`, each interpolated
    linearly in recall between the two sweep points around it (the sweep
    raises probes, so recall rises with it); None when no point reaches
    the target, the first point's counters when it already does."""
    pts = [r for r in rows if r.method == "msivf" and r.curve and r.stats]
    for prev, cur in zip([None] + pts, pts):
        if cur.recall >= target:
            if prev is None or cur.recall <= prev.recall:
                return dict(cur.stats)
            t = (target - prev.recall) / (cur.recall - prev.recall)
            return {c: prev.stats[c] + t * (cur.stats[c] - prev.stats[c]) for c in cur.stats}
    return None


def report_breakdown(rows, info):
    """msivf's per-query counters at each sweep point, and where the time
    of one timed pass at the target recall went."""
    pts = [r for r in rows if r.method == "msivf" and r.stats]
    if not pts:
        return
    print("msivf per query (msivf_scan_stats): lists probed, list pages read, codes estimated, "
          "reranks (heap fetches) and rows they found")
    print(f"  {'setting':<12} {'recall':>6} {'lists':>7} {'pages':>8} {'codes':>9} {'reranks':>8} {'rows':>8}")
    for r in pts:
        t = r.stats
        print(f"  {r.setting:<12} {r.recall:>6.3f} {t['lists']:>7.1f} {t['pages']:>8.1f} {t['codes']:>9.0f} "
              f"{t['reranks']:>8.1f} {t['heap_rows']:>8.1f}")
    at = stats_at(rows, TARGET)
    if at:
        print(f"  at recall {TARGET} (interpolated): {at['lists']:.1f} lists, {at['pages']:.1f} pages, "
              f"{at['codes']:.0f} codes, {at['reranks']:.1f} reranks per query")
    if "timed" in info:
        setting, t, total = info["timed"]
        rest = total - t["centroid_ms"] - t["list_ms"] - t["rerank_ms"]
        print(f"  time per query at {setting} (machinesoup.scan_timing = on, one pass): {total:.3f} ms = "
              f"centroids {t['centroid_ms']:.3f} + lists and codes {t['list_ms']:.3f} + rerank "
              f"{t['rerank_ms']:.3f} + rest (executor, protocol, client) {rest:.3f}")


def report(s, rows, info, tag=""):
    """The table, the summary line and the plot of one set (tag: a suffix
    of the plot's file name)."""
    name = s["name"]
    hnsw = [r for r in rows if r.method == "pgvector hnsw" and r.curve]

    def f(x, fmt):
        return "-" if x is None else format(x, fmt)

    def ratio(r, attr="qps"):
        q, how = qps_at(hnsw, r.recall, attr)
        if q is None or not getattr(r, attr):
            return "-"
        return ("<=" if how == ">=" else "") + f"{getattr(r, attr) / q:.2f}"

    print()
    print(f"== {name}: {s['description']}; {info['n']} rows x {info['d']} dims, {info['nq']} queries, "
          f"recall@{K}; msivf over {MS_TYPE}, pgvector over {PGV_TYPE}; one client, binary parameters, "
          f"median of {RUNS} passes")
    print(f"build s: with max_parallel_maintenance_workers = {info['default_workers']} (FAISS HNSWFlat: every core) "
          f"and = 0 (FAISS IVFFlat, IVF-PQ: one thread); MB: pg_relation_size of the index and of the "
          f"table (msivf reranks from the heap); FAISS: bytes in memory. xHNSW: QPS over pgvector hnsw's "
          f"at the same recall (interpolated; <= when hnsw's every point has a higher recall); CPU QPS: queries "
          f"per CPU second of the server backend plus the client (FAISS: its process), and its xHNSW")
    print(f"{'method':<19} {'setting':<38} {'recall@10':>9} {'QPS':>8} {'xHNSW':>7} {'CPU QPS':>8} {'xHNSW':>7} "
          f"{'build s':>8} {'build s':>8} {'index MB':>8} {'heap MB':>8}")
    print(f"{'':<19} {'':<38} {'':>9} {'':>8} {'':>7} {'':>8} {'(CPU)':>7} {'default':>8} {'0 work.':>8} {'':>8} {'':>8}")
    for r in rows:
        print(f"{r.method:<19} {r.setting:<38} {r.recall:>9.3f} {r.qps:>8.0f} {ratio(r):>7} "
              f"{f(r.cpu_qps, '.0f'):>8} {ratio(r, 'cpu_qps'):>7} "
              f"{f(r.build, '.1f'):>8} {f(r.build0, '.1f'):>8} {f(r.index_mb, '.1f'):>8} {f(r.heap_mb, '.1f'):>8}")
    floors = [f"{t} {info['floor_' + t]:.0f} QPS" for t in (MS_TYPE, PGV_TYPE) if "floor_" + t in info]
    if floors:
        print(f"floor (prepared SELECT that only receives the binary parameter): {', '.join(floors)}")
    if "faiss" in info:
        print(f"{info['faiss']}, searched with the first {info['faiss_nq']} queries: Debian's build; "
              f"OPTIMIZE GENERIC means no AVX2 kernels, which slows its distances at high dimension")
    report_breakdown(rows, info)
    if info.get("calib"):
        # the calibration picks the probe count from a curve measured at
        # build; its error here is what these queries get minus the target
        print("msivf default settings (probes 0): " + "; ".join(
            f"target {t:.2f} -> {p} probes, recall {rc:.3f} ({rc - t:+.3f}), {q:.0f} QPS"
            for t, p, rc, q in info["calib"]))
    if info.get("curve"):
        print("msivf calibration curve (msivf_index_calibration) against these queries: " + "; ".join(
            f"{t:.2f} at {p} probes (curve there {pr:.2f}) -> recall {rc:.3f} ({rc - pr:+.3f})"
            for t, p, pr, rc in info["curve"]))

    for attr, label in (("qps", "QPS"), ("cpu_qps", "CPU QPS")):
        summary = {}
        for m in ("msivf", "pgvector hnsw", "faiss IVFFlat"):
            summary[m] = qps_at([r for r in rows if r.method == m and r.curve], TARGET, attr)

        def show(m):
            q, how = summary[m]
            return "not reached" if q is None else (">=" if how == ">=" else "") + f"{q:.0f}"
        line = (f"SUMMARY {name}: {label} at recall {TARGET}: msivf {show('msivf')}, pgvector hnsw "
                f"{show('pgvector hnsw')}, faiss IVFFlat {show('faiss IVFFlat')}")
        qm, qh = summary["msivf"][0], summary["pgvector hnsw"][0]
        line += f"; msivf/hnsw = {qm / qh:.2f}" if qm and qh else "; msivf/hnsw = -"
        line += " (target >= 2.5)"
        qf = summary["faiss IVFFlat"][0]
        if qm and qf:
            line += f"; msivf/faiss IVFFlat = {qm / qf:.2f} (target >= 1.0)"
        print(line)
        if attr == "qps":
            wall = summary
    summary = wall
    qm, qh = summary["msivf"][0], summary["pgvector hnsw"][0]
    for b in BITS[1:]:
        m = f"msivf bits={b}"
        qb = qps_at([r for r in rows if r.method == m and r.curve], TARGET)[0]
        print(f"SUMMARY {name} {m}: QPS at recall {TARGET} = " + (f"{qb:.0f}" if qb else "not reached")
              + (f", msivf ({BITS[0] or 'default'} bits)/this = {qm / qb:.2f}" if qm and qb else "")
              + (f", this/hnsw = {qb / qh:.2f}" if qb and qh else "")
              + f"; index MB {info.get('msivf MB', 0):.1f} against {info.get(m + ' MB', 0):.1f}")
    if ELEMENT == "half":
        qv = qps_at([r for r in rows if r.method == "msivf vec" and r.curve], TARGET)[0]
        hm, vm = info.get("msivf MB"), info.get("msivf vec MB")
        print(f"SUMMARY {name} half: msivf hvec/vec QPS at recall {TARGET} = "
              + (f"{qm / qv:.2f}" if qm and qv else "-")
              + "; hvec/vec index size = " + (f"{hm / vm:.2f} (target <= 0.5)" if hm and vm else "-")
              + "; hvec/vec index + heap = "
              + (f"{(hm + info['msivf heap MB']) / (vm + info['msivf vec heap MB']):.2f}" if hm and vm else "-")
              + f"; msivf hvec/pgvector halfvec hnsw QPS = " + (f"{qm / qh:.2f} (target >= 2)" if qm and qh else "-"))

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    os.makedirs(OUT, exist_ok=True)
    plt.figure(figsize=(7, 5))
    for m, style in (("msivf", "o-"), ("msivf vec", "o:"), ("pgvector ivfflat", "d-"), ("pgvector hnsw", "v-"),
                     ("faiss IVFFlat", "s--"), ("faiss IVFPQ+refine", "x--"), ("faiss HNSWFlat", "^--")):
        pts = sorted((r.recall, r.qps) for r in rows if r.method == m and r.curve)
        if pts:
            plt.plot([p[0] for p in pts], [p[1] for p in pts], style, label=m)
    plt.axvline(TARGET, color="grey", lw=0.8, ls=":")
    plt.yscale("log")
    plt.xlabel("recall@10")
    plt.ylabel("queries per second (one client / one thread)")
    plt.title(f"{s['description']}, {info['n']} rows", fontsize=10)
    plt.grid(True, which="both", alpha=0.3)
    plt.legend(fontsize=8)
    png = os.path.join(OUT, f"msivf_bench_{name}{tag}.png")
    plt.savefig(png, dpi=120)
    plt.close()
    print(f"plot: {png}")
    return summary


# ---- MSIVF_BENCH_ELEMENT=bit: binary quantization + rerank (issue 16)

RERANK = knobs("MSIVF_BENCH_RERANK", "25,50,100,200,400,800")
BIT_PROBES = knobs("MSIVF_BENCH_PROBES", "1,2,4,8,16,32,64,128,256")
BIT_NEAR = float(os.environ.get("MSIVF_BENCH_BIT_NEAR", "0.01"))  # a sweep this close to the ceiling stops
HNSW_EF_MAX = 1000  # pgvector's ceiling on hnsw.ef_search
BIT_LEVELS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95)  # recalls at which the two curves are compared


def bq_ceiling(s):
    """{R: recall@10} of binary quantization + rerank without an index: the
    exact top R by Hamming distance between sign bits (bit set when the
    element is > 0, as binary_quantize sets it), reranked by the exact float
    distance.  No index can do better at that R, so a sweep stops there.
    Hamming ties at the R-th candidate are broken arbitrarily, so this is
    the ceiling up to ties.  Cached beside the data set."""
    name, metric, B, Q, gt = s["name"], s["metric"], s["base"], s["queries"], s["gt"]
    path = os.path.join(datasets.CACHE, f"{name}.bq.{len(B)}.{len(Q)}.json")
    have = {}
    if os.path.exists(path):
        with open(path) as f:
            have = {int(k): v for k, v in json.load(f).items()}
    todo = sorted(R for R in RERANK if R not in have)
    if not todo:
        return have
    print(f"binary quantization ceiling of {name} at R = {todo} (numpy, no index)", flush=True)
    # Hamming distance = (d - s.t) / 2 for sign vectors s, t of +-1
    signs = np.where(np.asarray(B) > 0, 1.0, -1.0).astype(np.float32)
    qsigns = np.where(Q > 0, 1.0, -1.0).astype(np.float32)
    if metric == "l2":
        Bf, Qf = np.asarray(B, dtype=np.float32), np.asarray(Q, dtype=np.float32)
    else:  # cosine on unit vectors, or the inner product itself
        Bf, Qf = datasets.faiss_space(B, metric), datasets.faiss_space(Q, metric)
    top = min(max(todo), len(B) - 1)
    hits = dict.fromkeys(todo, 0)
    for s0 in range(0, len(Q), 100):
        agree = qsigns[s0:s0 + 100] @ signs.T  # larger: fewer differing bits
        cand = np.argpartition(-agree, top, axis=1)[:, :top]
        for i in range(len(cand)):
            c = cand[i][np.argsort(-agree[i, cand[i]], kind="stable")]
            q = Qf[s0 + i]
            truth = set(gt[s0 + i].tolist())
            for R in todo:
                cr = c[:R]
                score = -((Bf[cr] - q) ** 2).sum(axis=1) if metric == "l2" else Bf[cr] @ q
                hits[R] += len(set(cr[np.argsort(-score)[:K]].tolist()) & truth)
    have.update({R: hits[R] / (len(Q) * K) for R in todo})
    with open(path + ".tmp", "w") as f:
        json.dump(have, f)
    os.replace(path + ".tmp", path)
    return have


def assert_rerank_plan(pg, name, qtext, index):
    """The rerank statement's plan: one index scan, of `index`, whose
    nearest Limit above it has no Sort between (the index gives the
    Hamming order), no sequential scan, and one Sort at most (the outer
    rerank of the R candidates)."""
    plan = pg.one(f"EXPLAIN (FORMAT JSON) EXECUTE {name}('{qtext}')")
    if isinstance(plan, str):
        plan = json.loads(plan)
    scans, sorts, ok = [], 0, True

    def walk(n, above):
        nonlocal sorts, ok
        t = n["Node Type"]
        if t in ("Index Scan", "Index Only Scan", "Bitmap Index Scan", "Seq Scan"):
            scans.append(n.get("Index Name", t))
            for a in reversed(above):
                if a == "Limit":
                    break
                if a in ("Sort", "Incremental Sort"):
                    ok = False
            else:
                ok = False  # no Limit above the scan
        if t in ("Sort", "Incremental Sort"):
            sorts += 1
        for c in n.get("Plans", []):
            walk(c, above + [t])
    walk(plan[0]["Plan"], [])
    if scans != [index] or sorts > 1 or not ok:
        sys.exit(f"PLAN ASSERTION FAILED: {name} should rerank a Limit over a scan of index {index}, plan is:\n"
                 + json.dumps(plan, indent=1))


def bit_sizes(pg, index, table):
    """pg_relation_size of the index, pg_table_size of the table (with its
    TOAST: the rerank reads the float vectors wherever they are), in MB."""
    return [x / MB for x in pg.sql("SELECT pg_relation_size(%s::regclass), pg_table_size(%s::regclass)",
                                   (index, table))[0]]


def run_bit_set(pg, s):
    """msivf bvec_hamming_ops on binary_quantize(emb)::bvec(d) against
    pgvector hnsw bit_hamming_ops on binary_quantize(emb)::bit(d), both
    with the same rerank by the float distance; returns (rows, info)."""
    name, metric, B, Q, gt = s["name"], s["metric"], s["base"], s["queries"], s["gt"]
    n, d = B.shape
    op = OPS[metric][0]
    tab = "b_" + name.replace("-", "_")
    rows = []
    info = {"n": n, "d": d, "nq": len(Q), "ceiling": bq_ceiling(s), "skipped": []}
    qbin = [vec_binary(q) for q in Q]
    qtext0 = "[" + ",".join("%.9g" % x for x in Q[0]) + "]"
    info["default_workers"] = pg.one("SHOW max_parallel_maintenance_workers")

    def sweep(method, table, cast, typ, index, guc, R, values, setting, sizes, stats=False):
        """One rerank depth R: the knob swept until recall comes within
        BIT_NEAR of the ceiling at R (or reaches STOP), or rises by less
        than 0.002 from one point to the next."""
        pg.prepare("bq", f"SELECT id FROM (SELECT id, emb FROM {table} "
                   f"ORDER BY binary_quantize(emb)::{cast}({d}) <~> binary_quantize($1) LIMIT {R}) c "
                   f"ORDER BY emb {op} $1 LIMIT {K}", typ)
        assert_rerank_plan(pg, "bq", qtext0, index)
        pg.execute("bq", qbin[:WARMUP])
        ceil, prev = info["ceiling"].get(R), None
        for v in values:
            pg.sql(f"SET {guc} = {v}")
            before = scan_stats(pg) if stats else None
            found, secs = median_run(lambda: pg.execute("bq", qbin))
            r = Row(method, setting(v), recall(found, gt), len(qbin) / secs, *sizes)
            if stats:
                r.stats = stats_delta(before, scan_stats(pg))
            rows.append(r)
            print(f"  {method} {r.setting}: recall {r.recall:.3f}, {r.qps:.0f} QPS", flush=True)
            if r.recall >= STOP or (ceil is not None and r.recall >= ceil - BIT_NEAR) \
                    or (prev is not None and r.recall - prev < 0.002):
                break
            prev = r.recall
        assert_rerank_plan(pg, "bq", qtext0, index)

    # ---- msivf over the sign bits, the floats in the heap
    info["simd"] = pg.one("SELECT vec_simd_level()")
    pg.sql(f"DROP TABLE IF EXISTS {tab}")
    pg.sql(f"CREATE TABLE {tab} (id int, emb vec({d}))")
    copy_binary(pg.conn, tab, B)
    pg.sql(f"VACUUM ANALYZE {tab}")
    idx = tab + "_bq"
    build, build0 = timed_builds(pg, idx, f"CREATE INDEX {idx} ON {tab} USING msivf "
                                 f"((binary_quantize(emb)::bvec({d})) bvec_hamming_ops)"
                                 + (f" WITH (lists = {int(LISTS)})" if LISTS else ""), BUILD0)
    size, heap = bit_sizes(pg, idx, tab)
    lists = pg.one(f"SELECT lists FROM msivf_index_info('{idx}')")
    info["lists"] = lists
    print(f"msivf (bvec({d}) of binary_quantize(emb)): built in {build:.1f} s (max_parallel_maintenance_workers "
          f"{info['default_workers']})" + (f", {build0:.1f} s (0)" if build0 is not None else "")
          + f", index {size:.1f} MB + heap {heap:.1f} MB, {lists} lists, simd {info['simd']}", flush=True)
    prewarm(pg, tab, idx)
    for R in RERANK:
        sweep("msivf", tab, "bvec", "vec", idx, "machinesoup.probes", R, [p for p in BIT_PROBES if p <= lists],
              lambda p, R=R: f"R={R} probes={p}", (build, build0, size, heap), stats=True)
    pg.sql("SET machinesoup.probes = 0")
    pg.sql(f"DROP TABLE {tab}")  # frees its cache for the anchor

    # ---- pgvector hnsw over the sign bits, the floats in its heap
    if "hnsw" in PGVECTOR:
        info["pgvector"] = pg.one("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        ptab = tab + "_pgv"
        pg.sql(f"DROP TABLE IF EXISTS {ptab}")
        # storage main, as vec's: by default pgvector moves a vector of more
        # than about 500 dimensions out of line (TOAST), and the rerank
        # would then measure TOAST reads, not the index
        pg.sql(f"CREATE TABLE {ptab} (id int, emb vector({d}))")
        pg.sql(f"ALTER TABLE {ptab} ALTER COLUMN emb SET STORAGE main")  # CREATE TABLE takes it from 16 on
        copy_binary(pg.conn, ptab, B)
        pg.sql(f"VACUUM ANALYZE {ptab}")
        pidx = ptab + "_hnsw"
        b, b0 = timed_builds(pg, pidx, f"CREATE INDEX {pidx} ON {ptab} USING hnsw "
                             f"((binary_quantize(emb)::bit({d})) bit_hamming_ops) "
                             "WITH (m = 16, ef_construction = 64)", BUILD0)
        isz, hsz = bit_sizes(pg, pidx, ptab)
        print(f"pgvector {info['pgvector']} hnsw (bit({d}) of binary_quantize(emb)): built in {b:.1f} s"
              + (f", {b0:.1f} s (0 workers)" if b0 is not None else "")
              + f", index {isz:.1f} MB + heap {hsz:.1f} MB", flush=True)
        prewarm(pg, ptab, pidx)
        for R in RERANK:
            if R > HNSW_EF_MAX:
                # hnsw returns at most ef_search rows without iterative scans
                info["skipped"].append(R)
                continue
            efs = sorted({R} | {e for e in EF if R < e <= HNSW_EF_MAX})
            sweep("pgvector hnsw", ptab, "bit", "vector", pidx, "hnsw.ef_search", R, efs,
                  lambda e, R=R: f"R={R} m=16 ef_search={e}", (b, b0, isz, hsz))
        pg.sql(f"DROP TABLE {ptab}")
    return rows, info


def report_bit(s, rows, info):
    """The table, the ceiling per R, the comparison at equal recall, the
    frontier as TSV (for plot.py) and the PNG."""
    name = s["name"]
    hnsw = [r for r in rows if r.method == "pgvector hnsw"]
    ms = [r for r in rows if r.method == "msivf"]

    def f(x, fmt):
        return "-" if x is None else format(x, fmt)

    def ratio(r):
        q, how = qps_at(hnsw, r.recall)
        if q is None:
            return "-"
        return ("<=" if how == ">=" else "") + f"{r.qps / q:.2f}"

    d = info["d"]
    print()
    print(f"== {name} bit: {s['description']}; {info['n']} rows x {d} dims, {info['nq']} queries, recall@{K} "
          f"against the exact float top-{K}; binary quantization + rerank: the R nearest by Hamming distance "
          f"of binary_quantize(emb) through the index, reranked by the float distance; one client, binary "
          f"parameters, median of {RUNS} passes")
    print(f"msivf: bvec_hamming_ops on binary_quantize(emb)::bvec({d}), {info.get('lists')} lists; pgvector "
          f"{info.get('pgvector', '-')}: hnsw bit_hamming_ops on binary_quantize(emb)::bit({d}), m 16, "
          f"ef_construction 64. xHNSW: QPS over pgvector hnsw's at the same recall (interpolated on its "
          f"frontier over every R; <= when its every point has a higher recall). build s with "
          f"max_parallel_maintenance_workers = {info['default_workers']} and = 0; index MB: pg_relation_size; heap MB: "
          f"pg_table_size (with TOAST; pgvector's column is set to storage main, as vec's is)")
    print(f"{'method':<15} {'setting':<28} {'recall@10':>9} {'QPS':>8} {'xHNSW':>7} {'build s':>8} {'build s':>8} "
          f"{'index MB':>8} {'heap MB':>8} {'lists':>6} {'codes':>8}")
    print(f"{'':<15} {'':<28} {'':>9} {'':>8} {'':>7} {'default':>8} {'0 work.':>8}")
    for r in rows:
        t = r.stats or {}
        print(f"{r.method:<15} {r.setting:<28} {r.recall:>9.3f} {r.qps:>8.0f} {ratio(r):>7} "
              f"{f(r.build, '.1f'):>8} {f(r.build0, '.1f'):>8} {f(r.index_mb, '.1f'):>8} {f(r.heap_mb, '.1f'):>8} "
              f"{f(t.get('lists'), '.1f'):>6} {f(t.get('codes'), '.0f'):>8}")
    print("msivf lists, codes: per query, lists visited and rows whose Hamming distance it computed "
          "(msivf_scan_stats)")
    print("ceiling (exact Hamming top R, reranked; no index): "
          + ", ".join(f"R={R} {info['ceiling'][R]:.3f}" for R in RERANK if R in info["ceiling"]))
    if info["skipped"]:
        print(f"pgvector hnsw skipped R = {info['skipped']}: hnsw.ef_search is at most {HNSW_EF_MAX}")
    parts = []
    for level in BIT_LEVELS:
        (qm, hm), (qh, hh) = qps_at(ms, level), qps_at(hnsw, level)
        if qm and qh:
            # '>=': every point of that side has a higher recall, its fastest is a lower bound
            mark = lambda h: ">=" if h == ">=" else ""  # noqa: E731
            rmark = "<=" if hh == ">=" and hm != ">=" else (">=" if hm == ">=" and hh != ">=" else "")
            parts.append(f"recall {level}: msivf {mark(hm)}{qm:.0f}, hnsw {mark(hh)}{qh:.0f} QPS, "
                         f"x{rmark}{qm / qh:.2f}")
        elif level in (0.9, 0.95):
            parts.append(f"recall {level}: msivf {f(qm, '.0f') if qm else 'not reached'}, "
                         f"hnsw {f(qh, '.0f') if qh else 'not reached'}")
    top_m = max((r.recall for r in ms), default=0)
    top_h = max((r.recall for r in hnsw), default=0)
    print(f"SUMMARY {name} bit (target: msivf >= 2x hnsw's QPS at equal recall): " + "; ".join(parts)
          + f"; highest recall measured: msivf {top_m:.3f}, hnsw {top_h:.3f}")

    # the frontiers, for plot.py (docs/img) and matplotlib (out/)
    def frontier(rs):
        pts, best = [], 0.0
        for rc, q in sorted(((r.recall, r.qps) for r in rs), key=lambda p: (-p[0], -p[1])):
            if q > best:
                best = q
                pts.append((rc, q))
        return sorted(pts)
    os.makedirs(OUT, exist_ok=True)
    tsv = os.path.join(OUT, f"msivf_bench_bit_{name}.tsv")
    with open(tsv, "w") as fo:
        fo.write(f"# msivf_bench.sh MSIVF_BENCH_ELEMENT=bit, {name}: {info['n']} rows x {d}, {info['nq']} queries; "
                 "recall-QPS frontier over every rerank depth R\nseries\tx\ty\tnote\n")
        for m, rs in (("msivf bvec", ms), ("pgvector bit hnsw", hnsw)):
            for rc, q in frontier(rs):
                setting = next(r.setting for r in rs if r.recall == rc and r.qps == q)
                fo.write(f"{m}\t{rc:.3f}\t{q:.0f}\t{setting.split(' ')[0]}\n")
    print(f"frontier: {tsv}")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    plt.figure(figsize=(7, 5))
    for m, rs, style, colour in (("msivf", ms, "o", "C0"), ("pgvector hnsw", hnsw, "v", "C3")):
        if rs:
            plt.plot([r.recall for r in rs], [r.qps for r in rs], style, color=colour, alpha=0.35, ms=4)
            fr = frontier(rs)
            plt.plot([p[0] for p in fr], [p[1] for p in fr], style + "-", color=colour, label=m + " (frontier)")
    for level in (0.9, 0.95):
        plt.axvline(level, color="grey", lw=0.8, ls=":")
    plt.yscale("log")
    plt.xlabel("recall@10 (binary quantization + rerank)")
    plt.ylabel("queries per second (one client)")
    plt.title(f"{s['description']}, {info['n']} rows: binary quantization + rerank", fontsize=10)
    plt.grid(True, which="both", alpha=0.3)
    plt.legend(fontsize=8)
    png = os.path.join(OUT, f"msivf_bench_bit_{name}.png")
    plt.savefig(png, dpi=120)
    plt.close()
    print(f"plot: {png}")


def connect():
    pg = PG()
    pg.sql("CREATE EXTENSION IF NOT EXISTS machinesoup")
    pg.sql("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
    if PGVECTOR:
        pg.sql("CREATE EXTENSION IF NOT EXISTS vector")
    pg.sql(f"SET maintenance_work_mem = '{MWM}'")  # every index below builds in memory
    return pg


def main_sets():
    pg = connect()
    methods = ({"msivf"} if MSIVF else set()) | set(PGVECTOR) | ({"faiss"} if FAISS else set())
    summaries = []
    for name in SETS:
        s = datasets.load_set(name, LIMIT, NQ)
        print(f"\n## {name}: {s['description']}, {s['base'].shape[0]} rows x {s['base'].shape[1]} dims, "
              f"{len(s['queries'])} queries", flush=True)
        t0 = time.time()
        if ELEMENT == "bit":
            report_bit(s, *run_bit_set(pg, s))
        else:
            rows, info = run_set(pg, s, methods)
            summaries.append(report(s, rows, info))
        print(f"{name}: measured in {(time.time() - t0) / 60:.1f} min", flush=True)


def scale_points():
    """[(set, rows or None)] of the scaling mode: MSIVF_BENCH_SCALE_POINTS
    (a comma list of set or set:rows, e.g. glove:100000,glove,glove1m), or
    else prefixes of the first set of MSIVF_BENCH_SET at
    MSIVF_BENCH_SCALE_ROWS."""
    if os.environ.get("MSIVF_BENCH_SCALE_POINTS"):
        out = []
        for p in os.environ["MSIVF_BENCH_SCALE_POINTS"].split(","):
            name, _, rows = p.strip().partition(":")
            datasets.expand(name)  # checks the name
            out.append((name, int(rows) if rows else None))
        return out
    return [(SETS[0], n) for n in knobs("MSIVF_BENCH_SCALE_ROWS", "100000,331000,1000000")]


def main_scaling():
    pg = connect()
    methods = {"msivf", "hnsw"} | ({"faiss"} if FAISS else set())
    points = []
    for name, size in scale_points():
        s = datasets.load_set(name, size, NQ)
        n = s["base"].shape[0]
        print(f"\n## scaling {name}: {n} rows", flush=True)
        t0 = time.time()
        rows, info = run_set(pg, s, methods, log_prefix=f"[{n}] ")
        report(s, rows, info, tag=f"_{n}")
        print(f"{name} ({n} rows): measured in {(time.time() - t0) / 60:.1f} min", flush=True)
        msivf = [r for r in rows if r.method == "msivf"]
        hnsw = [r for r in rows if r.method == "pgvector hnsw"]
        deflt = next((r for r in msivf if not r.curve and r.setting.startswith(f"default (target {TARGET:.2f}")), None)
        points.append({"set": name, "n": n, "lists": info.get("lists"),
                       "msivf": qps_at([r for r in msivf if r.curve], TARGET), "hnsw": qps_at(hnsw, TARGET),
                       "faiss": qps_at([r for r in rows if r.method == "faiss IVFFlat"], TARGET),
                       "msivf cpu": qps_at([r for r in msivf if r.curve], TARGET, "cpu_qps"),
                       "hnsw cpu": qps_at(hnsw, TARGET, "cpu_qps"),
                       "faiss cpu": qps_at([r for r in rows if r.method == "faiss IVFFlat"], TARGET, "cpu_qps"),
                       "at": stats_at(rows, TARGET), "default": deflt.recall if deflt else None,
                       "bm": msivf[0].build, "bh": hnsw[0].build if hnsw else None,
                       "sm": msivf[0].index_mb, "sh": hnsw[0].index_mb if hnsw else None})

    def show(x):
        q, how = x
        return "-" if q is None else (">=" if how == ">=" else "") + f"{q:.0f}"

    def div(a, b, fmt=".2f"):
        return "-" if not a or not b else format(a / b, fmt)
    print()
    print(f"== scaling: QPS at recall {TARGET} (interpolated on each frontier), one client, binary parameters, "
          f"median of {RUNS} passes; msivf default lists; hnsw m 16, ef_construction 64; FAISS IVFFlat "
          f"sqrt(rows) lists, one thread; codes, reranks: msivf per query at recall {TARGET} (interpolated); "
          f"default: msivf's recall with probes 0, target_recall {TARGET}; build s with the server's "
          f"max_parallel_maintenance_workers")
    print(f"{'set':<9} {'rows':>8} {'lists':>6} {'msivf':>7} {'hnsw':>7} {'faiss':>7} {'xHNSW':>6} {'xFAISS':>6} "
          f"{'codes':>7} {'reranks':>7} {'default':>7} {'build s':>7} {'build s':>7} {'build':>6} {'MB':>7} "
          f"{'MB':>7} {'size':>5}")
    print(f"{'':<9} {'':>8} {'':>6} {'QPS':>7} {'QPS':>7} {'QPS':>7} {'':>6} {'':>6} {'/query':>7} {'/query':>7} "
          f"{'recall':>7} {'msivf':>7} {'hnsw':>7} {'ratio':>6} {'msivf':>7} {'hnsw':>7} {'ratio':>5}")
    for p in points:
        at = p["at"] or {}
        print(f"{p['set']:<9} {p['n']:>8} {p['lists'] or '-':>6} {show(p['msivf']):>7} {show(p['hnsw']):>7} "
              f"{show(p['faiss']):>7} {div(p['msivf'][0], p['hnsw'][0]):>6} {div(p['msivf'][0], p['faiss'][0]):>6} "
              f"{('-' if 'codes' not in at else format(at['codes'], '.0f')):>7} "
              f"{('-' if 'reranks' not in at else format(at['reranks'], '.1f')):>7} "
              f"{('-' if p['default'] is None else format(p['default'], '.3f')):>7} {p['bm']:>7.1f} "
              f"{('-' if p['bh'] is None else format(p['bh'], '.1f')):>7} {div(p['bm'], p['bh'], '.3f'):>6} "
              f"{p['sm']:>7.1f} {('-' if p['sh'] is None else format(p['sh'], '.1f')):>7} "
              f"{div(p['sm'], p['sh'], '.3f'):>5}")
    print(f"the same in queries per CPU second (server backend + client; FAISS: its process)")
    print(f"{'set':<9} {'rows':>8} {'msivf':>7} {'hnsw':>7} {'faiss':>7} {'xHNSW':>6} {'xFAISS':>6}")
    for p in points:
        print(f"{p['set']:<9} {p['n']:>8} {show(p['msivf cpu']):>7} {show(p['hnsw cpu']):>7} "
              f"{show(p['faiss cpu']):>7} {div(p['msivf cpu'][0], p['hnsw cpu'][0]):>6} "
              f"{div(p['msivf cpu'][0], p['faiss cpu'][0]):>6}")
    for p1, p2 in zip(points, points[1:]):
        for key, label in (("", "QPS"), (" cpu", "CPU QPS")):
            qm1, qm2, qh1, qh2 = p1["msivf" + key][0], p2["msivf" + key][0], p1["hnsw" + key][0], p2["hnsw" + key][0]
            if qm1 and qm2 and qh1 and qh2:
                dm, dh = 1 - qm2 / qm1, 1 - qh2 / qh1
                c1, c2 = (p1["at"] or {}).get("codes"), (p2["at"] or {}).get("codes")
                print(f"SCALING {p1['n']} -> {p2['n']} rows, {label}: msivf drops {100 * dm:.0f} %, hnsw "
                      f"{100 * dh:.0f} % (target: msivf's drop <= hnsw's + 25 points: "
                      f"{'met' if dm <= dh + 0.25 else 'NOT met'})"
                      + (f"; msivf codes per query x{c2 / c1:.2f} for x{p2['n'] / p1['n']:.2f} rows"
                         if c1 and c2 else ""))

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    os.makedirs(OUT, exist_ok=True)
    plt.figure(figsize=(7, 5))
    for i, (m, style) in enumerate((("msivf", "o-"), ("pgvector hnsw", "v-"))):
        key = ("msivf", "hnsw")[i]
        pts = [(p["n"], p[key][0]) for p in points if p[key][0]]
        if pts:
            plt.plot([p[0] for p in pts], [p[1] for p in pts], style, label=m)
    plt.xscale("log")
    plt.yscale("log")
    plt.xlabel("rows")
    plt.ylabel(f"QPS at recall@10 {TARGET} (one client)")
    plt.title("scaling: " + ", ".join(sorted({datasets.SETS[p["set"]][3] for p in points})), fontsize=10)
    plt.grid(True, which="both", alpha=0.3)
    plt.legend()
    png = os.path.join(OUT, "msivf_bench_scaling.png")
    plt.savefig(png, dpi=120)
    plt.close()
    print(f"plot: {png}")


if __name__ == "__main__":
    if sys.argv[1:] == ["bq-ceiling"]:
        # msivf_bench.sh, before the server starts: the no-index ceiling
        for name in SETS:
            bq_ceiling(datasets.load_set(name, LIMIT, NQ))
    else:
        main_scaling() if MODE == "scaling" else main_sets()
