#!/usr/bin/env bash
# End-to-end worker throughput on the local cloud: WORKLOAD.md's 4 MB and 50 MB inputs
# (generated with its recipes, same cache as bench/transform.sh), a few copies per run,
# download -> transform -> upload -> status -> delete, against a private moto
# emulator, with 1 and 2 slots. Reports input MB per wall minute, median of RUNS, next to
# the FFmpeg CLI doing the same transform from a local file (no S3, no queue), one file at a
# time and two at once, on the same machine in the same run, interleaved.
# Writes bench/results/worker-<date>.md.
#
#   bench/worker.sh                               # RUNS=3, release build, in4 and in50
#   INPUTS=in4 SLOTS=1 RUNS=1 bench/worker.sh     # a quick look
#   THREADS=1 bench/worker.sh                     # cap FFmpeg threads per job (--ffmpeg-threads)
#   SERIAL=0 bench/worker.sh                      # skip one slot without the overlap
#   BASE_BIN=/tmp/old/throughput BASE_LABEL=abc1234 bench/worker.sh
#                                                 # also another build's examples/throughput,
#                                                 # overlapped, taking turns with this one
set -euo pipefail

cd "$(dirname "$0")/.."
CACHE=${BENCH_CACHE:-$HOME/.cache/flightdeck/bench}
RUNS=${RUNS:-3}
INPUTS=${INPUTS:-"in4 in50"}
SLOTS=${SLOTS:-"1 2"}
JOBS_IN4=${JOBS_IN4:-4}
JOBS_IN50=${JOBS_IN50:-2}
THREADS=${THREADS:-}
SERIAL=${SERIAL:-1}   # also run one slot without the overlap (--no-overlap)
BASE_BIN=${BASE_BIN:-}          # another build of examples/throughput to compare with
BASE_LABEL=${BASE_LABEL:-base}
PROFILE=${PROFILE:-release}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
mkdir -p "$CACHE" bench/results

for tool in ffmpeg python3; do
    command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 1; }
done

make_input() { # name, then the recipe's arguments
    local name=$1; shift
    if [ ! -s "$CACHE/$name" ]; then
        echo "generating $CACHE/$name" >&2
        ffmpeg -hide_banner -loglevel error -y "$@" "$CACHE/$name.tmp.mp4"
        mv "$CACHE/$name.tmp.mp4" "$CACHE/$name"
    fi
}
# WORKLOAD.md's recipes, verbatim (the same as bench/transform.sh).
make_input in4.mp4 -f lavfi -i testsrc2=size=1280x720:rate=30 -t 20 -vf noise=alls=12:allf=t \
    -c:v libx264 -preset veryfast -b:v 1550k -maxrate 2M -bufsize 3M
make_input in50.mp4 -f lavfi -i testsrc2=size=1920x1080:rate=30 -f lavfi -i sine -t 60 \
    -vf noise=alls=12:allf=t -c:v libx264 -preset veryfast -b:v 6500k -maxrate 8M -bufsize 12M \
    -c:a aac -b:a 128k -shortest
make_input intro.mp4 -f lavfi -i color=c=0x1d3557:s=1280x720:r=30:d=2 -c:v libx264 -preset veryfast
if [ ! -s "$CACHE/watermark.png" ]; then
    ffmpeg -hide_banner -loglevel error -y -f lavfi -i "color=c=white@0.8:s=160x60,format=rgba" \
        -frames:v 1 "$CACHE/watermark.png"
fi

# The benchmarks' one build (bench/build.sh), so they share the build cache.
if [ "$PROFILE" = release ]; then
    . bench/build.sh && bench_build release
    BIN=${CARGO_TARGET_DIR:-target}/release/examples/throughput
else
    . bench/build.sh && bench_build debug
    BIN=${CARGO_TARGET_DIR:-target}/debug/examples/throughput
fi
THREAD_ARGS=()
[ -n "$THREADS" ] && THREAD_ARGS=(--ffmpeg-threads "$THREADS")

