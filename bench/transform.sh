#!/usr/bin/env bash
# Benchmarks the crate's in-process transform against the FFmpeg CLI reference command from
# WORKLOAD.md, on WORKLOAD.md's 4 MB and 50 MB inputs and baseline assets (made with the exact
# CLI recipes, cached in bench/cache). Runs are interleaved (CLI, ours, ours+faststart, ours
# without the segment cache, ours with every thread at one priority, ...) so load from other
# processes hits all alike. "ours" keeps the
# encoded intro and outro in a segment cache, as the worker does (made by the warm-up run);
# "uncached" encodes them in every run. Writes bench/results/transform-<date>.md.
#
#   bench/transform.sh            # RUNS=5 by default
#   RUNS=3 INPUTS="in4" bench/transform.sh
#   NICE=-10 bench/transform.sh   # as root: favour both tools over other jobs on a shared machine
set -euo pipefail

cd "$(dirname "$0")/.."
CACHE=${BENCH_CACHE:-$HOME/.cache/flightdeck/bench}
RUNS=${RUNS:-5}
INPUTS=${INPUTS:-"in4 in50"}
NICE=${NICE:-0}
OUT=${BENCH_OUT:-$(mktemp -d)}
mkdir -p "$OUT"
mkdir -p "$CACHE" bench/results

for tool in ffmpeg ffprobe python3 /usr/bin/time; do
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
# WORKLOAD.md's recipes, verbatim.
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

[ "${NO_BUILD:-0}" = 1 ] || cargo build --release --quiet -p media --example transform
BIN=${CARGO_TARGET_DIR:-target}/release/examples/transform

F="fps=30,scale=1280:720:force_original_aspect_ratio=decrease,pad=1280:720:(ow-iw)/2:(oh-ih)/2,setsar=1"
FC="[0:v]$F[a];[1:v]trim=0:30,setpts=PTS-STARTPTS,$F[b];[2:v]$F[c];[a][3:v]overlay=main_w-overlay_w-10:10[a2];[b][3:v]overlay=main_w-overlay_w-10:10[b2];[c][3:v]overlay=main_w-overlay_w-10:10[c2];[a2][b2][c2]concat=n=3:v=1:a=0[v]"

cli_cmd() { # input output
    CMD=(ffmpeg -hide_banner -loglevel error -y -i "$CACHE/intro.mp4" -i "$1" -i "$CACHE/intro.mp4"
        -i "$CACHE/watermark.png" -filter_complex "$FC" -map "[v]" -c:v libx264 -preset ultrafast
        -crf 25 -pix_fmt yuv420p -an -threads 2 "$2")
}
ours_cmd() { # input output [extra flags]
    local in=$1 out=$2; shift 2
    CMD=("$BIN" --intro "$CACHE/intro.mp4" --watermark "$CACHE/watermark.png" "$@" "$in" "$out")
}
SEGMENTS="$OUT/segments"

