#!/usr/bin/env bash
# Every benchmark in this folder, one after another, each on a quiet machine (issue 19, item 5).
# First the release builds, in one cargo invocation, so no script builds during its run. Then
# for each script:
#   1. wait until the machine is quiet: under QUIET_CORES (0.15) of a core busy over 5 s, for
#      at most QUIET_WAIT_S (600) s (the result says if it never was);
#   2. run it with its defaults, in a cgroup of its own where one can be made (cgroup v1
#      cpuacct or v2), so the CPU of everything it starts is counted apart from the rest of
#      the machine; the 1-minute load average is sampled every 5 s meanwhile;
#   3. append "## The machine during the run" to each result file it wrote: the load average
#      before, its median and highest over the run (the benchmark's own processes count in it:
#      one that keeps both cores busy reads about 2 by itself), the benchmark's CPU, and the
#      CPU used outside it (the machine's busy time from /proc/stat less the cgroup's), the
#      honest measure of a quiet machine; and anything the script left running (stopped here).
# Writes bench/results/all-<YYYY-MM-DD-HHMM>.md (UTC): one row per script.
#
#   bench/all.sh                                   # everything, in the order below (about 3 h)
#   ONLY="api worker console" bench/all.sh         # some of them
#   SKIP="soak first-run first-demo" bench/all.sh  # all but these
#   NO_BUILD=1 bench/all.sh                        # the release builds already made
#   RUNS=5 INPUTS=in50 ONLY=worker bench/all.sh    # settings pass through to the scripts
#
# To stop it midway: Ctrl-C at its terminal, or `kill -- -<pgid>` for its process group (a
# signal to the shell alone waits for the running script to finish).
#
# The order puts issue 19's targets first (transform, worker, console, api), then the other
# comparisons, the emulator's own, the long runs (soak about 40 min, the two overload runs
# about 10 min each) and last the two fresh-clone runs (first-run, first-demo), which build
# from nothing in a folder of their own and so take 20 minutes between them.
set -euo pipefail
cd "$(dirname "$0")/.."

ORDER="transform worker console api redrive load fidelity worker-memory emulator-puts
emulator-connections emulator-ranges emulator-listing emulator-bodies emulator-history
api-overload local-storage soak first-demo first-run"
QUIET_CORES=${QUIET_CORES:-0.15}
QUIET_WAIT_S=${QUIET_WAIT_S:-600}
STAMP=$(date -u +%Y-%m-%d-%H%M)
SUMMARY=bench/results/all-$STAMP.md
say() { printf 'all: %s\n' "$*" >&2; }

# Settings for the record, where a script's default would compare a revision with itself: the
# emulator benchmarks that take a base launcher measure the round's fixes against the launcher
# before them (bdda170: before request bodies were read in one piece and written once;
# 897934c: before models were freed and log events and metric data bounded).
settings() {
    case $1 in
        emulator-puts) echo "BASE=bdda170 TRIALS=5" ;;
        emulator-history) echo "BASE=897934c" ;;
        # taws, the console's peer, takes about 15 minutes to build the first time: only
        # with TAWS=1 (the console's own baseline, every queue at the full refresh, always runs).
        console) echo "TAWS=${TAWS:-0}" ;;
        # The fresh-clone runs measure a cold build: not into the shared target folder.
        first-run | first-demo) echo "-u CARGO_TARGET_DIR" ;;
    esac
}

# The scripts to run: ONLY, else ORDER less SKIP; each must exist.
scripts=()
for s in ${ONLY:-$ORDER}; do
    case " ${SKIP:-} " in *" $s "*) continue ;; esac
    [ -x "bench/$s.sh" ] || { say "no bench/$s.sh"; exit 1; }
    scripts+=("$s")
done

# busy_ticks: the machine's busy CPU time so far, in clock ticks (user, nice, system, irq,
# softirq; not idle, iowait or steal), and steal on its own: "busy steal".
busy_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $9 }' /proc/stat; }
HZ=$(getconf CLK_TCK)

# quiet_wait: returns once the machine used under QUIET_CORES of a core over 5 s; prints the
# seconds waited, or "never" after QUIET_WAIT_S.
quiet_wait() {
    local waited=0 a b
    while [ "$waited" -lt "$QUIET_WAIT_S" ]; do
        read -r a _ < <(busy_ticks)
        sleep 5
        read -r b _ < <(busy_ticks)
        waited=$((waited + 5))
        if awk -v d=$((b - a)) -v hz="$HZ" -v q="$QUIET_CORES" 'BEGIN { exit !(d / hz / 5 < q) }'; then
            echo "$waited"
            return
        fi
    done
    echo never
}

