#!/usr/bin/env bash
# Benchmark (iv): one `feedfold fetch` cycle over many sources served from a loopback origin
# (bench/origin.rs: strong ETag and Last-Modified, 304 on a match): cold, all-304, then with
# 10 % of the feeds changed. Then the Python peer (e2e_cycle.py: urllib + feedparser against
# `python3 -m http.server`) over the same feed files, in the same run.
#
# Usage: bench/run_bench_iv.sh BASELINES_DIR [SOURCES] [ITEMS] [CONCURRENCY]
#   BASELINES_DIR  folder holding e2e_cycle.py and gen_feed.py (the peer; not part of this repo)
#   SOURCES        feeds (default 1000)       ITEMS  items per feed (default 30)
#   CONCURRENCY    [fetch] concurrency of the feedfold config (default 48)
# Environment: CARGO_TARGET_DIR is honoured. ORIGIN_PORT (default 8766) and PEER_PORT (8765).
# Needs: cargo, curl, /usr/bin/time, python3 with feedparser (installed with pip if missing).
set -euo pipefail
if [[ $# -lt 1 || ! -f "$1/e2e_cycle.py" ]]; then
    echo "usage: $0 BASELINES_DIR [SOURCES] [ITEMS] [CONCURRENCY]   (a folder containing e2e_cycle.py)" >&2
    exit 2
fi
BASELINES=$(cd "$1" && pwd)
SOURCES=${2:-1000}
ITEMS=${3:-30}
CONCURRENCY=${4:-48}
ORIGIN_PORT=${ORIGIN_PORT:-8766}
PEER_PORT=${PEER_PORT:-8765}
cd "$(dirname "$0")/.."
TARGET=${CARGO_TARGET_DIR:-target}
BENCH=bench-iv
source bench/loopback.sh
source bench/environment.sh

echo "== build (release)"
cargo build --release --locked --bin feedfold --example bench-origin 2>&1 | tail -1

echo "== origin: $SOURCES feeds x $ITEMS items (e2e_cycle.py --make-origin, shared by both sides)"
python3 "$BASELINES/e2e_cycle.py" --make-origin "$WORK/origin" --sources "$SOURCES" --items "$ITEMS"
"$TARGET/release/examples/bench-origin" --port "$ORIGIN_PORT" --dir "$WORK/origin" &
PIDS+=($!)
wait_for "http://127.0.0.1:$ORIGIN_PORT/stats"

CONFIG="$WORK/iv.toml"
{
    # Every source is on the one loopback origin: per_host may use every slot.
    printf '[store]\nurl = "sqlite://iv.db"\n\n[fetch]\nconcurrency = %d\nper_host = %d\n\n' "$CONCURRENCY" "$CONCURRENCY"
    printf '[publish]\ndir = "public"\nbase_url = "http://localhost:8080"\n\n'
    for ((i = 0; i < SOURCES; i++)); do
        printf '[[source]]\nname = "s%04d"\nurl = "http://127.0.0.1:%d/feed-%04d.xml"\n\n' "$i" "$ORIGIN_PORT" "$i"
    done
    printf '[[output]]\nname = "all"\ntitle = "All stories"\nlimit = 100\n\n'
    printf '[[output]]\nname = "first-hundred"\ntitle = "First hundred sources, every item"\n'
    printf 'sources = [%s]\ndedup = "off"\nlimit = 1000\n\n' "$(seq -f '"s%04g"' 0 $((SOURCES < 100 ? SOURCES - 1 : 99)) | paste -sd, -)"
    printf '[[output]]\nname = "shanghai"\ntitle = "Shanghai"\nregions = ["上海"]\n'
} > "$CONFIG"

cycle() { # cycle LABEL
    local log="$WORK/$1.log" t="$WORK/$1.time" status=0
    /usr/bin/time -o "$t" -f "%e %M" "$TARGET/release/feedfold" fetch --force --config "$CONFIG" --out "$WORK/public" \
        2> "$log" || status=$?
    read -r wall rss < "$t"
    printf '  feedfold %-8s wall %6.2f s  peak RSS %4d MB  exit %d  | %s\n' "$1" "$wall" "$((rss / 1024))" \
        "$status" "$(grep -E '^[0-9]+ sources:' "$log" | tail -1)"
}

echo "== feedfold fetch: concurrency $CONCURRENCY, fresh SQLite store, 3 outputs x 3 formats"
cycle cold
cycle all-304
curl -fs -o /dev/null -X POST "http://127.0.0.1:$ORIGIN_PORT/mutate?percent=10&items=3"
cycle 10pct
echo "  origin requests: $(curl -fs "http://127.0.0.1:$ORIGIN_PORT/stats")"
echo "  store: $(du -h "$WORK/iv.db" | cut -f1); outputs: $(ls "$WORK/public" | wc -l) files"

echo "== peer: e2e_cycle.py (urllib + feedparser, 16 workers) against python3 -m http.server"
python3 -c 'import feedparser' 2>/dev/null || pip install -q feedparser
(cd "$WORK/origin" && exec python3 -m http.server "$PEER_PORT" --bind 127.0.0.1 > /dev/null 2>&1) &
PIDS+=($!)
wait_for "http://127.0.0.1:$PEER_PORT/feed-0000.xml"
python3 "$BASELINES/e2e_cycle.py" --fetch "http://127.0.0.1:$PEER_PORT" --sources "$SOURCES" | sed 's/^/  peer /'
echo "== targets: cold <= 3 s, all-304 <= 0.3 s, peak RSS <= 256 MB"
