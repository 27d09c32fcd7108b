#!/usr/bin/env bash
# The load runner against the local API (release builds): its peak req/s and p50/p99 next to
# oha on the same endpoint in the same run, alternating runs, same connections and duration;
# then WORKLOAD.md's 4 MB and 50 MB upload scenarios through `flightdeck load run`.
# Starts a private local cloud (`flightdeck local up --no-fleet`, its own runtime dir) and one
# `flightdeck-api` on a free port, and stops both on exit.
# Writes bench/results/load-<date>.md.
#
#   bench/load.sh                                   # RUNS=3 CONC=50 DURATION=10s N4=100 N50=20
#   RUNS=1 DURATION=5s N4=20 N50=4 bench/load.sh    # quick
#   PROFILE=dev bench/load.sh                       # skip the release build (not for the record)
#   BUILD=0 bench/load.sh                           # use the binaries already in target/
set -euo pipefail

cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
CONC=${CONC:-50}
DURATION=${DURATION:-10s}
N4=${N4:-100}
N50=${N50:-20}
PROFILE=${PROFILE:-release}
OHA=${OHA:-$(command -v oha || echo "$HOME/.cache/flightdeck/tools/oha/bin/oha")}
WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p bench/results

command -v python3 >/dev/null || { echo "missing python3" >&2; exit 1; }
if [ ! -x "$OHA" ]; then
    echo "installing oha into ~/.cache/flightdeck/tools/oha (once; a few minutes)" >&2
    cargo install oha --locked --root "$HOME/.cache/flightdeck/tools/oha"
    OHA="$HOME/.cache/flightdeck/tools/oha/bin/oha"
fi

# BUILD=0 uses the binaries already built (e.g. while the tree does not compile).
if [ "$PROFILE" = release ]; then
    . bench/build.sh && bench_build release
    T=${CARGO_TARGET_DIR:-target}/release
else
    . bench/build.sh && bench_build debug
    T=${CARGO_TARGET_DIR:-target}/debug
fi

# A private local cloud: its own runtime dir, so it neither sees nor disturbs another one;
# its own state dir, so the runs' audit entries stay out of the operator's audit log.
export FLIGHTDECK_RUNTIME_DIR="$WORK/runtime" FLIGHTDECK_STATE_DIR="$WORK/state"
mkdir -p "$FLIGHTDECK_RUNTIME_DIR"
NOFLEET=""
if "$T/flightdeck" local up --help | grep -q -- --no-fleet; then NOFLEET=--no-fleet; fi
"$T/flightdeck" local up $NOFLEET >"$WORK/local.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 240); do
    [ -s "$FLIGHTDECK_RUNTIME_DIR/running.json" ] && break
    sleep 0.5
done
ENDPOINT=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['endpoint'])" \
    "$FLIGHTDECK_RUNTIME_DIR/running.json") || { cat "$WORK/local.log" >&2; exit 1; }
PORT=$(python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])")
API="http://127.0.0.1:$PORT"
AWS_ENDPOINT_URL=$ENDPOINT AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=flightdeck-local \
    AWS_SECRET_ACCESS_KEY=flightdeck-local-secret RUST_LOG=warn \
    "$T/flightdeck-api" --listen "127.0.0.1:$PORT" --data-dir "$WORK/data" >"$WORK/api.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 120); do
    python3 -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=2)" \
        "$API/api/health" 2>/dev/null && break
    sleep 0.5
done
echo "emulator $ENDPOINT, API $API" >&2

