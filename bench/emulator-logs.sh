#!/usr/bin/env bash
# CloudWatch Logs in the local cloud's emulator: PutLogEvents as the fleet's log shipper sends
# them, into one group, with the emulator's RSS and one FilterLogEvents (the last minute, 100 lines,
# as the console's log view asks) after every STEP events; the launcher at a base revision
# against the working tree's (bench/emulator_logs.py). For its log-events-bound: what the
# emulator holds and what a search costs as a run goes on. Needs the emulator installed
# (`flightdeck local install`). Writes bench/results/emulator-logs-<date>.md.
#
#   bench/emulator-logs.sh                      # base: HEAD's launcher, 200,000 events
#   BASE=HEAD~3 EVENTS=400000 STEP=50000 bench/emulator-logs.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${FLIGHTDECK_CACHE_DIR:-$HOME/.cache/flightdeck}/emulator/moto-5.2.5/bin/python
BASE=${BASE:-HEAD}
EVENTS=${EVENTS:-200000}
STEP=${STEP:-25000}
BASE_FILE=$(mktemp --suffix=.py)
trap 'rm -f "$BASE_FILE"' EXIT
git show "$BASE:infra/local/src/launcher.py" >"$BASE_FILE"
OUT=${OUT:-bench/results/emulator-logs-$(date -u +%Y-%m-%d-%H%M).md}
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
RAW=$(cd bench && "$PY" emulator_logs.py "$BASE_FILE" ../infra/local/src/launcher.py "$EVENTS" "$STEP")
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
CHANGED=$(git diff --quiet "$BASE" -- infra/local/src/launcher.py && echo "same as base" || echo "changed since base")
{
    echo "# CloudWatch Logs in the emulator: launcher at $(git rev-parse --short "$BASE") against the working tree"
    echo
    echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ); commit $(git rev-parse --short HEAD) (working tree's launcher:"\
         "$CHANGED); machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GB,"\
         "$(lscpu | sed -n 's/^Model name: *//p'); load average before $LOAD_BEFORE, after $LOAD_AFTER"
    echo "- boto3, PutLogEvents of 1,000 lines of about 200 bytes into 4 streams of one group (14-day"\
         "retention), a fresh emulator per launcher with its default bounds; after every $STEP events,"\
         "one FilterLogEvents over the last minute, limit 100; re-run: \`BASE=$BASE EVENTS=$EVENTS STEP=$STEP bench/emulator-logs.sh\`"
    echo
    echo "| launcher | events sent | emulator RSS MB | FilterLogEvents wall | its emulator CPU | lines found |"
    echo "| --- | --- | --- | --- | --- | --- |"
    echo "$RAW" | python3 -c '
import json, sys
for line in sys.stdin:
    r = json.loads(line)
    print("| %s | %d | %d | %.1f ms | %.1f ms | %d |" % (r["launcher"], r["events_sent"],
          r["emulator_rss_mb"], r["filter_ms"], r["filter_cpu_ms"], r["filter_found"]))'
} >"$OUT"
cat "$OUT"
