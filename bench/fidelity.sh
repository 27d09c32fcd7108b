#!/usr/bin/env bash
# Checks that transform() produces the same pictures as the FFmpeg CLI on awkward inputs: 25, 60
# and 29.97 fps, portrait, 4:3, ultra-wide and longer than 30 s.
#
# transform() encodes the intro and outro once (kept in a segment cache) and joins them to each
# job's encoded upload at the bitstream level. So the CLI reference does the same with the
# reference command's filters (WORKLOAD.md, with the fps=30 fix): the intro and the upload each
# encoded alone with the same settings, joined with the concat demuxer (`-c copy`). Columns:
#   same   per-frame MD5s of the whole decoded output equal the CLI's
#   upload the upload's frames equal the CLI's encoding of the upload alone
#   valid  ffprobe counts intro + upload + outro frames, the duration matches, there is a
#          keyframe at each join, and FFmpeg decodes it all with -err_detect explode
#   psnr   against the one-pass CLI reference (one encoder for all three parts), whose encoder
#          state differs at the joins: how close, in dB (informational)
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${BENCH_CACHE:-$HOME/.cache/flightdeck/bench}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
mkdir -p "$CACHE"
[ "${NO_BUILD:-0}" = 1 ] || cargo build --release --quiet -p media --example transform
BIN=${CARGO_TARGET_DIR:-target}/release/examples/transform
[ -s "$CACHE/intro.mp4" ] || ffmpeg -v error -y -f lavfi -i color=c=0x1d3557:s=1280x720:r=30:d=2 -c:v libx264 -preset veryfast "$CACHE/intro.mp4"
[ -s "$CACHE/watermark.png" ] || ffmpeg -v error -y -f lavfi -i "color=c=white@0.8:s=160x60,format=rgba" -frames:v 1 "$CACHE/watermark.png"

F="fps=30,scale=1280:720:force_original_aspect_ratio=decrease,pad=1280:720:(ow-iw)/2:(oh-ih)/2,setsar=1"
W="overlay=main_w-overlay_w-10:10"
FC="[0:v]$F[a];[1:v]trim=0:30,setpts=PTS-STARTPTS,$F[b];[2:v]$F[c];[a][3:v]$W[a2];[b][3:v]$W[b2];[c][3:v]$W[c2];[a2][b2][c2]concat=n=3:v=1:a=0[v]"
ENC=(-c:v libx264 -preset ultrafast -crf 25 -pix_fmt yuv420p -an -threads 2)
frames_md5() { ffmpeg -v error -i "$1" -map 0:v -f framemd5 - | grep -v '^#' | awk -F, '{print $NF}'; }
digest() { md5sum | cut -c1-16; }

# The CLI's intro (and outro: the same file), encoded alone.
ffmpeg -v error -y -i "$CACHE/intro.mp4" -i "$CACHE/watermark.png" -filter_complex "[0:v]$F[a];[a][1:v]$W[v]" \
    -map "[v]" "${ENC[@]}" "$OUT/cli-intro.mp4"
intro_frames=$(frames_md5 "$OUT/cli-intro.mp4" | wc -l)

valid() { # file, expected frames, upload frames: prints yes or what is wrong
    local f=$1 want=$2 up=$3 n dur keys err
    n=$(ffprobe -v error -count_frames -select_streams v -show_entries stream=nb_read_frames -of csv=p=0 "$f")
    dur=$(ffprobe -v error -select_streams v -show_entries stream=duration -of csv=p=0 "$f")
    keys=$(ffprobe -v error -select_streams v -show_entries packet=pts_time,flags -of csv=p=0 "$f" |
        awk -F, '$2 ~ /^K/ {printf "%s%d", s, $1 * 30 + 0.5; s=" "}')
    err=$(ffmpeg -v error -xerror -err_detect explode -i "$f" -f null - 2>&1 | head -1)
    local k missing=""
    for k in 0 "$intro_frames" $((intro_frames + up)); do
        [[ " $keys " == *" $k "* ]] || missing="$missing $k"
    done
    if [ "$n" != "$want" ]; then echo "frames $n != $want"
    elif ! python3 -c "import sys; sys.exit(abs($dur - $want / 30) > 0.04)"; then echo "duration $dur"
    elif [ -n "$err" ]; then echo "decode: $err"
    elif [ -n "$missing" ]; then echo "no keyframe at$missing (keyframes at $keys)"
    else echo yes; fi
}

