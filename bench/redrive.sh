#!/usr/bin/env bash
# Redrive throughput on the local cloud: N messages (default 500) in a DLQ moved to their
# source queue by `flightdeck dlq redrive --all` (the batch mover: receive 10, send batch,
# delete batch, journalled), next to the loop scripts usually run (receive 1, send 1,
# delete 1; Python boto3, from the emulator's own virtualenv), against the same emulator in
# the same run, on fresh queues each time. Checks zero loss for both.
# Writes bench/results/redrive-<date>-<HHMM>.md (UTC), or $OUT.
#
#   bench/redrive.sh                 # N=500, RUNS=3, release build
#   N=100 RUNS=1 bench/redrive.sh    # a quick look
#   FLIGHTDECK_BIN=target/debug/flightdeck PROFILE=dev bench/redrive.sh   # an existing build
#   FLIGHTDECK_EMULATOR_UNPATCHED=1 bench/redrive.sh   # moto as shipped, without the local
#                                    # cloud's fix to its O(depth) ReceiveMessage cost
set -euo pipefail

cd "$(dirname "$0")/.."
N=${N:-500}
RUNS=${RUNS:-3}
PROFILE=${PROFILE:-release}
CACHE=${FLIGHTDECK_CACHE_DIR:-$HOME/.cache/flightdeck}
PY=$CACHE/emulator/moto-5.2.5/bin/python
mkdir -p bench/results

if [ -n "${FLIGHTDECK_BIN:-}" ]; then
    BIN=$FLIGHTDECK_BIN # an existing build; say which in PROFILE
elif [ "$PROFILE" = release ]; then
    . bench/build.sh && bench_build release
    BIN=${CARGO_TARGET_DIR:-target}/release/flightdeck
else
    . bench/build.sh && bench_build debug
    BIN=${CARGO_TARGET_DIR:-target}/debug/flightdeck
fi
[ -x "$PY" ] || "$BIN" local install

runtime=$(mktemp -d)
up_pid=""
cleanup() {
    [[ -n $up_pid ]] && kill "$up_pid" 2>/dev/null && wait "$up_pid" 2>/dev/null || true
    rm -rf "$runtime"
}
trap cleanup EXIT

# Only the emulator: no worker or API processes beside the measurement.
fleet_flag=""
"$BIN" local up --help | grep -q -- --no-fleet && fleet_flag=--no-fleet
FLIGHTDECK_RUNTIME_DIR=$runtime "$BIN" local up $fleet_flag >"$runtime/up.log" 2>&1 &
up_pid=$!
for _ in $(seq 1 240); do
    endpoint=$(grep -o 'http://127.0.0.1:[0-9]*' "$runtime/up.log" | head -1 || true)
    [[ -n $endpoint ]] && break
    sleep 0.5
done
[[ -n ${endpoint:-} ]] || { cat "$runtime/up.log" >&2; exit 1; }
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export ENDPOINT=$endpoint FLIGHTDECK_STATE_DIR=$runtime/state

# queue helper: create SRC DLQ and fill DLQ with N messages | count QUEUE | loop SRC DLQ
cat >"$runtime/q.py" <<'PY'
import json, os, sys, time
import boto3
sqs = boto3.client("sqs", endpoint_url=os.environ["ENDPOINT"])
url = lambda name: sqs.get_queue_url(QueueName=name)["QueueUrl"]
cmd = sys.argv[1]
if cmd == "setup":
    src, dlq, n = sys.argv[2], sys.argv[3], int(sys.argv[4])
    sqs.create_queue(QueueName=src)
    d = sqs.create_queue(QueueName=dlq)["QueueUrl"]
    for start in range(0, n, 10):
        entries = [{"Id": str(i), "MessageBody": json.dumps({"v": 1, "video_id": f"bench-{i}"}),
                    "MessageAttributes": {"failure_reason": {"DataType": "String", "StringValue": "bench"}}}
                   for i in range(start, min(n, start + 10))]
        assert not sqs.send_message_batch(QueueUrl=d, Entries=entries).get("Failed")
elif cmd == "count":
    a = sqs.get_queue_attributes(QueueUrl=url(sys.argv[2]), AttributeNames=["All"])["Attributes"]
    print(int(a["ApproximateNumberOfMessages"]) + int(a["ApproximateNumberOfMessagesNotVisible"]))
elif cmd == "loop":
    # What scripts do: one message at a time, receive -> send -> delete, until 3 empty receives.
    src, dlq = url(sys.argv[2]), url(sys.argv[3])
    empty = 0
    t0 = time.monotonic()
    while empty < 3:
        r = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=1, VisibilityTimeout=30,
                                MessageAttributeNames=["All"]).get("Messages", [])
        if not r:
            empty += 1
            continue
        empty = 0
        m = r[0]
        sqs.send_message(QueueUrl=src, MessageBody=m["Body"], MessageAttributes=m.get("MessageAttributes", {}))
        sqs.delete_message(QueueUrl=dlq, ReceiptHandle=m["ReceiptHandle"])
    print(f"{time.monotonic() - t0:.3f}")
