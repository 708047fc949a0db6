#!/usr/bin/env bash
# Benchmark (i): decode + parse + map to Item. Runs the criterion bench `pipeline` and the Python
# feedparser peer in the same session on the same input, then prints every figure and the ratios.
#
# Usage: bench/run_bench_i.sh BASELINES_DIR
#   BASELINES_DIR  folder holding bench_feedparser.py (the peer script; not part of this repo)
# Environment: CARGO_TARGET_DIR is honoured (criterion's results are read from
#   $CARGO_TARGET_DIR/criterion, default target/criterion). FEEDPARSER_COPIES (default 20).
# Needs: cargo, python3 with feedparser (installed with pip if missing).
set -euo pipefail

if [[ $# -lt 1 || ! -f "$1/bench_feedparser.py" ]]; then
    echo "usage: $0 BASELINES_DIR   (a folder containing bench_feedparser.py)" >&2
    exit 2
fi
BASELINES=$(cd "$1" && pwd)
cd "$(dirname "$0")/.."
FEED=benches/data/feed200.xml
TARGET=${CARGO_TARGET_DIR:-target}
export CRITERION_HOME="$TARGET/criterion"
COPIES=${FEEDPARSER_COPIES:-20}

# CPU jiffies (busy, total) from /proc/stat, to tell afterwards whether anything else competed
# for the CPUs while the benchmark ran (it is single-threaded: ~1.0 busy CPU is itself).
cpu_jiffies() {
    local _ u n s i w irq sirq st
    read -r _ u n s i w irq sirq st _ < /proc/stat
    echo "$((u + n + s + irq + sirq + st)) $((u + n + s + i + w + irq + sirq + st))"
}
busy_cpus() { # busy_cpus "BEFORE" "AFTER"
    local b0 t0 b1 t1
    read -r b0 t0 <<< "$1"
    read -r b1 t1 <<< "$2"
    awk -v b="$((b1 - b0))" -v t="$((t1 - t0))" -v n="$(nproc)" 'BEGIN { printf "%.2f", b / t * n }'
}

source bench/environment.sh
echo "feed: $FEED ($(wc -c < "$FEED") bytes, $(grep -c '<item>' "$FEED") items)"

if ! python3 -c 'import feedparser' 2>/dev/null; then
    echo "feedparser missing: pip install feedparser"
    python3 -m pip install --quiet feedparser
fi

echo
echo "== cargo bench --bench pipeline"
cargo bench --locked --bench pipeline --no-run 2>&1 | tail -1
J0=$(cpu_jiffies)
cargo bench --locked --bench pipeline
J1=$(cpu_jiffies)
BUSY=$(busy_cpus "$J0" "$J1")
echo "average busy CPUs during criterion: $BUSY of $(nproc) (the bench itself accounts for ~1.0)"
if awk -v b="$BUSY" 'BEGIN { exit !(b > 1.25) }'; then
    echo "WARNING: other processes competed for the CPUs during this run; figures are pessimistic" >&2
fi


echo
echo "== feedparser (peer, same session)"
J0=$(cpu_jiffies)
FP_ON=$(python3 "$BASELINES/bench_feedparser.py" "$FEED" --copies "$COPIES")
echo "$FP_ON"
FP_OFF=$(python3 "$BASELINES/bench_feedparser.py" "$FEED" --copies "$COPIES" --no-sanitize)
echo "$FP_OFF"
J1=$(cpu_jiffies)
echo "average busy CPUs during feedparser: $(busy_cpus "$J0" "$J1") of $(nproc)"

echo
echo "== summary"
FP_ON="$FP_ON" FP_OFF="$FP_OFF" python3 - "$CRITERION_HOME" "$FEED" <<'PY'
import json, os, re, sys
home, feed = sys.argv[1], sys.argv[2]
nbytes = os.path.getsize(feed)
items = 200

def est(group, name):
    with open(os.path.join(home, group, name, "new", "estimates.json")) as f:
        e = json.load(f)
    # criterion's headline figure: the slope of the linear fit, else the mean.
    head = (e.get("slope") or e["mean"])["point_estimate"]
    return head / 1e9, e["median"]["point_estimate"] / 1e9

def fp(line):
    return float(re.search(r"-> ([\d,]+) items/s", line).group(1).replace(",", ""))

rows = {}
for name in ("feedfold_decode_parse_map", "feed_rs_bare", "feedfold_parse_map_only"):
    mean, median = est("decode_parse_map", name)
    rows[name] = mean
    print(f"{name:28} time {mean*1e3:8.3f} ms  median {median*1e3:8.3f} ms  "
          f"{items/mean:12,.0f} items/s  {nbytes/1e6/mean:8.1f} MB/s")
mean, median = est("decode_parse_map_sanitize", "feedfold_decode_parse_map_render")
rows["render"] = mean
print(f"{'feedfold_..._map_render':28} time {mean*1e3:8.3f} ms  median {median*1e3:8.3f} ms  "
      f"{items/mean:12,.0f} items/s  {nbytes/1e6/mean:8.1f} MB/s  (+ sanitise summary & content)")
mean, _ = est("steps", "decode_only")
print(f"{'decode_only':28} time {mean*1e3:8.3f} ms  {nbytes/1e6/mean:26.1f} MB/s")
def sbytes(name):
    with open(os.path.join(home, "sanitize", name, "new", "benchmark.json")) as f:
        return json.load(f)["throughput"]["Bytes"]
for name, label, note in (("ammonia_all_item_content", "sanitize, one call", "item content joined"),
                          ("ammonia_per_item_content", "sanitize, per item", "same content, 200 calls")):
    mean, _ = est("sanitize", name)
    n = sbytes(name)
    print(f"{label:28} time {mean*1e3:8.3f} ms  {n/1e6/mean:26.1f} MB/s  ({n} bytes, {note})")
ff = items / rows["feedfold_decode_parse_map"]
fr = items / rows["feed_rs_bare"]
on, off = fp(os.environ["FP_ON"]), fp(os.environ["FP_OFF"])
print(f"feedparser sanitize=on       {on:12,.0f} items/s")
print(f"feedparser sanitize=off      {off:12,.0f} items/s")
print(f"ratio feedfold / feed-rs bare          {ff/fr:6.2f}x  (target >= 0.5x)")
print(f"ratio feedfold / feedparser (san. on)  {ff/on:6.1f}x  (target >= 30x)")
print(f"ratio feedfold / feedparser (san. off) {ff/off:6.1f}x  (parse-only like for like)")
print(f"ratio feedfold+sanitise / feedparser (san. on) {items/rows['render']/on:6.1f}x  (sanitising like for like)")
PY
