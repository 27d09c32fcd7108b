#!/usr/bin/env bash
# The API fuzzer: schemathesis (pinned, installed into the project cache on first use, the
# way infra/terraform/check.sh installs checkov) driven by the OpenAPI document the running
# API serves, with every check, a bounded number of examples per operation and a fixed seed.
# schemathesis.toml beside this script holds the two per-operation exceptions and why.
#
#   api/scripts/fuzz.sh --install-only        install it (./dev setup does this)
#   api/scripts/fuzz.sh --installed           exit 0 if it is installed, 1 if not
#   api/scripts/fuzz.sh BASE_URL [TOKEN]      fuzz the API at BASE_URL (http://127.0.0.1:PORT)
#
# FUZZ_EXAMPLES (default 50) and FUZZ_SEED (default 16) change the run. The CI run is
# api/tests/it/fuzz.rs, which starts the API on a private emulator and calls this.
set -euo pipefail
cd "$(dirname "$0")"

SCHEMATHESIS_VERSION=4.32.5
venv="${FLIGHTDECK_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/flightdeck}/tools/schemathesis-$SCHEMATHESIS_VERSION"
case "${1:-}" in
  --installed) [ -x "$venv/bin/schemathesis" ]; exit ;;
  "") echo "usage: fuzz.sh --install-only | --installed | BASE_URL [TOKEN]" >&2; exit 2 ;;
esac
if [ ! -x "$venv/bin/schemathesis" ]; then
  echo "fuzz.sh: installing schemathesis $SCHEMATHESIS_VERSION into $venv" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    -c schemathesis-constraints.txt "schemathesis==$SCHEMATHESIS_VERSION"
fi
[ "$1" = "--install-only" ] && exit 0

base=${1%/}
token=${2:-}
args=(
  run "$base/api/openapi.json"
  --checks all
  --max-examples "${FUZZ_EXAMPLES:-50}"
  --seed "${FUZZ_SEED:-16}"
  # One worker: hypothesis describes filter lambdas from their source through a cache that
  # two worker threads can race on (a KeyError inside schemathesis, seen under load).
  --workers 1
  --request-timeout 20
  --generation-database none
  --no-color
)
[ -n "$token" ] && args+=(-H "Authorization: Bearer $token")
exec "$venv/bin/schemathesis" --config-file schemathesis.toml "${args[@]}"
