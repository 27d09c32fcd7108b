#!/usr/bin/env bash
# The live console at scale (issue 5): with GROUPS_N extra Auto Scaling groups (default 50)
# and QUEUES_N extra queues (default 200) provisioned in the local cloud, the release
# `flightdeck` console in a 120x40 tmux pane is measured for
#   - time to first full frame (groups, queues and CPU data all drawn), from process start,
#     over RUNS starts (default 3);
#   - idle CPU % of one core and RSS at the default refresh, over SECONDS_MEASURED (60) s after
#     a WARMUP (15) s;
#   - its own AWS calls per minute (the calls agent's count, from the frame log);
#   - p50/p99 key-to-frame latency for KEYS (200) j/k presses, one every KEY_GAP (0.1) s, plus
#     a few view switches, while the agents keep polling.
# Then taws (crates.io, installed once into ~/.cache/flightdeck/tools/taws) on the same
# emulator, switched to `:autoscaling-groups`, for RSS and idle CPU over the same window.
# Frame times come from the console's frame log (FLIGHTDECK_FRAME_LOG, console/src/framelog.rs).
#
#   bench/console.sh                                  # release build, everything
#   RUNS=1 SECONDS_MEASURED=30 TAWS=0 bench/console.sh   # a quick look
#   FLIGHTDECK_BIN=target/release/flightdeck bench/console.sh   # an existing build
#   FLEET=0 bench/console.sh                          # emulator only (no CPU data published)
#   UP_BIN=target/debug/flightdeck bench/console.sh   # another build runs the local cloud
#                                                     # (its fleet binaries beside it)
#   GROUPS_N=0 QUEUES_N=0 bench/console.sh            # the stack alone (2 groups, 2 queues)
#   QUEUES_S=15 bench/console.sh                      # the queues polled every 15 s
#   RAW=/tmp/raw bench/console.sh                     # also keep the frame logs and key times
#   BASELINE=0 bench/console.sh                       # skip the same-run baseline (below)
#
# The baseline, in the same run on the same emulator: the console again with every queue and
# group read at the full refresh (`offscreen_queues_s` and `offscreen_groups_s` = the queues'
# refresh, as before rows off the screen were read less often), measured for idle CPU and
# calls per minute the same way.
#
# Writes bench/results/console-<YYYY-MM-DD-HHMM>.md (UTC), or $OUT, with bench/console_report.py.
# Stops everything it starts.
set -euo pipefail
cd "$(dirname "$0")/.."

GROUPS_N=${GROUPS_N:-50}
QUEUES_N=${QUEUES_N:-200}
RUNS=${RUNS:-3}
MEASURE=${SECONDS_MEASURED:-60}
WARMUP=${WARMUP:-15}
KEYS=${KEYS:-200}
KEY_GAP=${KEY_GAP:-0.1}
FLEET=${FLEET:-1}
TAWS=${TAWS:-1}
BASELINE=${BASELINE:-1}
CACHE=${FLIGHTDECK_CACHE_DIR:-$HOME/.cache/flightdeck}
PY=$CACHE/emulator/moto-5.2.5/bin/python
TAWS_ROOT=$CACHE/tools/taws
mkdir -p bench/results

command -v tmux >/dev/null || { echo "bench/console.sh needs tmux (apt-get install tmux)" >&2; exit 1; }
if [ -n "${FLIGHTDECK_BIN:-}" ]; then
    BIN=$FLIGHTDECK_BIN
    PROFILE=${PROFILE:-$(basename "$(dirname "$BIN")")}
else
    . bench/build.sh && bench_build release
    BIN=${CARGO_TARGET_DIR:-target}/release/flightdeck
    PROFILE=release
fi
[ -x "$PY" ] || "$BIN" local install

taws_note=""
TAWS_BIN=$TAWS_ROOT/bin/taws
if [ "$TAWS" = 1 ] && [ ! -x "$TAWS_BIN" ]; then
    echo "installing taws into $TAWS_ROOT (once; a few minutes)" >&2
    if ! cargo install taws --root "$TAWS_ROOT" >"$CACHE/taws-install.log" 2>&1; then
        taws_note="taws did not install: $(grep -m1 -i 'error' "$CACHE/taws-install.log" || tail -1 "$CACHE/taws-install.log")"
        echo "$taws_note" >&2
    fi
