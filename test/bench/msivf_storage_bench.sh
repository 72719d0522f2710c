#!/bin/bash
# msivf rerank against the storage of the vec column (issue 14): a
# compressible 768-d column stored the default way (STORAGE main, pglz),
# with lz4, and uncompressed inline (toast_tuple_target = 8160); ms per
# query, codes, reranks and the time of the list scan and of the rerank
# (msivf_scan_stats with machinesoup.scan_timing).  msivf_storage_bench.sql
# says what is measured.  Uses the installed extension: hold the install
# lock.
#
#   flock /tmp/ms-install.lock sh -c 'make -s install && bash test/bench/msivf_storage_bench.sh'
set -euo pipefail
cd "$(dirname "$0")/../.."
chmod o+r test/bench/msivf_storage_bench.sql
pg_virtualenv -o 'shared_buffers=2GB' -o 'max_parallel_workers_per_gather=0' -o 'jit=off' \
	-- psql -X -q -f test/bench/msivf_storage_bench.sql
