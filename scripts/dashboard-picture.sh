#!/usr/bin/env bash
# Renders the real dashboard during the demo's story to docs/dashboard.svg (the README's
# picture): runs `flightdeck demo --tour` in a detached 120x40 tmux terminal on its own local
# cloud, waits until the tour has told the story (load, queue, scale-out, CPU, a dead letter,
# the redrive), captures the screen with its colours and turns it into SVG.
#
#   scripts/dashboard-picture.sh [--no-build] [OUT.svg]
#
# Needs tmux and python3 (both installed by ./dev setup); builds the workspace's binaries
# first unless --no-build.
set -euo pipefail
cd "$(dirname "$0")/.."

build=1
if [[ "${1:-}" == "--no-build" ]]; then
  build=0
  shift
fi
out=${1:-docs/dashboard.svg}
cols=120
rows=40
# The tour ends within about six minutes; past this the picture is taken as it is.
limit_s=${FLIGHTDECK_PICTURE_LIMIT_S:-600}

say() { printf 'dashboard-picture: %s\n' "$*" >&2; }

command -v tmux >/dev/null || { say "tmux is missing (./dev setup installs it)"; exit 1; }
command -v python3 >/dev/null || { say "python3 is missing (./dev setup installs it)"; exit 1; }

if ((build)); then
  say "building the binaries"
  cargo build --quiet --locked --workspace --bins
fi
bin="${CARGO_TARGET_DIR:-target}/debug/flightdeck"

work=$(mktemp -d)
session="flightdeck-picture-$$"
cleanup() {
  # `q` stops the demo and its local cloud; the session goes whatever happened.
  tmux send-keys -t "$session" q 2>/dev/null || true
  for _ in $(seq 1 40); do
    tmux capture-pane -p -t "$session" 2>/dev/null | grep -q "exited=" && break
    sleep 0.5
  done
  tmux kill-session -t "$session" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

say "starting the demo's tour in a ${cols}x${rows} terminal"
tmux new-session -d -s "$session" -x "$cols" -y "$rows" \
  "env -u AWS_ENDPOINT_URL -u AWS_PROFILE -u NO_COLOR FLIGHTDECK_RUNTIME_DIR=$work \
   FLIGHTDECK_STATE_DIR=$work/state XDG_CONFIG_HOME=$work $bin demo --tour; echo exited=\$?; sleep 600"

pane() { tmux capture-pane -p -t "$session"; }
started=$SECONDS
last=""
while :; do
  screen=$(pane)
  # The tour's caption leads the status line; what follows it (ages, counts) changes each second.
  caption=$(tail -1 <<<"$screen" | grep -o -E '([0-9]/6 |tour (done|stopped)|the group scales back in)[^·]*' | head -1 || true)
  if [[ -n "$caption" && "$caption" != "$last" ]]; then
    say "$(( SECONDS - started )) s: $caption"
    last=$caption
  fi
  # The whole story is on the charts once the tour has ended (the group scaled back in).
  if grep -q -E 'tour (done|stopped)' <<<"$screen"; then
    break
  fi
  if grep -q "exited=" <<<"$screen"; then
    say "the demo ended early:"; printf '%s\n' "$screen" >&2; exit 1
  fi
  if (( SECONDS - started > limit_s )); then
    say "the tour did not finish in ${limit_s} s; taking the picture as it is"
    break
  fi
  sleep 2
done

mkdir -p "$(dirname "$out")"
tmux capture-pane -e -p -t "$session" |
  python3 scripts/ansi2svg.py --cols "$cols" --rows "$rows" \
    --title "flightdeck's dashboard during the demo's story (flightdeck demo --tour, ${cols}x${rows})" \
    >"$out.tmp"
mv "$out.tmp" "$out"
say "wrote $out ($(wc -c <"$out") bytes)"
