#!/usr/bin/env bash
# The local cloud's emulator: CPU per 4 MiB PutObject and per SendMessage at concurrency 5, the
# launcher at a base revision against the one in the working tree, trials taking turns
# (bench/emulator_puts.py). For a change to infra/local/src/launcher.py: what it saves or costs
# the emulator per request. Needs the emulator installed (`flightdeck local install`). Writes
# bench/results/emulator-puts-<date>.md.
#
#   bench/emulator-puts.sh              # base: HEAD's launcher, 3 trials each
#   BASE=HEAD~3 TRIALS=5 bench/emulator-puts.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${FLIGHTDECK_CACHE_DIR:-$HOME/.cache/flightdeck}/emulator/moto-5.2.5/bin/python
BASE=${BASE:-HEAD}
TRIALS=${TRIALS:-3}
BASE_FILE=$(mktemp --suffix=.py)
trap 'rm -f "$BASE_FILE"' EXIT
git show "$BASE:infra/local/src/launcher.py" >"$BASE_FILE"
OUT=${OUT:-bench/results/emulator-puts-$(date -u +%Y-%m-%d-%H%M).md}
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
RAW=$(cd bench && "$PY" emulator_puts.py "$BASE_FILE" ../infra/local/src/launcher.py "$TRIALS")
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
CHANGED=$(git diff --quiet "$BASE" -- infra/local/src/launcher.py && echo "same as base" || echo "changed since base")
{
    echo "# The emulator's CPU per request: launcher at $(git rev-parse --short "$BASE") against the working tree"
    echo
    echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ); commit $(git rev-parse --short HEAD) (working tree's launcher:"\
         "$CHANGED); machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GB,"\
         "$(lscpu | sed -n 's/^Model name: *//p'); load average before $LOAD_BEFORE, after $LOAD_AFTER"
    echo "- boto3 at concurrency 5, a fresh emulator per trial, the two launchers taking turns;"\
         "re-run: \`BASE=$BASE TRIALS=$TRIALS bench/emulator-puts.sh\`"
    echo
    echo "| trial | launcher | PutObject MiB | emulator CPU per PutObject | PutObject/s | emulator CPU per SendMessage | SendMessage/s | object read back intact |"
    echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
    echo "$RAW" | python3 -c '
import json, statistics, sys
rows = [json.loads(l) for l in sys.stdin if l.strip()]
for i, r in enumerate(rows):
    print("| %d | %s | %.2f | %.1f ms | %.1f | %.2f ms | %.1f | %s |" % (
        i // 2 + 1, r["launcher"], r["put_mib"], r["put_cpu_ms"], r["put_per_s"],
        r["send_cpu_ms"], r["send_per_s"], "yes" if r["intact"] else "**NO**"))
print()
for name in ("base", "new"):
    mine = [r for r in rows if r["launcher"] == name]
    print("- %s: median %.1f ms of emulator CPU per PutObject (%.1f/s), %.2f ms per SendMessage" % (
        name, statistics.median(r["put_cpu_ms"] for r in mine),
        statistics.median(r["put_per_s"] for r in mine),
        statistics.median(r["send_cpu_ms"] for r in mine)))'
} >"$OUT"
cat "$OUT"