peak_scenario() { # path
    cat >"$WORK/peak.toml" <<EOF
description = "$CONC VUs, no think time, GET $1 for $DURATION"
timeout = "10s"
[closed]
vus = $CONC
duration = "$DURATION"
graceful_stop = "2s"
[[steps]]
get = "$1"
EOF
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
for path in /api/health /metrics; do
    name=$(echo "$path" | tr -c 'a-z\n' '_')
    peak_scenario "$path"
    for run in $(seq 1 "$RUNS"); do
        "$T/flightdeck" load run "$WORK/peak.toml" --target "$API" --json \
            >"$WORK/ours$name-$run.json" 2>/dev/null || true
        "$OHA" -z "$DURATION" -c "$CONC" --no-tui --output-format json "$API$path" \
            >"$WORK/oha$name-$run.json"
        echo "$path run $run done" >&2
    done
done

upload_scenario() { # file, preset, vus, iterations
    cat >"$1" <<EOF
description = "$3 VUs uploading WORKLOAD.md $2 videos back to back, $4 uploads in all"
timeout = "120s"
[closed]
vus = $3
duration = "10m"
iterations = $4
[[steps]]
upload = { video = "$2" }
EOF
}
upload_scenario "$WORK/up4.toml" 4mb 5 "$N4"
upload_scenario "$WORK/up50.toml" 50mb 2 "$N50"
for size in 4 50; do
    "$T/flightdeck" load run "$WORK/up$size.toml" --target "$API" --json \
        >"$WORK/up$size.json" 2>"$WORK/up$size.err" || true
    echo "upload $size MB done" >&2
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

DATE=$(date -u +%Y-%m-%d)
RESULT="bench/results/load-$DATE.md"
if [ -e "$RESULT" ]; then RESULT="bench/results/load-$DATE-$(date -u +%H%M).md"; fi
python3 - "$WORK" "$RUNS" "$CONC" "$DURATION" "$N4" "$N50" "$LOAD_BEFORE" "$LOAD_AFTER" \
    "$("$OHA" --version)" "$PROFILE" >"$RESULT" <<'PY'
import glob, json, os, platform, statistics, subprocess, sys
work, runs, conc, duration, n4, n50, lb, la, oha_version, profile = sys.argv[1:]
def sh(c):
    return subprocess.run(c, shell=True, capture_output=True, text=True).stdout.strip()
def load(p):
    try:
        return json.load(open(p))
    except Exception:
        return None
cpu = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip()
virt = sh("lscpu | sed -n 's/^Hypervisor vendor: *//p'")
cpu += f" ({virt} guest)" if virt else ""
print(f"# Load runner benchmark, {sh('date -u +%Y-%m-%dT%H:%MZ')}\n")
print(f"`bench/load.sh`: `flightdeck load run` ({profile} build) and oha against one")
print(f"`flightdeck-api` ({profile} build, SQLite) on 127.0.0.1, backed by a private moto 5.2.5.")
print(f"Peak rate: {conc} connections, no think time, {duration} per run, the two tools alternating;")
print("latency as each tool reports it (closed loop, from send to whole response).")
print("`GET /api/health` asks SQLite and the emulator's SQS on every call; `GET /metrics` is")
print("served from memory, so there the client's own cost shows.\n")
build = os.environ.get("BUILD", "1")
print(f"- command: `RUNS={runs} CONC={conc} DURATION={duration} N4={n4} N50={n50} PROFILE={profile}" + (" BUILD=0" if build == "0" else "") + " bench/load.sh`")
dirty = sh("git status --porcelain -- load console | wc -l")
print(f"- git commit: {sh('git rev-parse --short HEAD')}" + (" (with uncommitted load/console changes)" if dirty != "0" else ""))
mem = sh("free -g | awk '/Mem:/{print $2\" GiB\"}'")
print(f"- machine: {sh('nproc')} cores, {cpu}, {mem} RAM, {platform.system()} {platform.release()}")
print(f"- tools: {sh('rustc --version')}; {oha_version} (release, from crates.io); build profile of flightdeck and the API: {profile}")
print(f"- load average before: {lb}; after: {la} (client, API and emulator share the cores; other engineers' builds may run)\n")

print("## Peak request rate\n")
print("| endpoint | tool | runs | req/s median | min | max | p50 median | p99 median | errors |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
ms = lambda s: f"{s*1000:.2f} ms" if s is not None else "–"
ratios = []
for path in ["/api/health", "/metrics"]:
    name = "".join(c if c.isalpha() or c == "\n" else "_" for c in path)
    ours, theirs = [], []
    for f in sorted(glob.glob(f"{work}/ours{name}-*.json")):
        r = load(f)
        if r and r.get("latency"):
            errs = sum(r["errors"].values())
            ours.append((r["requests"]["rps_mean"], r["latency"]["median"], r["latency"]["p99"], errs))
    for f in sorted(glob.glob(f"{work}/oha{name}-*.json")):
        r = load(f)
        if r:
            s = r.get("summary", {})
            p = r.get("latencyPercentiles", {})
            # oha cuts off the requests still in flight at the deadline; not server errors.
            errs = sum(v for k, v in (r.get("errorDistribution") or {}).items() if "deadline" not in k)
            codes = r.get("statusCodeDistribution") or {}
            errs += sum(v for k, v in codes.items() if not str(k).startswith("2"))
            theirs.append((s.get("requestsPerSec", 0.0), p.get("p50"), p.get("p99"), errs))
    for tool, rows in [("flightdeck load run", ours), ("oha", theirs)]:
        if not rows:
            print(f"| `GET {path}` | {tool} | 0 | – | – | – | – | – | – |")
            continue
        rps = [r[0] for r in rows]
        p50 = statistics.median([r[1] for r in rows if r[1] is not None] or [0])
        p99 = statistics.median([r[2] for r in rows if r[2] is not None] or [0])
        print(f"| `GET {path}` | {tool} | {len(rows)} | {statistics.median(rps):.0f} | {min(rps):.0f} | {max(rps):.0f} | {ms(p50)} | {ms(p99)} | {sum(r[3] for r in rows)} |")
    if ours and theirs:
        o, t = statistics.median([r[0] for r in ours]), statistics.median([r[0] for r in theirs])
        o50, t50 = statistics.median([r[1] for r in ours]), statistics.median([r[1] for r in theirs])
        o99, t99 = statistics.median([r[2] for r in ours]), statistics.median([r[2] for r in theirs])
        ratios.append((path, o / t if t else 0, o50 / t50 if t50 else 0, o99 / t99 if t99 else 0))
print()
for path, r, r50, r99 in ratios:
    print(f"- `GET {path}`: flightdeck/oha req/s = {r:.2f}x (target >= 0.9x); p50 ratio {r50:.2f}, p99 ratio {r99:.2f} (target within 10 %: 0.90-1.10)")
print()

print("## Uploads (WORKLOAD.md inputs)\n")
print("Closed model, VUs upload back to back (no think time); each VU signs up and logs in")
print("once (not counted). Latency is until the API's 201: the object is stored in S3 (the")
print("emulator), the row written and the message queued; the original's figures excluded the")
print("S3 transfer.\n")
print("| input | VUs | uploads | completed | req/s mean | MB/s sent | min | median | p95 | p99 | max | errors |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
for size, vus in [("4", 5), ("50", 2)]:
    r = load(f"{work}/up{size}.json")
    if not r:
        err = open(f"{work}/up{size}.err").read().strip().splitlines()[-1:] if os.path.exists(f"{work}/up{size}.err") else []
        print(f"| {size} MB | {vus} | – | – | – | – | – | – | – | – | – | run failed: {' '.join(err)} |")
        continue
    l = r.get("latency") or {}
    q = r["requests"]
    mbs = q["bytes_sent"] / 1e6 / r["duration_s"] if r["duration_s"] else 0
    f = lambda k: f"{l[k]*1000:.0f} ms" if k in l else "–"
    errs = ", ".join(f"{k} {v}" for k, v in r["errors"].items()) or "none"
    print(f"| {size} MB | {vus} | {q['sent']} | {q['completed_pct']:.1f} % | {q['rps_mean']:.2f} | {mbs:.1f} | {f('min')} | {f('median')} | {f('p95')} | {f('p99')} | {f('max')} | {errs} |")
print("| original, 4 MB (2-4 t3.small + ALB, WORKLOAD.md) | | | | 35.2 | | | | 298 ms | | | |")
print("| original, 50 MB | | | | 2.7 | | | | 4.6 s | | | |")
PY
echo "wrote $RESULT" >&2
cat "$RESULT"
