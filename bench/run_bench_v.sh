#!/usr/bin/env bash
# Benchmark (v): HTTP throughput and latency of `feedfold serve` on a 50-item output: 200 with
# no compression, 200 gzip, 304 (If-None-Match). In the same run, the limit: a minimal axum
# server (bench/minimal_server.rs) returning the same bytes.
#
# Usage: bench/run_bench_v.sh [SECONDS]     (default 10; wrk -t2 -c16 --latency)
# Needs: cargo, curl, wrk (installed with apt-get if missing).
set -euo pipefail
SECONDS_EACH=${1:-10}
cd "$(dirname "$0")/.."
ROOT=$(pwd)

command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }

source bench/environment.sh
wrk --version 2>&1 | head -1 || true

cargo build --release --locked --bin feedfold --example bench-minimal-server 2>&1 | tail -1

WORK=$(mktemp -d)
cleanup() { kill "${FEEDFOLD_PID:-}" "${MINIMAL_PID:-}" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

cat > "$WORK/bench.toml" <<TOML
[store]
url = "sqlite://bench.db"
[fetch]
startup_spread = 0
[[source]]
name = "feed200"
url = "$ROOT/benches/data/feed200.xml"
[[output]]
name = "bench"
title = "Benchmark (v)"
limit = 50
TOML

RUST_LOG=warn target/release/feedfold serve --config "$WORK/bench.toml" --listen 127.0.0.1:18090 2>"$WORK/serve.log" &
FEEDFOLD_PID=$!
URL=http://127.0.0.1:18090/feeds/bench.rss
for _ in $(seq 1 200); do
    if [ "$(curl -s "$URL" | grep -c '<item>' || true)" = 50 ]; then break; fi
    sleep 0.1
done
curl -s -D "$WORK/headers" -o "$WORK/feed.rss" "$URL"
curl -s -H 'Accept-Encoding: gzip' -o "$WORK/feed.rss.gz" "$URL"
ETAG=$(sed -n 's/^etag: *//Ip' "$WORK/headers" | tr -d '\r')
TYPE=$(sed -n 's/^content-type: *//Ip' "$WORK/headers" | tr -d '\r')
echo "output: $(grep -c '<item>' "$WORK/feed.rss") items, $(stat -c %s "$WORK/feed.rss") bytes, gzip $(stat -c %s "$WORK/feed.rss.gz") bytes, ETag $ETAG"

target/release/examples/bench-minimal-server 127.0.0.1:18091 "$WORK/feed.rss" "$WORK/feed.rss.gz" "$ETAG" "$TYPE" 2>/dev/null &
MINIMAL_PID=$!
for _ in $(seq 1 100); do curl -sf -o /dev/null http://127.0.0.1:18091/feed && break; sleep 0.1; done

run() { # NAME URL [HEADER]
    local name=$1 url=$2
    shift 2
    local out
    out=$(wrk -t2 -c16 -d"${SECONDS_EACH}s" --latency "$@" "$url")
    local rps p50 p99 non2xx
    rps=$(echo "$out" | sed -n 's/^Requests\/sec: *//p')
    p50=$(echo "$out" | awk '$1=="50%"{print $2}')
    p99=$(echo "$out" | awk '$1=="99%"{print $2}')
    non2xx=$(echo "$out" | sed -n 's/^ *Non-2xx or 3xx responses: *//p')
    printf '  %-22s %12s req/s   p50 %8s   p99 %8s   %s\n' "$name" "$rps" "$p50" "$p99" "${non2xx:+non-2xx/3xx: $non2xx}"
}

for target in feedfold minimal; do
    if [ $target = feedfold ]; then u=$URL; else u=http://127.0.0.1:18091/feed; fi
    echo "== $target ($u)"
    run "200 identity" "$u"
    run "200 gzip" "$u" -H 'Accept-Encoding: gzip'
    run "304" "$u" -H "If-None-Match: $ETAG"
done
