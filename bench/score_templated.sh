#!/usr/bin/env bash
# Folding and region quality on the templated look-alikes (tests/fixtures/templated/): builds the
# release binary, runs `feedfold fetch` over a temporary config listing the three fixture feeds
# as file paths, then `feedfold export`, and prints pairwise precision / recall / F1, the
# must-not-merge pairs merged and city accuracy (bench/score_templated.py; its docstring defines
# them), with every wrongly merged pair and region miss listed.
#
# Usage: bench/score_templated.sh
# Environment: CARGO_TARGET_DIR is honoured (default target).
# Needs: cargo, python3 (standard library only). Reads only local files; nothing is fetched.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
FIXTURES="$ROOT/tests/fixtures/templated"
TARGET=${CARGO_TARGET_DIR:-target}
case "$TARGET" in /*) ;; *) TARGET="$ROOT/$TARGET" ;; esac

cargo build --release --locked --quiet --bin feedfold
BIN="$TARGET/release/feedfold"

WORK=$(mktemp -d /tmp/score-templated.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cat > "$WORK/feedfold.toml" <<TOML
[store]
url = "sqlite://$WORK/feedfold.db"

[[source]]
name = "tmpl-a"
url = "$FIXTURES/a-rss.xml"

[[source]]
name = "tmpl-b"
url = "$FIXTURES/b-atom.xml"

[[source]]
name = "tmpl-c"
url = "$FIXTURES/c-feed.json"
TOML

echo "commit: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src 2>/dev/null || echo ' (src modified)')"
"$BIN" fetch --config "$WORK/feedfold.toml" --out "$WORK/public" > "$WORK/fetch.log" 2>&1 || {
    cat "$WORK/fetch.log" >&2
    exit 1
}
"$BIN" export --config "$WORK/feedfold.toml" > "$WORK/export.jsonl"
python3 bench/score_templated.py "$WORK/export.jsonl" "$FIXTURES/labels.json"
