#!/usr/bin/env bash
# Benchmark (ii): fold a stream of generated near-duplicates, feedfold and the datasketch peer in
# the same session.
#
# Usage: bench/run_bench_ii.sh BASELINES_DIR [DOCS] [PERSISTED_DOCS] [PEER_DOCS]
#   BASELINES_DIR   folder holding bench_minhash.py (the peer script; not part of this repo)
#   DOCS            items through the in-memory index core (default 1000000)
#   PERSISTED_DOCS  items through the SQLite store (default 100000)
#   PEER_DOCS       items through datasketch (default DOCS; it needs ~8.5 KB per item)
# Needs: cargo, python3 with datasketch (installed with pip if missing).
set -euo pipefail
if [[ $# -lt 1 || ! -f "$1/bench_minhash.py" ]]; then
    echo "usage: $0 BASELINES_DIR [DOCS] [PERSISTED_DOCS] [PEER_DOCS]" >&2
    exit 2
fi
BASELINES=$(cd "$1" && pwd)
DOCS=${2:-1000000}
PERSISTED=${3:-100000}
PEER=${4:-$DOCS}
cd "$(dirname "$0")/.."

source bench/environment.sh

echo "== feedfold (cargo bench --bench fold -- $DOCS $PERSISTED)"
cargo bench --bench fold -- "$DOCS" "$PERSISTED"

echo "== peer: datasketch (bench_minhash.py --docs $PEER)"
python3 -c 'import datasketch' 2>/dev/null || pip install -q datasketch
/usr/bin/time -f "  peer wall %es, peak RSS %M KB" python3 "$BASELINES/bench_minhash.py" --docs "$PEER"
