#!/usr/bin/env bash
# Upload bodies in the local cloud's emulator: its memory while concurrent PutObjects are
# served and after, against moto as shipped, the launcher's fixes without the in-flight bound,
# and the launcher as the local cloud runs it (bench/emulator_bodies.py). Needs the emulator
# installed (`flightdeck local install`). Writes bench/results/emulator-bodies-<date>.md.
#
#   bench/emulator-bodies.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${FLIGHTDECK_CACHE_DIR:-$HOME/.cache/flightdeck}/emulator/moto-5.2.5/bin/python
OUT=${OUT:-bench/results/emulator-bodies-$(date -u +%Y-%m-%d-%H%M).md}
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
RAW=$(cd bench && "$PY" emulator_bodies.py ../infra/local/src/launcher.py)
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
{
    echo "# Upload bodies in the emulator: its memory while they are served, and after"
    echo
    echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ); commit $(git rev-parse --short HEAD); machine: $(nproc) cores,"\
         "$(free -g | awk '/Mem:/ {print $2}') GB, $(lscpu | sed -n 's/^Model name: *//p');"\
         "load average before $LOAD_BEFORE, after $LOAD_AFTER"
    echo "- concurrent plain-HTTP PutObjects (unsigned payload), one emulator per row, its RSS"\
         "sampled every 10 ms; \"after\" is a second after the last answer; re-run:"\
         "\`bench/emulator-bodies.sh\`"
    echo
    echo "| scenario | emulator | ok | wall | emulator CPU per PUT | RSS idle | peak | after |"
    echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
    echo "$RAW" | python3 -c '
import json, sys
for line in sys.stdin:
    l = json.loads(line)
    other = (" (%s)" % ", ".join(map(str, l["other"]))) if l["other"] else ""
    print("| %s | %s | %d/%d%s | %.2f s | %.0f ms | %d MB | **%d MB** | %d MB |" % (
        l["scenario"], l["emulator"], l["ok"], l["puts"], other, l["wall_s"],
        l["cpu_ms_per_put"], l["idle_rss_mb"], l["peak_rss_mb"], l["rss_after_mb"]))'
    echo
    echo "moto runs its Flask apps in debug mode, where each request without a form is caught in"
    echo "a reference cycle with its body until Python's collector runs its oldest generation:"
    echo "bodies stay in memory after their answers. The launcher's \`free_request_bodies\` drops"
    echo "that debug-only helper, and \`bound_s3_bodies_in_flight\` lets an S3 write in only while"
    echo "the bodies being served stay within 256 MiB (one alone always goes in; the others wait"
    echo "in order, at most 30 s, then get 503 SlowDown)."
} >"$OUT"
cat "$OUT"
