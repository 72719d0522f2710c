#!/usr/bin/env python3
"""Raw batch files for test/bench/raw_bench.sh, from GloVe 100-d words.

    raw_batches.py OUTDIR CSV_BATCHES F32_BATCHES

Writes OUTDIR/csv_<n>.csv (about 1 MB each: lines "id,x1,...,x100") and
OUTDIR/f32_<n>.bin (64 KB each, whole records: int64 id + 100 float32,
little-endian).  Ids are distinct across all batches of a kind.
"""
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import datasets  # noqa: E402


def main(outdir, n_csv, n_f32):
    words = datasets.load_glove()
    vecs = [v for _, v in words]
    pos = 0
    next_id = 1

    def take():
        nonlocal pos
        v = vecs[pos % len(vecs)]
        pos += 1
        return v

    for b in range(n_csv):
        lines = []
        size = 0
        while size < 1 << 20:
            line = "%d,%s\n" % (next_id, ",".join(repr(float(x)) for x in take()))
            next_id += 1
            if size + len(line) > 1 << 20:
                break
            lines.append(line)
            size += len(line)
        with open(os.path.join(outdir, "csv_%d.csv" % b), "w") as f:
            f.write("".join(lines))
    rec = struct.Struct("<q100f")
    per = (64 << 10) // rec.size
    for b in range(n_f32):
        with open(os.path.join(outdir, "f32_%d.bin" % b), "wb") as f:
            for _ in range(per):
                f.write(rec.pack(next_id, *take()))
                next_id += 1


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
