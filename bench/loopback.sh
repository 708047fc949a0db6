# Sourced by the bench/run_bench_*.sh scripts that run servers on loopback, after `cd` to the
# repository: $WORK, a fresh folder removed on exit (named after $BENCH, e.g. bench-iv);
# $PIDS, background processes killed on exit (append to it); wait_for URL, which waits up to
# 10 s for something to answer there.
WORK=$(mktemp -d "/tmp/$BENCH.XXXXXX")
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

wait_for() { # wait_for URL
    for _ in $(seq 1 100); do
        curl -fs -o /dev/null "$1" && return 0
        sleep 0.1
    done
    echo "nothing answers at $1" >&2
    exit 1
}