TIMES="$OUT/times.tsv"
: >"$TIMES"
timed() { # label input run (runs "${CMD[@]}")
    nice -n "$NICE" /usr/bin/time -o "$OUT/time.txt" -f "%e %U %S %M" "${CMD[@]}" >/dev/null
    local t
    t=$(tail -1 "$OUT/time.txt")
    printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$(tr ' ' '\t' <<<"$t")" \
        "$(cut -d' ' -f1 /proc/loadavg)" >>"$TIMES"
    echo "$1 $2 run $3: wall/user/sys/maxrss $t" >&2
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
for input in $INPUTS; do
    src="$CACHE/$input.mp4"
    # One untimed warm-up of each, so the file cache is equally warm.
    cli_cmd "$src" "$OUT/cli-$input.mp4" && "${CMD[@]}"
    ours_cmd "$src" "$OUT/ours-$input.mp4" --no-faststart --segment-cache "$SEGMENTS" && "${CMD[@]}" >/dev/null
    for run in $(seq 1 "$RUNS"); do
        cli_cmd "$src" "$OUT/cli-$input.mp4" && timed cli "$input" "$run"
        ours_cmd "$src" "$OUT/ours-$input.mp4" --no-faststart --segment-cache "$SEGMENTS" && timed ours "$input" "$run"
        ours_cmd "$src" "$OUT/ours-fs-$input.mp4" --segment-cache "$SEGMENTS" && timed ours-faststart "$input" "$run"
        ours_cmd "$src" "$OUT/ours-nc-$input.mp4" --no-faststart && timed ours-uncached "$input" "$run"
        ours_cmd "$src" "$OUT/ours-al-$input.mp4" --no-faststart --segment-cache "$SEGMENTS" --stage-nice 0 &&
            timed ours-alike "$input" "$run"
    done
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# Fidelity: are the upload's decoded pictures identical to the CLI's encoding of the upload
# alone (the intro and outro are encoded once and joined; bench/fidelity.sh checks the joins)?
FID="$OUT/fidelity.tsv"
: >"$FID"
pictures() { ffmpeg -v error -i "$1" -map 0:v -f framemd5 - | grep -v '^#' | awk -F, '{print $NF}'; }
for input in $INPUTS; do
    ffmpeg -hide_banner -loglevel error -y -i "$CACHE/$input.mp4" -i "$CACHE/watermark.png" \
        -filter_complex "[0:v]trim=0:30,setpts=PTS-STARTPTS,$F[b];[b][1:v]overlay=main_w-overlay_w-10:10[v]" \
        -map "[v]" -c:v libx264 -preset ultrafast -crf 25 -pix_fmt yuv420p -an -threads 2 "$OUT/cli-up-$input.mp4"
    up=$(pictures "$OUT/cli-up-$input.mp4" | wc -l)
    c=$(pictures "$OUT/cli-up-$input.mp4" | md5sum | cut -c1-16)
    o=$(pictures "$OUT/ours-$input.mp4" | sed -n "61,$((60 + up))p" | md5sum | cut -c1-16)
    n=$(ffprobe -v error -count_packets -select_streams v -show_entries stream=nb_read_packets -of csv=p=0 "$OUT/ours-$input.mp4")
    # The thread priorities change when work runs, not what it makes: the same bytes.
    same=no
    cmp -s "$OUT/ours-$input.mp4" "$OUT/ours-al-$input.mp4" && same=yes
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$input" "$c" "$o" "$n" \
        "$(stat -c %s "$OUT/cli-$input.mp4")" "$(stat -c %s "$OUT/ours-fs-$input.mp4")" "$same" >>"$FID"
done

DATE=$(date -u +%Y-%m-%d)
RESULT="bench/results/transform-$DATE.md"
if [ -e "$RESULT" ]; then RESULT="bench/results/transform-$DATE-$(date -u +%H%M).md"; fi
python3 - "$TIMES" "$FID" "$CACHE" "$RUNS" "$LOAD_BEFORE" "$LOAD_AFTER" "$NICE" >"$RESULT" <<'PY'
import os, platform, statistics, subprocess, sys
times, fid, cache, runs, load_before, load_after, nice = sys.argv[1:]
rows = [l.rstrip("\n").split("\t") for l in open(times) if l.strip()]
def sh(cmd):
    return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()
cpu = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip()
virt = sh("lscpu | sed -n 's/^Hypervisor vendor: *//p'")
cpu += f" ({virt} guest)" if virt else ""
mem = sh("free -g | awk '/Mem:/{print $2\" GiB\"}'")
print(f"# Transform benchmark, {sh('date -u +%Y-%m-%dT%H:%MZ')}\n")
print("WORKLOAD.md transform (intro + first 30 s + outro, 1280x720 30 fps, watermark, libx264")
print("ultrafast CRF 25, 2 threads) on WORKLOAD.md's inputs and baseline assets: the FFmpeg CLI")
print("reference command vs this crate's `transform()` (release build, `examples/transform.rs`).\n")
print(f"- machine: {sh('nproc')} cores, {cpu}, {mem} RAM, {platform.system()} {platform.release()}")
print(f"- FFmpeg: {sh('ffmpeg -version | head -1')}")
print(f"- rustc: {sh('rustc --version')}")
print(f"- runs: {runs} per tool and input, interleaved, after one warm-up each; figures are medians")
print(f"- both tools run at nice {nice}")
print(f"- load average (1/5/15 min) before: {load_before}; after: {load_after}")
print("  (the machine is shared: other jobs inflate wall time for all tools alike)\n")
print("| input | size | tool | wall s (median) | wall s (min) | CPU s (median) | MB/min | peak RSS MB |")
print("|---|---|---|---|---|---|---|---|")
labels = {"cli": "FFmpeg CLI 5.1", "ours": "transform(), segment cache",
          "ours-faststart": "transform(), segment cache, +faststart (default)",
          "ours-uncached": "transform(), no segment cache",
          "ours-alike": "transform(), segment cache, every thread alike (--stage-nice 0)"}
summary = {}
for inp in dict.fromkeys(r[1] for r in rows):
    size = os.path.getsize(os.path.join(cache, inp + ".mp4")) / 1e6
    for label in labels:
        rs = [r for r in rows if r[0] == label and r[1] == inp]
        if not rs:
            continue
        wall = [float(r[3]) for r in rs]
        cpu_s = [float(r[4]) + float(r[5]) for r in rs]
        rss = max(int(r[6]) for r in rs) / 1024
        w = statistics.median(wall)
        summary[(inp, label)] = (w, statistics.median(cpu_s))
        print(f"| {inp} | {size:.1f} MB | {labels[label]} | {w:.2f} | {min(wall):.2f} | "
              f"{statistics.median(cpu_s):.2f} | {size / w * 60:.0f} | {rss:.0f} |")
print()
for inp in dict.fromkeys(r[1] for r in rows):
    if (inp, "cli") in summary and (inp, "ours") in summary:
        (cw, cc), (ow, oc) = summary[(inp, "cli")], summary[(inp, "ours")]
        print(f"- {inp}: transform() wall {ow / cw:.2f}x the CLI's, CPU {oc / cc:.2f}x")
    if (inp, "cli") in summary and (inp, "ours-uncached") in summary:
        (cw, cc), (ow, oc) = summary[(inp, "cli")], summary[(inp, "ours-uncached")]
        print(f"- {inp}: without the segment cache, wall {ow / cw:.2f}x, CPU {oc / cc:.2f}x")
    if (inp, "ours-alike") in summary and (inp, "ours") in summary:
        (aw, ac), (ow, oc) = summary[(inp, "ours-alike")], summary[(inp, "ours")]
        print(f"- {inp}: the decoder first (default) against every thread alike: wall {ow / aw:.2f}x, "
              f"CPU {oc / ac:.2f}x")
print("\n## Output fidelity\n")
print("The upload's frames in transform()'s output against the CLI's encoding of the upload alone")
print("(the reference command's filters and settings); the joins are checked by bench/fidelity.sh.")
print("CLI bytes: the one-pass reference command's output.\n")
print("| input | CLI upload frames md5 | ours upload frames md5 | identical | frames | CLI bytes | ours (+faststart) bytes | threads alike: same bytes |")
print("|---|---|---|---|---|---|---|---|")
for l in open(fid):
    inp, c, o, n, cb, ob, same = l.split()
    print(f"| {inp} | `{c}` | `{o}` | {'yes' if c == o else 'NO'} | {n} | {cb} | {ob} | {same} |")
print("\nRaw timings (label, input, run, wall, user, sys, max RSS KB, 1-min load):\n")
print("```")
for r in rows:
    print("\t".join(r))
print("```")
PY
echo "wrote $RESULT" >&2
cat "$RESULT"
