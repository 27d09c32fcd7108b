#!/usr/bin/env bash
# End-to-end worker throughput on the local cloud: WORKLOAD.md's 4 MB input (generated with
# the same recipe and cache as bench/transform.sh), JOBS copies per run, download ->
# transform -> multipart upload -> status -> delete, against a private moto emulator.
# Reports input MB per wall minute, median of RUNS, next to the FFmpeg CLI doing the same
# transform from a local file (no S3, no queue) on the same machine in the same run.
# Writes bench/results/worker-<date>.md.
#
#   bench/worker.sh                      # RUNS=3 JOBS=4 CONCURRENCY=1, release build
#   PROFILE=dev RUNS=1 bench/worker.sh   # skip the release build (FFmpeg is C either way)
set -euo pipefail

cd "$(dirname "$0")/.."
CACHE=${BENCH_CACHE:-$HOME/.cache/flightdeck/bench}
RUNS=${RUNS:-3}
JOBS=${JOBS:-4}
CONCURRENCY=${CONCURRENCY:-1}
PROFILE=${PROFILE:-release}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
mkdir -p "$CACHE" bench/results

for tool in ffmpeg python3; do
    command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 1; }
done

# The same inputs as bench/transform.sh (WORKLOAD.md's recipes, verbatim, same cache).
if [ ! -s "$CACHE/in4.mp4" ]; then
    echo "generating $CACHE/in4.mp4" >&2
    ffmpeg -hide_banner -loglevel error -y -f lavfi -i testsrc2=size=1280x720:rate=30 -t 20 \
        -vf noise=alls=12:allf=t -c:v libx264 -preset veryfast -b:v 1550k -maxrate 2M \
        -bufsize 3M "$CACHE/in4.tmp.mp4"
    mv "$CACHE/in4.tmp.mp4" "$CACHE/in4.mp4"
fi
if [ ! -s "$CACHE/intro.mp4" ]; then
    ffmpeg -hide_banner -loglevel error -y -f lavfi -i color=c=0x1d3557:s=1280x720:r=30:d=2 \
        -c:v libx264 -preset veryfast "$CACHE/intro.tmp.mp4"
    mv "$CACHE/intro.tmp.mp4" "$CACHE/intro.mp4"
fi
if [ ! -s "$CACHE/watermark.png" ]; then
    ffmpeg -hide_banner -loglevel error -y -f lavfi -i "color=c=white@0.8:s=160x60,format=rgba" \
        -frames:v 1 "$CACHE/watermark.png"
fi

if [ "$PROFILE" = release ]; then
    cargo build --release --quiet -p worker --example throughput
    BIN=${CARGO_TARGET_DIR:-target}/release/examples/throughput
else
    cargo build --quiet -p worker --example throughput
    BIN=${CARGO_TARGET_DIR:-target}/debug/examples/throughput
fi

F="fps=30,scale=1280:720:force_original_aspect_ratio=decrease,pad=1280:720:(ow-iw)/2:(oh-ih)/2,setsar=1"
FC="[0:v]$F[a];[1:v]trim=0:30,setpts=PTS-STARTPTS,$F[b];[2:v]$F[c];[a][3:v]overlay=main_w-overlay_w-10:10[a2];[b][3:v]overlay=main_w-overlay_w-10:10[b2];[c][3:v]overlay=main_w-overlay_w-10:10[c2];[a2][b2][c2]concat=n=3:v=1:a=0[v]"

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
: >"$OUT/worker.tsv"
: >"$OUT/cli.tsv"
for run in $(seq 1 "$RUNS"); do
    line=$(RUST_LOG=warn "$BIN" --input "$CACHE/in4.mp4" --jobs "$JOBS" \
        --concurrency "$CONCURRENCY" --assets "$OUT/assets")
    echo "worker run $run: jobs/MB/wall s/MB per min $line" >&2
    echo "$line" >>"$OUT/worker.tsv"
    # The CLI on the same number of files, one after another, from local disk.
    start=$(date +%s.%N)
    for _ in $(seq 1 "$JOBS"); do
        ffmpeg -hide_banner -loglevel error -y -i "$CACHE/intro.mp4" -i "$CACHE/in4.mp4" \
            -i "$CACHE/intro.mp4" -i "$CACHE/watermark.png" -filter_complex "$FC" -map "[v]" \
            -c:v libx264 -preset ultrafast -crf 25 -pix_fmt yuv420p -an -threads 2 "$OUT/cli.mp4"
    done
    end=$(date +%s.%N)
    echo "cli run $run: $(python3 -c "print(f'{$end-$start:.2f}')") s for $JOBS files" >&2
    python3 -c "print(f'$JOBS\t{$end-$start:.2f}')" >>"$OUT/cli.tsv"
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