fi

runtime=$(mktemp -d)
session="fd-bench-console-$$"
up_pid=""
cleanup() {
    tmux kill-session -t "$session" 2>/dev/null || true
    tmux kill-session -t "$session-taws" 2>/dev/null || true
    if [ -n "$up_pid" ]; then
        kill "$up_pid" 2>/dev/null && wait "$up_pid" 2>/dev/null || true
    fi
    rm -rf "$runtime"
}
trap cleanup EXIT

# The local cloud; its first line names the endpoint.
fleet_flag=""
[ "$FLEET" = 1 ] || fleet_flag=--no-fleet
FLIGHTDECK_RUNTIME_DIR=$runtime FLIGHTDECK_STATE_DIR=$runtime/state \
    "${UP_BIN:-$BIN}" local up $fleet_flag >"$runtime/up.log" 2>&1 &
up_pid=$!
for _ in $(seq 1 240); do
    endpoint=$(grep -o 'http://127.0.0.1:[0-9]*' "$runtime/up.log" | head -1 || true)
    [ -n "$endpoint" ] && break
    sleep 0.5
done
[ -n "${endpoint:-}" ] || { cat "$runtime/up.log" >&2; exit 1; }
# The tmux server may be older than this script: its panes get the credentials explicitly.
aws_env="AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1"
export $aws_env

echo "provisioning $GROUPS_N groups and $QUEUES_N queues (progress below)" >&2
t0=$(date +%s.%N)
ENDPOINT=$endpoint "$PY" bench/console_fixture.py "$GROUPS_N" "$QUEUES_N" | tee "$runtime/fixture.log" >&2
fixture_s=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
fixture=$(tail -1 "$runtime/fixture.log")

# Watch every group and queue (the console's default is the stack's own two of each). A binary
# from before the `[watch]` config watches everything anyway and would refuse the key.
mkdir -p "$runtime/config/flightdeck"
config_note="no config file (this binary watches every group and queue)"
# Writes the console's config; $1, when given, is refresh.offscreen_queues_s (and
# offscreen_groups_s, where this binary has it).
write_config() {
    {
        echo '[watch]'
        echo 'groups = ["*"]'
        echo 'queues = ["*"]'
        if [ -n "${QUEUES_S:-}" ] || [ -n "${1:-}" ]; then
            echo '[refresh]'
            [ -z "${QUEUES_S:-}" ] || echo "queues_s = $QUEUES_S"
            [ -z "${1:-}" ] || echo "offscreen_queues_s = $1"
            if [ -n "${1:-}" ] && grep -q offscreen_groups_s "$BIN"; then
                echo "offscreen_groups_s = $1"
            fi
        fi
    } >"$runtime/config/flightdeck/config.toml"
}
if grep -q dead_letter_queues "$BIN"; then
    write_config
    config_note="config: \`$(tr '\n' ' ' <"$runtime/config/flightdeck/config.toml" | sed 's/ *$//')\`"
fi
grep -q offscreen_queues_s "$BIN" || BASELINE=0

tck=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
hwm_kb() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }
now() { date +%s.%N; }

# Idle CPU % of one core and the largest sampled RSS (MB) of $1 over MEASURE seconds:
# prints "cpu rss_mb hwm_mb".
measure_idle() {
    local pid=$1 a b start end max=0 r
    a=$(cpu_ticks "$pid"); start=$(now)
    for _ in $(seq 1 "$MEASURE"); do
        sleep 1
        r=$(rss_kb "$pid"); [ "$r" -gt "$max" ] && max=$r
    done
    b=$(cpu_ticks "$pid"); end=$(now)
    awk -v a="$a" -v b="$b" -v s="$start" -v e="$end" -v t="$tck" -v m="$max" -v h="$(hwm_kb "$pid")" \
        'BEGIN { printf "%.2f %.1f %.1f\n", (b - a) / t / (e - s) * 100, m / 1024, h / 1024 }'
}

