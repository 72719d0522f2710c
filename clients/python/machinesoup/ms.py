"""The model store from Python: numpy matrices into ms.ingest, ms.knn out.

Both helpers take a DB-API connection of psycopg 3 or psycopg2 and run in
its current transaction: commit to keep what ingest_matrix stored.  They
need no adapters registered.  They act as the connection's current role,
which needs the ``ingest`` grant (ms.grant(role, 'ingest', org[, model]))
for ingest_matrix and ``query`` for knn; the version's processor must be
``ms.proc_float32`` (ms.create_version(org, model, label,
'ms.proc_float32(bytea,integer)')).
"""

import numpy as np

from . import _wire

#: Records per ms.ingest call when the caller does not say: batches of at
#: most 64 MiB, each one stored (LZ4) in ms.raw_batches and processed in
#: one statement.
BATCH_BYTES = 64 << 20


def float32_batch(matrix, ids):
    """The bytes ms.proc_float32 reads: per row, int64 id then the row's
    float32 elements, all little-endian, records back to back."""
    matrix = np.asarray(matrix)
    if matrix.ndim != 2:
        raise ValueError("matrix must have two dimensions (rows, dims), not %d" % matrix.ndim)
    ids = np.asarray(ids)
    if ids.shape != (matrix.shape[0],):
        raise ValueError("ids must have one entry per row: %d ids for %d rows"
                         % (ids.size, matrix.shape[0]))
    if ids.dtype.kind not in "iu":
        raise TypeError("ids must be integers, not %s" % ids.dtype)
    if ids.dtype.kind == "u" and ids.size and ids.max() > np.iinfo(np.int64).max:
        # the assignment below would wrap it around to a negative id
        raise ValueError("id %d does not fit in bigint" % ids.max())
    rec = np.empty(matrix.shape[0], dtype=[("id", "<i8"), ("x", "<f4", (matrix.shape[1],))])
    rec["id"] = ids
    rec["x"] = matrix
    return rec.tobytes()


def ingest_matrix(conn, org, model, matrix, ids=None, label=None, batch_rows=None):
    """Send the rows of matrix (n x dims) to ms.ingest as float32 batches.

    ids: one int64 per row (default: the row numbers 0..n-1); an id already
    in the version is replaced.  label: the version (default: the model's
    promoted one).  batch_rows: rows per ms.ingest call (default: batches
    of at most 64 MiB).  Returns the batch ids ms.ingest returned, one per
    call.  The server checks every row (dims, finite elements, no id twice
    in a batch) and raises on the first bad one.
    """
    matrix = np.asarray(matrix)
    if matrix.ndim != 2:
        raise ValueError("matrix must have two dimensions (rows, dims), not %d" % matrix.ndim)
    n, dims = matrix.shape
    if ids is None:
        ids = np.arange(n, dtype=np.int64)
    if batch_rows is None:
        batch_rows = max(1, BATCH_BYTES // (8 + 4 * max(dims, 1)))
    if batch_rows < 1:
        raise ValueError("batch_rows must be at least 1")
    ids = np.asarray(ids)
    if ids.shape != (n,):
        raise ValueError("ids must have one entry per row: %d ids for %d rows" % (ids.size, n))
    batch_ids = []
    cur = conn.cursor()
    try:
        for start in range(0, n, batch_rows):
            data = float32_batch(matrix[start:start + batch_rows], ids[start:start + batch_rows])
            cur.execute("SELECT ms.ingest(%s::text, %s::text, %s::bytea, %s::text)",
                        (org, model, data, label))
            batch_ids.append(cur.fetchone()[0])
    finally:
        cur.close()
    return batch_ids


def knn(conn, org, model, query, k, label=None, payload=False):
    """The k nearest points to query (a vector) by the model's metric.

    Returns (ids, distances): int64 and float64 numpy arrays, nearest
    first; with payload=True, (ids, distances, payloads), payloads a list
    of the jsonb values (None where a point has none).
    """
    text = _wire.to_text(query)
    cur = conn.cursor()
    try:
        # an untyped literal: resolved to the vec ms.knn takes, in whichever
        # schema the extension lives
        cur.execute("SELECT point_id, distance, payload FROM ms.knn(%s::text, %s::text, %s, %s::integer, %s::text)",
                    (org, model, text, k, label))
        rows = cur.fetchall()
    finally:
        cur.close()
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    dist = np.fromiter((r[1] for r in rows), dtype=np.float64, count=len(rows))
    if payload:
        return ids, dist, [r[2] for r in rows]
    return ids, dist