RESULT=${RESULT:-bench/results/fidelity-$(date -u +%Y-%m-%d-%H%M).md}
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
exec 3>&1 1>"$OUT/table.txt"
status=0
printf '%-6s %-18s %-6s %-6s %-7s %-8s %s\n' case size/rate same upload valid psnr frames
for c in "a25 320x240 25 3" "p60 240x320 60 2" "ntsc 640x480 30000/1001 4" "wide 480x200 24 2" "long 160x120 30 33"; do
    set -- $c
    ffmpeg -v error -y -f lavfi -i "testsrc2=size=$2:rate=$3" -t "$4" -c:v libx264 -preset ultrafast "$OUT/$1.mp4"
    # The CLI, split as transform() splits: the upload encoded alone, joined to the intro twice.
    ffmpeg -v error -y -i "$OUT/$1.mp4" -i "$CACHE/watermark.png" \
        -filter_complex "[0:v]trim=0:30,setpts=PTS-STARTPTS,$F[b];[b][1:v]$W[v]" -map "[v]" "${ENC[@]}" "$OUT/cli-up-$1.mp4"
    printf "file '%s'\n" "$OUT/cli-intro.mp4" "$OUT/cli-up-$1.mp4" "$OUT/cli-intro.mp4" >"$OUT/list-$1.txt"
    ffmpeg -v error -y -f concat -safe 0 -i "$OUT/list-$1.txt" -c copy "$OUT/cli-$1.mp4"
    # The one-pass reference command, for the PSNR column.
    ffmpeg -v error -y -i "$CACHE/intro.mp4" -i "$OUT/$1.mp4" -i "$CACHE/intro.mp4" -i "$CACHE/watermark.png" \
        -filter_complex "$FC" -map "[v]" "${ENC[@]}" "$OUT/onepass-$1.mp4"
    "$BIN" --intro "$CACHE/intro.mp4" --watermark "$CACHE/watermark.png" --segment-cache "$OUT/segments" \
        "$OUT/$1.mp4" "$OUT/ours-$1.mp4" >/dev/null
    up=$(frames_md5 "$OUT/cli-up-$1.mp4" | wc -l)
    total=$(frames_md5 "$OUT/ours-$1.mp4" | wc -l)
    same=no; [ "$(frames_md5 "$OUT/cli-$1.mp4" | digest)" = "$(frames_md5 "$OUT/ours-$1.mp4" | digest)" ] && same=yes
    upload=no
    [ "$(frames_md5 "$OUT/cli-up-$1.mp4" | digest)" = "$(frames_md5 "$OUT/ours-$1.mp4" | sed -n "$((intro_frames + 1)),$((intro_frames + up))p" | digest)" ] && upload=yes
    ok=$(valid "$OUT/ours-$1.mp4" $((2 * intro_frames + up)) "$up")
    psnr=$(ffmpeg -v info -i "$OUT/ours-$1.mp4" -i "$OUT/onepass-$1.mp4" -lavfi psnr -f null - 2>&1 |
        sed -n 's/.*average:\([0-9.inf]*\).*/\1/p' | tail -1)
    printf '%-6s %-18s %-6s %-6s %-7s %-8.1f %s\n' "$1" "$2@$3" "$same" "$upload" "$ok" "$psnr" "$total"
    [ "$same" = yes ] && [ "$upload" = yes ] && [ "$ok" = yes ] || status=1
done
[ $status = 0 ] && echo "all identical and valid" || echo "DIFFERENT or INVALID"
exec 1>&3
{
    echo "# Transform fidelity, $(date -u +%Y-%m-%dT%H:%MZ)"
    echo
    echo "\`bench/fidelity.sh\` at commit $(git rev-parse --short HEAD)$(git status --porcelain -- media | grep -q . && echo ' (with uncommitted media changes)'): transform() against the FFmpeg CLI"
    echo "split as transform() splits (intro and upload each encoded alone, joined with the concat"
    echo "demuxer), on awkward inputs. See the script's header for the columns."
    echo
    echo "- machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'); $(ffmpeg -version | head -1 | cut -d' ' -f1-3)"
    echo "- load average before: $LOAD_BEFORE; after: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo
    echo '```'
    cat "$OUT/table.txt"
    echo '```'
} >"$RESULT"
cat "$OUT/table.txt"
echo "wrote $RESULT"
exit $status