F="fps=30,scale=1280:720:force_original_aspect_ratio=decrease,pad=1280:720:(ow-iw)/2:(oh-ih)/2,setsar=1"
FC="[0:v]$F[a];[1:v]trim=0:30,setpts=PTS-STARTPTS,$F[b];[2:v]$F[c];[a][3:v]overlay=main_w-overlay_w-10:10[a2];[b][3:v]overlay=main_w-overlay_w-10:10[b2];[c][3:v]overlay=main_w-overlay_w-10:10[c2];[a2][b2][c2]concat=n=3:v=1:a=0[v]"
cli() { # input, output
    ffmpeg -hide_banner -loglevel error -y -i "$CACHE/intro.mp4" -i "$1" \
        -i "$CACHE/intro.mp4" -i "$CACHE/watermark.png" -filter_complex "$FC" -map "[v]" \
        -c:v libx264 -preset ultrafast -crf 25 -pix_fmt yuv420p -an -threads 2 "$2"
}
now() { date +%s.%N; }
# CPU ticks of this shell's waited-for children (the CLI runs), without a fork of its own.
child_ticks() { local st; read -r -a st </proc/$BASHPID/stat; TICKS=$((st[15] + st[16])); }
# The machine's idle + I/O-wait ticks over all cores (/proc/stat's first line).
idle_ticks() { local c; read -r -a c </proc/stat; IDLE=$((c[4] + c[5])); }
# One CLI measurement into runs.tsv: what (cli-1, cli-2), then the start's time, its child
# ticks and the machine's idle ticks.
record_cli() {
    local end wall cpu idle
    end=$(now); child_ticks; idle_ticks
    wall=$(python3 -c "print(f'{$end-$2:.2f}')")
    cpu=$(python3 -c "print(f'{($TICKS-$3)/100/$jobs:.2f}')")
    idle=$(python3 -c "print(f'{($IDLE-$4)/100/($end-$2):.2f}')")
    echo "$input run $run $1: $wall s for $jobs files, $cpu CPU s each, $idle cores idle" >&2
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t0\t%s\n' "$input" "$1" "$run" "$jobs" "$mb" "$wall" "$cpu" "$idle" >>"$OUT/runs.tsv"
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
: >"$OUT/runs.tsv"   # input, what, run, files, MB per file, wall s, CPU s per file (own, emulator), idle cores
for input in $INPUTS; do
    file="$CACHE/$input.mp4"
    jobs_var="JOBS_${input^^}"
    jobs=${!jobs_var:-2}
    mb=$(python3 -c "import os; print(os.path.getsize('$file')/1e6)")
    for run in $(seq 1 "$RUNS"); do
        for slots in $SLOTS; do
            # One slot also without the overlap (one job at a time): its baseline in this run.
            modes=(overlap)
            [ "$slots" = 1 ] && [ "$SERIAL" = 1 ] && modes+=(serial)
            # The other build takes turns with this one: after it in odd runs, before in even.
            if [ -n "$BASE_BIN" ]; then
                if (( run % 2 )); then modes+=(base); else modes=(base "${modes[@]}"); fi
            fi
            for mode in "${modes[@]}"; do
                flags=()
                [ "$mode" = serial ] && flags=(--no-overlap)
                bin=$BIN
                [ "$mode" = base ] && bin=$BASE_BIN
                line=$(RUST_LOG=warn "$bin" --input "$file" --jobs "$jobs" --concurrency "$slots" \
                    --assets "$OUT/assets" "${THREAD_ARGS[@]}" "${flags[@]}")
                echo "$input run $run worker $slots slot(s) $mode: jobs/MB/wall s/MB per min/CPU s per job, worker/emulator/idle cores $line" >&2
                wall=$(echo "$line" | cut -f3)
                cpu=$(echo "$line" | cut -f5-7)
                what="worker-$slots"
                [ "$mode" = serial ] && what="worker-$slots-serial"
                [ "$mode" = base ] && what="base-$slots"
                printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$input" "$what" "$run" "$jobs" "$mb" "$wall" "$cpu" >>"$OUT/runs.tsv"
            done
        done
        # The CLI on the same number of files from local disk: one after another...
        child_ticks; t0=$TICKS; idle_ticks; i0=$IDLE
        start=$(now)
        for i in $(seq 1 "$jobs"); do cli "$file" "$OUT/cli-$i.mp4"; done
        record_cli cli-1 "$start" "$t0" "$i0"
        # ...and two at once, the fair comparison for two slots.
        if [[ " $SLOTS " == *" 2 "* ]]; then
            child_ticks; t0=$TICKS; idle_ticks; i0=$IDLE
            start=$(now)
            for i in $(seq 1 "$jobs"); do
                cli "$file" "$OUT/cli-$i.mp4" &
                if (( i % 2 == 0 )); then wait; fi
            done
            wait
            record_cli cli-2 "$start" "$t0" "$i0"
        fi
    done
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

DATE=$(date -u +%Y-%m-%d)
RESULT="bench/results/worker-$DATE.md"
if [ -e "$RESULT" ]; then RESULT="bench/results/worker-$DATE-$(date -u +%H%M).md"; fi
python3 - "$OUT/runs.tsv" "$RUNS" "$PROFILE" "$THREADS" "$SLOTS" "$INPUTS" "$LOAD_BEFORE" \
    "$LOAD_AFTER" "$JOBS_IN4" "$JOBS_IN50" "$BASE_LABEL" >"$RESULT" <<'PY'
import platform, statistics, subprocess, sys
tsv, runs, profile, threads, slots, inputs, lb, la, jobs4, jobs50, base_label = sys.argv[1:]
def sh(c):
    return subprocess.run(c, shell=True, capture_output=True, text=True).stdout.strip()
rows = [l.rstrip("\n").split("\t") for l in open(tsv) if l.strip()]
cpu = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip()
virt = sh("lscpu | sed -n 's/^Hypervisor vendor: *//p'")
cpu += f" ({virt} guest)" if virt else ""
print(f"# Worker throughput benchmark, {sh('date -u +%Y-%m-%dT%H:%MZ')}\n")
print("`bench/worker.sh`: WORKLOAD.md's inputs end to end through `flightdeck-worker`'s consumer")
print("against the local cloud (moto 5.2.5 on 127.0.0.1): receive, ranged GETs, transform")
print("(WORKLOAD.md baseline assets), upload (one PutObject up to a part), status `processed`, delete; each")
print("slot overlaps one job's download and upload with another's transform unless `--no-overlap`. MB/min =")
print("input MB per wall minute, from the first message sent to the last video processed; for")
print("the CLI, from the first start to the last exit. Each run is a fresh emulator. The worker")
print("runs with `flightdeck-worker`'s malloc settings. Idle = the machine's idle CPU over the")
print("run, in cores (/proc/stat): what the run left unused, the bench's own processes included.\n")
env = f"RUNS={runs} INPUTS='{inputs}' SLOTS='{slots}' JOBS_IN4={jobs4} JOBS_IN50={jobs50}" + (
    f" THREADS={threads}" if threads else ""
) + (f" BASE_BIN=... BASE_LABEL='{base_label}'" if any(r[1].startswith("base") for r in rows) else "")
print(f"- command: `{env} PROFILE={profile} bench/worker.sh`")
dirty = sh("git status --porcelain -- worker media stack | wc -l")
print(f"- git commit: {sh('git rev-parse --short HEAD')}" + (" (with uncommitted worker changes)" if dirty != "0" else ""))
mem = sh("free -g | awk '/Mem:/{print $2\" GiB\"}'")
print(f"- machine: {sh('nproc')} cores, {cpu}, {mem} RAM, {platform.system()} {platform.release()}")
print(f"- FFmpeg: {sh('ffmpeg -version | head -1')}")
print(f"- rustc: {sh('rustc --version')}")
print(f"- load average before: {lb}; after: {la} (a shared machine: other builds may run)")
print(f"- build profile: {profile}; FFmpeg threads per job: {threads or 'automatic (one per core)'}\n")
names = {"cli-1": "FFmpeg CLI reference command, local file, one at a time",
         "cli-2": "FFmpeg CLI reference command, local file, two at once"}
print("| input | what | runs | files per run | MB/min median | min | max | CPU s per file: own + emulator (median) | idle cores (median) |")
print("|---|---|---|---|---|---|---|---|---|")
original = {"in4": "22", "in50": "142.5 (3x: 427.5)"}
for inp in inputs.split():
    sel = [r for r in rows if r[0] == inp]
    whats = []
    for r in sel:
        if r[1] not in whats:
            whats.append(r[1])
    size = float(sel[0][4]) if sel else 0
    for w in sorted(whats, key=lambda w: (w.startswith("cli"), w)):
        v = [int(r[3]) * float(r[4]) / float(r[5]) * 60 for r in sel if r[1] == w]
        label = names.get(w) or f"worker, {w.split('-')[1]} slot(s), via S3 + SQS + SQLite" + (
            ", one job at a time (--no-overlap)" if w.endswith("serial") else ", overlapped")
        if w.startswith("base"):
            label = f"the other build ({base_label}), {w.split('-')[1]} slot(s), overlapped"
        own = statistics.median(float(r[6]) for r in sel if r[1] == w)
        emu = statistics.median(float(r[7]) for r in sel if r[1] == w)
        cpu = f"{own:.2f} + {emu:.2f} = {own + emu:.2f}" if not w.startswith("cli") else f"{own:.2f}"
        idle = statistics.median(float(r[8]) for r in sel if r[1] == w)
        print(f"| {inp} ({size:.1f} MB) | {label} | {len(v)} | {sel[0][3]} | {statistics.median(v):.1f} | {min(v):.1f} | {max(v):.1f} | {cpu} | {idle:.2f} |")
    print(f"| {inp} | original worker, one t3.large (2 vCPU), WORKLOAD.md | | | {original.get(inp, '')} | | | | |")
print()
# The machine's speed drifts between runs; each run's worker and CLI ran minutes apart at
# most, so their ratio within a run is steadier than the ratio of the medians.
pairs = [("worker-1", "cli-1"), ("worker-1-serial", "cli-1"), ("worker-2", "cli-2"),
         ("base-1", "cli-1"), ("base-2", "cli-2"), ("worker-1", "base-1"), ("worker-2", "base-2")]
print("Paired: the first one's MB/min over the second's in the same run (median over runs, min-max):\n")
for inp in inputs.split():
    wall = {(r[1], r[2]): float(r[5]) for r in rows if r[0] == inp}
    for w, c in pairs:
        ratios = [wall[(c, run)] / wall[(w, run)] for (what, run) in wall if what == w and (c, run) in wall]
        if ratios:
            print(f"- {inp}, {w} vs {c}: {statistics.median(ratios):.3f}x ({min(ratios):.3f}-{max(ratios):.3f}, {len(ratios)} runs)")
print()
print("Raw runs (input, what, run, files, MB per file, wall s, CPU s per file of the worker or CLI, of the emulator, idle cores):\n\n```")
for r in rows:
    print("\t".join(r))
print("```")
PY
echo "wrote $RESULT" >&2
cat "$RESULT"
