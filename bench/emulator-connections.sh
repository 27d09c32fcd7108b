#!/usr/bin/env bash
# Connection reuse in the local cloud's emulator (issue 19): the same boto3 calls against an
# emulator that keeps connections open (the launcher's default) and one that closes each, as
# werkzeug ships (FLIGHTDECK_EMULATOR_CLOSE_CONNECTIONS=1), in alternating rounds: wall time
# and the emulator's CPU time per call (bench/emulator_connections.py). Needs the emulator
# installed (`flightdeck local install`). Writes bench/results/emulator-connections-<date>.md.
#
#   bench/emulator-connections.sh            # 3 rounds
#   ROUNDS=5 bench/emulator-connections.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
PY=${FLIGHTDECK_CACHE_DIR:-$HOME/.cache/flightdeck}/emulator/moto-5.2.5/bin/python
OUT=${OUT:-bench/results/emulator-connections-$(date -u +%Y-%m-%d-%H%M).md}
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
RAW=$("$PY" bench/emulator_connections.py infra/local/src/launcher.py "$ROUNDS")
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
{
    echo "# The emulator's connections: kept open vs closed after each call"
    echo
    echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ); commit $(git rev-parse --short HEAD); machine: $(nproc) cores,"\
         "$(free -g | awk '/Mem:/ {print $2}') GB, $(lscpu | sed -n 's/^Model name: *//p');"\
         "load average before $LOAD_BEFORE, after $LOAD_AFTER"
    echo "- boto3, one call at a time, $ROUNDS alternating rounds per emulator (median, min-max);"\
         "re-run: \`bench/emulator-connections.sh\`"
    echo
    echo "| call | emulator | wall per call | emulator CPU per call |"
    echo "| --- | --- | --- | --- |"
    echo "$RAW" | python3 -c '
import json, sys
for line in sys.stdin:
    l = json.loads(line)
    print("| %s x%d | %s | %.2f ms (%.2f-%.2f) | %.2f ms |" % (l["call"], l["n"], l["variant"],
          l["wall_ms"], l["wall_ms_min"], l["wall_ms_max"], l["cpu_ms"]))'
    echo
    echo "werkzeug, moto's HTTP server, answers every request with \`Connection: close\`, so every AWS"
    echo "call of the console, the API, the worker and the tests opened a new TCP connection. The"
    echo "launcher's \`keep_connections_open\` reads each request exactly to its Content-Length and keeps"
    echo "the connection, with TCP_NODELAY (without it, each answer's body waited for the client's"
    echo "delayed ACK: 48 ms a call)."
} >"$OUT"
cat "$OUT"
