#!/usr/bin/env bash
# Benchmark (vii): a year of operation with retention. Serves SOURCES feeds of 30 items from the
# loopback origin of benchmark (iv) (bench/origin.rs, feeds it makes itself) and runs
# bench/year.rs against it: day 0 cold, then DAYS simulated days, each with 10 % of the feeds
# publishing 3 new items and one cycle as `feedfold fetch` runs it (fetch and fold, write the
# outputs, prune) at that day's time, `[store] keep = KEEP`. Prints a Markdown row at day 0 and at
# every checkpoint: store size, cycle time, peak RSS (see bench/year.rs).
#
# Usage: bench/year.sh [SOURCES] [DAYS] [CHECKPOINTS] [KEEP] [CONCURRENCY]
#   SOURCES      feeds (default 1000)             DAYS  simulated days (default 365)
#   CHECKPOINTS  days to report, comma-separated (default 30,90,180,365)
#   KEEP         [store] keep (default 30d)       CONCURRENCY  [fetch] concurrency (default 48)
# Environment: CARGO_TARGET_DIR is honoured; ORIGIN_PORT (default 8768); BUILD=0 skips the build
# (the release examples bench-origin and bench-year must be there).
# Needs: cargo, curl.
set -euo pipefail
SOURCES=${1:-1000}
DAYS=${2:-365}
CHECKPOINTS=${3:-30,90,180,365}
KEEP=${4:-30d}
CONCURRENCY=${5:-48}
ORIGIN_PORT=${ORIGIN_PORT:-8768}
cd "$(dirname "$0")/.."
TARGET=${CARGO_TARGET_DIR:-target}
BENCH=bench-year
source bench/loopback.sh
source bench/environment.sh

if [[ ${BUILD:-1} != 0 ]]; then
    echo "== build (release)"
    cargo build --release --locked --example bench-origin --example bench-year 2>&1 | tail -1
fi

echo "== origin: $SOURCES feeds x 30 items"
"$TARGET/release/examples/bench-origin" --port "$ORIGIN_PORT" --feeds "$SOURCES" --items 30 &
PIDS+=($!)
wait_for "http://127.0.0.1:$ORIGIN_PORT/stats"

echo "== a year: $DAYS days, keep $KEEP, checkpoints $CHECKPOINTS, concurrency $CONCURRENCY"
started=$(date +%s)
"$TARGET/release/examples/bench-year" --origin "http://127.0.0.1:$ORIGIN_PORT" --dir "$WORK" \
    --sources "$SOURCES" --days "$DAYS" --checkpoints "$CHECKPOINTS" --keep "$KEEP" \
    --concurrency "$CONCURRENCY"
echo "== done in $(($(date +%s) - started)) s; origin answers: $(curl -fs "http://127.0.0.1:$ORIGIN_PORT/stats")"
