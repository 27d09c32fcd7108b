# Shared by the benchmarks that run a local cloud and an API from the release build:
#   . bench/lib.sh                 (after `cd` to the repository and setting BENCH=<name>)
# Every process started through these helpers, or added to PIDS, is stopped on exit, and the
# work directory WORK is removed.

T=$(cd "${CARGO_TARGET_DIR:-target}/release" && pwd)
WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p bench/results

say() { printf '%s: %s\n' "$BENCH" "$*" >&2; }

# need_free_mb MB: stop unless the disk that holds WORK has MB free.
need_free_mb() {
    local free_mb
    free_mb=$(df -Pm "$WORK" | awk 'NR == 2 {print $4}')
    [ "$free_mb" -gt "$1" ] || { say "needs about $1 MB free disk, $free_mb MB free"; exit 1; }
}

# start_local DIR: `flightdeck local up --no-fleet` with its runtime and state under DIR (the
# caller's environment passes through). Sets LOCAL (its pid), ENDPOINT and EMULATOR (its pid).
start_local() {
    local dir=$1
    mkdir -p "$dir/runtime" "$dir/state"
    FLIGHTDECK_RUNTIME_DIR="$dir/runtime" FLIGHTDECK_STATE_DIR="$dir/state" \
        "$T/flightdeck" local up --no-fleet >"$dir/local.log" 2>&1 &
    LOCAL=$!
    PIDS+=("$LOCAL")
    for _ in $(seq 1 240); do
        grep -q endpoint "$dir/runtime/running.json" 2>/dev/null && break
        sleep 0.5
    done
    ENDPOINT=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['endpoint'])" \
        "$dir/runtime/running.json")
    EMULATOR=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['emulator_pid'])" \
        "$dir/runtime/running.json")
}

# start_api DIR [FLAG...]: `flightdeck-api` on a free port against ENDPOINT, its data under
# DIR. Sets API (its pid) and API_PORT; returns once it answers /api/health.
start_api() {
    local dir=$1
    shift
    mkdir -p "$dir/data"
    API_PORT=$(python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])")
    AWS_ENDPOINT_URL=$ENDPOINT AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=flightdeck-local \
        AWS_SECRET_ACCESS_KEY=flightdeck-local-secret RUST_LOG=warn \
        FLIGHTDECK_JWT_SECRET=bench-secret-bench-secret-bench-secret-bench \
        "$T/flightdeck-api" --listen "127.0.0.1:$API_PORT" --data-dir "$dir/data" "$@" \
        >"$dir/api.log" 2>&1 &
    API=$!
    PIDS+=("$API")
    for _ in $(seq 1 100); do
        curl -sf "http://127.0.0.1:$API_PORT/api/health" >/dev/null && return 0
        sleep 0.2
    done
    say "the API did not answer on port $API_PORT; its log:"
    cat "$dir/api.log" >&2
    return 1
}

# upload_scenario FILE RATE SECONDS: an open-model load run of 4 MB uploads.
upload_scenario() {
    cat >"$1" <<TOML
description = "Open model: $2 uploads/s for $3 s (4 MB)"
[open]
phases = [{ duration = "${3}s", rate = $2 }]
[[steps]]
upload = { video = "4mb" }
TOML
}
