#!/usr/bin/env bash
# Whether the stories depend on the order items arrive in: the feeds of a corpus laid out like
# the development corpus (feeds/, labels.json, score.py) fetched all at once, then one more
# source per run (as a daemon sees them) in file order and in reverse; prints the number of
# stories of each run, whether each partition equals the all-at-once one (member sets, not
# ids), and score.py's pairwise figures for each.
#
# Usage: bench/arrival_order.sh CORPUS_DIR [FEEDFOLD_BINARY]
set -euo pipefail
if [[ $# -lt 1 || ! -f "$1/labels.json" ]]; then
    echo "usage: $0 CORPUS_DIR [FEEDFOLD_BINARY]" >&2
    exit 2
fi
CORPUS=$(cd "$1" && pwd)
cd "$(dirname "$0")/.."
BIN=${2:-target/release/feedfold}
[[ -x $BIN ]] || cargo build --release --locked
BIN=$(realpath "$BIN")
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mapfile -t FEEDS < <(ls "$CORPUS"/feeds/*)
config() { # config DIR FEED...
    local dir=$1; shift
    printf '[store]\nurl = "sqlite://%s/store.db"\n\n[publish]\ndir = "%s/public"\n\n' "$dir" "$dir"
    printf '[[output]]\nname = "all"\ntitle = "All"\ndedup = "off"\nlimit = 1000\n\n'
    for f in "$@"; do
        name=$(basename "$f"); name=${name%%.*}
        printf '[[source]]\nname = "%s"\nurl = "%s"\n\n' "$name" "$f"
    done
}
run() { # run NAME FEED... : one run per prefix of the list
    local dir=$WORK/$1; shift
    mkdir -p "$dir"
    local list=()
    for f in "$@"; do
        list+=("$f")
        config "$dir" "${list[@]}" > "$dir/c.toml"
        "$BIN" fetch --config "$dir/c.toml" 2>/dev/null || true
    done
    "$BIN" export --config "$dir/c.toml" > "$dir/export.jsonl"
}
mkdir -p "$WORK/once"
config "$WORK/once" "${FEEDS[@]}" > "$WORK/once/c.toml"
"$BIN" fetch --config "$WORK/once/c.toml" 2>/dev/null || true
"$BIN" export --config "$WORK/once/c.toml" > "$WORK/once/export.jsonl"
run forward "${FEEDS[@]}"
mapfile -t REVERSED < <(printf '%s\n' "${FEEDS[@]}" | tac)
run reverse "${REVERSED[@]}"
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
