#!/usr/bin/env bash
# Folding and region quality on a labelled corpus laid out like the development corpus
# (feeds/, labels.json, score.py): every feed fetched at once into a fresh SQLite store,
# exported and scored. With --orders, also whether the stories depend on the order items
# arrive in: the feeds fetched one more source per run (as a daemon sees them) in file order and
# in reverse; prints each run's number of stories, whether its partition equals the
# all-at-once one (member sets, not ids), and score.py's pairwise figures. With
# --postgres ADMIN_URL, also five times three concurrent `fetch` processes (started 0.1 s apart,
# sources in a random order, split between them by their leases) into a new PostgreSQL
# database, compared the same way (needs psql).
#
# Usage: bench/score_corpus.sh CORPUS_DIR [FEEDFOLD_BINARY] [--orders] [--postgres ADMIN_URL]
#   (BINARY relative to the repo; ADMIN_URL such as postgres://postgres@127.0.0.1:5432/test)
#   CORPUS_DIR       folder holding feeds/, labels.json and score.py (not part of this repo)
#   FEEDFOLD_BINARY  defaults to target/release/feedfold (built if missing)
set -euo pipefail
if [[ $# -lt 1 || ! -f "$1/labels.json" ]]; then
    echo "usage: $0 CORPUS_DIR [FEEDFOLD_BINARY] [--orders]" >&2
    exit 2
fi
CORPUS=$(cd "$1" && pwd)
shift
ORDERS=
PG=
BIN=target/release/feedfold
while [[ $# -gt 0 ]]; do
    case $1 in
        --orders) ORDERS=1 ;;
        --postgres) PG=$2; shift ;;
        *) BIN=$1 ;;
    esac
    shift
done
cd "$(dirname "$0")/.."
[[ -x $BIN ]] || cargo build --release --locked
BIN=$(realpath "$BIN")
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mapfile -t FEEDS < <(ls "$CORPUS"/feeds/*)

config() { # config DIR FEED...: a store in DIR (or STORE_URL), the feeds as sources, one output
    local dir=$1; shift
    printf '[store]\nurl = "%s"\n\n[publish]\ndir = "%s/public"\n\n' "${STORE_URL:-sqlite://$dir/store.db}" "$dir"
    printf '[[output]]\nname = "all"\ntitle = "All"\ndedup = "off"\nlimit = 1000\n\n'
    for f in "$@"; do
        name=$(basename "$f"); name=${name%%.*}
        printf '[[source]]\nname = "%s"\nurl = "%s"\n\n' "$name" "$f"
    done
}
run() { # run NAME STEP FEED...: fetch runs over the first STEP, 2*STEP … feeds, then export
    local dir=$WORK/$1 step=$2; shift 2
    mkdir -p "$dir"
    local feeds=("$@") n
    for ((n = step; n < ${#feeds[@]} + step; n += step)); do
        config "$dir" "${feeds[@]:0:n}" > "$dir/c.toml"
        "$BIN" fetch --config "$dir/c.toml" 2> "$dir/fetch.log" || { cat "$dir/fetch.log" >&2; exit 1; }
    done
    "$BIN" export --config "$dir/c.toml" > "$dir/export.jsonl"
}

run once "${#FEEDS[@]}" "${FEEDS[@]}"
tail -1 "$WORK/once/fetch.log"
python3 "$CORPUS/score.py" "$CORPUS/labels.json" "$WORK/once/export.jsonl"
RUNS=()
if [[ -n $ORDERS ]]; then
    run forward 1 "${FEEDS[@]}"
    mapfile -t REVERSED < <(printf '%s\n' "${FEEDS[@]}" | tac)
    run reverse 1 "${REVERSED[@]}"
    RUNS+=(forward reverse)
fi
if [[ -n $PG ]]; then
    DB=feedfold_bench_concurrent
    for k in 1 2 3 4 5; do
        psql -q "$PG" -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" > /dev/null
        dir=$WORK/postgres$k
        mkdir -p "$dir"
        mapfile -t SHUFFLED < <(printf '%s\n' "${FEEDS[@]}" | shuf)
        STORE_URL="${PG%/*}/$DB" config "$dir" "${SHUFFLED[@]}" > "$dir/c.toml"
        for p in 1 2 3; do "$BIN" fetch --config "$dir/c.toml" 2> "$dir/fetch$p.log" &
            sleep 0.1
        done
        wait || true
        # A source every run found leased by another is fetched now.
        "$BIN" fetch --config "$dir/c.toml" 2> "$dir/fetch.log" || true
        "$BIN" export --config "$dir/c.toml" > "$dir/export.jsonl"
        RUNS+=("postgres$k")
    done
    psql -q "$PG" -c "DROP DATABASE IF EXISTS $DB" > /dev/null
fi
[[ ${#RUNS[@]} -gt 0 ]] || exit 0
for r in once "${RUNS[@]}"; do
    python3 - "$WORK/once/export.jsonl" "$WORK/$r/export.jsonl" "$r" <<'PY'
import json, sys
def partition(path):
    groups = {}
    for line in open(path):
        r = json.loads(line)
        groups.setdefault(r["cluster"], set()).add((r["source"], r["id"] or r["url"]))
    return {frozenset(g) for g in groups.values()}
once, this = partition(sys.argv[1]), partition(sys.argv[2])
print(f"{sys.argv[3]:9} {len(this)} stories, same partition as all at once: {this == once}")
PY
    python3 "$CORPUS/score.py" "$CORPUS/labels.json" "$WORK/$r/export.jsonl" | grep -E "pairwise|hard-negative"
done
