# Sourced by the bench/run_bench_*.sh scripts: prints what a figure depends on (date, commit,
# CPUs, memory, load, toolchain) at the top of every benchmark's output.
echo "== environment"
date -u +"date: %Y-%m-%dT%H:%M:%SZ"
echo "git: $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- src 2>/dev/null || echo ' (src modified)')"
echo "cpus: $(nproc)  $(lscpu | sed -n 's/^Model name: *//p')"
free -h | sed -n 2p
echo "load: $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min)"
echo "rustc: $(rustc --version)  python: $(python3 --version 2>&1)"
