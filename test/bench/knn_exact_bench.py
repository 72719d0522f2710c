#!/usr/bin/python3
"""Helper of knn_exact_bench.sh: data, the FAISS anchor, and the report.

    knn_exact_bench.py prepare DIR [NQUERIES]  GloVe rows and held-out queries as TSV
    knn_exact_bench.py faiss DIR               FAISS IndexFlatIP, one thread: time + answers
    knn_exact_bench.py report DIR              the table, and vec_knn_exact vs FAISS

Uses Debian's python3-numpy and python3-faiss (run with /usr/bin/python3).
"""
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import datasets  # noqa: E402

K = 10


def vec_text(row):
    return "[" + ",".join(repr(float(x)) for x in row) + "]"


def prepare(out_dir, nqueries):
    words = datasets.load_glove()
    x = np.array([v for _, v in words], dtype=np.float32)
    rng = np.random.default_rng(20261123)
    held = np.zeros(len(x), dtype=bool)
    held[rng.choice(len(x), size=nqueries, replace=False)] = True
    rows, queries = x[~held], x[held]
    np.save(os.path.join(out_dir, "rows.npy"), rows)
    np.save(os.path.join(out_dir, "queries.npy"), queries)
    # ids are positions in rows.npy, so FAISS and SQL name rows alike
    with open(os.path.join(out_dir, "rows.tsv"), "w") as f:
        for i, r in enumerate(rows):
            f.write(f"{i}\t{vec_text(r)}\n")
    with open(os.path.join(out_dir, "queries.tsv"), "w") as f:
        for i, q in enumerate(queries):
            f.write(f"{i + 1}\t{vec_text(q)}\n")
    print(f"{len(rows)} rows, {len(queries)} queries, {x.shape[1]} dims")


def run_faiss(out_dir):
    import faiss

    faiss.omp_set_num_threads(1)
    rows = np.load(os.path.join(out_dir, "rows.npy"))
    queries = np.load(os.path.join(out_dir, "queries.npy"))
    faiss.normalize_L2(rows)
    faiss.normalize_L2(queries)
    index = faiss.IndexFlatIP(rows.shape[1])
    index.add(rows)
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        scores, ids = index.search(queries, K)
        times.append((time.perf_counter() - t0) * 1000)
    with open(os.path.join(out_dir, "faiss.tsv"), "w") as f:
        for q in range(len(queries)):
            for r in range(K):
                f.write(f"{q + 1}\t{r + 1}\t{ids[q, r]}\t{1.0 - scores[q, r]!r}\n")
    with open(os.path.join(out_dir, "faiss_ms"), "w") as f:
        f.write(f"{statistics.median(times)}\n")


def read_answers(path):
    """{query_no: [(id, distance), ...]} in rank order."""
    out = {}
    with open(path) as f:
        for line in f:
            q, r, i, d = line.split("\t")
            out.setdefault(int(q), []).append((int(i), float(d)))
    return out


def report(out_dir):
    times = {}
    with open(os.path.join(out_dir, "times.tsv")) as f:
        for line in f:
            name, ms, n = line.rstrip("\n").split("\t")
            times[name] = (float(ms), int(n))
    with open(os.path.join(out_dir, "faiss_ms")) as f:
        faiss_ms = float(f.read())
    nq = times["vec_knn_exact"][1]

    exact = read_answers(os.path.join(out_dir, "exact.tsv"))
    faiss_ans = read_answers(os.path.join(out_dir, "faiss.tsv"))
    same = tied = total = 0
    worst = 0.0
    for q, ex in exact.items():
        fa = faiss_ans[q]
        fa_ids = {i for i, _ in fa}
        kth = ex[-1][1]
        for (i, d), (_, fd) in zip(ex, fa):
            worst = max(worst, abs(d - fd))
        for i, d in ex:
            total += 1
            if i in fa_ids:
                same += 1
            elif abs(d - kth) <= 1e-6:
                # another row at the k-th distance: FAISS may pick either
                tied += 1

    exact_ms = times["vec_knn_exact"][0]
    sep_ms, sep_n = times["separate"]
    sep_total = sep_ms * nq / sep_n
    rows = [
        (f"vec_knn_exact(..., {nq} queries, k={K}, 'cosine'), work_mem 4MB", exact_ms),
        (f"vec_knn_exact, work_mem 64MB", times["vec_knn_exact_64MB"][0]),
        (f"{nq} x SELECT ... ORDER BY v <=> q LIMIT {K} (seq scan; {sep_n} run, x{nq / sep_n:g})", sep_total),
        ("FAISS IndexFlatIP, in memory, 1 thread (normalised rows)", faiss_ms),
    ]
    print()
    print(f"| method ({nq} queries, top {K}) | total ms | ms/query | time vs vec_knn_exact |")
    print("|---|---:|---:|---:|")
    for name, ms in rows:
        print(f"| {name} | {ms:,.0f} | {ms / nq:.3f} | {ms / exact_ms:.2f}x |")
    print()
    print(f"speed-up over separate queries: {sep_total / exact_ms:.1f}x (target >= 20x)")
    print(f"vec_knn_exact / FAISS time:     {exact_ms / faiss_ms:.2f}x (target <= 3x)")
    print(f"same top-{K} as FAISS: {same}/{total} rows; {tied} more differ only by a tie "
          f"at the k-th distance -> recall {(same + tied) / total:.4f} modulo ties "
          f"({same / total:.4f} strict)")
    print(f"largest distance difference vs FAISS at equal rank: {worst:.2e} (FAISS is float32)")
    print(f"separate queries that differ from vec_knn_exact: {times['separate_mismatch'][1]} of {sep_n}")


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    cmd, out_dir = argv[1], argv[2]
    if cmd == "prepare":
        prepare(out_dir, int(argv[3]) if len(argv) > 3 else 1000)
    elif cmd == "faiss":
        run_faiss(out_dir)
    elif cmd == "report":
        report(out_dir)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
