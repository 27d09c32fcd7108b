#!/usr/bin/env bash
# Checks that transform() produces the same pictures as the FFmpeg CLI reference command
# (WORKLOAD.md, with the fps=30 fix) on awkward inputs: 25, 60 and 29.97 fps, portrait, 4:3,
# ultra-wide and longer than 30 s. Compares per-frame MD5s of the decoded outputs.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${BENCH_CACHE:-$HOME/.cache/flightdeck/bench}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
mkdir -p "$CACHE"
cargo build --release --quiet -p media --example transform
BIN=${CARGO_TARGET_DIR:-target}/release/examples/transform
[ -s "$CACHE/intro.mp4" ] || ffmpeg -v error -y -f lavfi -i color=c=0x1d3557:s=1280x720:r=30:d=2 -c:v libx264 -preset veryfast "$CACHE/intro.mp4"
[ -s "$CACHE/watermark.png" ] || ffmpeg -v error -y -f lavfi -i "color=c=white@0.8:s=160x60,format=rgba" -frames:v 1 "$CACHE/watermark.png"

F="fps=30,scale=1280:720:force_original_aspect_ratio=decrease,pad=1280:720:(ow-iw)/2:(oh-ih)/2,setsar=1"
FC="[0:v]$F[a];[1:v]trim=0:30,setpts=PTS-STARTPTS,$F[b];[2:v]$F[c];[a][3:v]overlay=main_w-overlay_w-10:10[a2];[b][3:v]overlay=main_w-overlay_w-10:10[b2];[c][3:v]overlay=main_w-overlay_w-10:10[c2];[a2][b2][c2]concat=n=3:v=1:a=0[v]"
frames_md5() { ffmpeg -v error -i "$1" -map 0:v -f framemd5 - | grep -v '^#' | md5sum | cut -c1-16; }

status=0
printf '%-10s %-12s %-18s %-18s %s\n' case size/rate cli ours frames
for c in "a25 320x240 25 3" "p60 240x320 60 2" "ntsc 640x480 30000/1001 4" "wide 480x200 24 2" "long 160x120 30 33"; do
    set -- $c
    ffmpeg -v error -y -f lavfi -i "testsrc2=size=$2:rate=$3" -t "$4" -c:v libx264 -preset ultrafast "$OUT/$1.mp4"
    ffmpeg -v error -y -i "$CACHE/intro.mp4" -i "$OUT/$1.mp4" -i "$CACHE/intro.mp4" -i "$CACHE/watermark.png" \
        -filter_complex "$FC" -map "[v]" -c:v libx264 -preset ultrafast -crf 25 -pix_fmt yuv420p -an -threads 2 "$OUT/cli-$1.mp4"
    "$BIN" --intro "$CACHE/intro.mp4" --watermark "$CACHE/watermark.png" "$OUT/$1.mp4" "$OUT/ours-$1.mp4" >/dev/null
    cli=$(frames_md5 "$OUT/cli-$1.mp4"); ours=$(frames_md5 "$OUT/ours-$1.mp4")
    n=$(ffprobe -v error -count_packets -select_streams v -show_entries stream=nb_read_packets -of csv=p=0 "$OUT/ours-$1.mp4")
    printf '%-10s %-12s %-18s %-18s %s\n' "$1" "$2@$3" "$cli" "$ours" "$n"
    [ "$cli" = "$ours" ] || status=1
done
[ $status = 0 ] && echo "all identical" || echo "DIFFERENT"
exit $status
