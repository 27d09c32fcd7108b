#!/usr/bin/env bash
# What the local cloud's emulator accumulates over a long run, and what a read of it costs
# (bench/emulator_history.py): CloudWatch Logs lines as the fleet's log shipper sends them,
# with one FilterLogEvents (as the console's log view asks) after every STEP lines, and
# CloudWatch datums as the local CPU publisher sends them, with one GetMetricData (a console
# chart's read) after every STEP datums; the emulator's RSS at each step. The launcher at a
# base revision against the working tree's. Needs the emulator installed (`flightdeck local
# install`). Writes bench/results/emulator-history-<date>.md.
#
#   bench/emulator-history.sh                   # base: HEAD's launcher, logs and metrics
#   KIND=logs BASE=HEAD~3 EVENTS=400000 STEP=50000 bench/emulator-history.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${FLIGHTDECK_CACHE_DIR:-$HOME/.cache/flightdeck}/emulator/moto-5.2.5/bin/python
BASE=${BASE:-HEAD}
KIND=${KIND:-logs metrics}
EVENTS=${EVENTS:-}
STEP=${STEP:-}
BASE_FILE=$(mktemp --suffix=.py)
trap 'rm -f "$BASE_FILE"' EXIT
git show "$BASE:infra/local/src/launcher.py" >"$BASE_FILE"
OUT=${OUT:-bench/results/emulator-history-$(date -u +%Y-%m-%d-%H%M).md}
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
RAW=""
for kind in $KIND; do
    # Defaults: 200,000 log lines (checked every 25,000); 400,000 datums (every 50,000).
    if [ "$kind" = logs ]; then n=${EVENTS:-200000}; s=${STEP:-25000}; else n=${EVENTS:-400000}; s=${STEP:-50000}; fi
    RAW+=$(cd bench && "$PY" emulator_history.py "$kind" "$BASE_FILE" ../infra/local/src/launcher.py "$n" "$s")$'\n'
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
CHANGED=$(git diff --quiet "$BASE" -- infra/local/src/launcher.py && echo "same as base" || echo "changed since base")
{
    echo "# What the emulator accumulates: launcher at $(git rev-parse --short "$BASE") against the working tree"
    echo
    echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ); commit $(git rev-parse --short HEAD) (working tree's launcher:"\
         "$CHANGED); machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GB,"\
         "$(lscpu | sed -n 's/^Model name: *//p'); load average before $LOAD_BEFORE, after $LOAD_AFTER"
    echo "- boto3, a fresh emulator per launcher and kind with its default bounds. logs: PutLogEvents of"\
         "1,000 lines of about 200 bytes into 4 streams of one group (14-day retention), the query one"\
         "FilterLogEvents over the last minute, limit 100. metrics: PutMetricData of 20 CPUUtilization"\
         "datums (one per instance) timestamped now, the query one GetMetricData of one instance over"\
         "the last hour, period 60. Re-run: \`BASE=$BASE KIND='$KIND' bench/emulator-history.sh\`"
    echo
    echo "| kind | launcher | records sent | emulator RSS MB | query wall | its emulator CPU | points or lines found |"
    echo "| --- | --- | --- | --- | --- | --- | --- |"
    echo "$RAW" | python3 -c '
import json, sys
for line in sys.stdin:
    if not line.strip():
        continue
    r = json.loads(line)
    print("| %s | %s | %d | %d | %.1f ms | %.1f ms | %d |" % (r["kind"], r["launcher"], r["sent"],
          r["emulator_rss_mb"], r["query_ms"], r["query_cpu_ms"], r["found"]))'
} >"$OUT"
cat "$OUT"
