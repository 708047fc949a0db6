#!/usr/bin/env bash
# Benchmark (iii): region tagging, feedfold and the Python regex peer in the same session, on the
# same 200-item feed (benches/data/feed200.xml).
#
# Usage: bench/run_bench_iii.sh BASELINES_DIR
#   BASELINES_DIR  folder holding bench_region.py (the peer script; not part of this repo)
# Needs: cargo, python3 with feedparser (installed with pip if missing).
set -euo pipefail
if [[ $# -lt 1 || ! -f "$1/bench_region.py" ]]; then
    echo "usage: $0 BASELINES_DIR" >&2
    exit 2
fi
BASELINES=$(cd "$1" && pwd)
cd "$(dirname "$0")/.."

source bench/environment.sh

echo "== feedfold (cargo bench --bench region)"
cargo bench --bench region

echo "== peer: Python regex (bench_region.py)"
python3 -c 'import feedparser' 2>/dev/null || pip install -q feedparser
python3 "$BASELINES/bench_region.py" benches/data/feed200.xml