# Where the RSS of $1 lives: "anon_mb binary_mb libs_mb lib_count" (from /proc/PID/smaps).
rss_breakdown() {
    awk -v exe="$(readlink -f "/proc/$1/exe")" '
        /^[0-9a-f]+-[0-9a-f]+ / { name = $6 }
        /^Rss:/ {
            if (name == exe) bin += $2
            else if (name ~ /\.so/) { libs += $2; seen[name] = 1 }
            else other += $2
        }
        END { n = 0; for (l in seen) n++; printf "%.1f %.1f %.1f %d\n", other / 1024, bin / 1024, libs / 1024, n }
    ' "/proc/$1/smaps"
}

# The pane's process once it is up (tmux runs `env`, which execs the program).
pane_pid() {
    local pid
    pid=$(tmux display-message -p -t "$1" '#{pane_pid}')
    echo "$pid"
}

# Starts the console in a fresh 120x40 pane with its frame log at $2.
start_console() {
    tmux new-session -d -s "$1" -x 120 -y 40 \
        env XDG_CONFIG_HOME="$runtime/config" FLIGHTDECK_STATE_DIR="$runtime/state" $aws_env \
        FLIGHTDECK_FRAME_LOG="$2" "$BIN" --endpoint "$endpoint"
}

wait_for_full_frame() {
    for _ in $(seq 1 600); do
        grep -q '"first_full":true' "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "no full frame within 60 s; the screen:" >&2
    tmux capture-pane -p -t "$session" >&2 || true
    return 1
}

# Running, and not a zombie waiting for tmux to reap it.
alive() {
    [ -e "/proc/$1/stat" ] && [ "$(awk '{print $3}' "/proc/$1/stat")" != Z ]
}

quit_console() {
    local pid=$1
    tmux send-keys -t "$session" q
    for _ in $(seq 1 50); do
        alive "$pid" || return 0
        sleep 0.1
    done
    echo "the console did not quit on q within 5 s" >&2
    return 1
}

idle="" breakdown="" screen="" status_line=""
for run in $(seq 1 "$RUNS"); do
    log=$runtime/frames-$run.jsonl
    start_console "$session" "$log"
    sleep 0.2
    pid=$(pane_pid "$session")
    wait_for_full_frame "$log"
    echo "run $run: full frame drawn" >&2
    if [ "$run" = 1 ]; then
        sleep "$WARMUP"
        echo "measuring idle for $MEASURE s" >&2
        idle=$(measure_idle "$pid")
        breakdown=$(rss_breakdown "$pid")
        echo "$(now)" >"$runtime/idle-end"
        screen=$(tmux capture-pane -p -t "$session")
        status_line=$(echo "$screen" | tail -1)
        # Keys while the agents poll: j/k in runs of 10, and every 50 keys a view switch
        # (tab to the queues table, enter on a queue, esc, tab back); their sends are logged.
        echo "sending $KEYS keys" >&2
        : >"$runtime/sends.txt"
        for i in $(seq 1 "$KEYS"); do
            if (( (i / 10) % 2 == 0 )); then k=j; else k=k; fi
            date +%s%N >>"$runtime/sends.txt"
            tmux send-keys -t "$session" "$k"
            sleep "$KEY_GAP"
            if (( i % 50 == 0 )); then
                for sw in Tab Enter Escape BTab; do
                    tmux send-keys -t "$session" "$sw"
                    sleep 0.3
                done
            fi
        done
        sleep 1
    fi
    quit_console "$pid"
    tmux kill-session -t "$session" 2>/dev/null || true
done

# The baseline: every queue at the full refresh, idle, measured the same way.
baseline_idle="" baseline_config=""
if [ "$BASELINE" = 1 ]; then
    write_config "${QUEUES_S:-3}"
    baseline_config="$(tr '\n' ' ' <"$runtime/config/flightdeck/config.toml" | sed 's/ *$//')"
    log=$runtime/frames-baseline.jsonl
    start_console "$session" "$log"
    sleep 0.2
    pid=$(pane_pid "$session")
    wait_for_full_frame "$log"
    sleep "$WARMUP"
    echo "measuring the baseline (every queue at the full refresh) idle for $MEASURE s" >&2
    baseline_idle=$(measure_idle "$pid")
    echo "$(now)" >"$runtime/idle-end-baseline"
    quit_console "$pid"
    tmux kill-session -t "$session" 2>/dev/null || true
    write_config