DATE=$(date -u +%Y-%m-%d)
RESULT="bench/results/worker-$DATE.md"
python3 - "$OUT/worker.tsv" "$OUT/cli.tsv" "$CACHE/in4.mp4" "$RUNS" "$JOBS" "$CONCURRENCY" \
    "$PROFILE" "$LOAD_BEFORE" "$LOAD_AFTER" >"$RESULT" <<'PY'
import os, platform, statistics, subprocess, sys
wtsv, ctsv, inp, runs, jobs, conc, profile, lb, la = sys.argv[1:]
def sh(c):
    return subprocess.run(c, shell=True, capture_output=True, text=True).stdout.strip()
w = [l.strip().split("\t") for l in open(wtsv) if l.strip()]
c = [l.strip().split("\t") for l in open(ctsv) if l.strip()]
size = os.path.getsize(inp) / 1e6
cpu = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip()
virt = sh("lscpu | sed -n 's/^Hypervisor vendor: *//p'")
cpu += f" ({virt} guest)" if virt else ""
print(f"# Worker throughput benchmark, {sh('date -u +%Y-%m-%dT%H:%MZ')}\n")
print("`bench/worker.sh`: WORKLOAD.md's 4 MB input, end to end through `flightdeck-worker`'s")
print("consumer against the local cloud (moto 5.2.5 on 127.0.0.1): receive, ranged GETs,")
print("transform (WORKLOAD.md baseline assets), multipart upload, status `processed`, delete.")
print("MB/min = input MB per wall minute from the first message sent to the last video processed.\n")
print(f"- command: `RUNS={runs} JOBS={jobs} CONCURRENCY={conc} PROFILE={profile} bench/worker.sh`")
print(f"- git commit: {sh('git rev-parse --short HEAD')} (plus the uncommitted worker crate)")
mem = sh("free -g | awk '/Mem:/{print $2\" GiB\"}'")
print(f"- machine: {sh('nproc')} cores, {cpu}, {mem} RAM, {platform.system()} {platform.release()}")
print(f"- FFmpeg: {sh('ffmpeg -version | head -1')}")
print(f"- load average before: {lb}; after: {la} (shared machine: other engineers were building)")
print(f"- build profile: {profile}\n")
ws = [float(r[3]) for r in w]
cs = [int(r[0]) * size / float(r[1]) * 60 for r in c]
print("| what | input | runs | files per run | MB/min median | min | max |")
print("|---|---|---|---|---|---|---|")
print(f"| worker, {conc} slot(s), via S3 + SQS + SQLite | {size:.1f} MB | {len(ws)} | {jobs} | {statistics.median(ws):.1f} | {min(ws):.1f} | {max(ws):.1f} |")
print(f"| FFmpeg CLI reference command, local file | {size:.1f} MB | {len(cs)} | {jobs} | {statistics.median(cs):.1f} | {min(cs):.1f} | {max(cs):.1f} |")
print("| original worker, one t3.large (2 vCPU), WORKLOAD.md | 4 MB | | | 22 | | |")
print()
print("Raw worker lines (jobs, input MB, wall s, MB/min):\n\n```")
for r in w:
    print("\t".join(r))
print("```")
PY
echo "wrote $RESULT" >&2
cat "$RESULT"
