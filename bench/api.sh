#!/usr/bin/env bash
# Upload API benchmark on the local cloud: WORKLOAD.md's 4 MB input uploaded through
# `flightdeck-api` (release build) at concurrency 1, 5 and 20 (req/s, p50/p95/p99, the API's
# peak RSS), then its 100 MB input x 10 concurrent (peak RSS above idle: must stay under
# 64 MB). Every phase is repeated with the same file, count and concurrency sent straight to
# the emulator's S3 PutObject, for the API's overhead as a ratio; the paths take turns in
# three rounds, their order turning, so none always runs first on a freshly reset emulator. The client is
# api/examples/upload_bench.rs (it starts its own emulator and API and stops both).
# Writes bench/results/api-<date>.md.
#
#   bench/api.sh                           # the full run (~5 min)
#   N1=10 N5=20 N20=40 N100=10 bench/api.sh
#   NO_BUILD=1 bench/api.sh                # use the release binaries already built
#   FLIGHTDECK_API_PART_BUFFERS=20 bench/api.sh   # the API's shared part buffers (default 8)
set -euo pipefail

cd "$(dirname "$0")/.."
CACHE=${BENCH_CACHE:-$HOME/.cache/flightdeck/bench}
N1=${N1:-30}
N5=${N5:-300}
N20=${N20:-300}
N100=${N100:-10}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
mkdir -p "$CACHE" bench/results

for tool in ffmpeg python3; do
    command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 1; }
done

make_input() { # name, then the recipe's arguments
    local name=$1; shift
    if [ ! -s "$CACHE/$name" ]; then
        echo "generating $CACHE/$name (once; the 100 MB input takes a few minutes)" >&2
        ffmpeg -hide_banner -loglevel error -y "$@" "$CACHE/$name.tmp.mp4"
        mv "$CACHE/$name.tmp.mp4" "$CACHE/$name"
    fi
}
# WORKLOAD.md's recipes, verbatim.
make_input in4.mp4 -f lavfi -i testsrc2=size=1280x720:rate=30 -t 20 -vf noise=alls=12:allf=t \
    -c:v libx264 -preset veryfast -b:v 1550k -maxrate 2M -bufsize 3M
make_input in100.mp4 -f lavfi -i testsrc2=size=1920x1080:rate=30 -f lavfi -i sine -t 120 \
    -vf noise=alls=12:allf=t -c:v libx264 -preset veryfast -b:v 6500k -maxrate 8M -bufsize 12M \
    -c:a aac -b:a 128k -shortest

# The benchmarks' one build (bench/build.sh), so they share the build cache. NO_BUILD=1 uses
# the binaries already in target/release (e.g. while another build holds the cargo lock).
. bench/build.sh && bench_build release
T=${CARGO_TARGET_DIR:-target}/release

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
RUST_LOG=warn "$T/examples/upload_bench" --api-bin "$T/flightdeck-api" \
    --phase "$CACHE/in4.mp4:1:$N1" --phase "$CACHE/in4.mp4:5:$N5" \
    --phase "$CACHE/in4.mp4:20:$N20" --phase "$CACHE/in100.mp4:10:$N100" >"$OUT/phases.jsonl"
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

DATE=$(date -u +%Y-%m-%d)
RESULT="bench/results/api-$DATE.md"
if [ -e "$RESULT" ]; then RESULT="bench/results/api-$DATE-$(date -u +%H%M).md"; fi
python3 - "$OUT/phases.jsonl" "$N1" "$N5" "$N20" "$N100" "$LOAD_BEFORE" "$LOAD_AFTER" \
    >"$RESULT" <<'PY'
import json, platform, statistics, subprocess, sys
path, n1, n5, n20, n100, lb, la = sys.argv[1:]
def sh(c):
    return subprocess.run(c, shell=True, capture_output=True, text=True).stdout.strip()
