#!/usr/bin/env bash
# The local cloud's disk under a load run that writes faster than anything deletes (release
# build): a fresh `flightdeck local up --no-fleet` (no workers: nothing is processed, every
# upload stays) and a fresh `flightdeck-api` per mode, then `flightdeck load run` sends RATE
# 4 MB uploads a second for SECONDS_. Every second: the object data the emulator holds (what
# the kernel counts for its unnamed files), its RSS and the free disk. Modes:
#   capped    FLIGHTDECK_LOCAL_STORAGE_GB=CAP_GB (default 2): with no workers every upload
#             waits, so the lifecycle removes nothing; the emulator refuses new uploads past
#             90 % of the cap (the API answers 503 storage_unavailable)
#   uncapped  FLIGHTDECK_LOCAL_STORAGE_GB=1000000 FLIGHTDECK_LOCAL_MIN_FREE_GB=0: as before the
#             bound (the 30-minute expiry never comes in a run this short)
# Writes bench/results/local-storage-<YYYY-MM-DD-HHMM>.md.
#
#   bench/local-storage.sh                        # both modes, 40/s for 90 s (14 GB uncapped)
#   RATE=60 CAP_GB=1 MODES=capped bench/local-storage.sh
#   NO_BUILD=1 bench/local-storage.sh             # the release binaries already built
set -euo pipefail
cd "$(dirname "$0")/.."
RATE=${RATE:-40}
SECONDS_=${SECONDS_:-90}
CAP_GB=${CAP_GB:-2}
MODES=${MODES:-"capped uncapped"}
. bench/build.sh && bench_build release
BENCH=local-storage
. bench/lib.sh
need_free_mb $((RATE * SECONDS_ * 4 + 4096))
upload_scenario "$WORK/scenario.toml" "$RATE" "$SECONDS_"

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
STARTED=$(date -u +%Y-%m-%dT%H:%M:%SZ)
for mode in $MODES; do
    dir="$WORK/$mode"
    say "$mode: starting the local cloud"
    if [ "$mode" = capped ]; then
        export FLIGHTDECK_LOCAL_STORAGE_GB=$CAP_GB
        unset FLIGHTDECK_LOCAL_MIN_FREE_GB
    else
        export FLIGHTDECK_LOCAL_STORAGE_GB=1000000 FLIGHTDECK_LOCAL_MIN_FREE_GB=0
    fi
    start_local "$dir"
    export FLIGHTDECK_RUNTIME_DIR="$dir/runtime" FLIGHTDECK_STATE_DIR="$dir/state"
    start_api "$dir"
    python3 - "$EMULATOR" "${FLIGHTDECK_CACHE_DIR:-$HOME/.cache/flightdeck}" "$dir/samples.tsv" \
        "$((SECONDS_ + 60))" <<'PY' &
import os, stat, sys, time
pid, disk, out, limit = int(sys.argv[1]), sys.argv[2], sys.argv[3], float(sys.argv[4])
start = time.time()
with open(out, "w") as f:
    while time.time() - start < limit:
        held = 0
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    st = os.stat(f"/proc/{pid}/fd/{fd}")
                except OSError:
                    continue
                if stat.S_ISREG(st.st_mode) and st.st_nlink == 0:
                    held += st.st_blocks * 512
            rss = next(int(l.split()[1]) for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS"))
        except (OSError, StopIteration):
            break
        d = os.statvfs(disk)
        print(f"{time.time():.1f}\t{held}\t{rss * 1024}\t{d.f_bavail * d.f_frsize}", file=f, flush=True)
        time.sleep(1)
PY
    SAMPLER=$!
    PIDS+=("$SAMPLER")
    say "$mode: $RATE uploads/s for $SECONDS_ s against the API"
    date +%s.%N >"$dir/load-start"
    AWS_ENDPOINT_URL=$ENDPOINT "$T/flightdeck" load run "$WORK/scenario.toml" \
        --target "http://127.0.0.1:$API_PORT" --json >"$dir/report.json" 2>"$dir/load.err" || true
    date +%s.%N >"$dir/load-end"
    sleep 10
    # The API logs each S3 failure: the emulator's refusals say SlowDown.
    grep -c SlowDown "$dir/api.log" >"$dir/slowdowns" || true
    grep -m1 SlowDown "$dir/api.log" | cut -c1-600 >"$dir/slowdown-first" || true
    kill "$SAMPLER" "$API" "$LOCAL" 2>/dev/null || true
    wait "$SAMPLER" "$API" "$LOCAL" 2>/dev/null || true
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

OUT=bench/results/local-storage-$(date -u +%Y-%m-%d-%H%M).md
python3 bench/local_storage_report.py "$WORK" "$MODES" "$RATE" "$SECONDS_" "$CAP_GB" \
    "$STARTED" "$LOAD_BEFORE" "$LOAD_AFTER" "$(git rev-parse --short HEAD)" >"$OUT"
cat "$OUT"
say "wrote $OUT"