# A cgroup per script, for its CPU apart from the machine's: cgroup v1's cpuacct (nanoseconds
# in cpuacct.usage), else v2 (usage_usec in cpu.stat). CG stays empty where neither can be made.
cg_make() {
    CG=""
    local v1=/sys/fs/cgroup/cpuacct v2=/sys/fs/cgroup/unified
    [ -f /sys/fs/cgroup/cgroup.controllers ] && v2=/sys/fs/cgroup
    if [ -w "$v1" ] && mkdir "$v1/flightdeck-bench-$$" 2>/dev/null; then
        CG=$v1/flightdeck-bench-$$
    elif [ -w "$v2" ] && mkdir "$v2/flightdeck-bench-$$" 2>/dev/null; then
        CG=$v2/flightdeck-bench-$$
    fi
}
cg_usage_s() { # the group's CPU seconds so far
    if [ -f "$CG/cpuacct.usage" ]; then awk '{ printf "%.2f", $1 / 1e9 }' "$CG/cpuacct.usage"
    else awk '$1 == "usage_usec" { printf "%.2f", $2 / 1e6 }' "$CG/cpu.stat"; fi
}
cg_leftovers() { # stops what is still in the group; prints what it was
    local pid left=""
    while read -r pid; do
        [ -n "$pid" ] || continue
        left+="$pid:$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-60); "
        kill "$pid" 2>/dev/null || true
    done <"$CG/cgroup.procs"
    sleep 1
    while read -r pid; do kill -9 "$pid" 2>/dev/null || true; done <"$CG/cgroup.procs"
    printf '%s' "$left"
}
LOADS=""
SAMPLER=""
cleanup() {
    [ -z "$SAMPLER" ] || kill "$SAMPLER" 2>/dev/null || true
    [ -z "${CG:-}" ] || { cg_leftovers >/dev/null; rmdir "$CG" 2>/dev/null || true; }
    [ -z "$LOADS" ] || rm -f "$LOADS"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The release builds, once, in one cargo invocation: every binary and example the scripts
# run, the same build each script makes when run alone (bench/build.sh: a different package
# set would unify the dependencies' features differently, and cargo would build the AWS SDK
# again for each).
# Every script then runs with NO_BUILD=1 (load.sh and soak.sh: BUILD=0).
if [ "${NO_BUILD:-0}" != 1 ]; then
    say "building: cargo build --release --locked --workspace --bins --examples"
    . bench/build.sh && bench_build release
    # The peer tools two comparisons install on first use, installed here instead, where those
    # scripts look for them (console.sh: taws; load.sh: oha), so neither builds mid-run.
    tools=${FLIGHTDECK_CACHE_DIR:-$HOME/.cache/flightdeck}/tools
    case " ${TAWS:-0} ${scripts[*]} " in *" 1 "*" console "*)
        [ -x "$tools/taws/bin/taws" ] || { say "installing taws"; cargo install --quiet taws --root "$tools/taws"; } ;;
    esac
    case " ${scripts[*]} " in *" load "*)
        command -v oha >/dev/null || [ -x "$HOME/.cache/flightdeck/tools/oha/bin/oha" ] ||
            { say "installing oha"; cargo install --quiet oha --locked --root "$HOME/.cache/flightdeck/tools/oha"; } ;;
    esac
fi
export NO_BUILD=1 BUILD=0

mkdir -p bench/results
{
    echo "# Every benchmark on a quiet machine"
    echo
    echo "- command: \`${ONLY:+ONLY=\"$ONLY\" }${SKIP:+SKIP=\"$SKIP\" }bench/all.sh\` at commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- bench || echo ' (bench/ changed since)')"
    echo "- machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'), $(free -h | awk '/^Mem:/ {print $2}') memory, $(. /etc/os-release && echo "$PRETTY_NAME")"
    echo "- started: $(date -u +%Y-%m-%dT%H:%MZ); each script waited for under $QUIET_CORES of a core busy over 5 s"
    echo "- load average: the 1-minute figure, sampled every 5 s; the benchmark's own processes count in it"
    echo "- outside: the CPU the rest of the machine used during the script, in cores (a quiet machine: near 0)"
    echo
    echo "| script | result | exit | minutes | waited for quiet (s) | load before | load median / max | benchmark CPU (cores) | outside (cores) | steal (cores) | left running |"
    echo "| --- | --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | --- |"
} >"$SUMMARY"

