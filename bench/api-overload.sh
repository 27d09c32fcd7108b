#!/usr/bin/env bash
# The upload API under an open stream of uploads faster than it can store them (release
# build, local cloud). Each mode gets a fresh emulator (`flightdeck local up --no-fleet`) and a
# fresh `flightdeck-api`, then `flightdeck load run` sends RATE 4 MB uploads a second for
# SECONDS; the API's RSS and its clients' open connections are sampled every second, during the run and
# for up to IDLE_S after it, until its connections are gone. Modes:
#   bounded    the defaults: at most 128 uploads wait for a part buffer, each at most 10 s,
#              then 503 server_busy (api/README.md, "Overload")
#   unbounded  --upload-queue 65536 --upload-wait-seconds 3600: the wait as it was before
#              the bound (every upload waits for a buffer, however long)
#   glibc-malloc  the defaults, with glibc's own malloc arenas (MALLOC_ARENA_MAX=8 x cores)
#              instead of the two the API sets for itself (its main.rs)
#   arenas-only   MALLOC_ARENA_MAX=2 set from outside (what the API sets for itself since
#              2026-12-05-0840, when it stopped fixing its mmap threshold)
#   scarce     --part-buffers 1 --upload-wait-seconds 2: one part buffer, so the API stores
#              about one upload at a time and 70/s overloads it whatever the machine, and a
#              wait short enough to run out in its queue of 128 (as the 10 s one does when
#              storing is slow: the demo on a busy machine); once a wait has run out, one new
#              upload may wait at a time (the default --upload-overload-queue)
#   scarce-long-queue  as scarce with --upload-overload-queue 128: the whole queue stays
#              open in an overload, as before the shorter queue
# Writes bench/results/api-overload-<YYYY-MM-DD-HHMM>.md.
#
#   bench/api-overload.sh                       # both modes, 70/s for 120 s (up to 34 GB through S3 each)
#   RATE=45 SECONDS_=60 MODES=bounded bench/api-overload.sh
#   NO_BUILD=1 bench/api-overload.sh            # the release binaries already built
#
# Disk: the emulator keeps objects on disk until they are deleted or it stops, up to the local
# cloud's storage cap (FLIGHTDECK_LOCAL_STORAGE_GB; results before 2026-12-05-0800 ran
# without it); every mode's emulator is stopped before the next starts. The cap is set to hold
# the whole run's uploads unless given: with no fleet nothing is processed or removed, and the
# default 8 GB would fill after about 1,950 uploads, past which the API answers 503
# `storage_unavailable` instead of the overload being measured (results before
# 2026-12-07-0800 ran with the default).
set -euo pipefail
cd "$(dirname "$0")/.."
RATE=${RATE:-70}
SECONDS_=${SECONDS_:-120}
IDLE_S=${IDLE_S:-180}
MODES=${MODES:-"bounded unbounded"}
# The console (`flightdeck`), the API, and `flightdeck-synth` beside the console, which the
# load runner makes its test video with: the benchmarks' one build (bench/build.sh).
. bench/build.sh && bench_build release
BENCH=api-overload
. bench/lib.sh
need_free_mb $((RATE * SECONDS_ * 4 + 2048))
export FLIGHTDECK_LOCAL_STORAGE_GB=${FLIGHTDECK_LOCAL_STORAGE_GB:-$((RATE * SECONDS_ * 4 / 1024 + 2))}
upload_scenario "$WORK/scenario.toml" "$RATE" "$SECONDS_"

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
STARTED=$(date -u +%Y-%m-%dT%H:%M:%SZ)
for mode in $MODES; do
    dir="$WORK/$mode"
    say "$mode: starting the local cloud"
    start_local "$dir"
    export FLIGHTDECK_RUNTIME_DIR="$dir/runtime" FLIGHTDECK_STATE_DIR="$dir/state"
    endpoint=$ENDPOINT
    flags=()
    [ "$mode" = unbounded ] && flags=(--upload-queue 65536 --upload-wait-seconds 3600)
    [ "$mode" = scarce ] && flags=(--part-buffers 1 --upload-wait-seconds 2)
    [ "$mode" = scarce-long-queue ] &&
        flags=(--part-buffers 1 --upload-wait-seconds 2 --upload-overload-queue 128)
    # glibc's own malloc settings: as many arenas as it makes by default (8 per core), so the
    # API does not start itself again with two.
    [ "$mode" = glibc-malloc ] && export MALLOC_ARENA_MAX=$((8 * $(nproc)))
    # Two arenas, glibc's own (sliding) mmap threshold.
    [ "$mode" = arenas-only ] && export MALLOC_ARENA_MAX=2
    start_api "$dir" "${flags[@]}"
    unset MALLOC_ARENA_MAX
    port=$API_PORT
    python3 - "$API" "$port" "$dir/samples.tsv" "$((SECONDS_ + IDLE_S + 120))" <<'PY' &
import sys, time
pid, port, out, limit = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
start = time.time()
def connections():
    # The API's side of its clients' connections: local port = the API's, in any state but
    # LISTEN (0A) and TIME_WAIT (06), which hold nothing of the process.
    n = 0
    for line in open("/proc/net/tcp").readlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        if int(local.split(":")[1], 16) == port and state not in ("0A", "06"):
            n += 1
    return n
with open(out, "w") as f:
    while time.time() - start < limit:
        try:
            rss = next(int(l.split()[1]) for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS"))
        except (OSError, StopIteration):
            break
        print(f"{time.time():.1f}\t{rss / 1024:.1f}\t{connections()}", file=f, flush=True)
        time.sleep(1)
PY
    SAMPLER=$!
    PIDS+=("$SAMPLER")
    say "$mode: $RATE uploads/s for $SECONDS_ s against the API"
    date +%s.%N >"$dir/load-start"
    AWS_ENDPOINT_URL=$endpoint "$T/flightdeck" load run "$WORK/scenario.toml" \
        --target "http://127.0.0.1:$port" --json >"$dir/report.json" 2>"$dir/load.err" || true
    date +%s.%N >"$dir/load-end"
    say "$mode: waiting (at most ${IDLE_S}s) for the API's connections to close"
    for _ in $(seq 1 "$IDLE_S"); do
        [ "$(tail -1 "$dir/samples.tsv" | cut -f3)" = 0 ] && break
        sleep 1
    done
    sleep 5
    kill "$SAMPLER" "$API" "$LOCAL" 2>/dev/null || true
    wait "$SAMPLER" "$API" "$LOCAL" 2>/dev/null || true
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

OUT=bench/results/api-overload-$(date -u +%Y-%m-%d-%H%M).md
python3 bench/api_overload_report.py "$WORK" "$MODES" "$RATE" "$SECONDS_" "$STARTED" \
    "$LOAD_BEFORE" "$LOAD_AFTER" "$(git rev-parse --short HEAD)" >"$OUT"
cat "$OUT"
say "wrote $OUT"
