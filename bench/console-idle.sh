#!/usr/bin/env bash
# The live console's idle cost: CPU % of one core and RSS of `flightdeck` showing the
# dashboard against the local cloud for 60 s (in a 120x40 tmux pane, default refresh).
# Baseline: taws, from PEERS.md (~1.2 % of a core, ~11 MB RSS).
#
#   bench/console-idle.sh            # builds the release binary if needed
#   FLIGHTDECK_BIN=target/debug/flightdeck SECONDS_MEASURED=60 bench/console-idle.sh
#
# Writes bench/results/console-idle-<date>.md. Stops everything it starts.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${FLIGHTDECK_BIN:-target/release/flightdeck}
MEASURE=${SECONDS_MEASURED:-60}
WARMUP=10
if [[ ! -x $BIN ]]; then
    cargo build --release -p flightdeck
fi
command -v tmux >/dev/null || { echo "tmux is needed" >&2; exit 1; }

runtime=$(mktemp -d)
session="flightdeck-bench-$$"
up_pid=""
cleanup() {
    tmux kill-session -t "$session" 2>/dev/null || true
    [[ -n $up_pid ]] && kill "$up_pid" 2>/dev/null && wait "$up_pid" 2>/dev/null || true
    rm -rf "$runtime"
}
trap cleanup EXIT

# The local cloud, headless; its first line names the endpoint.
FLIGHTDECK_RUNTIME_DIR=$runtime "$BIN" local up >"$runtime/up.log" 2>&1 &
up_pid=$!
for _ in $(seq 1 240); do
    endpoint=$(grep -o 'http://127.0.0.1:[0-9]*' "$runtime/up.log" | head -1 || true)
    [[ -n $endpoint ]] && break
    sleep 0.5
done
[[ -n ${endpoint:-} ]] || { cat "$runtime/up.log" >&2; exit 1; }

tmux new-session -d -s "$session" -x 120 -y 40 \
    env XDG_CONFIG_HOME="$runtime" AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
    "$BIN" --endpoint "$endpoint"
sleep 1
pid=$(tmux display-message -p -t "$session" '#{pane_pid}')
sleep "$WARMUP"

tck=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$pid/status"; }
t0=$(cpu_ticks); start=$(date +%s.%N)
max_rss=0
for _ in $(seq 1 "$MEASURE"); do
    sleep 1
    r=$(rss_kb); (( r > max_rss )) && max_rss=$r
done
t1=$(cpu_ticks); end=$(date +%s.%N)
cpu=$(awk -v a="$t0" -v b="$t1" -v s="$start" -v e="$end" -v t="$tck" \
    'BEGIN { printf "%.2f", (b - a) / t / (e - s) * 100 }')
rss_mb=$(awk -v k="$max_rss" 'BEGIN { printf "%.1f", k / 1024 }')
screen=$(tmux capture-pane -p -t "$session" | head -12)

date=$(date -u +%Y-%m-%d)
out="bench/results/console-idle-$date.md"
{
    echo "# console idle cost, $date"
    echo
    echo "Command: \`FLIGHTDECK_BIN=$BIN SECONDS_MEASURED=$MEASURE bench/console-idle.sh\`"
    echo "at commit $(git rev-parse --short HEAD 2>/dev/null || echo '?') (plus uncommitted work)."
    echo
    echo "Machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'),"
    echo "$(free -h | awk '/^Mem:/ {print $2}') RAM, $(. /etc/os-release; echo "$PRETTY_NAME")."
    echo "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (other builds shared the cores)."
    echo
    echo "The console against \`flightdeck local up\` (2 groups, 2 queues), 120x40 tmux pane,"
    echo "default refresh (groups/queues 3 s, CPU 15 s), ${WARMUP} s warm-up, then $MEASURE s measured."
    echo
    echo "| program | runs | idle CPU (% of one core) | RSS (max, MB) |"
    echo "| --- | --- | --- | --- |"
    echo "| flightdeck ($(basename "$(dirname "$BIN")")) | 1 | $cpu | $rss_mb |"
    echo "| taws 1.2.1 (PEERS.md, 50 groups, no auto-refresh) | - | ~1.2 | ~11 |"
    echo
    echo "Screen at the end (first lines):"
    echo
    echo '```'
    echo "$screen"
    echo '```'
} >"$out"
echo "flightdeck idle: ${cpu}% of one core, ${rss_mb} MB RSS -> $out"
