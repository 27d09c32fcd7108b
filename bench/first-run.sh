#!/usr/bin/env bash
# The first run: how long a new machine takes from `git clone` to the README's test command
# finished (`./dev test`), and where the time goes. It clones the current commit into a
# temporary folder and runs `./dev setup` (system packages, crate downloads, the one workspace
# build, the emulator, checkov, schemathesis) and then `./dev test` (the setup again, now a
# no-op, then every test), timing each and the build's share of the first.
#
# Target (issue 19): under 20 minutes on a 2-core machine, from nothing.
#
#   bench/first-run.sh                      # cold: a new CARGO_HOME and target folder
#   CARGO_TARGET_DIR=~/.cache/x bench/first-run.sh   # keep the build for later use
#   WARM_CRATES=1 bench/first-run.sh        # crates already downloaded (the usual CARGO_HOME)
#
# What it cannot undo: system packages already installed stay installed (the result says
# which were missing). The result says whether the crate registry and target folder were cold.
# Writes bench/results/first-run-<YYYY-MM-DD-HHMM>.md (UTC) or $OUT.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${OUT:-bench/results/first-run-$(date -u +%Y-%m-%d-%H%M).md}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
say() { printf 'first-run: %s\n' "$*" >&2; }

. bench/fresh-clone.sh
fresh_clone "$WORK"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$WORK/target}
target_state=$([ -d "$CARGO_TARGET_DIR/debug" ] && echo "warm ($CARGO_TARGET_DIR)" || echo "cold (empty)")
export CARGO_INCREMENTAL=0

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
STARTED=$(date -u +%Y-%m-%dT%H:%M:%SZ)
say "cloned $COMMIT into $WORK/clone; crates $crates; target $target_state; missing packages: ${missing[*]:-none}"

# The build is the `cargo test --no-run` inside setup; its share comes from cargo's own timer.
t0=$SECONDS
(cd "$WORK/clone" && ./dev setup) >"$WORK/setup.log" 2>&1 || { tail -40 "$WORK/setup.log" >&2; exit 1; }
setup_s=$((SECONDS - t0))
say "setup: ${setup_s} s"
t1=$SECONDS
(cd "$WORK/clone" && ./dev test) >"$WORK/test.log" 2>&1 || { tail -60 "$WORK/test.log" >&2; say "tests failed"; exit 1; }
test_s=$((SECONDS - t1))
total_s=$((SECONDS - t0))
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
passed=$(awk '/^test result:/ { for (i = 1; i <= NF; i++) if ($(i+1) ~ /^passed/) p += $i } END { print p + 0 }' "$WORK/test.log")
say "tests: ${test_s} s, ${passed} passed; total ${total_s} s"

mkdir -p "$(dirname "$OUT")"
{
    echo "# First run: clone to \`./dev test\` finished"
    echo
    echo "- command: \`${WARM_CRATES:+WARM_CRATES=1 }bench/first-run.sh\` at commit $COMMIT"
    echo "- started: $STARTED; load average before $LOAD_BEFORE, after $LOAD_AFTER"
    echo "- machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'), $(free -h | awk '/^Mem:/ {print $2}') memory, $(. /etc/os-release && echo "$PRETTY_NAME")"
    echo "- crates: $crates; target folder: $target_state"
    echo "- system packages missing at the start (installed by setup): ${missing[*]:-none}"
    echo
    echo "| phase | seconds | minutes |"
    echo "| --- | ---: | ---: |"
    printf '| `./dev setup` (packages, crates, build, emulator, checkov, schemathesis) | %d | %.1f |\n' "$setup_s" "$(echo "$setup_s / 60" | bc -l)"
    printf '| `./dev test` (every test: %d passed) | %d | %.1f |\n' "$passed" "$test_s" "$(echo "$test_s / 60" | bc -l)"
    printf '| **total** | **%d** | **%.1f** |\n' "$total_s" "$(echo "$total_s / 60" | bc -l)"
    echo
    echo "Target: under 20 minutes in all (issue 19)."
    echo
    echo "## The slowest test binaries"
    echo
    echo '```'
    # Each test binary's summary line carries its time ("finished in N s").
    awk '/^ *(Running|Doc-tests) / { name = $2 } /^test result:/ { t = $0; sub(/.*finished in /, "", t); sub(/s$/, "", t); printf "%8.1f s  %s\n", t, name }' "$WORK/test.log" | sort -rn | head -8
    echo '```'
} >"$OUT"
say "wrote $OUT"
