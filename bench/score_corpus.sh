#!/usr/bin/env bash
# Folding and region quality on a labelled corpus laid out like the development corpus
# (feeds/, labels.json, score.py): fetch every feed once into a fresh SQLite store, export,
# score.
#
# Usage: bench/score_corpus.sh CORPUS_DIR [FEEDFOLD_BINARY] [--json]
#   CORPUS_DIR       folder holding feeds/, labels.json and score.py (not part of this repo)
#   FEEDFOLD_BINARY  defaults to target/release/feedfold (built if missing)
set -euo pipefail
if [[ $# -lt 1 || ! -f "$1/labels.json" ]]; then
    echo "usage: $0 CORPUS_DIR [FEEDFOLD_BINARY] [--json]" >&2
    exit 2
fi
CORPUS=$(cd "$1" && pwd)
cd "$(dirname "$0")/.."
BIN=${2:-target/release/feedfold}
[[ -x $BIN ]] || cargo build --release --locked
BIN=$(realpath "$BIN")
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
{
    printf '[store]\nurl = "sqlite://%s/store.db"\n\n[publish]\ndir = "%s/public"\n\n' "$WORK" "$WORK"
    printf '[[output]]\nname = "all"\ntitle = "All"\ndedup = "off"\nlimit = 1000\n\n'
    for f in "$CORPUS"/feeds/*; do
        name=$(basename "$f"); name=${name%%.*}
        printf '[[source]]\nname = "%s"\nurl = "%s"\n\n' "$name" "$f"
    done
} > "$WORK/corpus.toml"
"$BIN" fetch --config "$WORK/corpus.toml" 2> "$WORK/fetch.log" || { cat "$WORK/fetch.log" >&2; exit 1; }
tail -1 "$WORK/fetch.log"
"$BIN" export --config "$WORK/corpus.toml" > "$WORK/export.jsonl"
python3 "$CORPUS/score.py" "$CORPUS/labels.json" "$WORK/export.jsonl" ${3:+"$3"}
