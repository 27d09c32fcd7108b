#!/usr/bin/env bash
# The soak: an hour-shaped demo in minutes. A private local cloud with the fleet and the
# autoscaler (`flightdeck local up`), the live console on it in a 120x40 tmux pane (keys
# pressed throughout), then WORKLOAD.md's `high` and `stress` scenarios back to back
# (`flightdeck load run`), then the queue left to drain. Every EVERY (10) s the RSS and CPU of
# every process (emulator, local up, console, each API and worker) are sampled. At the end it
# counts uploads accepted (201s in the load reports) against the fleet database's videos
# (processed + failed + still queued or processing).
#
# Targets (issue 14): emulator RSS < 1.5 GB throughout; console RSS flat and < 40 MB; counts
# exact; console key-to-frame p99 < 20 ms during the run.
#
#   bench/soak.sh                            # release build, high then stress, drain <= 15 min
#   SCENARIOS=low DRAIN_S=120 bench/soak.sh  # a short look
#   PROFILE=dev BUILD=0 bench/soak.sh        # the debug binaries already built (not for the record)
#   PROFILE_EMULATOR=1 bench/soak.sh         # also the emulator's allocation sites (tracemalloc; slow)
#   GUARD_MB=6000 bench/soak.sh              # the emulator is killed past this RSS (machine safety)
#
# Writes bench/results/soak-<YYYY-MM-DD-HHMM>.md (UTC) or $OUT. Stops everything it starts.
set -euo pipefail
cd "$(dirname "$0")/.."

SCENARIOS=${SCENARIOS:-"high stress"}
PROFILE=${PROFILE:-release}
EVERY=${EVERY:-10}
DRAIN_S=${DRAIN_S:-900}
GUARD_MB=${GUARD_MB:-6000}
WARMUP=${WARMUP:-10}
COOLDOWN=${COOLDOWN:-60}
MAX_S=${MAX_S:-3600}
OUT=${OUT:-bench/results/soak-$(date -u +%Y-%m-%d-%H%M).md}
WORK=$(mktemp -d)
SESSION="soak-$$"
PIDS=()
cleanup() {
    tmux kill-session -t "$SESSION" 2>/dev/null || true
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    [ -n "${KEEP:-}" ] && echo "soak: raw data kept in $WORK" >&2 || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p bench/results
say() { printf 'soak: %s\n' "$*" >&2; }

if [ "$PROFILE" = release ]; then
    . bench/build.sh && bench_build release
    T=${CARGO_TARGET_DIR:-target}/release
else
    . bench/build.sh && bench_build debug
    T=${CARGO_TARGET_DIR:-target}/debug
fi
T=$(cd "$T" && pwd)

export FLIGHTDECK_RUNTIME_DIR="$WORK/runtime" FLIGHTDECK_STATE_DIR="$WORK/state"
mkdir -p "$FLIGHTDECK_RUNTIME_DIR" "$FLIGHTDECK_STATE_DIR"
[ -z "${PROFILE_EMULATOR:-}" ] || export FLIGHTDECK_EMULATOR_PROFILE="$WORK/emulator-profile.jsonl"
STARTED=$(date -u +%Y-%m-%dT%H:%M:%SZ)
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

# The cause of the emulator's blow-up, reproduced in isolation first (about 20 s): moto's
# ListObjectVersions as shipped against the launcher's fix.
EMULATOR_PY=${FLIGHTDECK_CACHE_DIR:-$HOME/.cache/flightdeck}/emulator/moto-5.2.5/bin/python
say "the emulator's ListObjectVersions, as shipped and fixed"
"$EMULATOR_PY" bench/emulator_listing.py infra/local/src/launcher.py >"$WORK/listing.jsonl"

say "starting the local cloud (fleet, autoscaler: warm-up ${WARMUP}s, cooldown ${COOLDOWN}s)"
"$T/flightdeck" local up --warmup "$WARMUP" --cooldown "$COOLDOWN" >"$WORK/local.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 240); do
    [ -s "$FLIGHTDECK_RUNTIME_DIR/fleet-endpoints.json" ] \
        && grep -q 'http://' "$FLIGHTDECK_RUNTIME_DIR/fleet-endpoints.json" && break
    sleep 0.5
done
grep -q 'http://' "$FLIGHTDECK_RUNTIME_DIR/fleet-endpoints.json" 2>/dev/null \
    || { say "the fleet's API never came up; its log:"; cat "$WORK/local.log" >&2; exit 1; }

say "starting the console in tmux ($SESSION, 120x40)"
tmux new-session -d -s "$SESSION" -x 120 -y 40 \
    "env FLIGHTDECK_FRAME_LOG=$WORK/frames.jsonl $T/flightdeck --local"
CONSOLE_PID=$(tmux display-message -p -t "$SESSION" '#{pane_pid}')

python3 bench/soak_sampler.py "$FLIGHTDECK_RUNTIME_DIR" "$WORK/samples.jsonl" "$EVERY" "$MAX_S" \
    "$GUARD_MB" "$CONSOLE_PID" &
SAMPLER=$!
PIDS+=($SAMPLER)

# An operator at the keyboard: a key every half second, for as long as the run lasts.
( for _ in $(seq 1 $((MAX_S * 2))); do
      tmux send-keys -t "$SESSION" j 2>/dev/null || exit 0; sleep 0.25
      tmux send-keys -t "$SESSION" k 2>/dev/null || exit 0; sleep 0.25
  done ) &
PIDS+=($!)

for s in $SCENARIOS; do
    say "load run: $s"
    echo "$(date +%s) start $s" >>"$WORK/phases.txt"
    "$T/flightdeck" --local load run "$s" --json >"$WORK/load-$s.json" 2>"$WORK/load-$s.err" || true
    echo "$(date +%s) end $s" >>"$WORK/phases.txt"
done

DB="$(ls -d "$FLIGHTDECK_RUNTIME_DIR"/fleet-*/flightdeck.db | head -1)"
counts() {
    python3 - "$DB" <<'PY'
import sqlite3, sys
db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True, timeout=10)
rows = dict(db.execute("select status, count(*) from videos group by status").fetchall())
print(" ".join(f"{k}={v}" for k, v in sorted(rows.items())))
PY
}
say "draining (at most ${DRAIN_S}s): $(counts)"
echo "$(date +%s) start drain" >>"$WORK/phases.txt"
for _ in $(seq 1 $((DRAIN_S / 10))); do
    c=$(counts)
    case " $c " in *" queued="*|*" processing="*) sleep 10 ;; *) break ;; esac
    kill -0 "$SAMPLER" 2>/dev/null || break
done
echo "$(date +%s) end drain" >>"$WORK/phases.txt"
counts >"$WORK/counts.txt"
say "final: $(cat "$WORK/counts.txt")"

# Quit the console: its frame log ends with the key-to-frame summary.
tmux send-keys -t "$SESSION" q 2>/dev/null || true
for _ in $(seq 1 50); do tmux has-session -t "$SESSION" 2>/dev/null || break; sleep 0.2; done
kill "$SAMPLER" 2>/dev/null || true
wait "$SAMPLER" 2>/dev/null || true

python3 bench/soak_report.py "$WORK" "$STARTED" "$LOAD_BEFORE" "$PROFILE" "$SCENARIOS" >"$OUT"
say "wrote $OUT"