rows = [json.loads(l) for l in open(path) if l.strip()]
cpu = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip()
virt = sh("lscpu | sed -n 's/^Hypervisor vendor: *//p'")
cpu += f" ({virt} guest)" if virt else ""
print(f"# Upload API benchmark, {sh('date -u +%Y-%m-%dT%H:%MZ')}\n")
print("`bench/api.sh`: `flightdeck-api` (release build, SQLite, `RUST_LOG=info` to a file) on")
print("127.0.0.1 against a private moto 5.2.5; client `api/examples/upload_bench.rs`, one")
print("connection per request, multipart `video_file` + `title`. A request counts when it")
print("answered 201, i.e. the object is complete in S3, the row is written and the message is")
print("on the queue. `S3 direct` sends the same file with PutObject (AWS SDK) at the same")
print("concurrency, with the SDK's defaults (the payload's SHA-256 signed); `S3 direct, unsigned`")
print("sends it as the API does (unsigned payload; the SDK's CRC32 in a signed header). Each")
print("phase starts a fresh API process: one warm-up upload, then its idle RSS; peak RSS is the")
print("API's VmRSS sampled every 10 ms during the phase (the S3 rows show the API idle). The three")
print("paths take turns, three rounds of a third of the requests each (one round when a third")
print("would be fewer than the concurrency), the order turning each round, so none always runs")
print("first after a reset; each row pools its turns. Before them one round of the same size runs")
print("every path uncounted: the first turn after the API's start and its idle wait costs the")
print("emulator about a third more CPU (its memory and page cache coming back), and it always fell")
print("to the API's path before this warm-up (results up to api-2026-12-05-1447). Objects and messages are removed after")
print("every turn. CPU per request is each process's user + system time over its turns (/proc),")
print("divided by requests answered; in the S3 rows the API is idle and the client does the")
print("SDK's signing and checksums. The emulator's peak RSS is sampled every 10 ms during each")
print("path's turns (it keeps object data over 64 KiB on disk; this is the memory the requests")
print("themselves take).\n")
print(f"- command: `N1={n1} N5={n5} N20={n20} N100={n100} bench/api.sh`")
dirty = sh("git status --porcelain -- api store stack | wc -l")
print(f"- git commit: {sh('git rev-parse --short HEAD')}" + (" (with uncommitted api changes)" if dirty != "0" else ""))
mem = sh("free -g | awk '/Mem:/{print $2\" GiB\"}'")
print(f"- machine: {sh('nproc')} cores, {cpu}, {mem} RAM, {platform.system()} {platform.release()}")
print(f"- rustc: {sh('rustc --version')}")
print(f"- load average before: {lb}; after: {la} (client, API and emulator share the cores)")
print("- build profile: release\n")
print("| file | concurrency | path | requests ok/sent | req/s | p50 ms | p95 ms | p99 ms | API peak RSS MB | above its idle MB | API/S3 req/s | API/S3 unsigned req/s | CPU ms/request: emulator, API, client | emulator peak RSS MB |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
by = {(r["file"], r["concurrency"], r["mode"]): r for r in rows}
names = {"api": "API", "s3": "S3 direct", "s3-unsigned": "S3 direct, unsigned"}
for r in rows:
    def ratio(mode):
        base = by.get((r["file"], r["concurrency"], mode))
        return f"{r['rps'] / base['rps']:.2f}" if r["mode"] == "api" and base else ""
    rss = f"{r['api_peak_rss_mb']:.1f}" if r["mode"] == "api" else "(API idle)"
    above = f"{r['api_peak_rss_mb'] - r['api_idle_rss_mb']:.1f}" if r["mode"] == "api" else ""
    size = f"{r['file']} ({r['bytes'] / 1e6:.1f} MB)"
    c = r.get("cpu_ms_per_request", {})
    cpu = ", ".join(f"{c[k]:.1f}" for k in ("emulator", "api", "client") if k in c)
    emu = f"{r['emulator_peak_rss_mb']:.0f}" if "emulator_peak_rss_mb" in r else ""
    print(f"| {size} | {r['concurrency']} | {names[r['mode']]} | {r['ok']}/{r['requests']} | {r['rps']:.1f} | {r['p50_ms']:.0f} | {r['p95_ms']:.0f} | {r['p99_ms']:.0f} | {rss} | {above} | {ratio('s3')} | {ratio('s3-unsigned')} | {cpu} | {emu} |")
big = [r for r in rows if r["mode"] == "api" and r["bytes"] > 50e6]
if big:
    above = max(r["api_peak_rss_mb"] - r["api_idle_rss_mb"] for r in big)
    verdict = "PASS" if above < 64 else "FAIL"
    print(f"\n100 MB x {big[0]['concurrency']} concurrent: peak RSS {above:.1f} MB above idle (target < 64 MB): **{verdict}**.")
paired = []
for r in rows:
    base = by.get((r["file"], r["concurrency"], "s3"))
    if r["mode"] != "api" or not base or len(r.get("turns", [])) < 2:
        continue
    ratios = sorted(a["rps"] / b["rps"] for a, b in zip(r["turns"], base["turns"]))
    each = ", ".join(f"{x:.2f}" for x in ratios)
    paired.append(f"- {r['file']} at concurrency {r['concurrency']}: median {statistics.median(ratios):.2f} ({each})")
if paired:
    print("\nAPI/S3 req/s paired per round (each round runs one turn of every path, back to back):\n")
    print("\n".join(paired))
print("\nThe original's figure (WORKLOAD.md, AWS, S3 transfer excluded): 4 MB p95 298 ms at 35.2 req/s.")
print("\nRaw phases (JSON lines):\n\n```")
for r in rows:
    print(json.dumps(r))
print("```")
PY
echo "wrote $RESULT" >&2
cat "$RESULT"
