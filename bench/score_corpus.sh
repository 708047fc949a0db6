#!/usr/bin/env bash
# Folding and region quality on a labelled corpus laid out like the development corpus
# (feeds/, labels.json, score.py): every feed fetched at once into a fresh SQLite store,
# exported and scored. With --orders, also whether the stories depend on the order items
# arrive in: the feeds fetched one more source per run (as a daemon sees them) in file order and
# in reverse; prints each run's number of stories, whether its partition equals the
# all-at-once one (member sets, not ids), and score.py's pairwise figures.
#
# Usage: bench/score_corpus.sh CORPUS_DIR [FEEDFOLD_BINARY] [--orders]   (BINARY relative to the repo)
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
BIN=target/release/feedfold
for arg in "$@"; do
    if [[ $arg == --orders ]]; then ORDERS=1; else BIN=$arg; fi
done
cd "$(dirname "$0")/.."
[[ -x $BIN ]] || cargo build --release --locked
BIN=$(realpath "$BIN")
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mapfile -t FEEDS < <(ls "$CORPUS"/feeds/*)

config() { # config DIR FEED...: a store in DIR, the feeds as sources, one output of every item
    local dir=$1; shift
    printf '[store]\nurl = "sqlite://%s/store.db"\n\n[publish]\ndir = "%s/public"\n\n' "$dir" "$dir"
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
[[ -n $ORDERS ]] || exit 0

run forward 1 "${FEEDS[@]}"
mapfile -t REVERSED < <(printf '%s\n' "${FEEDS[@]}" | tac)
run reverse 1 "${REVERSED[@]}"
for r in once forward reverse; do
    python3 - "$WORK/once/export.jsonl" "$WORK/$r/export.jsonl" "$r" <<'PY'
import json, sys
def partition(path):
    groups = {}
    for line in open(path):
        r = json.loads(line)
        groups.setdefault(r["cluster"], set()).add((r["source"], r["id"] or r["url"]))
    return {frozenset(g) for g in groups.values()}
once, this = partition(sys.argv[1]), partition(sys.argv[2])
print(f"{sys.argv[3]:8} {len(this)} stories, same partition as all at once: {this == once}")
PY
    python3 "$CORPUS/score.py" "$CORPUS/labels.json" "$WORK/$r/export.jsonl" | grep -E "pairwise|hard-negative"
done
