#!/usr/bin/env bash
# Ranged GETs in the local cloud's emulator (issue 19): the worker downloads an upload in
# 8 MiB ranges, and moto as shipped reads the whole object for each one. The same reads
# against the launcher's emulator (its s3-range-read fix) and moto as shipped
# (FLIGHTDECK_EMULATOR_UNPATCHED=1), in alternating rounds: wall time and the emulator's CPU
# per GET (bench/emulator_ranges.py). Needs the emulator installed (`flightdeck local
# install`). Writes bench/results/emulator-ranges-<date>.md.
#
#   bench/emulator-ranges.sh            # 3 rounds
#   ROUNDS=5 bench/emulator-ranges.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
PY=${FLIGHTDECK_CACHE_DIR:-$HOME/.cache/flightdeck}/emulator/moto-5.2.5/bin/python
OUT=${OUT:-bench/results/emulator-ranges-$(date -u +%Y-%m-%d-%H%M).md}
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
RAW=$("$PY" bench/emulator_ranges.py infra/local/src/launcher.py "$ROUNDS")
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
{
    echo "# The emulator's ranged GETs: a range read from the object's file vs the whole object"
    echo
    echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ); commit $(git rev-parse --short HEAD); machine: $(nproc) cores,"\
         "$(free -g | awk '/Mem:/ {print $2}') GB, $(lscpu | sed -n 's/^Model name: *//p');"\
         "load average before $LOAD_BEFORE, after $LOAD_AFTER"
    echo "- boto3, one GET at a time, every read checked byte for byte, $ROUNDS alternating rounds"\
         "per emulator (median, min-max); re-run: \`bench/emulator-ranges.sh\`"
    echo
    echo "| read | emulator | GETs | wall per GET | emulator CPU per GET |"
    echo "| --- | --- | --- | --- | --- |"
    echo "$RAW" | python3 -c '
import json, sys
for line in sys.stdin:
    l = json.loads(line)
    print("| %s | %s | %d | %.1f ms (%.1f-%.1f) | %.1f ms |" % (l["read"], l["variant"],
          l["gets"], l["wall_ms"], l["wall_ms_min"], l["wall_ms_max"], l["cpu_ms"]))'
    echo
    echo "moto answers a ranged GetObject by reading the whole object from its file and slicing"
    echo "the range out of it, so downloading a 50 MB upload in 8 MiB ranges reads 350 MB. The"
    echo "launcher's \`fix_s3_range_read\` hands moto's range code a view that reads only the"
    echo "range's bytes; several ranges in one header, or one it cannot parse, still get the whole"
    echo "object, as shipped (\`infra/local/tests/emulator.rs\` checks the answers)."
} >"$OUT"
cat "$OUT"
