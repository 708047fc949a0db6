#!/usr/bin/env bash
# Safe-by-default checks that need real processes (issue 15), for BENCHMARKS.md:
#  1. N `feedfold export` processes started at once on a store that does not exist yet, T trials
#     on SQLite (and on PostgreSQL when ADMIN_URL is given: a fresh database per trial); prints
#     how many trials had a failing process, and the first error seen.
#  2. How long `feedfold export` takes to fail on a PostgreSQL port nothing listens on, and the
#     message it prints.
#
# Usage: bench/first_starts.sh FEEDFOLD_BINARY [N] [TRIALS] [ADMIN_URL]
#   e.g. bench/first_starts.sh target/release/feedfold 8 6 postgres://postgres@127.0.0.1:5432/test
# Loopback only: the stores are temporary files and databases on the local server.
set -euo pipefail
BIN=$(realpath "${1:?usage: $0 FEEDFOLD_BINARY [N] [TRIALS] [ADMIN_URL]}")
N=${2:-8}
TRIALS=${3:-6}
ADMIN=${4:-}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# trial STORE_URL: starts N processes at once on STORE_URL; prints the number that failed.
trial() {
    local dir
    dir=$(mktemp -d -p "$WORK")
    printf '[store]\nurl = "%s"\n' "$1" > "$dir/feedfold.toml"
    for i in $(seq "$N"); do
        "$BIN" export --config "$dir/feedfold.toml" > /dev/null 2> "$dir/err.$i" &
    done
    local failed=0
    for job in $(jobs -p); do
        wait "$job" || failed=$((failed + 1))
    done
    echo "$failed"
    cat "$dir"/err.* | grep -v '^$' | head -1 > "$WORK/first_error" || true
}

report() { # report BACKEND FAILED_TRIALS
    echo "$1: $2 of $TRIALS trials had a failing process ($N processes each)"
    if [[ -s "$WORK/first_error" ]]; then echo "  e.g. $(cat "$WORK/first_error")"; fi
}

bad=0
for t in $(seq "$TRIALS"); do
    dir=$(mktemp -d -p "$WORK")
    f=$(trial "sqlite://$dir/new.db")
    [[ $f -gt 0 ]] && bad=$((bad + 1))
done
report sqlite "$bad"

if [[ -n "$ADMIN" ]]; then
    bad=0
    for t in $(seq "$TRIALS"); do
        db="feedfold_first_$$_$t"
        psql -q "$ADMIN" -c "CREATE DATABASE $db" > /dev/null
        f=$(trial "${ADMIN%/*}/$db")
        [[ $f -gt 0 ]] && bad=$((bad + 1))
        psql -q "$ADMIN" -c "DROP DATABASE $db WITH (FORCE)" > /dev/null
    done
    report postgres "$bad"
fi

# A PostgreSQL port nothing listens on (port 1 on loopback).
dir=$(mktemp -d -p "$WORK")
printf '[store]\nurl = "postgres://feeds:s3cret@127.0.0.1:1/feeds"\n' > "$dir/feedfold.toml"
start=$(date +%s.%N)
"$BIN" export --config "$dir/feedfold.toml" > /dev/null 2> "$dir/err" || true
end=$(date +%s.%N)
printf 'unreachable database: failed after %.1f s: %s\n' "$(echo "$end - $start" | bc)" "$(head -1 "$dir/err")"
