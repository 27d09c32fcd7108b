#!/usr/bin/env bash
# The worker's memory over many jobs (a long-running process must not grow per job): the
# release `throughput` example (bench/worker.sh's) runs JOBS copies of one input through the
# worker's consumer against a private emulator, with this script sampling the worker
# process's RSS (the emulator, its child, is not counted) every 0.25 s. Reports the RSS over
# time and its growth per job over the second half of the run (bench/worker_memory.py).
# Writes bench/results/worker-memory-<date>.md.
#
#   bench/worker-memory.sh                         # in4 x 40, one slot
#   INPUT=in50 JOBS=12 bench/worker-memory.sh
#   BIN=/path/to/older/throughput LABEL=before bench/worker-memory.sh   # another build
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${BENCH_CACHE:-$HOME/.cache/flightdeck/bench}
INPUT=${INPUT:-in4}
JOBS=${JOBS:-40}
SLOTS=${SLOTS:-1}
LABEL=${LABEL:-$(git rev-parse --short HEAD)}
if [ -z "${BIN:-}" ]; then
    . bench/build.sh && bench_build release
    BIN=${CARGO_TARGET_DIR:-target}/release/examples/throughput
fi
[ -s "$CACHE/$INPUT.mp4" ] || { echo "missing $CACHE/$INPUT.mp4: run bench/worker.sh once to make it" >&2; exit 1; }
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
python3 bench/worker_memory.py "$BIN" "$CACHE/$INPUT.mp4" "$JOBS" "$SLOTS" "$OUT/assets" >"$OUT/report.md"
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
RESULT=bench/results/worker-memory-$(date -u +%Y-%m-%d-%H%M).md
{
    echo "# The worker's memory over $JOBS jobs ($INPUT, $SLOTS slot(s)): $LABEL"
    echo
    echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ); commit $(git rev-parse --short HEAD); binary: $LABEL;"\
         "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GB, $(lscpu | sed -n 's/^Model name: *//p');"\
         "load average before $LOAD_BEFORE, after $LOAD_AFTER"
    echo "- re-run: \`INPUT=$INPUT JOBS=$JOBS SLOTS=$SLOTS bench/worker-memory.sh\`"
    echo
    cat "$OUT/report.md"
} >"$RESULT"
cat "$RESULT"
