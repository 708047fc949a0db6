#!/usr/bin/env bash
# Benchmark (vi): a fetch cycle over many sources by 1, 2 and 3 daemons (`feedfold serve
# --no-http` workers) sharing one PostgreSQL database, every source due at once, served from the
# loopback origin of benchmark (iv) (bench/origin.rs, feeds it makes itself). For each number of
# daemons, in a fresh database:
#   cold   every source new: fetch, parse, sanitise, store and fold SOURCES x ITEMS items;
#   warm   the daemons restarted with every source due again, 10 % of the feeds changed (3 new
#          items each), the rest answering 304.
# A cycle ends when every source has been fetched since the start and no item waits to be
# folded (polled every 0.2 s with psql). Also printed: the origin's answers during the cycle
# (exactly one per source when no source was fetched twice) and how many feeds each daemon stored
# (a 304 stores nothing).
#
# Usage: bench/run_bench_scale.sh [SOURCES] [ITEMS] [CONCURRENCY] [DAEMONS...]
#   SOURCES      feeds (default 1000)      ITEMS  items per feed (default 30)
#   CONCURRENCY  [fetch] concurrency of each daemon (default 48)
#   DAEMONS      the numbers of daemons to measure (default: 1 2 3)
# Environment: FEEDFOLD_BENCH_POSTGRES, an admin URL of the PostgreSQL server (default
# FEEDFOLD_TEST_POSTGRES, else postgres://postgres@127.0.0.1:5432/test): the script creates and
# drops databases feedfold_bench_scale_N there. CARGO_TARGET_DIR is honoured; ORIGIN_PORT
# (default 8767).
# Needs: cargo, curl, psql.
set -euo pipefail
SOURCES=${1:-1000}
ITEMS=${2:-30}
CONCURRENCY=${3:-48}
shift $(($# < 3 ? $# : 3))
DAEMONS=("$@")
[[ ${#DAEMONS[@]} -gt 0 ]] || DAEMONS=(1 2 3)
ADMIN=${FEEDFOLD_BENCH_POSTGRES:-${FEEDFOLD_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/test}}
SERVER=${ADMIN%%\?*}
SERVER=${SERVER%/*}
ORIGIN_PORT=${ORIGIN_PORT:-8767}
export PGOPTIONS="-c client_min_messages=warning"
cd "$(dirname "$0")/.."
TARGET=${CARGO_TARGET_DIR:-target}
BENCH=bench-scale
source bench/loopback.sh
source bench/environment.sh

echo "== build (release)"
cargo build --release --locked --bin feedfold --example bench-origin 2>&1 | tail -1

start_origin() { # a fresh origin: every run starts from the same feeds
    [[ -z "${ORIGIN_PID:-}" ]] || { kill "$ORIGIN_PID"; wait "$ORIGIN_PID" 2>/dev/null || true; }
    "$TARGET/release/examples/bench-origin" --port "$ORIGIN_PORT" --feeds "$SOURCES" --items "$ITEMS" 2> /dev/null &
    ORIGIN_PID=$!
    PIDS+=("$ORIGIN_PID")
    wait_for "http://127.0.0.1:$ORIGIN_PORT/stats"
}

answers() { # 200 + 304 answers so far
    curl -fs "http://127.0.0.1:$ORIGIN_PORT/stats" | awk '{ print $2 + $5 }'
}

config() { # config DATABASE_URL
    printf '[store]\nurl = "%s"\n\n' "$1"
    # Every source is on the one loopback origin: per_host may use every slot. Every source is due
    # at once when a daemon starts; the interval is longer than any cycle.
    printf '[fetch]\nconcurrency = %d\nper_host = %d\ninterval = "1h"\nstartup_spread = 0\n\n' \
        "$CONCURRENCY" "$CONCURRENCY"
    printf '[publish]\nbase_url = "http://localhost:8080"\n\n'
    for ((i = 0; i < SOURCES; i++)); do
        printf '[[source]]\nname = "s%04d"\nurl = "http://127.0.0.1:%d/feed-%04d.xml"\n\n' "$i" "$ORIGIN_PORT" "$i"
    done
    printf '[[output]]\nname = "all"\ntitle = "All stories"\nlimit = 100\n\n'
    printf '[[output]]\nname = "shanghai"\ntitle = "Shanghai"\nregions = ["上海"]\n'
}

# cycle LABEL N DATABASE_URL: starts N workers, waits until every source was fetched since the
# start and nothing waits to be folded, prints the figures, stops the workers.
cycle() {
    local label=$1 n=$2 url=$3 before start end fetched waiting elapsed k
    before=$(answers)
    start=$(date +%s.%N)
    local workers=()
    for ((k = 1; k <= n; k++)); do
        RUST_LOG=feedfold=info "$TARGET/release/feedfold" serve --no-http --config "$WORK/scale.toml" \
            2> "$WORK/$label-$n-$k.log" &
        workers+=($!)
    done
    PIDS+=("${workers[@]}")
    local since=${start%.*} state
    while true; do
        # Empty until the first daemon has created the tables.
        state=$(psql "$url" -Atc "SELECT (SELECT count(*) FROM sources WHERE last_fetch >= $since) \
            || ' ' || (SELECT count(*) FROM items WHERE story_id IS NULL)" 2>/dev/null || true)
        fetched=${state% *}
        waiting=${state#* }
        if [[ "${fetched:-0}" -ge "$SOURCES" && "${waiting:-1}" -eq 0 ]]; then break; fi
        sleep 0.2
        if (($(date +%s) - since > 900)); then echo "  $label: no end after 900 s" >&2; exit 1; fi
    done
    end=$(date +%s.%N)
    elapsed=$(awk "BEGIN { print $end - $start }")
    local split=""
    for ((k = 1; k <= n; k++)); do
        split+=" $(grep -c 'stored source=' "$WORK/$label-$n-$k.log" || true)"
    done
    local counts items stories
    counts=$(psql "$url" -Atc "SELECT count(*) || ' ' || count(DISTINCT story_id) FROM items")
    items=${counts% *}
    stories=${counts#* }
    printf '  %d daemon(s) %-5s cycle %6.2f s | origin answers %d | feeds stored per daemon:%s | %d items, %d stories | load %s\n' \
        "$n" "$label" "$elapsed" "$(($(answers) - before))" "$split" "$items" "$stories" \
        "$(cut -d' ' -f1 /proc/loadavg)"
    kill -TERM "${workers[@]}"
    wait "${workers[@]}" 2>/dev/null || true
}

echo "== origin: $SOURCES feeds x $ITEMS items (bench-origin, loopback, started afresh for each run)"
echo "== cycles: concurrency $CONCURRENCY per daemon, every source due at once"
for n in "${DAEMONS[@]}"; do
    db="feedfold_bench_scale_$n"
    psql "$ADMIN" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" > /dev/null
    url="$SERVER/$db"
    config "$url" > "$WORK/scale.toml"
    start_origin
    cycle cold "$n" "$url"
    curl -fs -o /dev/null -X POST "http://127.0.0.1:$ORIGIN_PORT/mutate?percent=10&items=3"
    # Every source due again at once: as if its last fetch were long ago.
    psql "$url" -qc "UPDATE leases SET due_ms = 0" -c "UPDATE sources SET last_fetch = 0" > /dev/null
    sleep 1 # last_fetch is in whole seconds: the next cycle starts in a later one
    cycle warm "$n" "$url"
    psql "$ADMIN" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" > /dev/null
done
