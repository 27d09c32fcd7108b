#!/usr/bin/env bash
# The local cloud's emulator on a deep queue: CPU per GetQueueAttributes (the 8 attributes the
# console reads per queue row) and per ReceiveMessage (with the DeleteMessageBatch and
# SendMessages that keep the depth) at DEPTH messages, a third in flight, the launcher at a
# base revision against the one in the working tree, trials taking turns
# (bench/emulator_sqs.py). The console, the fleet's metrics, the autoscaler and the API's
# health read the queues' counts every few seconds, and every worker's receive scans the
# queue, while a load run leaves thousands queued. Needs the emulator installed (`flightdeck
# local install`). Writes bench/results/emulator-sqs-<date>.md.
#
#   bench/emulator-sqs.sh                       # base: HEAD's launcher, 3 trials, depth 3000
#   BASE=HEAD~1 TRIALS=5 DEPTH=5000 bench/emulator-sqs.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${FLIGHTDECK_CACHE_DIR:-$HOME/.cache/flightdeck}/emulator/moto-5.2.5/bin/python
BASE=${BASE:-HEAD}
TRIALS=${TRIALS:-3}
DEPTH=${DEPTH:-3000}
BASE_FILE=$(mktemp --suffix=.py)
trap 'rm -f "$BASE_FILE"' EXIT
git show "$BASE:infra/local/src/launcher.py" >"$BASE_FILE"
OUT=${OUT:-bench/results/emulator-sqs-$(date -u +%Y-%m-%d-%H%M).md}
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
RAW=$(cd bench && "$PY" emulator_sqs.py "$BASE_FILE" ../infra/local/src/launcher.py "$TRIALS" "$DEPTH")
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
CHANGED=$(git diff --quiet "$BASE" -- infra/local/src/launcher.py && echo "same as base" || echo "changed since base")
{
    echo "# The emulator's CPU per SQS call at depth $DEPTH: launcher at $(git rev-parse --short "$BASE") against the working tree"
    echo
    echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ); commit $(git rev-parse --short HEAD) (working tree's launcher:"\
         "$CHANGED); machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GB,"\
         "$(lscpu | sed -n 's/^Model name: *//p'); load average before $LOAD_BEFORE, after $LOAD_AFTER"
    echo "- boto3, one client, a fresh emulator per trial, the two launchers taking turns; a third"\
         "of the queue in flight; a receive also deletes what it got and sends it again (the depth"\
         "holds); re-run: \`BASE=$BASE TRIALS=$TRIALS DEPTH=$DEPTH bench/emulator-sqs.sh\`"
    echo
    echo "| trial | launcher | depth | in flight | emulator CPU per GetQueueAttributes | its wall time | emulator CPU per receive (+ delete, send) | its wall time | counts right |"
    echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    echo "$RAW" | python3 -c '
import json, statistics, sys
rows = [json.loads(l) for l in sys.stdin if l.strip()]
for i, r in enumerate(rows):
    print("| %d | %s | %d | %d | %.2f ms | %.2f ms | %.2f ms | %.2f ms | %s |" % (
        i // 2 + 1, r["launcher"], r["depth"], r["in_flight"], r["attrs_cpu_ms"],
        r["attrs_wall_ms"], r["receive_cpu_ms"], r["receive_wall_ms"],
        "yes" if r["counts_right"] else "**NO**"))
print()
for name in ("base", "new"):
    mine = [r for r in rows if r["launcher"] == name]
    print("- %s: median %.2f ms of emulator CPU per GetQueueAttributes, %.2f ms per receive" % (
        name, statistics.median(r["attrs_cpu_ms"] for r in mine),
        statistics.median(r["receive_cpu_ms"] for r in mine)))'
} >"$OUT"
cat "$OUT"