PY
q() { "$PY" "$runtime/q.py" "$@"; }
now() { date +%s.%N; }

: >"$runtime/runs.tsv"
for r in $(seq 1 "$RUNS"); do
    # flightdeck's mover
    q setup "fd-src-$r" "fd-dlq-$r" "$N"
    start=$(now)
    "$BIN" --endpoint "$endpoint" dlq redrive -q "fd-dlq-$r" --to "fd-src-$r" --all --no-move-task --yes --json >"$runtime/out.json"
    wall=$(awk -v a="$start" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }')
    printf 'flightdeck\t%s\t%s\t%s\n' "$wall" "$(q count "fd-src-$r")" "$(q count "fd-dlq-$r")" >>"$runtime/runs.tsv"
    # the one-at-a-time loop
    q setup "loop-src-$r" "loop-dlq-$r" "$N"
    wall=$(q loop "loop-src-$r" "loop-dlq-$r")
    printf 'loop\t%s\t%s\t%s\n' "$wall" "$(q count "loop-src-$r")" "$(q count "loop-dlq-$r")" >>"$runtime/runs.tsv"
    tail -2 "$runtime/runs.tsv" >&2
done

out=${OUT:-bench/results/redrive-$(date -u +%Y-%m-%d-%H%M).md}
python3 - "$runtime/runs.tsv" "$N" "$RUNS" "$PROFILE" >"$out" <<'PY'
import statistics, subprocess, sys
path, n, runs, profile = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
rows = [l.split("\t") for l in open(path).read().splitlines()]
def sh(c):
    try: return subprocess.run(c, shell=True, capture_output=True, text=True).stdout.strip()
    except Exception: return "?"
print(f"# redrive throughput, {sh('date -u +%Y-%m-%d')}\n")
print(f"Command: `N={n} RUNS={runs} PROFILE={profile} bench/redrive.sh` at commit {sh('git rev-parse --short HEAD') or '?'} (plus uncommitted work).\n")
cpu = sh("lscpu | sed -n 's/^Model name: *//p'")
mem = sh("free -h | awk '/Mem:/ {print $2}'")
osname = sh(". /etc/os-release && echo $PRETTY_NAME")
load = sh("cut -d' ' -f1-3 /proc/loadavg")
print(f"Machine: {sh('nproc')} CPUs, {cpu}, {mem} RAM, {osname}.")
print(f"Load average at the end of the run: {load} (other builds and tests shared the machine).\n")
import os
if os.environ.get("FLIGHTDECK_EMULATOR_UNPATCHED", "") not in ("", "0"):
    emulator = "moto 5.2.5 as shipped (`FLIGHTDECK_EMULATOR_UNPATCHED=1`: ReceiveMessage costs O(queue depth) per returned message)"
else:
    emulator = "moto 5.2.5 with the local cloud's retention-check fix (`infra/local/src/launcher.py`)"
print(f"{n} messages in a fresh DLQ moved to a fresh source queue on {emulator} (127.0.0.1), {profile} build.")
print("`flightdeck dlq redrive --all --no-move-task` (receive 10 / SendMessageBatch / DeleteMessageBatch, up to 4 batches in flight, journal fsynced per step with shared fsyncs, process start included)")
print("next to a receive-1 / send-1 / delete-1 loop in Python boto3 (the emulator's own virtualenv), same emulator, same run, alternating.")
print("Each stops after 3 empty receives in a row (flightdeck: 5, with pauses), which is included in the wall time.\n")
print("| mover | runs | wall s (mean, min-max) | messages/s (mean) | moved / left in DLQ (every run) |")
print("| --- | --- | --- | --- | --- |")
rates = {}
for name in ["flightdeck", "loop"]:
    rs = [r for r in rows if r[0] == name]
    walls = [float(r[1]) for r in rs]
    rate = statistics.mean(n / w for w in walls)
    rates[name] = rate
    counts = ", ".join(f"{r[2]}/{r[3]}" for r in rs)
    print(f"| {name} | {len(rs)} | {statistics.mean(walls):.2f} ({min(walls):.2f}-{max(walls):.2f}) | {rate:.0f} | {counts} |")
lost = [r for r in rows if int(r[2]) < n]
print(f"\nSpeed-up: {rates['flightdeck'] / rates['loop']:.1f}x (target >= 5x). Loss: {'none' if not lost else lost}.")
PY
cat "$out"