fi

# taws on the same emulator, on its Auto Scaling groups view.
taws_idle="" taws_screen="" taws_groups=""
if [ "$TAWS" = 1 ] && [ -x "$TAWS_BIN" ]; then
    tmux new-session -d -s "$session-taws" -x 120 -y 40 \
        env HOME="$runtime/taws-home" $aws_env "$TAWS_BIN" --endpoint-url "$endpoint" -r us-east-1
    sleep 3
    tpid=$(pane_pid "$session-taws")
    tmux send-keys -t "$session-taws" ":"
    sleep 0.3
    tmux send-keys -t "$session-taws" "autoscaling-groups" Enter
    sleep "$WARMUP"
    taws_screen=$(tmux capture-pane -p -t "$session-taws")
    taws_groups=$(echo "$taws_screen" | grep -o 'Auto Scaling Groups([^)]*)\[[0-9]*\]' | grep -o '\[[0-9]*\]' | head -1 || true)
    echo "measuring taws idle for $MEASURE s (its groups view lists $taws_groups)" >&2
    taws_idle=$(measure_idle "$tpid")
    tmux kill-session -t "$session-taws" 2>/dev/null || true
    taws_version=$("$TAWS_BIN" --version 2>/dev/null | head -1 || echo taws)
elif [ "$TAWS" = 1 ]; then
    taws_version="taws (not installed)"
else
    taws_version="taws (skipped: TAWS=0)"
fi

out=${OUT:-bench/results/console-$(date -u +%Y-%m-%d-%H%M).md}
export RUNTIME=$runtime RUNS MEASURE WARMUP KEYS KEY_GAP FLEET PROFILE BIN GROUPS_N QUEUES_N
export IDLE="$idle" TAWS_IDLE="$taws_idle" TAWS_VERSION="$taws_version" TAWS_NOTE="$taws_note"
export TAWS_GROUPS="$taws_groups" FIXTURE="$fixture" FIXTURE_S="$fixture_s"
export BREAKDOWN="$breakdown" CONFIG_NOTE="$config_note" QUEUES_S="${QUEUES_S:-}"
export BASELINE_IDLE="$baseline_idle" BASELINE_CONFIG="$baseline_config" UP_BIN="${UP_BIN:-$BIN}"
export SCREEN="$screen" STATUS_LINE="$status_line" TAWS_SCREEN="$taws_screen"
export MACHINE="$(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p'), $(free -h | awk '/^Mem:/ {print $2}') RAM, $(. /etc/os-release && echo "$PRETTY_NAME")"
export LOADAVG="$(cut -d' ' -f1-3 /proc/loadavg)" COMMIT="$(git rev-parse --short HEAD 2>/dev/null || echo '?')"
# Changes to the sources beside the commit (results being written do not count).
export DIRTY="$(git status --porcelain -- . ':!bench/results' 2>/dev/null | wc -l)"
if [ -n "${RAW:-}" ]; then
    # Keep the raw logs (frame logs, key send times) to re-run the report on them.
    mkdir -p "$RAW" && cp "$runtime"/*.jsonl "$runtime"/sends.txt "$runtime"/idle-end* "$RAW"/ 2>/dev/null || true
    printf '%s\n' "$screen" >"$RAW/screen.txt"
    printf '%s\n' "$taws_screen" >"$RAW/taws-screen.txt"
    env | grep -E '^(RUNS|MEASURE|WARMUP|KEYS|KEY_GAP|FLEET|PROFILE|BIN|GROUPS_N|QUEUES_N|IDLE|TAWS_[A-Z]*|FIXTURE|FIXTURE_S|CONFIG_NOTE|BREAKDOWN|QUEUES_S|BASELINE_[A-Z]*|MACHINE|LOADAVG|COMMIT|DIRTY)=' >"$RAW/env.txt" || true
fi
python3 bench/console_report.py >"$out"
cat "$out"