for s in "${scripts[@]}"; do
    waited=$(quiet_wait)
    settings_s=$(settings "$s")
    say "$s${settings_s:+ ($settings_s)} (waited ${waited} s for a quiet machine)"
    marker=$(mktemp)
    load_before=$(cut -d' ' -f1 /proc/loadavg)
    LOADS=$(mktemp)
    (while sleep 5; do cut -d' ' -f1 /proc/loadavg; done >"$LOADS") &
    SAMPLER=$!
    cg_make
    read -r busy0 steal0 < <(busy_ticks)
    t0=$(date +%s.%N)
    set +e
    if [ -n "$CG" ]; then
        # The subshell joins the group first; the script and all it starts inherit it.
        (echo "$BASHPID" >"$CG/cgroup.procs" && exec env $(settings "$s") "bench/$s.sh")
    else
        env $(settings "$s") "bench/$s.sh"
    fi
    rc=$?
    set -e
    t1=$(date +%s.%N)
    read -r busy1 steal1 < <(busy_ticks)
    kill "$SAMPLER" 2>/dev/null || true
    wait "$SAMPLER" 2>/dev/null || true
    SAMPLER=""
    own=""
    left=""
    if [ -n "$CG" ]; then
        own=$(cg_usage_s)
        left=$(cg_leftovers)
        rmdir "$CG" 2>/dev/null || true
        CG=""
    fi
    read -r wall busy_c steal_c own_c out_c < <(awk -v t0="$t0" -v t1="$t1" -v b=$((busy1 - busy0)) \
        -v st=$((steal1 - steal0)) -v hz="$HZ" -v own="$own" 'BEGIN {
            w = t1 - t0; busy = b / hz / w
            if (own == "") { printf "%.1f %.2f %.2f - -\n", w, busy, st / hz / w }
            else { o = busy - own / w; if (o < 0) o = 0; printf "%.1f %.2f %.2f %.2f %.2f\n", w, busy, st / hz / w, own / w, o }
        }')
    read -r load_med load_max < <(sort -n "$LOADS" | awk '{ v[NR] = $1 } END {
        if (NR == 0) print "- -"; else print v[int((NR + 1) / 2)], v[NR] }')
    rm -f "$LOADS"
    LOADS=""
    # Each result file the script wrote: named after it (`<script>-<date>...`, so a result
    # edited by hand meanwhile is not taken for this one's) and new or changed since it started
    # (by time, so a file renamed meanwhile is not taken for a new one).
    mapfile -t written < <(find bench/results -newer "$marker" -type f -printf '%f\n' | grep -E "^$s-[0-9]{4}-" | sort)
    rm -f "$marker"
    for f in "${written[@]}"; do
        {
            echo
            echo "## The machine during the run"
            echo
            echo "Measured by \`bench/all.sh\` around this script: $(awk -v w="$wall" 'BEGIN { printf "%.1f", w / 60 }') minutes; the 1-minute load average $load_before before, median $load_med and at most $load_max over the run (sampled every 5 s, the benchmark's own processes included); the machine busy $busy_c cores on average, of which the benchmark ${own_c} and everything else ${out_c}$([ "$steal_c" = 0.00 ] || echo "; $steal_c cores stolen by the host")."
        } >>"bench/results/$f"
    done
    links=""
    for f in "${written[@]}"; do links+="${links:+, }[${f%.md}]($f)"; done
    printf '| %s | %s | %s | %.1f | %s | %s | %s / %s | %s | %s | %s | %s |\n' "$s${settings_s:+ ($settings_s)}" "${links:-none}" "$rc" \
        "$(awk -v w="$wall" 'BEGIN { print w / 60 }')" "$waited" "$load_before" "$load_med" "$load_max" \
        "$own_c" "$out_c" "$steal_c" "${left:-nothing}" >>"$SUMMARY"
    say "$s: exit $rc, $(awk -v w="$wall" 'BEGIN { printf "%.1f", w / 60 }') min, outside ${out_c} cores, wrote ${written[*]:-nothing}"
done
say "wrote $SUMMARY"
