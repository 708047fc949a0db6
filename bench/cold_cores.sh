#!/usr/bin/env bash
# Benchmark (iv)'s cycle pinned to CPUs: one `feedfold fetch` over SOURCES x ITEMS feeds from the
# loopback origin (bench/origin.rs), cold (fresh SQLite store) then all-304, with the process
# pinned by `taskset` to each CPU list given, for each binary given, in one run. The origin is
# not pinned. Prints wall and CPU time and peak RSS per phase.
#
# Usage: bench/cold_cores.sh BASELINES_DIR "CPUS..." BINARY...
#   e.g. bench/cold_cores.sh ../shared/baselines "0-1 0" /tmp/feedfold-before target/release/feedfold
#   BASELINES_DIR holds e2e_cycle.py (makes the origin's feeds; not part of this repo).
# Environment: SOURCES (1000), ITEMS (30), ORIGIN_PORT (8768); LOGS, a folder to keep each run's
# standard error in (as CPUS-PHASE-N.log; set RUST_LOG=feedfold=debug for stage timings).
# Loopback only.
set -euo pipefail
BASELINES=$(cd "${1:?usage: $0 BASELINES_DIR \"CPUS...\" BINARY...}" && pwd)
read -r -a CPUS <<< "${2:?cpu lists}"
shift 2
BINS=()
for b in "$@"; do BINS+=("$(realpath "$b")"); done
SOURCES=${SOURCES:-1000}
ITEMS=${ITEMS:-30}
ORIGIN_PORT=${ORIGIN_PORT:-8768}
cd "$(dirname "$0")/.."
TARGET=${CARGO_TARGET_DIR:-target}
BENCH=bench-cores
source bench/loopback.sh
cargo build --release --locked --example bench-origin 2>&1 | tail -1
python3 "$BASELINES/e2e_cycle.py" --make-origin "$WORK/origin" --sources "$SOURCES" --items "$ITEMS"
"$TARGET/release/examples/bench-origin" --port "$ORIGIN_PORT" --dir "$WORK/origin" &
PIDS+=($!)
wait_for "http://127.0.0.1:$ORIGIN_PORT/stats"
{
    printf '[store]\nurl = "sqlite://iv.db"\n\n[fetch]\nconcurrency = %d\nper_host = %d\n\n' "${CONCURRENCY:-48}" "${CONCURRENCY:-48}"
    printf '[publish]\ndir = "public"\nbase_url = "http://localhost:8080"\n\n'
    for ((i = 0; i < SOURCES; i++)); do
        printf '[[source]]\nname = "s%04d"\nurl = "http://127.0.0.1:%d/feed-%04d.xml"\n\n' "$i" "$ORIGIN_PORT" "$i"
    done
    printf '[[output]]\nname = "all"\ntitle = "All stories"\nlimit = 100\n\n'
    printf '[[output]]\nname = "shanghai"\ntitle = "Shanghai"\nregions = ["上海"]\n'
} > "$WORK/cores.toml"
for cpus in "${CPUS[@]}"; do
    n=0
    for bin in "${BINS[@]}"; do
        n=$((n + 1))
        rm -rf "$WORK/run" && mkdir "$WORK/run" && cp "$WORK/cores.toml" "$WORK/run/"
        # Every source again in the all-304 phase: binaries that skip sources not due need --force.
        force=$("$bin" fetch --help | grep -q -- --force && echo --force || true)
        for phase in cold all-304; do
            /usr/bin/time -o "$WORK/time" -f "%e %U %S %M" taskset -c "$cpus" "$bin" fetch $force \
                --config "$WORK/run/cores.toml" --out "$WORK/run/public" \
                2> "${LOGS:-/dev/null}${LOGS:+/$cpus-$phase-$n.log}" || true
            read -r wall user sys rss < "$WORK/time"
            printf 'cpus %-4s %-8s wall %6.2f s  user %5.2f s  sys %5.2f s  peak RSS %4d MB  %s\n' \
                "$cpus" "$phase" "$wall" "$user" "$sys" "$((rss / 1024))" "$bin"
        done
    done
done
