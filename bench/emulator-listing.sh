#!/usr/bin/env bash
# The emulator blow-up (issue 14) in isolation: the emulator's RSS after N x 4 MB PutObject
# into a versioned bucket and then M ListObjectVersions calls of one key each, with moto as
# shipped and with the launcher's fixes (bench/emulator_listing.py). Needs the emulator
# installed (`flightdeck local install`). Writes bench/results/emulator-listing-<date>.md.
#
#   bench/emulator-listing.sh            # N=40 M=20
#   N=100 M=50 bench/emulator-listing.sh
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-40}
M=${M:-20}
PY=${FLIGHTDECK_CACHE_DIR:-$HOME/.cache/flightdeck}/emulator/moto-5.2.5/bin/python
OUT=${OUT:-bench/results/emulator-listing-$(date -u +%Y-%m-%d-%H%M).md}
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
RAW=$("$PY" bench/emulator_listing.py infra/local/src/launcher.py "$N" "$M")
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
{
    echo "# The emulator's ListObjectVersions, as shipped and fixed"
    echo
    echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ); machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GB,"\
         "$(lscpu | sed -n 's/^Model name: *//p'); load average before $LOAD_BEFORE, after $LOAD_AFTER"
    echo "- $N PutObject of 4 MB into a versioned bucket, then $M ListObjectVersions with one key's prefix;"\
         "re-run: \`bench/emulator-listing.sh\`"
    echo
    echo "| emulator | RSS at start | after the PUTs | after the listings | per listing |"
    echo "| --- | --- | --- | --- | --- |"
    echo "$RAW" | python3 -c '
import json, sys
for line in sys.stdin:
    l = json.loads(line)
    cells = [l["variant"], "%s MB" % l["rss_start_mb"], "%s MB" % l["rss_after_puts_mb"],
             "%s MB" % l["rss_after_listings_mb"], "%s ms" % l["listing_ms_each"]]
    print("| " + " | ".join(cells) + " |")'
    echo
    echo "moto 5.2.5 deep-copies every version of every object in the bucket, data included, on each"
    echo "ListObjectVersions (to set \`is_latest\` on the copies), so each call costs the bucket's size."
    echo "The API's clean-up of a failed upload made one such call per failure; under a load run the"
    echo "demo's emulator grew to 21.6 GB. The launcher's \`s3-list-versions-copy\` fix copies without"
    echo "the data; \`keep_s3_data_on_disk\` keeps objects over 64 KiB in unlinked files."
} >"$OUT"
echo "wrote $OUT" >&2
